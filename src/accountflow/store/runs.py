"""Runs, their step records and rejected input rows: what the orchestrator writes and
`runs list`, `runs show` and `stats` read."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from accountflow.errors import NotFoundError
from accountflow.identity import RunIdentity
from accountflow.models import RunStatus, StepStatus
from accountflow.store.codec import like_prefix, to_json, utcnow
from accountflow.store.db import Database
from accountflow.store.records import (
    ErrorCount,
    RunRecord,
    StepLatency,
    StepRecord,
    UsageTotals,
)


class RunStore(Database):
    """The run and step tables; writes go through the write-behind queue when it is on."""

    def __init__(
        self, path: Path | str, memory_limit: str | None = None, wait_s: float = 0.0
    ) -> None:
        super().__init__(path, memory_limit, wait_s)
        self._recover_interrupted()

    def _recover_interrupted(self) -> None:
        """Runs left `running` belong to a dead process: we hold the only write lock."""
        now, pid = utcnow(), os.getpid()
        with self.transaction() as cur:
            cur.execute(
                "UPDATE steps SET status = ?, ended_at = ?, error_type = 'Interrupted', "
                "error_message = 'the process stopped before this step finished' "
                "WHERE status = ? AND run_id IN (SELECT run_id FROM runs WHERE status = ? AND "
                "pid IS DISTINCT FROM ?)",
                [
                    StepStatus.failed.value,
                    now,
                    StepStatus.running.value,
                    RunStatus.running.value,
                    pid,
                ],
            )
            cur.execute(
                "UPDATE runs SET status = ?, ended_at = ?, "
                "error = 'interrupted: the process stopped' "
                "WHERE status = ? AND pid IS DISTINCT FROM ?",
                [RunStatus.interrupted.value, now, RunStatus.running.value, pid],
            )

    # ------------------------------------------------------------------ runs
    def create_run(
        self,
        run_id: str,
        account_id: str,
        company_name: str,
        model: str,
        program_version: str,
        source: str | None,
        account_input: Any,
        batch: str | None = None,
        input_hash: str | None = None,
        identity: RunIdentity | None = None,
    ) -> None:
        """Record a new run (status running); `identity` stores the run identity's key and
        parts (its `input_hash` wins over the argument)."""
        parts: dict[str, Any] = {"input_hash": input_hash}
        if identity is not None:
            parts = {
                "identity": identity.key,
                "input_hash": identity.input_hash,
                "seller_hash": identity.seller_hash,
                "review": identity.review,
                "sources": identity.sources,
            }
        self._write_run(
            run_id,
            {
                "account_id": account_id,
                "company_name": company_name,
                "status": RunStatus.running.value,
                "started_at": utcnow(),
                "model": model,
                "program_version": program_version,
                "source": source,
                "input": to_json(account_input),
                "pid": os.getpid(),
                "batch": batch,
                **parts,
            },
            new=True,
        )

    def set_run_status(
        self, run_id: str, status: RunStatus, identity: RunIdentity | None = None
    ) -> None:
        """Mark a stored run as taken up again by this process (resume, review decisions);
        with `identity`, the model, program, seller and identity it now runs with replace the
        recorded ones (its input and review mode stay the run's)."""
        values: dict[str, Any] = {
            "status": status.value,
            "ended_at": None,
            "error": None,
            "pid": os.getpid(),
        }
        if identity is not None:
            values.update(
                identity=identity.key,
                model=identity.model,
                program_version=identity.program_version,
                seller_hash=identity.seller_hash,
            )
        self._write_run(run_id, values)

    def finish_run(self, run_id: str, status: RunStatus, error: str | None, result: Any) -> None:
        self._write_run(
            run_id,
            {
                "status": status.value,
                "ended_at": utcnow(),
                "error": error,
                "result": to_json(result),
            },
        )

    def list_runs(self, limit: int = 50, status: str | None = None) -> list[RunRecord]:
        where, params = ("WHERE r.status = ?", [status]) if status else ("", [])
        rows = self.query(
            f"""SELECT r.run_id, r.account_id, r.company_name, r.status, r.started_at,
                   r.ended_at, r.error, r.model, r.program_version, r.source,
                   coalesce(sum(s.lm_calls), 0) AS lm_calls,
                   coalesce(sum(s.prompt_tokens), 0) AS prompt_tokens,
                   coalesce(sum(s.completion_tokens), 0) AS completion_tokens,
                   sum(s.cost_usd) AS cost_usd
            FROM runs r LEFT JOIN steps s USING (run_id) {where}
            GROUP BY ALL ORDER BY r.started_at DESC, r.run_id LIMIT ?""",
            [*params, limit],
        )
        return [RunRecord(**r) for r in rows]

    def resolve_run_id(self, prefix: str) -> str:
        """Accept a unique prefix of a run id, like git does for commits."""
        rows = self.query(
            "SELECT run_id FROM runs WHERE run_id LIKE ? ESCAPE '\\' LIMIT 2",
            [like_prefix(prefix)],
        )
        if not rows:
            raise NotFoundError(f"No run {prefix!r}; `accountflow runs list` shows the run ids.")
        if len(rows) > 1:
            raise NotFoundError(f"Run id prefix {prefix!r} is ambiguous; give more characters.")
        return str(rows[0]["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        run_id = self.resolve_run_id(run_id)
        return self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])[0]

    # ------------------------------------------------------------------ steps
    def get_steps(self, run_id: str) -> list[StepRecord]:
        rows = self.query(
            "SELECT * FROM steps WHERE run_id = ? ORDER BY started_at NULLS LAST, attempt",
            [run_id],
        )
        return [StepRecord(**r) for r in rows]

    def insert_steps(self, records: Sequence[StepRecord]) -> None:
        self._write_steps(records, insert=True)

    def update_step(self, record: StepRecord) -> None:
        self._write_steps([record], insert=False)

    def merge_records(
        self, runs: Sequence[dict[str, Any]], steps: Sequence[dict[str, Any]]
    ) -> tuple[int, int]:
        """Runs and step records made elsewhere (Spark partitions), upserted by their ids in
        one transaction: merging the same records twice, or a retried task's copy of them,
        leaves one row each. Returns (runs, steps) merged."""
        from datetime import datetime

        from accountflow.store.db import RUN_COLUMNS, _arrow_table

        def when(value: Any) -> Any:
            return datetime.fromisoformat(value) if isinstance(value, str) else value

        latest = {str(r["run_id"]): r for r in runs}
        rows = [
            [
                when(r.get(c))
                if c in ("started_at", "ended_at")
                else to_json(r.get(c))
                if c in ("input", "result")
                else r.get(c)
                for c in RUN_COLUMNS
            ]
            for r in latest.values()
        ]
        records = [StepRecord.model_validate(s) for s in steps]
        updates = ", ".join(f"{c} = excluded.{c}" for c in RUN_COLUMNS if c != "run_id")
        table = _arrow_table(RUN_COLUMNS, rows)
        with self._begin() as cur:
            if rows:
                cur.register("merged_runs", table)
                try:
                    cur.execute(
                        f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) "
                        f"SELECT {', '.join(RUN_COLUMNS)} FROM merged_runs "
                        f"ON CONFLICT (run_id) DO UPDATE SET {updates}"
                    )
                finally:
                    cur.unregister("merged_runs")
            if records:
                self._upsert_with(cur, records)
        return len(rows), len({r.step_id for r in records})

    def supersede_step(self, run_id: str, step: str) -> None:
        """A reviewer asked for a step to be redone: its succeeded output stops counting."""
        self.execute(
            "UPDATE steps SET status = ? WHERE run_id = ? AND step = ? AND status = ?",
            [StepStatus.superseded.value, run_id, step, StepStatus.succeeded.value],
        )

    # ------------------------------------------------------------------ rejected rows
    def add_rejections(
        self, source: str, rejections: Iterable[Any], batch: str | None = None
    ) -> None:
        """Input rows that failed validation (`io.Rejection`s), kept with their reason."""
        now = utcnow()
        self.executemany(
            "INSERT INTO rejected (source, row_number, account_id, field, reason, created_at, "
            "batch) VALUES (?, ?, ?, ?, ?, ?, ?)",
            ([source, r.row, r.account_id, r.field, r.reason, now, batch] for r in rejections),
        )

    # ------------------------------------------------------------------ statistics
    def _run_filter(self, batch: str | None) -> tuple[str, list[Any]]:
        return ("WHERE batch = ?", [batch]) if batch else ("", [])

    def runs_by_status(self, batch: str | None = None) -> dict[str, int]:
        where, params = self._run_filter(batch)
        rows = self.query(f"SELECT status, count(*) AS n FROM runs {where} GROUP BY 1", params)
        return {str(r["status"]): int(r["n"]) for r in rows}

    def usage_totals(self, batch: str | None = None) -> UsageTotals:
        where, params = self._run_filter(batch)
        row = self.query(
            f"""SELECT count(DISTINCT account_id) AS accounts,
                   coalesce(sum(lm_calls), 0) AS lm_calls,
                   coalesce(sum(cache_hits), 0) AS cache_hits,
                   coalesce(sum(prompt_tokens + completion_tokens), 0) AS tokens,
                   sum(cost_usd) AS cost_usd
            FROM steps WHERE run_id IN (SELECT run_id FROM runs {where})""",
            params,
        )[0]
        return UsageTotals(**row)

    def step_latencies(self, batch: str | None = None) -> list[StepLatency]:
        """Attempts per step and the p50/p95 duration of the succeeded ones."""
        where, params = self._run_filter(batch)
        rows = self.query(
            f"""SELECT step, count(*) AS attempts,
                   count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
                   quantile_cont(duration_ms, 0.5) FILTER (WHERE status = 'succeeded') AS p50_ms,
                   quantile_cont(duration_ms, 0.95) FILTER (WHERE status = 'succeeded') AS p95_ms
            FROM steps WHERE run_id IN (SELECT run_id FROM runs {where})
                AND status NOT IN ('not_run', 'running')
            GROUP BY step ORDER BY min(started_at)""",
            params,
        )
        return [StepLatency(**r) for r in rows]

    def top_errors(self, batch: str | None = None, limit: int = 5) -> list[ErrorCount]:
        where, params = self._run_filter(batch)
        rows = self.query(
            f"""SELECT error_type, any_value(error_class) AS error_class, count(*) AS count
            FROM steps WHERE run_id IN (SELECT run_id FROM runs {where})
                AND status = 'failed' AND error_type IS NOT NULL
            GROUP BY error_type ORDER BY count DESC, error_type LIMIT ?""",
            [*params, limit],
        )
        return [ErrorCount(**r) for r in rows]
