"""Named batches (`accountflow score`): one row per batch with its files, model, program and
counts, and the latest run of each account in it (what a re-run skips or resumes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from accountflow.store.db import Database

_COLUMNS = [
    "name",
    "input_path",
    "contacts_path",
    "output_path",
    "model",
    "program_version",
    "seller_path",
    "review",
    "program_ref",
    "sources",
    "status",
    "stop_reason",
    "accounts",
    "succeeded",
    "failed",
    "rejected",
    "cost_usd",
    "created_at",
    "updated_at",
]


class BatchRecord(BaseModel):
    """One row of `batches`."""

    name: str
    input_path: str
    contacts_path: str | None = None
    output_path: str
    model: str
    program_version: str
    seller_path: str | None = None  # the --seller file, if any (resume --batch reads it again)
    review: str | None = None  # the review mode
    program_ref: str | None = None  # what --program named, else the version that ran
    # the research sources as JSON (`SourceSettings`): resume --batch reads the same ones
    sources: str | None = None
    status: str
    stop_reason: str | None = None
    accounts: int = 0
    succeeded: int = 0
    failed: int = 0
    rejected: int = 0
    cost_usd: float | None = None
    created_at: datetime
    updated_at: datetime


class BatchStore:
    """Queries over `batches` (and the runs a batch made)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def record(self, batch: BatchRecord) -> None:
        """Insert the batch, or update it keeping its first `created_at`."""
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in _COLUMNS if c not in {"name", "created_at"}
        )
        data = batch.model_dump()
        self.db.execute(
            f"INSERT INTO batches ({', '.join(_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _COLUMNS)}) "
            f"ON CONFLICT (name) DO UPDATE SET {updates}",
            [data[c] for c in _COLUMNS],
        )

    def get(self, name: str) -> BatchRecord | None:
        rows = self.db.query("SELECT * FROM batches WHERE name = ?", [name])
        return BatchRecord(**rows[0]) if rows else None

    def list(self, limit: int = 50) -> list[BatchRecord]:
        """Batches, most recently updated first."""
        rows = self.db.query(
            f"SELECT {', '.join(_COLUMNS)} FROM batches ORDER BY updated_at DESC, name LIMIT ?",
            [limit],
        )
        return [BatchRecord(**r) for r in rows]

    def latest_runs(self, name: str) -> dict[str, dict[str, Any]]:
        """The latest run of each account in the batch, by account id: metadata only
        (`run_id, status, identity`), so memory stays small."""
        rows = self.db.query(
            "SELECT account_id, run_id, status, identity "
            "FROM runs WHERE batch = ? ORDER BY started_at",
            [name],
        )
        return {str(r["account_id"]): r for r in rows}

    def clear_rejections(self, name: str) -> None:
        """A batch run again records its rejected rows afresh."""
        self.db.execute("DELETE FROM rejected WHERE batch = ?", [name])
