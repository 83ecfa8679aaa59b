"""The human review gate: list runs awaiting review, record decisions, act on them.

A decision is a row in `reviews` (who, when, note) written before the run moves on, so the
record survives a crash in the regeneration that follows it.
"""

from __future__ import annotations

import getpass
import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel

from accountflow.errors import AccountflowError, ConfigError
from accountflow.models import AccountResult, RunStatus
from accountflow.orchestrator import Orchestrator
from accountflow.store import Store
from accountflow.store.db import utcnow

Decision = Literal["approve", "reject"]


class ReviewRecord(BaseModel):
    review_id: str
    run_id: str
    decision: Decision
    note: str | None = None
    reviewer: str
    regenerate: bool = False
    decided_at: datetime


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def awaiting(store: Store) -> list[dict[str, object]]:
    return store.query(
        "SELECT run_id, account_id, company_name, started_at, ended_at, error AS reason, model "
        "FROM runs WHERE status = ? ORDER BY started_at",
        [RunStatus.awaiting_review.value],
    )


def history(store: Store, run_id: str) -> list[ReviewRecord]:
    rows = store.query("SELECT * FROM reviews WHERE run_id = ? ORDER BY decided_at", [run_id])
    return [ReviewRecord(**r) for r in rows]


def decide(
    orchestrator: Orchestrator,
    run_id: str,
    decision: Decision,
    note: str | None = None,
    reviewer: str | None = None,
    regenerate: bool = False,
) -> AccountResult | None:
    """Approve (the run goes on to its remaining steps), reject (the run ends `rejected`), or
    reject with regenerate (personalization runs again with the note as feedback, then the run
    returns to review). Returns the run's new result when steps ran."""
    run_id = record_decision(orchestrator.store, run_id, decision, note, reviewer, regenerate)
    if decision == "approve":
        return orchestrator.continue_run(run_id, approved=True)
    if regenerate:
        return orchestrator.continue_run(run_id, note=note, redo="personalization")
    return None


def record_decision(
    store: Store,
    run_id: str,
    decision: Decision,
    note: str | None = None,
    reviewer: str | None = None,
    regenerate: bool = False,
) -> str:
    """Check and record a decision; returns the full run id. A plain rejection ends the run
    here, so it needs no model (approve and regenerate go on through `decide`)."""
    run = store.get_run(run_id)
    run_id = str(run["run_id"])
    if run["status"] != RunStatus.awaiting_review.value:
        raise AccountflowError(
            f"Run {run_id} is {run['status']}, not awaiting review; "
            "`accountflow review list` shows the runs that are."
        )
    if decision == "reject" and not (note or "").strip():
        raise ConfigError("A rejection needs --note saying what is wrong with the outreach.")
    if regenerate and decision != "reject":
        raise ConfigError("--regenerate goes with reject: it rewrites the outreach from the note.")
    store.execute(
        "INSERT INTO reviews VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            "rev_" + uuid.uuid4().hex[:12],
            run_id,
            decision,
            note,
            reviewer or default_reviewer(),
            regenerate,
            utcnow(),
        ],
    )
    if decision == "reject" and not regenerate:
        store.execute(
            "UPDATE runs SET status = ?, ended_at = ?, error = ? WHERE run_id = ?",
            [RunStatus.rejected.value, utcnow(), f"rejected in review: {note}", run_id],
        )
    return run_id
