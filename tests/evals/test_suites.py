"""Suite YAML loading and validation; per-example storage; baseline comparison."""

from __future__ import annotations

from pathlib import Path

import pytest

from accountflow.config import Settings
from accountflow.errors import ConfigError
from accountflow.evals.compare import compare, verdict
from accountflow.evals.execute import run_suite
from accountflow.evals.scores import ExampleResult, MetricScore
from accountflow.evals.store import get_results, list_eval_runs, recover_interrupted
from accountflow.evals.suites import bundled_suites, load_suite
from accountflow.lm import fake_lm
from accountflow.store import Store


def test_bundled_suites_load_and_full_uses_the_test_split() -> None:
    assert {"smoke", "full"} <= set(bundled_suites())
    smoke, full = load_suite("smoke"), load_suite("full")
    assert smoke.target == "pipeline" and smoke.limit and smoke.limit <= 10
    assert full.dataset == "test" and full.limit is None
    assert smoke.uses_judge and not full.uses_judge


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("name: list\ntarget: analysis\nmetrics: {fit_band: 1}\n", "eval subcommand"),
        ("target: analysis\nmetrics: {fit_band: 1}\nthreads: 0\n", "'threads'"),
        ("target: analysis\nmetrics: {fit_band: 1}\ncolour: red\n", "'colour'"),
        ("target: everything\nmetrics: {fit_band: 1}\n", "'target'"),
        (
            "target: analysis\nmetrics: {fit_band: 1}\nthresholds: {metrics: {grounding: 0.5}}\n",
            "does not compute",
        ),
        ("- just a list\n", "YAML mapping"),
        ("target: [analysis\n", "not valid YAML"),
    ],
)
def test_bad_suite_files_are_one_line_errors(tmp_path: Path, body: str, message: str) -> None:
    file = tmp_path / "suite.yaml"
    file.write_text(body)
    with pytest.raises(ConfigError, match=message) as info:
        load_suite(file)
    assert str(file) in str(info.value) and "\n" not in str(info.value)


def test_a_suite_file_may_point_at_its_own_labeled_jsonl(tmp_path: Path) -> None:
    from accountflow.datasets import split_path

    (tmp_path / "mine.jsonl").write_text(split_path("dev").read_text().splitlines()[0] + "\n")
    file = tmp_path / "mine.yaml"
    file.write_text("target: analysis\ndataset: mine.jsonl\nmetrics: {fit_band: 1}\n")
    suite = load_suite(file)
    assert suite.name == "mine" and suite.dataset == str(tmp_path / "mine.jsonl")
    settings = Settings.load()
    outcome = run_suite(settings, suite, lm=fake_lm("own-data", cache=False), track=False)
    assert outcome.report.n_examples == 1
    with Store(settings.db_path) as store:
        rows = get_results(store, outcome.eval_id)
        assert rows[0].scores["fit_band"].reason.startswith("fit ")
        assert list_eval_runs(store)[0].dataset_hash == outcome.dataset_hash


def test_interrupted_eval_is_marked_and_keeps_finished_examples(home: Path) -> None:
    settings = Settings.load()
    suite = load_suite("smoke")
    calls = {"n": 0}

    def stop_after_two(request: object, answer: dict) -> None:
        calls["n"] += 1
        if "analysis" in answer and calls["n"] > 8:
            raise KeyboardInterrupt
        return None

    lm = fake_lm("interrupt", responder=stop_after_two, cache=False)
    with pytest.raises(KeyboardInterrupt):
        run_suite(settings, suite, lm=lm, threads=1, track=False)
    with Store(settings.db_path) as store:
        recover_interrupted(store)
        run = list_eval_runs(store)[0]
        assert run.status == "interrupted"
        assert 1 <= len(get_results(store, run.eval_id)) < 6


def _row(example_id: str, **scores: float) -> ExampleResult:
    return ExampleResult(
        index=0,
        example_id=example_id,
        status="ok",
        score=sum(scores.values()) / len(scores),
        scores={k: MetricScore(score=v, reason=f"{k} {v}") for k, v in scores.items()},
    )


def test_comparison_is_on_shared_examples_and_tolerances_gate() -> None:
    weights = {"grounding": 1.0, "fit_band": 1.0}
    base = [
        _row("a", grounding=1.0, fit_band=1.0),
        _row("b", grounding=1.0, fit_band=0.5),
        _row("gone", grounding=0.0, fit_band=0.0),
    ]
    cur = [
        _row("a", grounding=0.9, fit_band=1.0),
        _row("b", grounding=1.0, fit_band=1.0),
        _row("new", grounding=0.0, fit_band=0.0),
    ]
    c = compare(cur, base, weights, "eval_base", tolerance=0.02, metric_tolerance=0.04)
    assert c.common == 2 and c.only_current == ["new"] and c.only_baseline == ["gone"]
    assert c.aggregate_baseline == pytest.approx(0.875) and c.delta == pytest.approx(0.1)
    assert [w.example_id for w in c.worse] == ["a"] and c.worse[0].metrics == {
        "grounding": pytest.approx(0.1)
    }
    assert c.better == ["b"]
    assert [m.metric for m in c.regressed_metrics] == ["grounding"]
    v = verdict(0.9, {"grounding": 0.95}, 0.5, {"grounding": 0.97}, c)
    assert not v.passed
    assert any("grounding 0.950 is below its floor" in r for r in v.reasons)
    assert any("grounding regressed" in r for r in v.reasons)
    loose = compare(cur, base, weights, "eval_base", tolerance=0.02, metric_tolerance=None)
    assert verdict(0.9, {}, 0.5, {}, loose).passed
