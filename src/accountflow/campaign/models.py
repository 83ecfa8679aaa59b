"""Campaign types: the lead going in, contacts and touches inside, results coming out.

States, kinds and actions are enums so that what the engine decided is a value a caller can
branch on, and what the store holds is one of a known set.
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

from accountflow.errors import AccountflowError
from accountflow.models import MAX_FIELD_CHARS, Channel, Contact, Inquiry, OutreachMessage

UNKNOWN_NAME = "Unknown"


class CampaignStateError(AccountflowError):
    """An action the campaign's state does not allow (resume a completed campaign, ...)."""


class CampaignState(str, Enum):
    active = "active"
    paused = "paused"
    completed = "completed"


class ContactRole(str, Enum):
    primary = "primary"
    secondary = "secondary"
    tertiary = "tertiary"


class MessageKind(str, Enum):
    personalized = "personalized"
    colleague_reference = "colleague_reference"


class ResponseKind(str, Enum):
    reply = "reply"
    meeting = "meeting"
    unsubscribe = "unsubscribe"
    bounce = "bounce"
    complaint = "complaint"  # marked our message as spam


class Sentiment(str, Enum):
    """What a reply's text says, as the reply classifier reads it."""

    positive = "positive"
    neutral = "neutral"
    negative = "negative"
    unsubscribe_request = "unsubscribe_request"
    out_of_office = "out_of_office"


class ConflictType(str, Enum):
    primary_responded = "primary_responded"
    meeting_scheduled = "meeting_scheduled"
    unsubscribe_request = "unsubscribe_request"
    bounce = "bounce"
    negative_sentiment = "negative_sentiment"
    complaint = "complaint"


class StepAction(str, Enum):
    sent = "sent"
    not_due = "not_due"
    paused = "paused"
    completed = "completed"
    busy = "busy"  # another worker holds this touch
    failed = "failed"
    not_active = "not_active"
    not_found = "not_found"
    redelivered = "redelivered"  # an earlier touch that had not been delivered now was
    undelivered = "undelivered"  # a touch was written but not delivered (see DeliveryStatus)


class DeliveryStatus(str, Enum):
    queued = "queued"  # rendered, being handed to a sender (or the process died doing it)
    recorded = "recorded"  # kept in the outbox only (the default sender, or no route)
    sent = "sent"  # handed to a real transport
    deferred = "deferred"  # a transient failure (4xx, login refused, no connection): retried
    failed = "failed"  # refused for good (5xx), or still deferred after the last attempt
    unknown = "unknown"  # the process stopped mid-send; not resent, since it may have gone out
    suppressed = "suppressed"  # the address was on the suppression list when it was to be sent

    @property
    def delivered(self) -> bool:
        return self in (DeliveryStatus.recorded, DeliveryStatus.sent)


# ---------------------------------------------------------------------------- input


