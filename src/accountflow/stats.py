"""Run statistics from the store: what `accountflow stats` prints, and the live snapshot a
running batch publishes so that `stats` and `runs list` work while it holds the store.

Computed in SQL over `runs` and `steps` (`accountflow.store.runs`) so it stays cheap on a store
with millions of steps.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

from pydantic import BaseModel, ValidationError

from accountflow.errors import StoreInUseError
from accountflow.store import Store
from accountflow.store.records import ErrorCount, RunRecord, StepLatency

__all__ = [
    "ErrorCount",
    "LiveSnapshot",
    "Stats",
    "StepLatency",
    "compute",
    "live_path",
    "publish_live",
    "read_live",
]


class Stats(BaseModel):
    runs_total: int
    runs_by_status: dict[str, int]
    success_rate: float | None  # succeeded / finished (succeeded + failed + rejected)
    accounts: int
    lm_calls_per_account: float | None
    tokens_per_account: float | None
    cost_per_account_usd: float | None
    cost_total_usd: float | None
    cache_hit_rate: float | None  # share of LM calls served from the cache
    steps: list[StepLatency]
    top_errors: list[ErrorCount]
    awaiting_review: int


def compute(store: Store, batch: str | None = None) -> Stats:
    by_status = store.runs_by_status(batch)
    total = sum(by_status.values())
    finished = sum(by_status.get(s, 0) for s in ("succeeded", "failed", "rejected"))
    usage = store.usage_totals(batch)
    accounts, calls = usage.accounts, usage.lm_calls
    return Stats(
        runs_total=total,
        runs_by_status=by_status,
        success_rate=by_status.get("succeeded", 0) / finished if finished else None,
        accounts=accounts,
        lm_calls_per_account=calls / accounts if accounts else None,
        tokens_per_account=usage.tokens / accounts if accounts else None,
        cost_per_account_usd=usage.cost_usd / accounts if accounts and usage.cost_usd else None,
        cost_total_usd=usage.cost_usd,
        cache_hit_rate=usage.cache_hits / calls if calls else None,
        steps=store.step_latencies(batch),
        top_errors=store.top_errors(batch),
        awaiting_review=by_status.get("awaiting_review", 0),
    )


# ---------------------------------------------------------------------------- live snapshot
# DuckDB lets one process open the file, so while `score` runs nobody else can read the store.
# The batch publishes what `stats` and `runs list` would print as a JSON file next to the
# store (written to a temp file and renamed: a reader never sees half a file); readers that
# find the store in use show it, labelled with the publisher's PID and the time it was taken.

LIVE_RUNS = 500  # newest runs in a snapshot: what `runs list` can show during a batch
LIVE_INTERVAL_S = 1.0
_LIVE_MAX_SHARE = 0.1  # publishing takes at most about this share of the time


class LiveSnapshot(BaseModel):
    """The figures of a store taken by the process that holds it. Only what `stats` and
    `runs list` print (models as recorded, secrets stripped), never settings or inputs."""

    pid: int
    taken_at: datetime  # UTC
    batch: str
    stats: Stats  # the whole store
    batch_stats: Stats  # the running batch
    runs: list[RunRecord]  # newest first, at most LIVE_RUNS

    def label(self) -> str:
        return (
            f"live snapshot from PID {self.pid} at {self.taken_at:%H:%M:%S} UTC "
            f"(the store is in use by a batch: {self.batch})"
        )

    def stats_for(self, batch: str | None, db_path: Path) -> Stats:
        """What `stats [--batch NAME]` would print; only the whole store or the running batch."""
        if batch is None:
            return self.stats
        if batch == self.batch:
            return self.batch_stats
        raise StoreInUseError(
            f"The store {db_path} is in use by PID {self.pid} running batch {self.batch!r}, "
            f"and its live snapshot covers only that batch and the whole store; run "
            f"`accountflow stats --batch {batch}` again when it has finished."
        )

    def runs_for(self, limit: int, status: str | None) -> list[RunRecord]:
        """What `runs list` would print, from the newest LIVE_RUNS runs."""
        rows = [r for r in self.runs if status is None or r.status.value == status]
        return rows[:limit]


def live_path(db_path: Path) -> Path:
    """Where the process holding the store at DB_PATH publishes its snapshot."""
    return db_path.with_name(db_path.name + ".live.json")


def take_snapshot(store: Store, batch: str) -> LiveSnapshot:
    return LiveSnapshot(
        pid=os.getpid(),
        taken_at=datetime.now(timezone.utc),
        batch=batch,
        stats=compute(store),
        batch_stats=compute(store, batch),
        runs=store.list_runs(limit=LIVE_RUNS),
    )


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def publish_live(store: Store, batch: str, interval_s: float = LIVE_INTERVAL_S) -> Iterator[None]:
    """Publish a snapshot of STORE about every INTERVAL_S seconds (less often when taking one
    is slow) from a daemon thread while the block runs; the file is removed when it ends.
    Publishing is best effort: a failed snapshot never disturbs the batch."""
    path = live_path(store.path)
    stop = threading.Event()

    def loop() -> None:
        while True:
            t0 = time.perf_counter()
            with contextlib.suppress(Exception):
                _write_atomically(path, take_snapshot(store, batch).model_dump_json())
            took = time.perf_counter() - t0
            if stop.wait(max(interval_s - took, took / _LIVE_MAX_SHARE - took)):
                return

    thread = threading.Thread(target=loop, daemon=True, name="accountflow-live-snapshot")
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        with contextlib.suppress(OSError):
            path.unlink()
        with contextlib.suppress(OSError):
            path.with_name(f"{path.name}.{os.getpid()}.tmp").unlink()


def read_live(db_path: Path) -> LiveSnapshot | None:
    """The snapshot published for the store at DB_PATH, if its publisher is still running."""
    try:
        snapshot = LiveSnapshot.model_validate_json(live_path(db_path).read_bytes())
    except (OSError, ValidationError):
        return None
    return snapshot if _alive(snapshot.pid) else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by someone else
        return True
    except OSError:
        return False
    return True
