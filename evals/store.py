"""Eval runs and per-example results in DuckDB (`eval_runs`, `eval_results`).

Queries take a `Store` (its writer lock and cursors) rather than growing `store/db.py`. Each
example's result is written as soon as it is scored, so an interrupted eval keeps what it did;
the run row says `interrupted` the next time the store is opened for evals.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from accountflow.errors import NotFoundError
from accountflow.evals.scores import ExampleResult, MetricScore
from accountflow.store import Store
from accountflow.store.db import utcnow

EvalStatus = Literal["running", "passed", "failed", "error", "interrupted"]
_JSON = ("weights", "metric_means", "summary", "scores", "prediction")


class EvalRun(BaseModel):
    """One row of `eval_runs`: what was evaluated, on what, and how it scored."""

    eval_id: str
    suite: str
    target: str
    dataset: str | None = None
    dataset_hash: str | None = None
    model: str | None = None
    judge_model: str | None = None
    program_version: str | None = None
    status: EvalStatus
    started_at: datetime
    ended_at: datetime | None = None
    n_examples: int = 0
    n_failed: int = 0
    aggregate: float | None = None
    passed: bool | None = None
    baseline_id: str | None = None
    weights: dict[str, float] = Field(default_factory=dict)
    metric_means: dict[str, float | None] = Field(default_factory=dict)
    summary: dict[str, Any] = Field(default_factory=dict)
    mlflow_run_id: str | None = None
    duration_ms: int | None = None
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    error: str | None = None


def _decode(row: dict[str, Any]) -> dict[str, Any]:
    for key in _JSON:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    return row


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False, default=str)


def recover_interrupted(store: Store) -> None:
    """Eval runs left `running` by a process that is gone (we hold the only write lock)."""
    store.execute(
        "UPDATE eval_runs SET status = 'interrupted', ended_at = ?, "
        "error = 'the process stopped before the eval finished' "
        "WHERE status = 'running' AND pid IS DISTINCT FROM ?",
        [utcnow(), os.getpid()],
    )


def create_eval_run(store: Store, run: EvalRun) -> None:
    data = run.model_dump()
    data["pid"] = os.getpid()
    cols = list(data)
    store.execute(
        f"INSERT INTO eval_runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        [_json(data[c]) if c in _JSON else data[c] for c in cols],
    )


def finish_eval_run(store: Store, eval_id: str, **fields: Any) -> None:
    fields.setdefault("ended_at", utcnow())
    cols = list(fields)
    store.execute(
        f"UPDATE eval_runs SET {', '.join(f'{c} = ?' for c in cols)} WHERE eval_id = ?",
        [*(_json(fields[c]) if c in _JSON else fields[c] for c in cols), eval_id],
    )


def add_results(store: Store, eval_id: str, rows: list[ExampleResult]) -> None:
    store.executemany(
        "INSERT INTO eval_results (eval_id, idx, example_id, status, error, score, scores, "
        "prediction, duration_ms, lm_calls, prompt_tokens, completion_tokens) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        (
            [
                eval_id,
                r.index,
                r.example_id,
                r.status,
                r.error,
                r.score,
                _json({k: v.model_dump() for k, v in r.scores.items()}),
                _json(r.prediction),
                r.duration_ms,
                r.lm_calls,
                r.prompt_tokens,
                r.completion_tokens,
            ]
            for r in rows
        ),
    )


def resolve_eval_id(
    store: Store, ref: str, suite: str | None = None, exclude: str | None = None
) -> str:
    """An eval id, a unique prefix of one, or `last` (the newest finished eval, of `suite`
    when given, other than `exclude`)."""
    if ref == "last":
        where = ["status IN ('passed', 'failed')"]
        params: list[Any] = []
        if suite is not None:
            where.append("suite = ?")
            params.append(suite)
        if exclude is not None:
            where.append("eval_id <> ?")
            params.append(exclude)
        rows = store.query(
            f"SELECT eval_id FROM eval_runs WHERE {' AND '.join(where)} "
            "ORDER BY started_at DESC LIMIT 1",
            params,
        )
        if not rows:
            scope = f" of suite {suite!r}" if suite else ""
            raise NotFoundError(
                f"No finished eval{scope} to use as the baseline yet; run the suite once "
                "without --baseline first."
            )
        return str(rows[0]["eval_id"])
    escaped = ref.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    rows = store.query(
        "SELECT eval_id FROM eval_runs WHERE eval_id LIKE ? ESCAPE '\\' LIMIT 2", [escaped + "%"]
    )
    if not rows:
        raise NotFoundError(f"No eval {ref!r}; `accountflow eval list` shows the eval ids.")
    if len(rows) > 1:
        raise NotFoundError(f"Eval id prefix {ref!r} is ambiguous; give more characters.")
    return str(rows[0]["eval_id"])


def get_eval_run(store: Store, ref: str) -> EvalRun:
    eval_id = resolve_eval_id(store, ref)
    row = store.query("SELECT * FROM eval_runs WHERE eval_id = ?", [eval_id])[0]
    row.pop("pid", None)
    return EvalRun(**_decode(row))


def get_results(store: Store, eval_id: str) -> list[ExampleResult]:
    rows = store.query("SELECT * FROM eval_results WHERE eval_id = ? ORDER BY idx", [eval_id])
    out = []
    for row in rows:
        row = _decode(row)
        scores: Mapping[str, Any] = row.pop("scores") or {}
        row.pop("eval_id")
        out.append(
            ExampleResult(
                index=row.pop("idx"),
                scores={k: MetricScore(**v) for k, v in scores.items()},
                **row,
            )
        )
    return out


def list_eval_runs(store: Store, limit: int = 50, suite: str | None = None) -> list[EvalRun]:
    where, params = ("WHERE suite = ?", [suite]) if suite else ("", [])
    rows = store.query(
        f"SELECT * FROM eval_runs {where} ORDER BY started_at DESC, eval_id LIMIT ?",
        [*params, limit],
    )
    out = []
    for row in rows:
        row.pop("pid", None)
        out.append(EvalRun(**_decode(row)))
    return out
