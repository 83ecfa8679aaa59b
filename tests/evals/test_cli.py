"""`accountflow eval` through `main()`: the smoke suite, the store, MLflow, baselines and the
regression gate that catches a degraded signature."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import accountflow.lm
import accountflow.orchestrator
from accountflow.lm import fake_lm
from accountflow.pipeline import AccountPipeline
from tests.cli_runner import run_cli

INSTRUCTION = "Use only facts written in `account` and `analysis`"


def _instruction_following(request: Any, answer: dict[str, Any]) -> Any:
    """A fake that behaves like a model following its prompt: without the email signature's
    rule about specific facts, its email invents a customer story and a number."""
    system = (
        request.system
        if isinstance(request.system, str)
        else "".join(p.text for p in (request.system or []))
    )
    writes_email = "subject" in answer and "body" in answer and "`analysis`" in system
    if writes_email and INSTRUCTION not in system:
        answer["body"] = answer["body"].replace(
            " and think", ", and teams like Acme Analytics cut incidents 63% with it; I think"
        )
        return answer
    return None


@pytest.fixture
def instruction_following_fake(monkeypatch: pytest.MonkeyPatch) -> None:
    real = accountflow.lm.build_lm

    def build(model: str, api_base: str | None = None, **kwargs: Any) -> Any:
        if model == "fake":
            return fake_lm("instruction-following", responder=_instruction_following, cache=False)
        return real(model, api_base, **kwargs)

    monkeypatch.setattr(accountflow.lm, "build_lm", build)
    monkeypatch.setattr(accountflow.orchestrator, "build_lm", build)


def test_smoke_suite_passes_and_is_recorded(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    # its speed is not asserted here (a loaded machine made a bound flaky): CI prints the time
    code, out, err = run_cli(["eval", "smoke", "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 0, err
    data = json.loads(out)
    assert data["verdict"]["passed"] is True
    assert data["suite"] == "smoke" and data["target"] == "pipeline"
    assert data["report"]["n_examples"] == 6 and len(data["report"]["rows"]) == 6
    assert set(data["report"]["metric_means"]) >= {"grounding", "output_rules", "judge"}
    assert data["mlflow_run_id"]

    import mlflow

    from accountflow.config import Settings
    from accountflow.tracking import mlflow_uri

    client = mlflow.MlflowClient(tracking_uri=mlflow_uri(Settings.load()))
    run = client.get_run(data["mlflow_run_id"])
    assert run.data.params["suite"] == "smoke"
    assert run.data.params["program_version"] == data["program_version"]
    assert run.data.params["dataset_hash"] == data["dataset_hash"]
    assert run.data.metrics["aggregate"] == pytest.approx(data["report"]["aggregate"])
    assert "grounding" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"eval_results.json", "report.json"} <= artifacts
    assert str(home) in run.info.artifact_uri  # artifacts stay in the state dir

    code, out, _ = run_cli(["eval", "list", "--json"], capsys, monkeypatch)
    listed = json.loads(out)
    assert [r["eval_id"] for r in listed] == [data["eval_id"]]
    assert listed[0]["status"] == "passed"
    code, out, _ = run_cli(["eval", "show", data["eval_id"][:9], "--json"], capsys, monkeypatch)
    shown = json.loads(out)
    assert len(shown["results"]) == 6
    assert shown["results"][0]["prediction"]["outreach"]["messages"]
    assert shown["results"][0]["scores"]["grounding"]["reason"]


def test_degraded_signature_fails_against_the_last_baseline(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    instruction_following_fake: None,
) -> None:
    args = ["eval", "smoke", "--lm", "fake", "--no-mlflow"]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, out + err
    assert "PASSED" in out

    degraded = AccountPipeline()
    email = degraded.personalizer.email
    email.signature = email.signature.with_instructions("")
    program = tmp_path / "degraded.json"
    degraded.save(str(program))

    code, out, err = run_cli(
        [*args, "--program", str(program), "--baseline", "last"], capsys, monkeypatch
    )
    assert code == 1, out + err
    # the output rules now reject the invented customer story at run time (after the bounded
    # retries), so the degraded program's examples fail outright
    assert "FAILED" in out and "output_rules regressed" in out
    assert "examples that got worse" in out
    assert "lab-041" in out and "Acme" in out  # the example and why it is worse now

    code, out, _ = run_cli(["eval", "list", "--json"], capsys, monkeypatch)
    runs = json.loads(out)
    assert [r["status"] for r in runs] == ["failed", "passed"]
    assert runs[0]["baseline_id"] == runs[1]["eval_id"]
    assert runs[0]["program_version"] != runs[1]["program_version"]

    code, out, _ = run_cli(
        ["eval", "compare", runs[1]["eval_id"], runs[0]["eval_id"], "--json"], capsys, monkeypatch
    )
    comparison = json.loads(out)
    assert comparison["delta"] < 0
    assert any(m["metric"] == "output_rules" and m["regressed"] for m in comparison["metrics"])
    assert {w["example_id"] for w in comparison["worse"]} >= {"lab-041"}


def test_fail_under_and_usage_errors(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    code, out, _ = run_cli(
        [
            "eval",
            "run",
            "smoke",
            "--lm",
            "fake",
            "--no-mlflow",
            "--limit",
            "2",
            "--fail-under",
            "0.99",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 1 and "below the threshold 0.990" in out
    code, _, err = run_cli(["eval", "nosuch", "--lm", "fake"], capsys, monkeypatch)
    assert code == 2 and "No suite 'nosuch'" in err and "smoke" in err
    code, _, err = run_cli(
        ["eval", "full", "--lm", "fake", "--baseline", "last"], capsys, monkeypatch
    )
    assert code == 2 and "No finished eval of suite 'full'" in err
    code, _, err = run_cli(["eval", "show", "eval_nope"], capsys, monkeypatch)
    assert code == 2 and "No eval 'eval_nope'" in err
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntarget: analysis\nmetrics: {personalization: 1}\n")
    code, _, err = run_cli(["eval", str(bad), "--lm", "fake"], capsys, monkeypatch)
    assert code == 2 and "bad.yaml" in err and "does not produce" in err


def test_catalogues(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["eval", "suites", "--json"], capsys, monkeypatch)
    names = {s["name"]: s for s in json.loads(out)}
    assert {"smoke", "full"} <= set(names) and names["full"]["dataset"] == "test"
    code, out, _ = run_cli(["eval", "metrics"], capsys, monkeypatch)
    assert code == 0 and "grounding" in out and "judge" in out
