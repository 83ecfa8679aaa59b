"""What recorded responses mean for a campaign: conflicts, contacts never to touch again, and
the real engagement colleague references may cite. Pure functions of the recorded rows."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from accountflow.campaign.models import (
    CampaignContact,
    Conflict,
    ConflictType,
    ContactRole,
    Engagement,
    OutboxEntry,
    ResponseKind,
    ResponseRecord,
    Sentiment,
)
from accountflow.campaign.schedule import to_utc_naive
from accountflow.models import Account

# Replies whose text shows interest may be cited; an unread text (classification off or
# failed) may not, since it could be a "no".
_CITABLE = {Sentiment.positive, Sentiment.neutral}


def exclusions(responses: Sequence[ResponseRecord]) -> dict[str, str]:
    """Contact id -> why the contact is never touched again (resume or not)."""
    out: dict[str, str] = {}
    for r in responses:
        if r.kind == ResponseKind.bounce:
            out.setdefault(r.contact_id, "bounced")
        elif r.kind == ResponseKind.complaint:
            out.setdefault(r.contact_id, "complained")
        elif r.kind == ResponseKind.unsubscribe or r.sentiment == Sentiment.unsubscribe_request:
            out.setdefault(r.contact_id, "unsubscribed")
    return out


def find_conflicts(
    responses: Sequence[ResponseRecord], contacts: Sequence[CampaignContact]
) -> list[Conflict]:
    """Conflicts in responses not yet acknowledged by a resume. An out-of-office reply is none;
    a colleague's friendly reply is engagement, not a conflict."""
    by_id = {c.contact_id: c for c in contacts}
    conflicts: list[Conflict] = []
    for r in sorted(responses, key=lambda r: r.at):
        contact = by_id.get(r.contact_id)
        if r.acknowledged or contact is None:
            continue
        who = f"{contact.name} <{contact.email}>"
        when = f"{r.at:%Y-%m-%d %H:%M}"

        def add(
            kind: ConflictType,
            detail: str,
            contact: CampaignContact = contact,
            r: ResponseRecord = r,
        ) -> None:
            conflicts.append(
                Conflict(
                    type=kind,
                    contact=contact.email,
                    contact_id=contact.contact_id,
                    at=r.at,
                    detail=detail,
                )
            )

        if r.kind == ResponseKind.bounce:
            add(ConflictType.bounce, f"a message to {who} bounced ({when})")
        elif r.kind == ResponseKind.unsubscribe:
            add(ConflictType.unsubscribe_request, f"{who} asked to unsubscribe ({when})")
        elif r.kind == ResponseKind.complaint:
            add(ConflictType.complaint, f"{who} marked a message as spam ({when})")
        elif r.kind == ResponseKind.meeting:
            add(ConflictType.meeting_scheduled, f"{who} scheduled a meeting ({when})")
        elif r.sentiment == Sentiment.out_of_office:
            continue
        elif r.sentiment == Sentiment.unsubscribe_request:
            add(ConflictType.unsubscribe_request, f"{who} asked to unsubscribe in a reply ({when})")
        else:
            read = f", read as {r.sentiment.value}" if r.sentiment else ""
            if contact.role == ContactRole.primary:
                add(ConflictType.primary_responded, f"primary contact {who} replied ({when}{read})")
            if r.sentiment == Sentiment.negative:
                add(ConflictType.negative_sentiment, f"{who} replied negatively ({when})")
    return conflicts


def conflict_reason(conflicts: Sequence[Conflict]) -> str | None:
    """One line naming each conflict: what a paused campaign shows as its pause reason."""
    if not conflicts:
        return None
    return "; ".join(f"{c.type.value.replace('_', ' ')}: {c.detail}" for c in conflicts)


def find_engagement(
    account: Account,
    contacts: Sequence[CampaignContact],
    responses: Sequence[ResponseRecord],
    outbox: Sequence[OutboxEntry],
    created_at: datetime,
) -> Engagement | None:
    """The engagement to cite: the primary's earliest if the primary engaged, else the
    earliest of anyone's. Sources: the lead's inquiry, a meeting, or a reply read as positive
    or neutral (its topic from the reply, else the subject of our message it answered).
    Contacts who unsubscribed or bounced are not cited."""
    excluded = exclusions(responses)
    found: list[Engagement] = []
    referrer = account.referrer
    if account.inquiry is not None and referrer is not None and referrer.contact_id:
        at = account.inquiry.received_at
        found.append(
            Engagement(
                contact_id=referrer.contact_id,
                topic=account.inquiry.topic,
                at=to_utc_naive(at) if at else created_at,
                source="inquiry",
            )
        )
    for r in responses:
        plain_reply = r.kind == ResponseKind.reply and not r.text and r.sentiment is None
        if r.kind == ResponseKind.meeting or plain_reply or r.sentiment in _CITABLE:
            topic = r.topic or _answered_subject(outbox, r.contact_id, r.at)
            if topic:
                found.append(
                    Engagement(contact_id=r.contact_id, topic=topic, at=r.at, source=r.kind.value)
                )
    found = [e for e in found if e.contact_id not in excluded]
    primary = next((c.contact_id for c in contacts if c.role == ContactRole.primary), None)
    pool = [e for e in found if e.contact_id == primary] or found
    return min(pool, key=lambda e: e.at) if pool else None


def _answered_subject(outbox: Sequence[OutboxEntry], contact_id: str, at: datetime) -> str | None:
    """The subject of our last email to the contact before their response."""
    before = [e for e in outbox if e.contact_id == contact_id and e.subject and e.created_at <= at]
    return before[-1].subject if before else None
