"""Optimize runs on the fake engine: per family, a loadable registered program and a complete
MLflow run; budget stops keep the best program so far; promotion; failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow.config import Settings
from accountflow.errors import ConfigError
from accountflow.optimizers import OptimizeError, OptimizeRequest, optimize
from accountflow.optimizers.mlflow_record import registered_model_name
from accountflow.pipeline import AccountPipeline, program_version
from accountflow.programs import get_program, list_programs, load_program, resolve_program
from tests.optimizers.helpers import TINY, artifact_paths, mlflow_client, run_tiny, tiny_recipe


@pytest.mark.parametrize("name", list(TINY))
def test_each_family_registers_a_loadable_program_with_a_complete_mlflow_run(
    settings: Settings, name: str
) -> None:
    result = run_tiny(settings, name)
    assert result.status == "completed" and result.stop_reason is None
    assert result.dev_score_before is not None and result.dev_score_after is not None
    # the program: registered, on disk, loadable, and its version is its state's hash
    entry = get_program(settings, result.version)
    assert entry.optimizer == name and entry.target == "analysis"
    assert entry.parent_version == program_version(AccountPipeline())
    assert entry.mlflow_run_id == result.mlflow_run_id
    assert program_version(load_program(settings, result.version)) == result.version
    # the MLflow run: params, before/after metrics, usage, artifacts, a registered version
    client = mlflow_client(settings)
    run = client.get_run(result.mlflow_run_id)
    params, metrics = run.data.params, run.data.metrics
    assert params["optimizer"] == name and params["target"] == "analysis"
    assert params["start_program"] == entry.parent_version and params["seed"] == "0"
    assert params["data.dev.size"] == "2" and len(params["data.dev.hash"]) == 12
    for key in (
        "dev_score_before",
        "dev_score_after",
        "before.fit_band",
        "after.fit_band",
        "lm_calls",
        "prompt_tokens",
        "completion_tokens",
        "wall_time_s",
    ):
        assert key in metrics, key
    assert metrics["lm_calls"] == result.usage["lm_calls"]
    assert run.data.tags["program_version"] == result.version
    files = artifact_paths(client, result.mlflow_run_id)
    assert {
        "program/program.json",
        "diff.md",
        "recipe.json",
        "eval/before.json",
        "eval/after.json",
        "eval/before_table.json",
        "eval/after_table.json",
    } <= files
    assert client.get_experiment(run.info.experiment_id).name == "optimize-analysis"
    version = client.get_model_version(
        registered_model_name("analysis"), str(result.registered_version)
    )
    assert version.run_id == result.mlflow_run_id
    assert version.tags["program_version"] == result.version


def test_labeled_fewshot_puts_gold_demos_on_the_analyst_and_promotes(settings: Settings) -> None:
    result = run_tiny(settings, "labeled-fewshot", promote=True)
    assert result.changed and result.changed_predictors == ["analyst.predict"]
    assert result.promoted
    loaded = resolve_program(settings)
    assert (loaded.version, loaded.source) == (result.version, "promoted")
    demos = loaded.program.analyst.predict.demos
    assert len(demos) == 2
    # in the analysis step's own format: criterion judgments, never a guessed fit score
    assert {"account", "seller", "criteria", "analysis"} <= set(demos[0])
    assert demos[0]["analysis"]["judgments"] and "fit_score" not in demos[0]["analysis"]
    # the next optimization starts from the promoted program
    second = run_tiny(settings, "bootstrap")
    assert second.parent_version == result.version
    assert get_program(settings, result.version).promoted


def test_a_spent_call_budget_stops_cleanly_and_keeps_the_best_so_far(settings: Settings) -> None:
    result = run_tiny(
        settings, "random-search", max_calls=12, train=6, params={"num_candidate_programs": 4}
    )
    assert result.status == "budget_stopped"
    assert "call budget is spent" in (result.stop_reason or "")
    assert result.usage["lm_calls"] <= 12
    assert result.dev_score_after is not None  # the final evaluation had its reserve
    entry = get_program(settings, result.version)
    assert entry.stop_reason == result.stop_reason
    assert program_version(load_program(settings, result.version)) == result.version
    run = mlflow_client(settings).get_run(result.mlflow_run_id)
    assert run.data.tags["status"] == "budget_stopped"
    assert run.data.tags["kept"].startswith("best evaluated candidate")


def test_a_bootstrap_stopped_midway_keeps_the_demos_it_collected(settings: Settings) -> None:
    # `injection` does not apply to accounts without a planted instruction, and a trace with
    # no applicable metric scores 1.0: every trace is accepted, so demos pile up until the stop
    result = run_tiny(
        settings,
        "bootstrap",
        max_calls=13,
        train=8,
        metrics=["injection"],
        params={"max_bootstrapped_demos": 4},
    )
    assert result.status == "budget_stopped"
    kept = mlflow_client(settings).get_run(result.mlflow_run_id).data.tags["kept"]
    assert kept == "demos bootstrapped before the stop"
    assert len(load_program(settings, result.version).analyst.predict.demos) >= 1


def test_personalization_tunes_only_its_channel_predictors(settings: Settings) -> None:
    result = run_tiny(settings, "copro", target="personalization", dev=1, train=2)
    assert result.status == "completed"
    assert set(result.changed_predictors) <= {
        "personalizer.email",
        "personalizer.linkedin",
        "personalizer.sms",
        "personalizer.call",
    }
    state = json.loads(Path(result.program_path).read_text())
    assert state["analyst.predict"]["demos"] == []


def test_autolog_records_the_compile_in_mlflow(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # nothing may land in the working directory (./mlruns)
    result = run_tiny(settings, "mipro-light", autolog=True)
    client = mlflow_client(settings)
    files = artifact_paths(client, result.mlflow_run_id)
    assert "best_model.json" in files  # mlflow.dspy.autolog(log_compiles=True)
    assert "program/program.json" in files
    run = client.get_run(result.mlflow_run_id)
    children = client.search_runs(
        [run.info.experiment_id], f"tags.mlflow.parentRunId = '{result.mlflow_run_id}'"
    )
    assert children  # one nested run per evaluation of a candidate, in the same experiment
    assert not (tmp_path / "mlruns").exists()
    # our own before/after evaluations are not traced or logged as extra runs afterwards
    experiments = {e.name for e in client.search_experiments()}
    assert experiments == {"Default", "optimize-analysis"}
    assert client.search_runs(["0"]) == []


def test_an_optimizer_crash_fails_the_run_and_registers_nothing(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.optimizers import runner

    class Broken:
        def compile(self, *args: object, **kwargs: object) -> None:
            raise RuntimeError("optimizer bug")

    monkeypatch.setattr(runner, "build_optimizer", lambda prep, lms: (Broken(), {}))
    request = OptimizeRequest(
        target="analysis", recipe=tiny_recipe("bootstrap"), lm="fake", autolog=False
    )
    with pytest.raises(OptimizeError, match="optimizer bug") as info:
        optimize(settings, request)
    assert info.value.exit_code == 1
    assert list_programs(settings) == []
    client = mlflow_client(settings)
    experiment = client.get_experiment_by_name("optimize-analysis")
    runs = client.search_runs([experiment.experiment_id])
    assert [r.info.status for r in runs] == ["FAILED"]


def test_bootstrap_keeps_the_seed_demos_where_no_trace_passed(settings: Settings) -> None:
    """BootstrapFewShot resets every predictor; with no trace good enough (an impossible
    threshold) the channel predictors keep their hand-written seed demos, unless told not to."""
    start = AccountPipeline()
    assert start.personalizer.sms.demos  # the built-in program's seed demos
    kept = run_tiny(
        settings,
        "bootstrap",
        target="personalization",
        train=2,
        dev=1,
        params={"metric_threshold": 1.01},
    )
    assert not kept.changed and kept.version == program_version(start)
    dropped = run_tiny(
        settings,
        "bootstrap",
        target="personalization",
        train=2,
        dev=1,
        params={"metric_threshold": 1.01, "keep_start_demos": False},
    )
    program = load_program(settings, dropped.version)
    assert program.personalizer.sms.demos == [] and program.personalizer.email.demos == []


def test_labeled_search_keeps_the_candidate_best_on_the_held_out_slice(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from accountflow.optimizers import runner

    real_eval = runner._eval
    val_scores = iter([0.5, 0.4, 0.7])  # the starting program, seed 0, seed 1
    seen: list[int] = []
    scored: list[str] = []

    def scripted(prep, program, phase, say, examples=None):  # type: ignore[no-untyped-def]
        if examples is prep.val:
            seen.append(len(examples))
            scored.append(program_version(program))
            return SimpleNamespace(aggregate=next(val_scores))
        return real_eval(prep, program, phase, say, examples)

    monkeypatch.setattr(runner, "_eval", scripted)
    result = run_tiny(
        settings, "labeled-fewshot", train=6, params={"candidates": 2, "val_fraction": 0.5}
    )
    assert seen == [3, 3, 3]  # every candidate on the same held-out half of train, never dev
    run = mlflow_client(settings).get_run(result.mlflow_run_id)
    assert run.data.tags["kept"] == "optimized (demo set seed 1, val 0.700)"
    assert len(set(scored)) == 3 and result.version == scored[2]  # the 0.7 one
    assert len(load_program(settings, result.version).analyst.predict.demos) == 2


def test_labeled_search_keeps_the_start_when_no_demo_set_beats_it(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from types import SimpleNamespace

    from accountflow.optimizers import runner

    real_eval = runner._eval
    val_scores = iter([0.8, 0.4, 0.8])

    def scripted(prep, program, phase, say, examples=None):  # type: ignore[no-untyped-def]
        if examples is prep.val:
            return SimpleNamespace(aggregate=next(val_scores))
        return real_eval(prep, program, phase, say, examples)

    monkeypatch.setattr(runner, "_eval", scripted)
    result = run_tiny(
        settings, "labeled-fewshot", train=6, params={"candidates": 2, "val_fraction": 0.5}
    )
    assert not result.changed  # a tie goes to the program already in use
    assert result.version == result.parent_version


def test_labeled_search_runs_on_the_fake_engine_and_needs_a_held_out_slice(
    settings: Settings,
) -> None:
    result = run_tiny(
        settings, "labeled-fewshot", train=4, params={"candidates": 2, "val_fraction": 0.5}
    )
    assert result.status == "completed" and result.usage["lm_calls"] > 0
    with pytest.raises(ConfigError, match="val_fraction"):
        run_tiny(settings, "labeled-fewshot", params={"candidates": 2})
