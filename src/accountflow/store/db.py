"""The DuckDB file: one open store per file per process, the single writer, transactions, and
the write-behind queue that batch scoring uses for run and step records.

DuckDB allows one writing process per file; inside the process all writes go through one lock
and every call uses its own cursor (a shared connection fails across threads). The queries
themselves live next door, one module per concern (`runs.py`, `batches.py`, ...).
"""

from __future__ import annotations

import os
import re
import threading
import time
import weakref
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import duckdb

from accountflow.errors import ConfigError, StoreInUseError, StoreWriteError, storage_reason
from accountflow.store.codec import from_json, sql_value, to_json, utcnow
from accountflow.store.migrations import MIGRATIONS
from accountflow.store.records import StepRecord

__all__ = ["DEFAULT_MEMORY_LIMIT", "MEMORY_LIMIT_ENV", "Database", "utcnow"]

_STEP_COLUMNS = list(StepRecord.model_fields)
_JSON_COLUMNS = {"input", "output", "result"}  # decoded in every `query` result


def _cell(column: str, value: Any) -> Any:
    if column in {"input", "output"}:
        return to_json(value)
    return sql_value(value)


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
RUN_COLUMNS = [
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
    "identity",
    "seller_hash",
    "review",
    "sources",
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


# DuckDB's buffer pool defaults to 80% of RAM and keeps the blocks a batch writes: a batch's
# memory then grew with its length (and closing checkpointed at a peak). Our queries are small,
# and DuckDB spills to disk when one needs more.
DEFAULT_MEMORY_LIMIT = "64MB"
MEMORY_LIMIT_ENV = "ACCOUNTFLOW_DUCKDB_MEMORY"

_D = TypeVar("_D", bound="Database")
# The stores open in this process, by resolved file path. Weak: a store nobody holds any more
# (and never closed) goes away with its connection, as it did before stores were shared.
_OPEN: weakref.WeakValueDictionary[Path, Database] = weakref.WeakValueDictionary()
_OPEN_LOCK = threading.Lock()


class _OnePerFile(type):
    """`Store(path)` on a file this process already has open hands back that same store.

    Two stores on one file would be two writers with two locks (DuckDB then reports write
    conflicts between them) and two write-behind queues; sharing one keeps a single writer.
    Each open is matched by a `close()`; the connection closes with the last one."""

    # Returns Any so that type checkers take `Store(...)`'s type from `__init__` as usual.
    def __call__(
        cls, path: Path | str, memory_limit: str | None = None, wait_s: float = 0.0
    ) -> Any:
        key = Path(path).resolve()
        with _OPEN_LOCK:
            db = _OPEN.get(key)
            if db is None:
                db = type.__call__(cls, path, memory_limit, wait_s)
                _OPEN[db._key] = db
                return db
            if type(db) is not cls:  # a `Database` and a `Store` on one file
                raise ConfigError(
                    f"The store {path} is already open in this process as a "
                    f"{type(db).__name__}; open it one way and share that object."
                )
            if memory_limit is not None and memory_limit != db.memory_limit:
                raise ConfigError(
                    f"The store {path} is already open in this process with memory limit "
                    f"{db.memory_limit}; share that store instead of opening it with "
                    f"{memory_limit}."
                )
            db._opens += 1
            return db


class Database(metaclass=_OnePerFile):
    """One DuckDB file in the state dir, shared by everything in the process that opens it.

    `wait_s`: how long to keep trying while another process holds the file (the review page
    holds it for the milliseconds of one request; a command started then waits instead of
    failing). 0 fails at once with "in use by PID N"."""

    def __init__(
        self, path: Path | str, memory_limit: str | None = None, wait_s: float = 0.0
    ) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreWriteError(
                f"Cannot create the state dir {self.path.parent} ({storage_reason(exc)}); "
                "pass a writable --home."
            ) from None
        self._key = self.path.resolve()
        limit = memory_limit or os.environ.get(MEMORY_LIMIT_ENV) or DEFAULT_MEMORY_LIMIT
        try:
            self._con = self._connect(limit, wait_s)
        except (duckdb.InvalidInputException, duckdb.ParserException) as exc:
            raise ConfigError(
                f"{MEMORY_LIMIT_ENV}={limit!r} is not a memory size DuckDB accepts ({exc}); "
                "use a value such as 64MB or 1GB."
            ) from None
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():  # read-only, permission, full: not a holder
                raise StoreWriteError(
                    f"Cannot open the store {self.path} for writing ({storage_reason(exc)}); "
                    "pass a writable --home."
                ) from None
            pid = re.search(r"PID (\d+)", str(exc))
            who = f"PID {pid.group(1)}" if pid else "another process"
            raise StoreInUseError(
                f"The store {self.path} is in use by {who}; wait for it to finish or pass "
                "another --home."
            ) from None
        self.memory_limit = limit
        self._opens = 1
        self._lock = threading.Lock()
        self._tx = threading.local()  # `cur`: this thread's open transaction, if any
        self._pending: dict[str, StepRecord] = {}
        # run writes in write-behind mode: run id -> (is a new run, the columns to write)
        self._pending_runs: dict[str, tuple[bool, dict[str, Any]]] = {}
        self._pending_lock = threading.Lock()
        # one flush at a time: two threads flushing at once could write a run's later change
        # before its insert (the UPDATE then matched nothing and the change was lost)
        self._flush_lock = threading.Lock()
        # write-behind generations: each queued change counts one; `_written` is the count
        # that had been queued when the last successful flush took the queue
        self._queued = 0
        self._written = 0
        self._flusher: threading.Thread | None = None
        self._stop_flusher = threading.Event()
        # set by the first write that failed: every later write raises it (nothing is queued
        # that could not be recorded), and batch scoring stops on it
        self.write_error: StoreWriteError | None = None
        try:
            self.migrate()
        except duckdb.Error as exc:
            self._con.close()
            raise self._write_failed(exc) from None

    # ------------------------------------------------------------------ lifetime
    def _connect(self, limit: str, wait_s: float) -> duckdb.DuckDBPyConnection:
        """Connect, retrying for up to `wait_s` seconds while another process holds the lock."""
        deadline = time.monotonic() + max(wait_s, 0.0)
        while True:
            try:
                return duckdb.connect(str(self.path), config={"memory_limit": limit})
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower() or time.monotonic() >= deadline:
                    raise
                time.sleep(0.1)

    def close(self) -> None:
        """Give back this holder's open; the last one writes what is queued and closes."""
        with _OPEN_LOCK:
            if self._opens == 0:
                return
            self._opens -= 1
            if self._opens:
                return
            if _OPEN.get(self._key) is self:
                del _OPEN[self._key]
            try:
                self.write_behind(False)
            finally:
                with self._lock:
                    try:
                        self._con.close()
                    except duckdb.Error:  # a store that could not write cannot checkpoint
                        if self.write_error is None:
                            raise

    @property
    def closed(self) -> bool:
        return self._opens == 0

    def __enter__(self: _D) -> _D:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # ------------------------------------------------------------------ SQL
    @contextmanager
    def transaction(self, after_queued: bool = True) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction under the writer lock: committed when the block
        ends, rolled back when it raises. Queued write-behind records are written first, so
        the transaction comes after them (`after_queued=False`: a table the queue never writes,
        such as the page cache, need not wait for it). A transaction opened again in the same
        thread joins the one already open (it commits or rolls back with it)."""
        if after_queued and getattr(self._tx, "cur", None) is None and self._has_pending():
            self.flush()
        self._check_writable()
        try:
            with self._begin() as cur:
                yield cur
        except (duckdb.IOException, duckdb.TransactionException, duckdb.FatalException) as exc:
            raise self._write_failed(exc) from None

    @contextmanager
    def _begin(self) -> Iterator[duckdb.DuckDBPyConnection]:
        joined: duckdb.DuckDBPyConnection | None = getattr(self._tx, "cur", None)
        if joined is not None:
            yield joined
            return
        with self._lock:
            cur = self._con.cursor()
            cur.execute("BEGIN")
            self._tx.cur = cur
            try:
                yield cur
                cur.execute("COMMIT")
            except BaseException:
                try:
                    cur.execute("ROLLBACK")
                except duckdb.Error:  # a failed COMMIT has already ended the transaction
                    pass
                raise
            finally:
                self._tx.cur = None
                cur.close()

    def execute(self, sql: str, params: Sequence[Any] = (), after_queued: bool = True) -> None:
        """One write under the writer lock (inside this thread's transaction, if one is open).
        For queries in `store/` and for tests; other code calls the typed methods."""
        with self.transaction(after_queued) as cur:
            cur.execute(sql, list(params))

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        rows = [list(r) for r in rows]
        if rows:
            with self.transaction() as cur:
                cur.executemany(sql, rows)

    def query(
        self, sql: str, params: Sequence[Any] = (), after_queued: bool = True
    ) -> list[dict[str, Any]]:
        """Rows as dicts (the `input`/`output`/`result` JSON columns parsed), after every
        queued write (unless `after_queued=False`: see `transaction`); inside a transaction,
        they include its own writes."""
        cur: duckdb.DuckDBPyConnection | None = getattr(self._tx, "cur", None)
        if cur is None:
            if after_queued and self._has_pending():
                self.flush()
            cur = self._con.cursor()
        cur.execute(sql, list(params))
        names = [d[0] for d in cur.description or []]
        rows = []
        for values in cur.fetchall():
            row = dict(zip(names, values, strict=True))
            for key in _JSON_COLUMNS & row.keys():
                row[key] = from_json(row[key])
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

    # ------------------------------------------------------------------ write-behind
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
            if self.write_error is None:
                self.flush()

    def _flush_loop(self, interval_s: float) -> None:
        """Flush until stopped or until a flush fails (`write_error` then tells the writers
        and the batch; a dead thread no longer hides the failure)."""
        while not self._stop_flusher.wait(interval_s):
            try:
                self.flush()
            except StoreWriteError:
                return

    def _write_failed(self, exc: BaseException) -> StoreWriteError:
        """Remember the first failed write as the one sentence users see."""
        if self.write_error is None:
            self.write_error = StoreWriteError(
                f"Could not write to the store {self.path} ({storage_reason(exc)}); nothing "
                "more was started: free space or pass a writable --home, then run the same "
                "command again to resume."
            )
        return self.write_error

    def _check_writable(self) -> None:
        if self.write_error is not None:
            raise self.write_error

    def _has_pending(self) -> bool:
        return bool(self._pending or self._pending_runs)

    def flush(self) -> None:
        """Write queued run changes and step records (latest version of each) now, in one
        transaction."""
        with self._flush_lock:
            self._check_writable()
            with self._pending_lock:
                pending, self._pending = list(self._pending.values()), {}
                runs, self._pending_runs = self._pending_runs, {}
                generation = self._queued
            if pending or runs:
                try:
                    with self._begin() as cur:
                        if runs:
                            self._write_runs(cur, runs)
                        if pending:
                            self._upsert_with(cur, pending)
                except (duckdb.Error, OSError) as exc:
                    raise self._write_failed(exc) from None
            self._written = generation

    @property
    def queued_generation(self) -> int:
        """How many write-behind changes have been queued so far (see `is_written`)."""
        return self._queued

    def is_written(self, generation: int) -> bool:
        """Whether every change queued up to `generation` is in the file: batch scoring
        writes an output row only then, without flushing more often than the write-behind."""
        return self._written >= generation

    def _write_run(self, run_id: str, values: dict[str, Any], new: bool = False) -> None:
        """Insert a run (`new`) or change some of its columns: now, or in write-behind mode
        merged into the run's pending row and written at the next flush."""
        self._check_writable()
        if self._flusher is not None:
            with self._pending_lock:
                was_new, pending = self._pending_runs.get(run_id, (new, {}))
                pending.update(values)
                self._pending_runs[run_id] = (was_new, pending)
                self._queued += 1
            return
        with self._begin() as cur:
            self._write_runs(cur, {run_id: (new, dict(values))})

    @staticmethod
    def _write_runs(
        cur: duckdb.DuckDBPyConnection, runs: dict[str, tuple[bool, dict[str, Any]]]
    ) -> None:
        """New runs in one Arrow insert; changes to stored runs in one UPDATE per column set
        (one statement instead of one per run: each cost ~3 ms in a batch)."""
        inserts = [
            [run_id, *(values.get(c) for c in RUN_COLUMNS[1:])]
            for run_id, (new, values) in runs.items()
            if new
        ]
        if inserts:
            cur.register("pending_runs", _arrow_table(RUN_COLUMNS, inserts))
            try:
                cur.execute(
                    f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) SELECT * FROM pending_runs"
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

    def _write_steps(self, records: Sequence[StepRecord], insert: bool) -> None:
        """Step records: queued in write-behind mode, else upserted (`insert`) or updated."""
        self._check_writable()
        if self._flusher is not None:
            with self._pending_lock:
                for r in records:
                    self._pending[r.step_id] = r.model_copy()
                self._queued += 1
            return
        if insert:
            if records:
                with self._begin() as cur:
                    self._upsert_with(cur, records)
            return
        cols = [c for c in _STEP_COLUMNS if c != "step_id"]
        with self._begin() as cur:
            for record in records:
                data = record.model_dump()
                cur.execute(
                    f"UPDATE steps SET {', '.join(f'{c} = ?' for c in cols)} WHERE step_id = ?",
                    [*[_cell(c, data[c]) for c in cols], record.step_id],
                )

    @staticmethod
    def _upsert_with(cur: duckdb.DuckDBPyConnection, records: Sequence[StepRecord]) -> None:
        """Upsert inside the caller's transaction (one row per step id: the latest record)."""
        latest = list({r.step_id: r for r in records}.values())
        cur.register("pending_steps", _arrow_table(_STEP_COLUMNS, [_step_row(r) for r in latest]))
        try:
            cur.execute(_UPSERT_STEPS)
        finally:
            cur.unregister("pending_steps")
