"""The human review gate: the one review service the CLI and the review page both call.

A decision is a row in `reviews` (who, when, note) written before the run moves on, so the
record survives a crash in the regeneration that follows it. An edit is a row in `review_edits`:
the reviewer's text for one channel, checked by the same output rules as generated text; the
draft stays on the personalization step's record, so "restore original" loses nothing. An edit
counts for the draft it was made on: once the outreach is regenerated, older edits no longer
apply. On approval the run goes on with the edited messages, and they are what its result and
the batch outputs carry.
"""

from __future__ import annotations

import difflib
import getpass
import re
import uuid
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field

from accountflow.datasets import band_of
from accountflow.errors import AccountflowError, ConfigError
from accountflow.models import (
    Account,
    AccountResult,
    Channel,
    CriterionVerdict,
    OutreachMessage,
    OutreachPlan,
    PainPoint,
    RunStatus,
    StepStatus,
)
from accountflow.orchestrator import Orchestrator
from accountflow.store import Store
from accountflow.store.codec import utcnow
from accountflow.store.records import StepRecord
from accountflow.store.reviews import (
    QUEUE_STATUSES,
    Decision,
    EditRecord,
    QueueStatus,
    ReviewRecord,
)
from accountflow.text import content_stems, overlap

__all__ = [
    "QUEUE_STATUSES",
    "Decision",
    "EditRecord",
    "EditRefused",
    "ReviewItem",
    "ReviewMessage",
    "apply_edits",
    "approve_many",
    "awaiting",
    "decide",
    "edit",
    "history",
    "item",
    "queue",
    "record_decision",
    "restore",
    "word_diff",
]

GATED_STEP = "personalization"  # the step whose output waits for review (steps.py review_gate)
Band = Literal["high", "medium", "low"]
BANDS: tuple[str, ...] = ("high", "medium", "low")


class EditRefused(ConfigError):
    """An edited message breaks an output rule: nothing is stored (exit code 2)."""


def default_reviewer() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in some containers
        return "unknown"


# ---------------------------------------------------------------------------- the queue
class DiffPart(BaseModel):
    op: Literal["same", "add", "del"]
    text: str


class ReviewMessage(BaseModel):
    """One channel's message as the reviewer sees it: the text to be sent (the reviewer's edit
    when there is one), the draft, the facts it cites, and the change from the previous draft."""

    channel: str
    subject: str | None = None
    body: str
    draft_subject: str | None = None
    draft_body: str
    edited: bool = False
    edited_by: str | None = None
    edited_at: datetime | None = None
    cites: list[str] = Field(default_factory=list)
    previous_body: str | None = None  # the draft before the last regeneration
    diff: list[DiffPart] = Field(default_factory=list)  # previous draft -> this draft


class ReviewContact(BaseModel):
    name: str
    title: str | None = None
    email: str | None = None
    recipient: bool = False


class ReviewItem(BaseModel):
    """A run in the review queue with what a reviewer needs to decide."""

    run_id: str
    account_id: str
    company_name: str
    status: str
    batch: str | None = None
    since: datetime | None = None
    reason: str | None = None
    industry: str | None = None
    employees: int | None = None
    description: str | None = None
    summary: str | None = None
    fit_score: int | None = None
    fit_band: str | None = None
    fit_rationale: str | None = None
    criteria: list[CriterionVerdict] = Field(default_factory=list)
    pain_points: list[PainPoint] = Field(default_factory=list)
    approach: str | None = None
    facts: list[str] = Field(default_factory=list)
    contacts: list[ReviewContact] = Field(default_factory=list)
    messages: list[ReviewMessage] = Field(default_factory=list)
    regenerated: bool = False
    last_decision: str | None = None
    last_reviewer: str | None = None
    last_note: str | None = None
    last_decided_at: datetime | None = None


def awaiting(store: Store) -> list[dict[str, object]]:
    """Runs stopped at the review gate, oldest first (`reason` says why)."""
    return store.reviews.awaiting()


def history(store: Store, run_id: str) -> list[ReviewRecord]:
    return store.reviews.history(run_id)


