"""DuckDB connection, migrations, the single writer and the queries.

DuckDB allows one writing process per file; inside the process all writes go through one lock
and every call uses its own cursor (a shared connection fails across threads).
"""

from __future__ import annotations

import json
import os
import re
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb

from accountflow.errors import ConfigError, NotFoundError, StoreInUseError
from accountflow.models import RunStatus, StepStatus
from accountflow.store.migrations import MIGRATIONS
from accountflow.store.records import RunRecord, StepRecord

_STEP_COLUMNS = list(StepRecord.model_fields)
_JSON_COLUMNS = {"input", "output", "result"}


def _cell(column: str, value: Any) -> Any:
    if column in {"input", "output"}:
        return _json(value)
    return value.value if hasattr(value, "value") else value


# Step records are upserted from an Arrow table in one statement: DuckDB's `executemany` runs
# the upsert row by row (measured 6-60 ms per row against a growing table, 62% of a cached
# replay's CPU), the Arrow insert about 0.04 ms per row.
_UPSERT_STEPS = (
    f"INSERT INTO steps ({', '.join(_STEP_COLUMNS)}) SELECT * FROM pending_steps "
    "ON CONFLICT (step_id) DO UPDATE SET "
    + ", ".join(f"{c} = excluded.{c}" for c in _STEP_COLUMNS if c != "step_id")
)
_ARROW_TYPES = {
    "attempt": "int64",
    "duration_ms": "int64",
    "lm_calls": "int64",
    "cache_hits": "int64",
    "prompt_tokens": "int64",
    "completion_tokens": "int64",
    "rule_retries": "int64",
    "backoff_ms": "int64",
    "cost_usd": "float64",
    "cache_hit": "bool",
    "started_at": "timestamp",
    "ended_at": "timestamp",
    "pid": "int64",
}
# A run's columns as `create_run` writes them; later changes merge into the pending row.
_RUN_COLUMNS = [
    "run_id",
    "account_id",
    "company_name",
    "status",
    "started_at",
    "ended_at",
    "error",
    "model",
    "program_version",
    "source",
    "input",
    "result",
    "pid",
    "batch",
    "input_hash",
]


def _arrow_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> Any:
    """Rows as an Arrow table with fixed column types (an all-NULL column would otherwise be
    typed `null`); a column not in `_ARROW_TYPES` is text."""
    import pyarrow as pa

    types = {
        "int64": pa.int64(),
        "float64": pa.float64(),
        "bool": pa.bool_(),
        "timestamp": pa.timestamp("us"),
    }
    values = list(zip(*rows, strict=True)) if rows else [() for _ in columns]
    return pa.table(
        {
            name: pa.array(
                col, type=types[_ARROW_TYPES[name]] if name in _ARROW_TYPES else pa.string()
            )
            for name, col in zip(columns, values, strict=True)
        }
    )


def _step_row(record: StepRecord) -> list[Any]:
    return [_cell(k, v) for k, v in record.model_dump().items()]


def utcnow() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _json(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str)


# DuckDB's buffer pool defaults to 80% of RAM and keeps the blocks a batch writes: a batch's
# memory then grew with its length (and closing checkpointed at a peak). Our queries are small,
# and DuckDB spills to disk when one needs more.
DEFAULT_MEMORY_LIMIT = "64MB"
MEMORY_LIMIT_ENV = "ACCOUNTFLOW_DUCKDB_MEMORY"


