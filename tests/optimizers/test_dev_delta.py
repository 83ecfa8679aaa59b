"""An optimize run reports the paired bootstrap of its dev scores, after vs before."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow.config import Settings
from tests.optimizers.helpers import mlflow_client, run_tiny


def test_dev_delta_and_its_interval_are_logged_and_returned(
    settings: Settings, tmp_path: Path
) -> None:
    result = run_tiny(settings, "labeled-fewshot", dev=3)
    assert result.dev_delta is not None
    assert result.dev_delta_ci_low is not None and result.dev_delta_ci_high is not None
    assert result.dev_delta_ci_low <= result.dev_delta <= result.dev_delta_ci_high
    client = mlflow_client(settings)
    # the mean delta is the mean per-example difference of the two logged dev evaluations
    rows: dict[str, dict[str, float]] = {}
    for label in ("before", "after"):
        local = client.download_artifacts(result.mlflow_run_id, f"eval/{label}.json", tmp_path)
        report = json.loads(Path(local).read_text())
        rows[label] = {r["example_id"]: r["score"] for r in report["rows"]}
    assert len(rows["after"]) == 3 and rows["after"].keys() == rows["before"].keys()
    expected = sum(rows["after"][i] - rows["before"][i] for i in rows["after"]) / 3
    assert result.dev_delta == pytest.approx(expected)
    metrics = client.get_run(result.mlflow_run_id).data.metrics
    assert metrics["dev_delta"] == pytest.approx(result.dev_delta)
    assert metrics["dev_delta_ci_low"] == pytest.approx(result.dev_delta_ci_low)
    assert metrics["dev_delta_ci_high"] == pytest.approx(result.dev_delta_ci_high)
    dumped = result.model_dump(mode="json")
    assert dumped["dev_delta"] == result.dev_delta


def test_promote_refuses_a_program_whose_dev_score_fell() -> None:
    from types import SimpleNamespace

    from accountflow.optimizers.runner import promotion_refusal

    worse = SimpleNamespace(mean_delta=-0.069, ci_low=-0.172, ci_high=0.025)
    same = SimpleNamespace(mean_delta=0.0, ci_low=0.0, ci_high=0.0)
    better = SimpleNamespace(mean_delta=0.05, ci_low=-0.01, ci_high=0.11)
    refusal = promotion_refusal(0.574, 0.488, worse)
    assert refusal is not None and "-0.069" in refusal and "[-0.172, +0.025]" in refusal
    assert promotion_refusal(0.5, 0.5, same) is None
    assert promotion_refusal(0.5, 0.55, better) is None
    assert promotion_refusal(0.6, 0.5, None) == "the dev score fell from 0.600 to 0.500"
    assert promotion_refusal(None, None, None) is None


def test_a_worse_program_is_registered_but_not_promoted(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.optimizers import runner

    monkeypatch.setattr(runner, "promotion_refusal", lambda *a: "the dev score fell (test)")
    result = run_tiny(settings, "labeled-fewshot", promote=True)
    assert not result.promoted
    assert any(w.startswith("not promoted: the dev score fell (test)") for w in result.warnings)


def test_testset_is_scored_before_and_after_and_logged(settings: Settings, tmp_path: Path) -> None:
    from accountflow.optimizers.runner import OptimizeRequest, optimize
    from tests.optimizers.helpers import tiny_recipe

    split = Path(__file__).resolve().parents[2] / "datasets" / "labeled" / "test.jsonl"
    test_file = tmp_path / "test3.jsonl"
    test_file.write_text("".join(split.read_text().splitlines(keepends=True)[:3]))
    recipe = tiny_recipe("labeled-fewshot", train=4, dev=2).with_overrides(testset=str(test_file))
    result = optimize(
        settings,
        OptimizeRequest(target="analysis", recipe=recipe, lm="fake", autolog=False),
    )
    assert result.test_score_before is not None and result.test_score_after is not None
    assert result.test_delta is not None
    assert result.test_delta_ci_low is not None and result.test_delta_ci_high is not None
    assert result.test_delta_ci_low <= result.test_delta <= result.test_delta_ci_high
    assert set(result.test_metrics_after) == set(result.metrics_after)
    client = mlflow_client(settings)
    metrics = client.get_run(result.mlflow_run_id).data.metrics
    assert metrics["test_score_after"] == pytest.approx(result.test_score_after)
    assert metrics["test_delta"] == pytest.approx(result.test_delta)
    assert any(k.startswith("test_before.") for k in metrics)
    params = client.get_run(result.mlflow_run_id).data.params
    assert "3" in json.dumps(params)  # the test split's size is a logged data param
    local = client.download_artifacts(result.mlflow_run_id, "eval/test_after.json", tmp_path)
    ids = [r["example_id"] for r in json.loads(Path(local).read_text())["rows"]]
    assert len(ids) == 3


def test_without_testset_nothing_is_reported(settings: Settings) -> None:
    result = run_tiny(settings, "labeled-fewshot", dev=2)
    assert result.test_score_before is None and result.test_delta is None
