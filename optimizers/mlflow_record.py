"""What an optimize run writes to MLflow beyond params and metrics: artifacts, the model registry
entry, the promoted alias and DSPy autologging.

The registered model version points at the run's `program/` artifact directory (DSPy JSON), not
at an MLflow "model" (`mlflow.dspy.log_model` pickles the program; JSON is the durable record).
Everything here runs inside `accountflow.tracking.start_run`, which set the tracking URI.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from accountflow.config import Settings
from accountflow.programs import ProgramVersion

if TYPE_CHECKING:
    from accountflow.evals.runner import EvalReport

log = logging.getLogger(__name__)
PROMOTED_ALIAS = "promoted"


def registered_model_name(target: str) -> str:
    """One registered model per target, so its versions are the target's optimized programs."""
    return f"accountflow-{target}"


def experiment_name(target: str) -> str:
    """One experiment per target: every optimize run of a target side by side."""
    return f"optimize-{target}"


def eval_table(report: EvalReport) -> dict[str, list[Any]]:
    """A report's per-example rows as columns, for `mlflow.log_table` (the UI shows it)."""
    columns: dict[str, list[Any]] = {"example_id": [], "status": [], "score": [], "error": []}
    names = list(report.weights)
    for name in names:
        columns[name] = []
        columns[f"{name}_reason"] = []
    for row in report.rows:
        columns["example_id"].append(row.example_id)
        columns["status"].append(row.status)
        columns["score"].append(round(row.score, 4))
        columns["error"].append(row.error or "")
        for name in names:
            s = row.scores.get(name)
            columns[name].append(None if s is None or not s.applicable else round(s.score, 4))
            columns[f"{name}_reason"].append("" if s is None else s.reason)
    return columns


def log_eval(report: EvalReport, label: str) -> None:
    """The eval table (`eval/<label>_table.json`) and the full report (`eval/<label>.json`)."""
    import mlflow

    mlflow.log_table(data=eval_table(report), artifact_file=f"eval/{label}_table.json")
    mlflow.log_dict(report.model_dump(mode="json"), f"eval/{label}.json")


def log_files(program_file: Path, texts: dict[str, str]) -> str:
    """Log the program JSON under `program/` and text artifacts; returns the program's URI."""
    import mlflow

    mlflow.log_artifact(str(program_file), artifact_path="program")
    for name, text in texts.items():
        mlflow.log_text(text, name)
    return f"{mlflow.get_artifact_uri('program')}"


def register(
    target: str, run_id: str, source: str, version: str, tags: dict[str, str]
) -> tuple[str, int]:
    """A new version of the target's registered model pointing at the program artifacts."""
    import mlflow
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    name = registered_model_name(target)
    try:
        client.create_registered_model(
            name,
            description=f"accountflow programs optimized on the {target} target "
            "(DSPy JSON state of AccountPipeline; `accountflow programs` loads them).",
        )
    except MlflowException as exc:
        if "already exists" not in str(exc).lower() and "RESOURCE_ALREADY_EXISTS" not in str(exc):
            raise
    mv = client.create_model_version(
        name=name,
        source=source,
        run_id=run_id,
        tags={"program_version": version, **tags},
        description=f"program {version}",
    )
    return name, int(mv.version)


def set_promoted_alias(settings: Settings, entry: ProgramVersion | None) -> str | None:
    """Mirror a promotion in the MLflow registry (alias `promoted` on the target's model).
    Best effort: the DuckDB promotion is the source of truth; returns a warning or None."""
    if entry is None or entry.registered_model is None or entry.registered_version is None:
        return None
    try:
        import mlflow

        from accountflow.tracking import mlflow_uri

        mlflow.MlflowClient(tracking_uri=mlflow_uri(settings)).set_registered_model_alias(
            entry.registered_model, PROMOTED_ALIAS, str(entry.registered_version)
        )
    except Exception as exc:  # the registry mirror must never undo a promotion
        return f"could not set the MLflow alias ({type(exc).__name__}: {exc})"
    return None


def adopt_experiment(experiment_id: str) -> None:
    """Make the run's experiment the active one: autolog's nested evaluation runs are created
    with MLflow's *active* experiment, which otherwise is `Default`, whose artifacts go to
    `./mlruns` under whatever directory the command runs in."""
    import mlflow

    mlflow.set_experiment(experiment_id=experiment_id)


@contextmanager
def dspy_autolog(enabled: bool) -> Iterator[list[Any]]:
    """`mlflow.dspy.autolog` for the compile step: the optimizer's params and best program, one
    logged evaluation per `dspy.Evaluate` call (MIPROv2 child runs). Yields the callbacks to put
    in the compile's `dspy.context`, since a context's own callback list hides the global one
    that autolog configures. Disabled again afterwards so our own evals are not traced."""
    if not enabled:
        yield []
        return
    import dspy
    import mlflow.dspy
    from mlflow.dspy.callback import MlflowCallback

    track_usage = dspy.settings.track_usage  # autolog turns it on process-wide
    try:
        mlflow.dspy.autolog(
            log_compiles=True, log_evals=True, log_traces_from_compile=False, silent=True
        )
    except Exception as exc:  # e.g. dspy.configure from a non-main thread
        log.warning("mlflow.dspy.autolog unavailable: %s", exc)
        yield []
        return
    try:
        yield [MlflowCallback()]
    finally:
        try:
            mlflow.dspy.autolog(disable=True, silent=True)
            dspy.settings.configure(track_usage=track_usage)
        except Exception as exc:
            log.warning("could not disable mlflow.dspy.autolog: %s", exc)


def params_of(data: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Flatten nested settings into MLflow params (`optimizer.k`, `data.dev.hash`, ...)."""
    out: dict[str, str] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(params_of(value, f"{name}."))
        elif isinstance(value, (list, tuple)):
            out[name] = json.dumps(value, default=str)
        else:
            out[name] = "" if value is None else str(value)
    return out
