"""The human review gate: list runs awaiting review, record decisions, act on them.

A decision is a row in `reviews` (who, when, note) written before the run moves on, so the
record survives a crash in the regeneration that follows it.
"""

from __future__ import annotations

import getpass
import uuid

from accountflow.errors import AccountflowError, ConfigError
from accountflow.models import AccountResult, RunStatus
from accountflow.orchestrator import Orchestrator
from accountflow.store import Store
from accountflow.store.codec import utcnow
from accountflow.store.reviews import Decision, ReviewRecord

__all__ = ["Decision", "ReviewRecord", "awaiting", "decide", "history", "record_decision"]


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


def awaiting(store: Store) -> list[dict[str, object]]:
    """Runs stopped at the review gate, oldest first (`reason` says why)."""
    return store.reviews.awaiting()


def history(store: Store, run_id: str) -> list[ReviewRecord]:
    return store.reviews.history(run_id)


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
    if decision == "approve" or regenerate:  # the run goes on from the recorded decision
        return orchestrator.continue_run(run_id)
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
    store.reviews.record(
        ReviewRecord(
            review_id="rev_" + uuid.uuid4().hex[:12],
            run_id=run_id,
            decision=decision,
            note=note,
            reviewer=reviewer or default_reviewer(),
            regenerate=regenerate,
            decided_at=utcnow(),
        ),
        end_run=f"rejected in review: {note}" if decision == "reject" and not regenerate else None,
    )
    return run_id
