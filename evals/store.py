"""Eval runs and per-example results as the eval runner sees them, kept in the store's
`eval_runs` and `eval_results` tables (the queries are `accountflow.store.evals`).

Each example's result is written as soon as it is scored, so an interrupted eval keeps what it
did; the run row says `interrupted` the next time the store is opened for evals.
"""

from __future__ import annotations

from typing import Any

from accountflow.evals.scores import ExampleResult, MetricScore
from accountflow.store import Store
from accountflow.store.evals import EvalResultRow, EvalRun, EvalStatus

__all__ = [
    "EvalRun",
    "EvalStatus",
    "add_results",
    "create_eval_run",
    "finish_eval_run",
    "get_eval_run",
    "get_results",
    "list_eval_runs",
    "recover_interrupted",
    "resolve_eval_id",
]


def recover_interrupted(store: Store) -> None:
    """Eval runs left `running` by a process that is gone (we hold the only write lock)."""
    store.evals.recover_interrupted()


def create_eval_run(store: Store, run: EvalRun) -> None:
    store.evals.create_run(run)


def finish_eval_run(store: Store, eval_id: str, **fields: Any) -> None:
    store.evals.finish_run(eval_id, **fields)


def add_results(store: Store, eval_id: str, rows: list[ExampleResult]) -> None:
    store.evals.add_results(
        eval_id,
        [
            EvalResultRow(
                idx=r.index,
                example_id=r.example_id,
                status=r.status,
                error=r.error,
                score=r.score,
                scores={k: v.model_dump() for k, v in r.scores.items()},
                prediction=r.prediction,
                duration_ms=r.duration_ms,
                lm_calls=r.lm_calls,
                prompt_tokens=r.prompt_tokens,
                completion_tokens=r.completion_tokens,
            )
            for r in rows
        ],
    )


def resolve_eval_id(
    store: Store, ref: str, suite: str | None = None, exclude: str | None = None
) -> str:
    """An eval id, a unique prefix of one, or `last` (the newest finished eval, of `suite`
    when given, other than `exclude`)."""
    return store.evals.resolve_id(ref, suite=suite, exclude=exclude)


def get_eval_run(store: Store, ref: str) -> EvalRun:
    return store.evals.get_run(ref)


def get_results(store: Store, eval_id: str) -> list[ExampleResult]:
    out = []
    for row in store.evals.results(eval_id):
        data = row.model_dump()
        scores: dict[str, Any] = data.pop("scores") or {}
        data["index"] = data.pop("idx")
        data["scores"] = {k: MetricScore(**v) for k, v in scores.items()}
        out.append(ExampleResult.model_validate(data))
    return out


def list_eval_runs(store: Store, limit: int = 50, suite: str | None = None) -> list[EvalRun]:
    return store.evals.list_runs(limit=limit, suite=suite)
