"""MLflow tracking inside the state dir: a sqlite store and local artifacts, offline.

Evals and optimizations log here so `mlflow ui --backend-store-uri sqlite:///<home>/mlflow.db`
shows them. MLflow is imported lazily (~3.4 s) and only after the offline environment is set
(`accountflow._env`: no telemetry, no price-map fetch). Parameters pass through `redact`, so a
key that slipped into a model string or an error never reaches the tracking store.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import accountflow._env  # noqa: F401  (offline environment before mlflow is imported)
from accountflow.config import Settings
from accountflow.orchestrator import redact

if TYPE_CHECKING:
    import mlflow


def mlflow_uri(settings: Settings) -> str:
    """The tracking URI: a sqlite file in the state dir (MLflow's file store is deprecated)."""
    return f"sqlite:///{(settings.home / 'mlflow.db').absolute()}"


def artifact_root(settings: Settings) -> Path:
    return settings.home / "mlartifacts"


def ui_command(settings: Settings) -> str:
    """The command that shows this state dir's runs in the MLflow UI (offline: without the two
    variables the UI tries telemetry and litellm's price map, and can hang with no network)."""
    return (
        "LITELLM_LOCAL_MODEL_COST_MAP=True MLFLOW_DISABLE_TELEMETRY=true mlflow ui "
        f"--backend-store-uri {mlflow_uri(settings)} --host 127.0.0.1 --port 5000"
    )


def _client(settings: Settings) -> Any:
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    for name in ("mlflow", "alembic"):  # schema-migration chatter on the first run
        logging.getLogger(name).setLevel(logging.WARNING)
    import mlflow

    settings.home.mkdir(parents=True, exist_ok=True)
    mlflow.set_tracking_uri(mlflow_uri(settings))
    return mlflow


def ensure_experiment(settings: Settings, experiment: str) -> str:
    """The experiment's id, created with its artifacts under `<home>/mlartifacts/` (otherwise
    MLflow puts them in `./mlruns` of whatever directory the command ran in)."""
    mlflow = _client(settings)
    found = mlflow.get_experiment_by_name(experiment)
    if found is not None:
        return str(found.experiment_id)
    location = artifact_root(settings) / experiment
    location.mkdir(parents=True, exist_ok=True)
    return str(mlflow.create_experiment(experiment, artifact_location=location.absolute().as_uri()))


@contextmanager
def start_run(
    settings: Settings, experiment: str, run_name: str, tags: Mapping[str, str] | None = None
) -> Iterator[mlflow.ActiveRun]:
    """An MLflow run in the state dir's tracking store; ended (failed on error) on exit."""
    mlflow = _client(settings)
    experiment_id = ensure_experiment(settings, experiment)
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=run_name,
        tags={k: redact(str(v)) for k, v in (tags or {}).items()},
    ) as run:
        yield run


def log_params(params: Mapping[str, Any]) -> None:
    """Log parameters of the active run, redacted and within MLflow's value length limit."""
    import mlflow

    mlflow.log_params({k: redact("" if v is None else str(v))[:6000] for k, v in params.items()})


def log_metrics(metrics: Mapping[str, float | None], step: int | None = None) -> None:
    """Log the numeric metrics of the active run; None values (nothing to score) are skipped."""
    import mlflow

    clean = {_metric_key(k): float(v) for k, v in metrics.items() if v is not None}
    if clean:
        mlflow.log_metrics(clean, step=step)


def _metric_key(name: str) -> str:
    """MLflow keys allow letters, digits, `_ - . /` and spaces only."""
    return "".join(c if c.isalnum() or c in "_-./ " else "_" for c in name)
