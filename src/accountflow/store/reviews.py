"""Review decisions (`reviews`) and the runs waiting for one."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel

from accountflow.models import RunStatus
from accountflow.store.db import Database

Decision = Literal["approve", "reject"]
_COLUMNS = ["review_id", "run_id", "decision", "note", "reviewer", "regenerate", "decided_at"]


class ReviewRecord(BaseModel):
    review_id: str
    run_id: str
    decision: Decision
    note: str | None = None
    reviewer: str
    regenerate: bool = False
    decided_at: datetime


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