class Store:
    """One DuckDB file in the state dir; open it once per process."""

    def __init__(self, path: Path, memory_limit: str | None = None) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
        try:
            self._con = duckdb.connect(str(self.path), config={"memory_limit": limit})
        except (duckdb.InvalidInputException, duckdb.ParserException) as exc:
            raise ConfigError(
                f"{MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB accepts ({exc}); "
                "use a value such as 64MB or 1GB."
            ) from None
        except duckdb.IOException as exc:
            pid = re.search(r"PID (\d+)", str(exc))
            who = f"PID {pid.group(1)}" if pid else "another process"
            raise StoreInUseError(
                f"The store {self.path} is in use by {who}; wait for it to finish or pass "
                "another --home."
            ) from None
        self._lock = threading.Lock()
        self._pending: dict[str, StepRecord] = {}
        # run writes in write-behind mode: run id -> (is a new run, the columns to write)
        self._pending_runs: dict[str, tuple[bool, dict[str, Any]]] = {}
        self._pending_lock = threading.Lock()
        self._flusher: threading.Thread | None = None
        self._stop_flusher = threading.Event()
        self.migrate()
        self._recover_interrupted()

    # ------------------------------------------------------------------ plumbing
    def close(self) -> None:
        self.write_behind(False)
        with self._lock:
            self._con.close()

    def write_behind(self, enabled: bool = True, interval_s: float = 0.05) -> None:
        """Queue step records and upsert them in one transaction every `interval_s` (batch
        scoring: single-row commits cost ~8 ms each, batched rows well under 1 ms). Reads flush
        first, so readers always see every record; a crash loses at most one interval, and a
        lost succeeded step is re-run from DSPy's cache, never called twice at the provider."""
        if enabled and self._flusher is None:
            self._stop_flusher.clear()
            self._flusher = threading.Thread(
                target=self._flush_loop,
                args=(interval_s,),
                daemon=True,
                name="accountflow-step-writer",
            )
            self._flusher.start()
        elif not enabled and self._flusher is not None:
            self._stop_flusher.set()
            self._flusher.join()
            self._flusher = None
            self.flush()

    def _flush_loop(self, interval_s: float) -> None:
        while not self._stop_flusher.wait(interval_s):
            self.flush()

    def flush(self) -> None:
        """Write queued run changes and step records (latest version of each) now, in one
        transaction."""
        with self._pending_lock:
            pending, self._pending = list(self._pending.values()), {}
            runs, self._pending_runs = self._pending_runs, {}
        if not pending and not runs:
            return
        with self._transaction() as cur:
            if runs:
                self._write_runs(cur, runs)
            if pending:
                self._upsert_with(cur, pending)

    @contextmanager
    def _transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction under the writer lock; rolled back on error."""
        with self._lock:
            cur = self._con.cursor()
            cur.execute("BEGIN")
            try:
                yield cur
                cur.execute("COMMIT")
            except Exception:
                cur.execute("ROLLBACK")
                raise

    def _write_run(self, run_id: str, values: dict[str, Any], new: bool = False) -> None:
        """Insert a run (`new`) or change some of its columns: now, or in write-behind mode
        merged into the run's pending row and written at the next flush."""
        if self._flusher is not None:
            with self._pending_lock:
                was_new, pending = self._pending_runs.get(run_id, (new, {}))
                pending.update(values)
                self._pending_runs[run_id] = (was_new, pending)
            return
        with self._transaction() as cur:
            self._write_runs(cur, {run_id: (new, dict(values))})

    @staticmethod
    def _write_runs(
        cur: duckdb.DuckDBPyConnection, runs: dict[str, tuple[bool, dict[str, Any]]]
    ) -> None:
        """New runs in one Arrow insert; changes to stored runs in one UPDATE per column set
        (one statement instead of one per run: each cost ~3 ms in a batch)."""
        inserts = [
            [run_id, *(values.get(c) for c in _RUN_COLUMNS[1:])]
            for run_id, (new, values) in runs.items()
            if new
        ]
        if inserts:
            cur.register("pending_runs", _arrow_table(_RUN_COLUMNS, inserts))
            try:
                cur.execute(
                    f"INSERT INTO runs ({', '.join(_RUN_COLUMNS)}) SELECT * FROM pending_runs"
                )
            finally:
                cur.unregister("pending_runs")
        groups: dict[tuple[str, ...], list[list[Any]]] = {}
        for run_id, (new, values) in runs.items():
            if not new:
                columns = tuple(sorted(values))
                groups.setdefault(columns, []).append([run_id, *(values[c] for c in columns)])
        for columns, rows in groups.items():
            cur.register("pending_runs", _arrow_table(["run_id", *columns], rows))
            try:
                cur.execute(
                    f"UPDATE runs SET {', '.join(f'{c} = u.{c}' for c in columns)} "
                    "FROM pending_runs u WHERE runs.run_id = u.run_id"
                )
            finally:
                cur.unregister("pending_runs")

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        """Run one write under the writer lock."""
        with self._lock:
            self._con.cursor().execute(sql, list(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [list(r) for r in rows]
        if not rows:
            return
        with self._transaction() as cur:
            cur.executemany(sql, rows)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        if self._pending or self._pending_runs:
            self.flush()
        cur = self._con.cursor()
        cur.execute(sql, list(params))
        names = [d[0] for d in cur.description or []]
        rows = []
        for values in cur.fetchall():
            row = dict(zip(names, values, strict=True))
            for key in _JSON_COLUMNS & row.keys():
                if isinstance(row[key], str):
                    row[key] = json.loads(row[key])
            rows.append(row)
        return rows

    def migrate(self) -> list[str]:
        """Apply the migrations this file has not seen, in order; returns their names."""
        with self._lock:
            cur = self._con.cursor()
            cur.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, name VARCHAR, applied_at TIMESTAMP)"
            )
            cur.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
            current = cur.fetchone()[0]  # type: ignore[index]
            applied = []
            for version, (name, sql) in enumerate(MIGRATIONS, start=1):
                if version <= current:
                    continue
                cur.execute("BEGIN")
                cur.execute(sql)
                cur.execute(
                    "INSERT INTO schema_migrations VALUES (?, ?, ?)", [version, name, utcnow()]
                )
                cur.execute("COMMIT")
                applied.append(name)
            return applied

    def _recover_interrupted(self) -> None:
        """Runs left `running` belong to a dead process: we hold the only write lock."""
        now = utcnow()
        self.execute(
            "UPDATE steps SET status = ?, ended_at = ?, error_type = 'Interrupted', "
            "error_message = 'the process stopped before this step finished' "
            "WHERE status = ? AND run_id IN (SELECT run_id FROM runs WHERE status = ? AND "
            "pid IS DISTINCT FROM ?)",
            [
                StepStatus.failed.value,
                now,
                StepStatus.running.value,
                RunStatus.running.value,
                os.getpid(),
            ],
        )
        self.execute(
            "UPDATE runs SET status = ?, ended_at = ?, error = 'interrupted: the process stopped' "
            "WHERE status = ? AND pid IS DISTINCT FROM ?",
            [RunStatus.interrupted.value, now, RunStatus.running.value, os.getpid()],
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
    ) -> None:
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
                "input": _json(account_input),
                "pid": os.getpid(),
                "batch": batch,
                "input_hash": input_hash,
            },
            new=True,
        )

    def set_run_status(self, run_id: str, status: RunStatus) -> None:
        """Mark a stored run as taken up again by this process (resume, review decisions)."""
        self._write_run(
            run_id, {"status": status.value, "ended_at": None, "error": None, "pid": os.getpid()}
        )

    def supersede_step(self, run_id: str, step: str) -> None:
        """A reviewer asked for a step to be redone: its succeeded output stops counting."""
        self.flush()
        self.execute(
            "UPDATE steps SET status = ? WHERE run_id = ? AND step = ? AND status = ?",
            [StepStatus.superseded.value, run_id, step, StepStatus.succeeded.value],
        )

    def finish_run(self, run_id: str, status: RunStatus, error: str | None, result: Any) -> None:
        self._write_run(
            run_id,
            {"status": status.value, "ended_at": utcnow(), "error": error, "result": _json(result)},
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
            [prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"],
        )
        if not rows:
            raise NotFoundError(f"No run {prefix!r}; `accountflow runs list` shows the run ids.")
        if len(rows) > 1:
            raise NotFoundError(f"Run id prefix {prefix!r} is ambiguous; give more characters.")
        return str(rows[0]["run_id"])

    def get_run(self, run_id: str) -> dict[str, Any]:
        run_id = self.resolve_run_id(run_id)
        return self.query("SELECT * FROM runs WHERE run_id = ?", [run_id])[0]

    def get_steps(self, run_id: str) -> list[StepRecord]:
        rows = self.query(
            "SELECT * FROM steps WHERE run_id = ? ORDER BY started_at NULLS LAST, attempt",
            [run_id],
        )
        return [StepRecord(**r) for r in rows]

    # ------------------------------------------------------------------ steps
    def insert_steps(self, records: Sequence[StepRecord]) -> None:
        self._write_steps(records, insert=True)

    def update_step(self, record: StepRecord) -> None:
        self._write_steps([record], insert=False)

    def _write_steps(self, records: Sequence[StepRecord], insert: bool) -> None:
        if self._flusher is not None:
            with self._pending_lock:
                for r in records:
                    self._pending[r.step_id] = r.model_copy()
            return
        if insert:
            self._upsert_steps(records)
            return
        for record in records:
            data = record.model_dump()
            cols = [c for c in _STEP_COLUMNS if c != "step_id"]
            self.execute(
                f"UPDATE steps SET {', '.join(f'{c} = ?' for c in cols)} WHERE step_id = ?",
                [*[_cell(c, data[c]) for c in cols], record.step_id],
            )

    def _upsert_steps(self, records: Sequence[StepRecord]) -> None:
        if records:
            with self._transaction() as cur:
                self._upsert_with(cur, records)

    @staticmethod
    def _upsert_with(cur: duckdb.DuckDBPyConnection, records: Sequence[StepRecord]) -> None:
        """Upsert inside the caller's transaction (one row per step id: the latest record)."""
        latest = list({r.step_id: r for r in records}.values())
        cur.register("pending_steps", _arrow_table(_STEP_COLUMNS, [_step_row(r) for r in latest]))
        try:
            cur.execute(_UPSERT_STEPS)
        finally:
            cur.unregister("pending_steps")

    def add_rejections(self, source: str, rejections: Iterable[Any]) -> None:
        now = utcnow()
        self.executemany(
            "INSERT INTO rejected (source, row_number, account_id, field, reason, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            ([source, r.row, r.account_id, r.field, r.reason, now] for r in rejections),
        )