def queue(
    store: Store,
    status: QueueStatus = "awaiting",
    batch: str | None = None,
    band: str | None = None,
) -> list[ReviewItem]:
    """The review queue, oldest first: runs awaiting review (or decided ones, by `status`),
    of one batch and one fit band when given."""
    if status not in QUEUE_STATUSES:
        raise ConfigError(f"Unknown review status {status!r}; use {', '.join(QUEUE_STATUSES)}.")
    if band is not None and band not in BANDS:
        raise ConfigError(f"Unknown fit band {band!r}; use high, medium or low.")
    items = [_item(store, row) for row in store.reviews.queue(status, batch)]
    return [i for i in items if band is None or i.fit_band == band]


def item(store: Store, run_id: str) -> ReviewItem:
    """One run as the review queue shows it (any status)."""
    (row,) = store.reviews.queue(run_id=store.resolve_run_id(run_id))
    return _item(store, row)


def _drafts(records: Sequence[StepRecord]) -> list[StepRecord]:
    """The gated step's drafts, oldest first: superseded ones and the current one."""
    return [
        r
        for r in records
        if r.step == GATED_STEP
        and r.status in (StepStatus.succeeded, StepStatus.superseded)
        and r.output
    ]


def current_edits(
    records: Sequence[StepRecord], edits: Iterable[EditRecord]
) -> dict[str, EditRecord]:
    """Channel -> the reviewer's edit that applies to the current draft: the latest one not
    restored and made after the draft was recorded."""
    current = [r for r in _drafts(records) if r.status == StepStatus.succeeded]
    since = max((r.ended_at for r in current if r.ended_at is not None), default=None)
    out: dict[str, EditRecord] = {}
    for e in edits:
        if e.restored_at is None and (since is None or e.edited_at >= since):
            out[e.channel] = e
    return out


def apply_edits(plan: OutreachPlan, edits: dict[str, EditRecord]) -> OutreachPlan:
    """The plan with the reviewer's text in place of the drafts it edits."""
    if not edits:
        return plan
    messages = []
    for m in plan.messages:
        e = edits.get(m.channel.value)
        if e is None:
            messages.append(m)
            continue
        subject = e.subject if m.channel == Channel.email else None
        messages.append(m.model_copy(update={"subject": subject, "body": e.body, "cut": []}))
    return plan.model_copy(update={"messages": messages})


def edited_plan(store: Store, run_id: str, plan: OutreachPlan) -> OutreachPlan:
    """`plan` (the run's current draft) with the reviewer's edits applied: what approval
    sends on (the orchestrator calls this when it continues an approved run)."""
    edits = current_edits(store.get_steps(run_id), store.reviews.edits(run_id))
    return apply_edits(plan, edits)


def _cites(text: str, facts: Sequence[str], company: str) -> list[str]:
    """The facts a message rests on: more than half of a fact's content words (at least two,
    the company's own name left out) are in the message."""
    name = content_stems(company)
    have = content_stems(text, exclude=name)
    out = []
    for fact in facts:
        words = content_stems(fact, exclude=name)
        if len(words & have) >= 2 and overlap(words, have) > 0.5:
            out.append(fact)
    return out


_TOKEN = re.compile(r"\s+|[^\s]+")


def word_diff(old: str, new: str) -> list[DiffPart]:
    """Word-level changes from `old` to `new` (whitespace kept, so joining the parts of one
    side gives that side back)."""
    a, b = _TOKEN.findall(old), _TOKEN.findall(new)
    parts: list[DiffPart] = []
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes():
        if op == "equal":
            parts.append(DiffPart(op="same", text="".join(a[i1:i2])))
            continue
        if i2 > i1:
            parts.append(DiffPart(op="del", text="".join(a[i1:i2])))
        if j2 > j1:
            parts.append(DiffPart(op="add", text="".join(b[j1:j2])))
    return parts


