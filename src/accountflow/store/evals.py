"""Eval runs and their per-example results (`eval_runs`, `eval_results`).

Each example's result is written as soon as it is scored, so an interrupted eval keeps what it
did; the run row says `interrupted` the next time the store is opened for evals.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from accountflow.errors import NotFoundError
from accountflow.store.codec import decode_json, like_prefix, to_json, utcnow
from accountflow.store.db import Database

EvalStatus = Literal["running", "passed", "failed", "error", "interrupted"]
_RUN_JSON = ("weights", "metric_means", "summary")
_RESULT_JSON = ("scores", "prediction")


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


class EvalResultRow(BaseModel):
    """One row of `eval_results`: an example's outcome, its metric scores as plain dicts."""

    idx: int
    example_id: str
    status: str
    error: str | None = None
    score: float | None = None
    scores: dict[str, Any] | None = None
    prediction: dict[str, Any] | None = None
    duration_ms: int | None = None
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0


_RESULT_COLUMNS = list(EvalResultRow.model_fields)


def _cell(column: str, value: Any, json_columns: Sequence[str]) -> Any:
    return to_json(value) if column in json_columns else value


class EvalStore:
    """Queries over the eval tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def recover_interrupted(self) -> None:
        """Eval runs left `running` by a process that is gone (we hold the only write lock)."""
        self.db.execute(
            "UPDATE eval_runs SET status = 'interrupted', ended_at = ?, "
            "error = 'the process stopped before the eval finished' "
            "WHERE status = 'running' AND pid IS DISTINCT FROM ?",
            [utcnow(), os.getpid()],
        )

    def create_run(self, run: EvalRun) -> None:
        data = run.model_dump()
        data["pid"] = os.getpid()
        cols = list(data)
        self.db.execute(
            f"INSERT INTO eval_runs ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
            [_cell(c, data[c], _RUN_JSON) for c in cols],
        )

    def finish_run(self, eval_id: str, **fields: Any) -> None:
        """Set some of the run's columns (`EvalRun` field names); `ended_at` defaults to now."""
        unknown = set(fields) - set(EvalRun.model_fields)
        if unknown:
            raise ValueError(f"eval_runs has no column {sorted(unknown)[0]!r}")
        fields.setdefault("ended_at", utcnow())
        cols = list(fields)
        self.db.execute(
            f"UPDATE eval_runs SET {', '.join(f'{c} = ?' for c in cols)} WHERE eval_id = ?",
            [*(_cell(c, fields[c], _RUN_JSON) for c in cols), eval_id],
        )

    def add_results(self, eval_id: str, rows: Sequence[EvalResultRow]) -> None:
        """Store scored examples; an example already stored for this eval is kept."""
        self.db.executemany(
            f"INSERT INTO eval_results (eval_id, {', '.join(_RESULT_COLUMNS)}) "
            f"VALUES (?, {', '.join('?' for _ in _RESULT_COLUMNS)}) ON CONFLICT DO NOTHING",
            (
                [eval_id, *(_cell(c, v, _RESULT_JSON) for c, v in r.model_dump().items())]
                for r in rows
            ),
        )

    def resolve_id(self, ref: str, suite: str | None = None, exclude: str | None = None) -> str:
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
            rows = self.db.query(
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
        rows = self.db.query(
            "SELECT eval_id FROM eval_runs WHERE eval_id LIKE ? ESCAPE '\\' LIMIT 2",
            [like_prefix(ref)],
        )
        if not rows:
            raise NotFoundError(f"No eval {ref!r}; `accountflow eval list` shows the eval ids.")
        if len(rows) > 1:
            raise NotFoundError(f"Eval id prefix {ref!r} is ambiguous; give more characters.")
        return str(rows[0]["eval_id"])

    def get_run(self, ref: str) -> EvalRun:
        """The eval run an id, prefix or `last` names."""
        eval_id = self.resolve_id(ref)
        row = self.db.query("SELECT * FROM eval_runs WHERE eval_id = ?", [eval_id])[0]
        return self._run(row)

    def results(self, eval_id: str) -> list[EvalResultRow]:
        rows = self.db.query(
            f"SELECT {', '.join(_RESULT_COLUMNS)} FROM eval_results WHERE eval_id = ? ORDER BY idx",
            [eval_id],
        )
        return [EvalResultRow(**decode_json(r, _RESULT_JSON)) for r in rows]

    def list_runs(self, limit: int = 50, suite: str | None = None) -> list[EvalRun]:
        where, params = ("WHERE suite = ?", [suite]) if suite else ("", [])
        rows = self.db.query(
            f"SELECT * FROM eval_runs {where} ORDER BY started_at DESC, eval_id LIMIT ?",
            [*params, limit],
        )
        return [self._run(r) for r in rows]

    @staticmethod
    def _run(row: dict[str, Any]) -> EvalRun:
        row.pop("pid", None)
        decode_json(row, _RUN_JSON)
        for key in _RUN_JSON:  # a NULL JSON column reads as the field's empty default
            if row.get(key) is None:
                row.pop(key, None)
        return EvalRun(**row)