class Lead(BaseModel):
    """A campaign's input in the CRM "lead" shape: the lead is the primary contact and
    `account_contacts` are its colleagues. Contacts stay loose dicts so that one bad contact is
    rejected with its reason instead of failing the lead."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_FIELD_CHARS)

    account_id: str | None = None
    company_name: str | None = Field(
        default=None, validation_alias=AliasChoices("company_name", "company")
    )
    domain: str | None = None
    industry: str | None = None
    employee_count: int | None = Field(default=None, ge=0)
    location: str | None = None
    description: str | None = None
    notes: str | None = None
    contact_id: str | None = Field(default=None, validation_alias=AliasChoices("contact_id", "id"))
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    linkedin_url: str | None = None
    account_contacts: list[dict[str, Any]] = Field(default_factory=list)
    inquiry: Inquiry | None = None


class CampaignContact(BaseModel):
    """A reachable person in a campaign: valid email, a role by input order, a title score."""

    contact_id: str
    name: str = UNKNOWN_NAME
    email: str
    phone: str | None = None
    title: str | None = None
    linkedin_url: str | None = None
    role: ContactRole = ContactRole.tertiary
    input_order: int = 0
    score: int = 0

    def to_contact(self) -> Contact:
        """The pipeline's Contact; an unknown name stays unknown rather than becoming 'Unknown'
        in a greeting the output rules would then demand."""
        return Contact(
            contact_id=self.contact_id,
            name=None if self.name == UNKNOWN_NAME else self.name,
            email=self.email,
            phone=self.phone,
            title=self.title,
            linkedin_url=self.linkedin_url,
            is_primary=self.role == ContactRole.primary,
        )


class RejectedContact(BaseModel):
    index: int  # 0 = the lead itself, n = account_contacts[n - 1]
    email: str | None = None
    name: str | None = None
    reason: str


class ExtractedContacts(BaseModel):
    contacts: list[CampaignContact] = Field(default_factory=list)
    rejected: list[RejectedContact] = Field(default_factory=list)


class Touch(BaseModel):
    """One touch already made: what rotation and escalation look back on."""

    touch_number: int
    contact_id: str
    channel: Channel
    kind: MessageKind = MessageKind.personalized
    at: datetime | None = None


class ResponseRecord(BaseModel):
    """A recorded response: what the contact did, and how its text was read."""

    response_id: str
    campaign_id: str
    contact_id: str
    kind: ResponseKind
    text: str | None = None
    sentiment: Sentiment | None = None
    topic: str | None = None
    at: datetime
    recorded_at: datetime
    acknowledged: bool = False  # a resume after it was seen: no longer a conflict


class Engagement(BaseModel):
    """Real engagement a colleague reference may cite: who, about what, since when."""

    contact_id: str
    topic: str
    at: datetime
    source: str  # inquiry, reply or meeting


class CampaignSnapshot(BaseModel):
    """What `select_contact` needs to know about a campaign."""

    contacts: list[CampaignContact]
    touches: list[Touch] = Field(default_factory=list)
    excluded: set[str] = Field(default_factory=set)  # contact ids: unsubscribed or bounced
    max_concurrent_contacts: int = 3


# ---------------------------------------------------------------------------- results


class StartResult(BaseModel):
    success: bool
    campaign_id: str | None = None
    contacts_count: int = 0
    error: str | None = None
    rejected_contacts: list[RejectedContact] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)
    lm_calls: int = 0


class Conflict(BaseModel):
    type: ConflictType
    contact: str  # email
    contact_id: str
    at: datetime
    detail: str


class ConflictReport(BaseModel):
    campaign_id: str
    has_conflict: bool = False
    conflicts: list[Conflict] = Field(default_factory=list)
    should_pause: bool = False
    reason: str | None = None


class StepResult(BaseModel):
    success: bool
    campaign_id: str
    action: StepAction
    step: int | None = None  # the touch number sent (1-based)
    contact: str | None = None  # email
    contact_name: str | None = None
    channel: Channel | None = None
    kind: MessageKind | None = None
    message: OutreachMessage | None = None
    delivery: DeliveryStatus | None = None
    conflicts: list[Conflict] = Field(default_factory=list)
    campaign_status: CampaignState | None = None
    next_touch_at: datetime | None = None
    error: str | None = None
    sender_failed: bool = False  # the sender itself failed (login, connection): stop the tick


class ContactProgress(BaseModel):
    contact_id: str
    name: str
    email: str
    title: str | None = None
    role: ContactRole
    score: int
    touches: int = 0
    channels: list[Channel] = Field(default_factory=list)
    engaged: bool = False
    excluded: str | None = None  # why the contact is never touched again


class UndeliveredTouch(BaseModel):
    """A touch that was written but is not (yet) delivered, and why."""

    touch_number: int
    contact_id: str
    address: str
    channel: Channel
    status: DeliveryStatus
    attempts: int = 0
    detail: str | None = None


class CampaignStatus(BaseModel):
    campaign_id: str
    account_id: str
    company_name: str
    status: CampaignState
    current_step: int
    total_touchpoints: int
    contacts_engaged: list[str] = Field(default_factory=list)  # emails with real engagement
    contacts_touched: int = 0
    channels_used: list[Channel] = Field(default_factory=list)
    next_touch_at: datetime | None = None
    pause_reason: str | None = None
    completed_reason: str | None = None
    created_at: datetime
    updated_at: datetime
    contacts: list[ContactProgress] = Field(default_factory=list)
    delivered: int = 0  # touches sent or recorded; current_step counts every touch written
    undelivered: list[UndeliveredTouch] = Field(default_factory=list)


class OutboxEntry(BaseModel):
    """A rendered touch and what became of its delivery."""

    campaign_id: str
    touch_number: int
    contact_id: str
    contact_name: str
    address: str  # email, phone or profile URL, by channel
    channel: Channel
    kind: MessageKind
    subject: str | None = None
    body: str
    status: DeliveryStatus = DeliveryStatus.queued
    sender: str | None = None
    detail: str | None = None
    created_at: datetime
    delivered_at: datetime | None = None
    attempts: int = 0  # times handed to a sender
    attempted_at: datetime | None = None  # when it was last handed to a sender
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    rule_retries: int = 0


class ResponseResult(BaseModel):
    response_id: str
    campaign_id: str
    contact: str
    kind: ResponseKind
    sentiment: Sentiment | None = None
    topic: str | None = None
    at: datetime
    report: ConflictReport
    paused: bool = False
    error: str | None = None  # the classifier failed; the reply is kept unclassified


class CampaignEvent(BaseModel):
    campaign_id: str
    at: datetime
    event: str
    detail: dict[str, Any] = Field(default_factory=dict)