def _item(store: Store, row: dict[str, Any]) -> ReviewItem:
    run_id = str(row["run_id"])
    result = AccountResult.model_validate(row["result"]) if row.get("result") else None
    account = Account.model_validate(row["input"]) if row.get("input") else None
    records = store.get_steps(run_id)
    drafts = _drafts(records)
    current = next((r for r in reversed(drafts) if r.status == StepStatus.succeeded), None)
    previous = None
    if current is not None:
        earlier = [r for r in drafts if r is not current and r.ended_at and current.ended_at]
        earlier = [r for r in earlier if r.ended_at <= current.ended_at]  # type: ignore[operator]
        previous = earlier[-1] if earlier else None
    plan: OutreachPlan | None = None
    if current is not None:
        plan = OutreachPlan.model_validate(current.output)
    elif result is not None:
        plan = result.outreach
    edits = current_edits(records, store.reviews.edits(run_id))
    analysis = result.analysis if result else None
    facts: list[str] = []
    if result and result.profile:
        facts += [f.fact for f in result.profile.key_facts]
    if analysis:
        facts += [f.fact for f in analysis.facts if f.fact not in facts]
        facts += [p.evidence for p in analysis.pain_points if p.evidence not in facts]
    previous_plan = OutreachPlan.model_validate(previous.output) if previous else None
    messages = []
    for m in plan.messages if plan else []:
        e = edits.get(m.channel.value)
        body = e.body if e else m.body
        subject = (e.subject if e else m.subject) if m.channel == Channel.email else None
        before = previous_plan.message(m.channel) if previous_plan else None
        messages.append(
            ReviewMessage(
                channel=m.channel.value,
                subject=subject,
                body=body,
                draft_subject=m.subject,
                draft_body=m.body,
                edited=e is not None,
                edited_by=e.reviewer if e else None,
                edited_at=e.edited_at if e else None,
                cites=_cites(f"{subject or ''} {body}", facts, str(row.get("company_name") or "")),
                previous_body=before.body if before else None,
                diff=word_diff(before.body, m.body) if before and before.body != m.body else [],
            )
        )
    recipient = plan.contact_name if plan else ""
    contacts = [
        ReviewContact(
            name=c.name or "",
            title=c.title,
            email=c.email,
            recipient=bool(recipient) and c.name == recipient,
        )
        for c in (account.contacts if account else [])
    ]
    score = analysis.fit_score if analysis else None
    return ReviewItem(
        run_id=run_id,
        account_id=str(row["account_id"]),
        company_name=str(row.get("company_name") or ""),
        status=str(row["status"]),
        batch=row.get("batch"),
        since=row.get("ended_at"),
        reason=row.get("reason"),
        industry=account.industry if account else None,
        employees=account.employee_count if account else None,
        description=account.description if account else None,
        summary=result.profile.summary if result and result.profile else None,
        fit_score=score,
        fit_band=band_of(score) if score is not None else None,
        fit_rationale=analysis.fit_rationale if analysis else None,
        criteria=analysis.criteria if analysis else [],
        pain_points=analysis.pain_points if analysis else [],
        approach=analysis.approach if analysis else None,
        facts=facts,
        contacts=contacts,
        messages=messages,
        regenerated=previous is not None,
        last_decision=row.get("last_decision"),
        last_reviewer=row.get("last_reviewer"),
        last_note=row.get("last_note"),
        last_decided_at=row.get("last_decided_at"),
    )


# ---------------------------------------------------------------------------- edits
def _awaiting_run(store: Store, run_id: str) -> dict[str, Any]:
    run = store.get_run(run_id)
    if run["status"] != RunStatus.awaiting_review.value:
        raise AccountflowError(
            f"Run {run['run_id']} is {run['status']}, not awaiting review; "
            "`accountflow review list` shows the runs that are."
        )
    return run


def _channel(channel: str) -> Channel:
    try:
        return Channel(channel)
    except ValueError:
        names = ", ".join(c.value for c in Channel)
        raise ConfigError(f"Unknown channel {channel!r}; use one of {names}.") from None


