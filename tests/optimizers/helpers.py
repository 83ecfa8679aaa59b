"""Shared pieces of the optimizer tests: tiny recipes and MLflow reads."""

from __future__ import annotations

from typing import Any

from accountflow.config import Settings
from accountflow.optimizers import OptimizeRequest, OptimizeResult, Recipe, get_recipe, optimize

# Per family: the smallest settings that still exercise the optimizer's real loop.
TINY: dict[str, dict[str, Any]] = {
    "labeled-fewshot": {"k": 2},
    "bootstrap": {"metric_threshold": 0.01},
    "random-search": {"num_candidate_programs": 1, "metric_threshold": 0.01},
    "mipro-light": {},
    "gepa": {"auto": None, "max_metric_calls": 8},
    "copro": {"breadth": 2, "depth": 1},
    "simba": {"bsize": 2, "num_candidates": 2, "max_steps": 1},
}


def tiny_recipe(
    name: str, train: int = 4, dev: int = 2, metrics: list[str] | None = None, **params: Any
) -> Recipe:
    return get_recipe(name).with_overrides(
        train_limit=train, dev_limit=dev, metrics=metrics, params={**TINY[name], **params}
    )


def run_tiny(
    settings: Settings,
    name: str,
    target: str = "analysis",
    train: int = 4,
    dev: int = 2,
    params: dict[str, Any] | None = None,
    metrics: list[str] | None = None,
    **request: Any,
) -> OptimizeResult:
    """One optimize run on the fake engine with a tiny recipe (autolog off unless asked)."""
    request.setdefault("autolog", False)
    recipe = tiny_recipe(name, train=train, dev=dev, metrics=metrics, **(params or {}))
    return optimize(settings, OptimizeRequest(target=target, recipe=recipe, lm="fake", **request))


def mlflow_client(settings: Settings) -> Any:
    import mlflow

    from accountflow.tracking import mlflow_uri

    return mlflow.MlflowClient(tracking_uri=mlflow_uri(settings))


def artifact_paths(client: Any, run_id: str, path: str | None = None) -> set[str]:
    found: set[str] = set()
    for item in client.list_artifacts(run_id, path):
        if item.is_dir:
            found |= artifact_paths(client, run_id, item.path)
        else:
            found.add(item.path)
    return found
