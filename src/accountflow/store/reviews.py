"""Review decisions (`reviews`) and the runs waiting for one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from accountflow.models import RunStatus
from accountflow.store.db import Database

Decision = Literal["approve", "reject"]
QueueStatus = Literal["awaiting", "approved", "rejected", "decided", "all"]
QUEUE_STATUSES: tuple[str, ...] = ("awaiting", "approved", "rejected", "decided", "all")
_COLUMNS = [
    "review_id",
    "run_id",
    "decision",
    "note",
    "reviewer",
    "regenerate",
    "decided_at",
    "channel",
]
_EDIT_COLUMNS = [
    "edit_id",
    "run_id",
    "channel",
    "subject",
    "body",
    "reviewer",
    "edited_at",
    "restored_at",
    "restored_by",
]
# the latest decision per run, joined onto runs for the review queue
_QUEUE = """
    WITH last AS (
        SELECT run_id, decision, note, reviewer, regenerate, decided_at,
               row_number() OVER (PARTITION BY run_id ORDER BY decided_at DESC) AS n
        FROM reviews
    )
    SELECT r.run_id, r.account_id, r.company_name, r.status, r.batch, r.started_at,
           r.ended_at, r.error AS reason, r.model, r.program_version, r.input, r.result,
           l.decision AS last_decision, l.note AS last_note, l.reviewer AS last_reviewer,
           l.regenerate AS last_regenerate, l.decided_at AS last_decided_at
    FROM runs r LEFT JOIN last l ON l.run_id = r.run_id AND l.n = 1
"""
_QUEUE_WHERE = {
    "awaiting": "r.status = 'awaiting_review'",
    "approved": "r.status <> 'awaiting_review' AND l.decision = 'approve'",
    "rejected": "r.status = 'rejected' AND l.decision = 'reject'",
    "decided": "r.status <> 'awaiting_review' AND l.decision IS NOT NULL",
    "all": "(r.status = 'awaiting_review' OR l.decision IS NOT NULL)",
}


class ReviewRecord(BaseModel):
    review_id: str
    run_id: str
    decision: Decision
    note: str | None = None
    reviewer: str
    regenerate: bool = False
    decided_at: datetime
    channel: str | None = None  # regenerate only this channel's message (None: all of them)


class EditRecord(BaseModel):
    """A reviewer's text for one channel's message, replacing the draft while it is current.
    The draft itself stays on the personalization step's record; `restored_at` set means the
    reviewer went back to it."""

    edit_id: str
    run_id: str
    channel: str
    subject: str | None = None
    body: str
    reviewer: str
    edited_at: datetime
    restored_at: datetime | None = None
    restored_by: str | None = None


class ReviewStore:
    """Queries over `reviews` and the review state of `runs`."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def awaiting(self) -> list[dict[str, Any]]:
        """Runs stopped at the review gate, oldest first (`reason` says why)."""
        return self.db.query(
            "SELECT run_id, account_id, company_name, started_at, ended_at, error AS reason, "
            "model FROM runs WHERE status = ? ORDER BY started_at",
            [RunStatus.awaiting_review.value],
        )

    def queue(
        self, status: QueueStatus = "awaiting", batch: str | None = None, run_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Runs for the review page and `review list`: those awaiting review, or decided
        (`approved`, `rejected`, `decided`, `all`), oldest first, with the latest decision;
        `run_id` narrows it to one run (its row whatever its status)."""
        where = ["r.run_id = ?" if run_id else _QUEUE_WHERE[status]]
        params: list[Any] = [run_id] if run_id else []
        if batch:
            where.append("r.batch = ?")
            params.append(batch)
        return self.db.query(
            f"{_QUEUE} WHERE {' AND '.join(where)} ORDER BY r.started_at, r.run_id", params
        )

    def add_edit(self, edit: EditRecord) -> None:
        data = edit.model_dump()
        self.db.execute(
            f"INSERT INTO review_edits ({', '.join(_EDIT_COLUMNS)}) "
            f"VALUES ({', '.join('?' for _ in _EDIT_COLUMNS)})",
            [data[c] for c in _EDIT_COLUMNS],
        )

    def restore(self, run_id: str, channel: str, reviewer: str, at: datetime) -> int:
        """Mark the run's open edits of a channel restored; returns how many were open."""
        with self.db.transaction() as cur:
            cur.execute(
                "SELECT count(*) FROM review_edits WHERE run_id = ? AND channel = ? "
                "AND restored_at IS NULL",
                [run_id, channel],
            )
            row = cur.fetchone()
            open_edits = int(row[0]) if row else 0
            cur.execute(
                "UPDATE review_edits SET restored_at = ?, restored_by = ? "
                "WHERE run_id = ? AND channel = ? AND restored_at IS NULL",
                [at, reviewer, run_id, channel],
            )
        return open_edits

    def edits(self, run_id: str) -> list[EditRecord]:
        """Every edit of a run, oldest first (restored ones included: the audit trail)."""
        rows = self.db.query(
            f"SELECT {', '.join(_EDIT_COLUMNS)} FROM review_edits WHERE run_id = ? "
            "ORDER BY edited_at, edit_id",
            [run_id],
        )
        return [EditRecord(**r) for r in rows]

    def history(self, run_id: str) -> list[ReviewRecord]:
        rows = self.db.query(
            f"SELECT {', '.join(_COLUMNS)} FROM reviews WHERE run_id = ? ORDER BY decided_at",
            [run_id],
        )
        return [ReviewRecord(**r) for r in rows]

    def record(self, review: ReviewRecord, end_run: str | None = None) -> None:
        """Store a decision; with `end_run` (the run's error text), the run ends `rejected`
        in the same transaction."""
        data = review.model_dump()
        with self.db.transaction() as cur:
            cur.execute(
                f"INSERT INTO reviews ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' for _ in _COLUMNS)})",
                [data[c] for c in _COLUMNS],
            )
            if end_run is not None:
                cur.execute(
                    "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE run_id = ?",
                    [RunStatus.rejected.value, review.decided_at, end_run, review.run_id],
                )