def edit(
    orchestrator: Orchestrator,
    run_id: str,
    channel: str,
    body: str,
    subject: str | None = None,
    reviewer: str | None = None,
) -> EditRecord:
    """Store the reviewer's text for one channel of a run awaiting review, after checking it
    with the output rules generated text passes (length, greeting, company, placeholders,
    grounding, demo copies). A broken rule refuses the edit with the rule named."""
    from accountflow.modules import rule_context
    from accountflow.rules import check_message

    store = orchestrator.store
    run = _awaiting_run(store, run_id)
    run_id = str(run["run_id"])
    ch = _channel(channel)
    records = store.get_steps(run_id)
    current = [r for r in _drafts(records) if r.status == StepStatus.succeeded]
    if not current:
        raise AccountflowError(f"Run {run_id} has no outreach to edit.")
    plan = OutreachPlan.model_validate(current[-1].output)
    if plan.message(ch) is None:
        raise AccountflowError(f"Run {run_id} has no {ch.value} message to edit.")
    body = body.replace("\r\n", "\n").strip()
    subject = (subject or "").strip() if ch == Channel.email else None
    message = OutreachMessage(channel=ch, subject=subject, body=body)
    account = Account.model_validate(run["input"])
    result = AccountResult.model_validate(run["result"]) if run.get("result") else None
    analysis = result.analysis if result else None
    predictor = getattr(orchestrator.program.personalizer, ch.value)
    context = rule_context(account, orchestrator.seller, predictor, analysis)
    problems = check_message(message, plan.contact_name, account.company_name, context)
    if problems:
        raise EditRefused(
            f"The edit was not saved; it breaks an output rule: {problems[0]}"
            + (f" (and {len(problems) - 1} more rule(s))" if len(problems) > 1 else "")
            + "."
        )
    record = EditRecord(
        edit_id="edit_" + uuid.uuid4().hex[:12],
        run_id=run_id,
        channel=ch.value,
        subject=subject,
        body=body,
        reviewer=reviewer or default_reviewer(),
        edited_at=utcnow(),
    )
    store.reviews.add_edit(record)
    return record


def restore(store: Store, run_id: str, channel: str, reviewer: str | None = None) -> int:
    """Back to the generated draft of one channel (the edits stay on record, marked restored);
    returns how many open edits there were."""
    run = _awaiting_run(store, run_id)
    ch = _channel(channel)
    return store.reviews.restore(
        str(run["run_id"]), ch.value, reviewer or default_reviewer(), utcnow()
    )


# ---------------------------------------------------------------------------- decisions
def decide(
    orchestrator: Orchestrator,
    run_id: str,
    decision: Decision,
    note: str | None = None,
    reviewer: str | None = None,
    regenerate: bool = False,
    channel: str | None = None,
) -> AccountResult | None:
    """Approve (the run goes on to its remaining steps with the reviewer's edits), reject (the
    run ends `rejected`), or reject with regenerate (personalization runs again with the note
    as feedback, only `channel`'s message when given, then the run returns to review).
    Returns the run's new result when steps ran."""
    run_id = record_decision(
        orchestrator.store, run_id, decision, note, reviewer, regenerate, channel
    )
    if decision == "approve" or regenerate:  # the run goes on from the recorded decision
        return orchestrator.continue_run(run_id)
    return None


def approve_many(
    orchestrator: Orchestrator,
    run_ids: Sequence[str],
    note: str | None = None,
    reviewer: str | None = None,
) -> list[tuple[str, AccountResult | None, str | None]]:
    """Approve each run in turn (bulk approve): (run id, result, error sentence). One run that
    cannot be approved (already decided, a failed step) is reported and the rest go on."""
    out: list[tuple[str, AccountResult | None, str | None]] = []
    for run_id in dict.fromkeys(run_ids):
        try:
            result = decide(orchestrator, run_id, "approve", note, reviewer)
        except AccountflowError as exc:
            out.append((run_id, None, str(exc)))
            continue
        out.append((result.run_id if result else run_id, result, None))
    return out


def record_decision(
    store: Store,
    run_id: str,
    decision: Decision,
    note: str | None = None,
    reviewer: str | None = None,
    regenerate: bool = False,
    channel: str | None = None,
) -> str:
    """Check and record a decision; returns the full run id. A plain rejection ends the run
    here, so it needs no model (approve and regenerate go on through `decide`)."""
    run = _awaiting_run(store, run_id)
    run_id = str(run["run_id"])
    if decision == "reject" and not (note or "").strip():
        raise ConfigError("A rejection needs a note saying what is wrong with the outreach.")
    if regenerate and decision != "reject":
        raise ConfigError("--regenerate goes with reject: it rewrites the outreach from the note.")
    if channel is not None:
        if not regenerate:
            raise ConfigError("--channel goes with --regenerate: it names the message to rewrite.")
        channel = _channel(channel).value
    store.reviews.record(
        ReviewRecord(
            review_id="rev_" + uuid.uuid4().hex[:12],
            run_id=run_id,
            decision=decision,
            note=note,
            reviewer=reviewer or default_reviewer(),
            regenerate=regenerate,
            decided_at=utcnow(),
            channel=channel,
        ),
        end_run=f"rejected in review: {note}" if decision == "reject" and not regenerate else None,
    )
    return run_id
