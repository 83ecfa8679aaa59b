"""Pydantic domain types: what flows between the input files, the DSPy steps and the store.

Inputs (Account, Contact, Inquiry, SellerProfile) are validated strictly at the boundary so that a
bad row is rejected with a reason instead of reaching a model. Outputs (CompanyProfile,
AccountAnalysis, OutreachPlan, ColleagueMessage) are the typed contracts the signatures return.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from accountflow.text import without_instructions

EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_FIELD_CHARS = 20_000


class Channel(str, Enum):
    email = "email"
    linkedin = "linkedin"
    sms = "sms"
    call = "call"


class StepStatus(str, Enum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    skipped = "skipped"
    not_run = "not_run"
    superseded = "superseded"  # a succeeded output replaced on a reviewer's request


class RunStatus(str, Enum):
    running = "running"
    succeeded = "succeeded"
    failed = "failed"
    interrupted = "interrupted"  # a dead process, Ctrl-C, an open circuit breaker: resumable
    awaiting_review = "awaiting_review"
    rejected = "rejected"


class FactSource(str, Enum):
    account_data = "account_data"
    model_knowledge = "model_knowledge"
    web = "web"  # a page of the account's website (`url`), verified in code to say it
    docs = "docs"  # a file of the account's documents folder (`url` is docs://<account>/<file>)


Approach = Literal["pain_point_focused", "opportunity_focused", "relationship_building"]
SizeBand = Literal["unknown", "1-10", "11-50", "51-200", "201-1000", "1001-5000", "5000+"]


def _blank_to_none(value: object) -> object:
    if isinstance(value, str) and not value.strip():
        return None
    return value.strip() if isinstance(value, str) else value


class _Input(BaseModel):
    """Strict input model: unknown fields are errors so typos in column names are caught."""

    model_config = ConfigDict(extra="forbid", str_max_length=MAX_FIELD_CHARS)


class Contact(_Input):
    contact_id: str | None = None
    name: str | None = None
    email: str | None = None
    phone: str | None = None
    title: str | None = None
    linkedin_url: str | None = None
    is_primary: bool = False
    greeting_name: str | None = None  # how to address them, when not their first name

    _blank = field_validator(
        "contact_id",
        "name",
        "email",
        "phone",
        "title",
        "linkedin_url",
        "greeting_name",
        mode="before",
    )(_blank_to_none)

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is not None and not EMAIL_RE.match(value):
            raise ValueError(f"malformed email {value!r}")
        return value

    @field_validator("is_primary", mode="before")
    @classmethod
    def _flag(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            return False
        if isinstance(value, str):
            return value.strip().lower() in {"1", "true", "yes", "y", "t"}
        return value

    @property
    def display_name(self) -> str:
        return self.name or "there"


class Inquiry(_Input):
    """Real engagement from someone at the account: the only thing colleague references may cite."""

    contact_id: str | None = None
    email: str | None = None
    topic: str
    message: str | None = None
    received_at: datetime | None = None

    @field_validator("topic")
    @classmethod
    def _topic(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("inquiry topic is empty")
        return value.strip()

    @model_validator(mode="after")
    def _who(self) -> Inquiry:
        if not self.contact_id and not self.email:
            raise ValueError("inquiry needs the contact_id or email of who engaged")
        return self


def person_keys(contact: Contact) -> set[str]:
    """What identifies a person across duplicate contact rows."""
    keys = set()
    if contact.contact_id:
        keys.add(f"id:{contact.contact_id.strip().lower()}")
    if contact.email:
        keys.add(f"email:{contact.email.strip().lower()}")
    if not keys and contact.name:
        keys.add(f"name:{' '.join(contact.name.lower().split())}")
    return keys


_DOMAIN_RE = re.compile(r"^(?!-)[\w-]{1,63}(?<!-)(\.(?!-)[\w-]{1,63}(?<!-))*\.[^\W\d_]{2,63}$")


class Account(_Input):
    account_id: str
    company_name: str
    domain: str | None = None
    website: str | None = None  # the site research reads (default https://<domain>/)
    industry: str | None = None
    employee_count: int | None = Field(default=None, ge=0)
    location: str | None = None
    description: str | None = None
    notes: str | None = None
    contacts: list[Contact] = Field(default_factory=list)
    inquiry: Inquiry | None = None

    _blank = field_validator(
        "domain", "website", "industry", "location", "description", "notes", mode="before"
    )(_blank_to_none)

    @field_validator("website")
    @classmethod
    def _website(cls, value: str | None) -> str | None:
        """An http(s) URL with a host: research fetches nothing else."""
        if value is None:
            return None
        if not re.match(r"^https?://[^/\s:@]+(:\d+)?(/\S*)?$", value.strip(), flags=re.I):
            raise ValueError(f"{value!r} is not an http(s) URL such as https://example.com/")
        return value.strip()

    @field_validator("account_id", "company_name", mode="before")
    @classmethod
    def _required(cls, value: object) -> object:
        if value is None or (isinstance(value, str) and not value.strip()):
            raise ValueError("is empty")
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            # a list, object, boolean or float is a mistake in the file, not an id or a name
            raise ValueError(f"must be a string or an integer, not {type(value).__name__}")
        return str(value).strip()

    @field_validator("domain")
    @classmethod
    def _domain(cls, value: str | None) -> str | None:
        """A host name (a URL is cut down to its host); spaces or no dot mean it is not one."""
        if value is None:
            return None
        host = re.sub(r"^[a-z][a-z0-9+.-]*://", "", value.strip(), flags=re.I)
        host = host.split("/", 1)[0].split("?", 1)[0].lower()
        if not _DOMAIN_RE.match(host):
            raise ValueError(f"{value!r} is not a domain name such as example.com")
        return host

    @field_validator("employee_count", mode="before")
    @classmethod
    def _count(cls, value: object) -> object:
        if isinstance(value, str):
            cleaned = value.strip().replace(",", "").replace("_", "")
            return None if not cleaned else cleaned
        return value

    @model_validator(mode="after")
    def _engagement(self) -> Account:
        if self.inquiry is not None and self.contacts and self.referrer is None:
            raise ValueError("inquiry names a contact who is not in this account's contacts")
        return self

    @property
    def primary_contact(self) -> Contact | None:
        for contact in self.contacts:
            if contact.is_primary:
                return contact
        return self.contacts[0] if self.contacts else None

    def distinct_contacts(self) -> list[Contact]:
        """Contacts with duplicates dropped: the same contact id, e-mail (any case) or, when
        neither is given, the same name counts as one person (the first record wins)."""
        seen: set[str] = set()
        result: list[Contact] = []
        for contact in self.contacts:
            keys = person_keys(contact)
            if keys & seen:
                continue
            seen |= keys
            result.append(contact)
        return result

    @property
    def referrer(self) -> Contact | None:
        """The contact who really engaged (through the inquiry), if any."""
        if self.inquiry is None:
            return None
        for contact in self.contacts:
            if self.inquiry.contact_id and contact.contact_id == self.inquiry.contact_id:
                return contact
            if (
                self.inquiry.email
                and contact.email
                and contact.email.lower() == self.inquiry.email.lower()
            ):
                return contact
        return None

    def facts_for_prompt(self, internal: bool = True) -> str:
        """The account's own fields as compact text: the only ground truth the model sees.
        `internal=False` leaves out the CRM `notes` ("CTO is the economic buyer"): the writing
        steps get them only through the analysis, so a message cannot quote them. Sentences
        that give instructions to an AI are left out (`text.without_instructions`)."""
        lines = [f"company_name: {self.company_name}"]
        keys = PROMPT_FIELDS
        for key in keys if internal else keys[:-1]:
            value = getattr(self, key)
            if key in ("description", "notes") and value:
                value = without_instructions(value)  # planted "ignore your instructions"
            if value not in (None, ""):
                lines.append(f"{key}: {value}")
        return "\n".join(lines)


# The account fields `Account.facts_for_prompt` writes after the company name, as "key: value"
# lines (the CRM `notes` last: left out for the writers).
PROMPT_FIELDS = ("domain", "industry", "employee_count", "location", "description", "notes")


def slug(text: str) -> str:
    """A stable id for a criterion given as plain text (older seller files)."""
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")[:40] or "criterion"


class Criterion(BaseModel):
    """One buying signal or disqualifier of the ICP. `max_employees` makes a disqualifier
    decidable in code from the headcount ("fewer than 50 employees") instead of by the model;
    `keywords` make it decidable in code from the account's sentences (`fit.keyword_quote`):
    the embedded 0.5B model could not judge criteria at all (README, "Fit score")."""

    model_config = ConfigDict(extra="forbid")

    id: str
    text: str
    weight: float | None = Field(default=None, ge=0)
    max_employees: int | None = Field(default=None, ge=0)
    # each "a|b* + c|d e": a sentence with a word of every " + " group ("*" a prefix, a space a
    # phrase) shows the criterion
    keywords: list[str] = Field(default_factory=list)

    @field_validator("keywords")
    @classmethod
    def _patterns(cls, value: list[str]) -> list[str]:
        for pattern in value:
            groups = [g.strip() for g in pattern.split("+")]
            if not groups or any(not a.strip() for g in groups for a in g.split("|")):
                raise ValueError(
                    f"keyword pattern {pattern!r} has an empty part; write it as "
                    "'word|prefix* + other word', e.g. 'moving|migrat* + snowflake|bigquery'"
                )
        return value

    @model_validator(mode="before")
    @classmethod
    def _from_text(cls, value: object) -> object:
        if isinstance(value, str):
            return {"id": slug(value), "text": value}
        return value


class FitWeights(BaseModel):
    """How many of the 100 fit points each kind of criterion can give (README: Fit score)."""

    model_config = ConfigDict(extra="forbid")

    industry: float = Field(default=30, ge=0)
    size: float = Field(default=30, ge=0)
    signals: float = Field(default=40, ge=0)  # the most buying signals add together
    signal: float = Field(default=20, ge=0)  # one present signal, unless the signal sets its own
    disqualified_cap: int = Field(default=30, ge=0, le=39)  # the highest score with a disqualifier


class ICP(BaseModel):
    model_config = ConfigDict(extra="forbid")

    industries: list[str] = Field(default_factory=list)
    min_employees: int | None = None
    max_employees: int | None = None
    buying_signals: list[Criterion] = Field(default_factory=list)
    disqualifiers: list[Criterion] = Field(default_factory=list)
    weights: FitWeights = Field(default_factory=FitWeights)

    @model_validator(mode="after")
    def _unique_ids(self) -> ICP:
        ids = [c.id for c in self.buying_signals + self.disqualifiers]
        dup = next((i for i in ids if ids.count(i) > 1), None)
        if dup is not None:
            raise ValueError(
                f"criterion id {dup!r} is used twice; give each signal and disqualifier its own id"
            )
        return self


class SellerProfile(BaseModel):
    """Who sells what. Prompts draw every product claim from here, never from hard-coded text."""

    model_config = ConfigDict(extra="forbid")

    company: str
    product: str
    description: str = ""
    value_propositions: list[str] = Field(min_length=1)
    icp: ICP = Field(default_factory=ICP)
    sender_name: str
    sender_title: str = ""
    tone: str = "friendly, concise, specific"
    compliance_footer: str = ""
    # the ask closing an email or LinkedIn note whose text asks nothing (`compose.with_ask`),
    # and the shorter one for an SMS
    call_to_action: str = "Would a 20-minute call next week be useful?"
    sms_call_to_action: str = "Worth a quick chat?"

    def for_prompt(self, icp_lines: bool = True) -> str:
        """The seller as prompt text. Writers get it without the ICP (`icp_lines=False`): the
        embedded model copied "150", "5000" and "Logistics" from it into an email as if they
        were the account's facts, and a message has no use for the targeting rules."""
        icp = self.icp
        size = ""
        if icp_lines and (icp.min_employees is not None or icp.max_employees is not None):
            size = f"{icp.min_employees or 0}-{icp.max_employees or 'any'} employees"
        parts = [
            f"seller: {self.company}, product: {self.product}",
            f"what it does: {self.description}" if self.description else "",
            "value propositions: " + "; ".join(self.value_propositions),
            "ideal customers: industries " + ", ".join(icp.industries)
            if icp_lines and icp.industries
            else "",
            f"ideal size: {size}" if size else "",
            "buying signals: " + "; ".join(c.text for c in icp.buying_signals)
            if icp_lines and icp.buying_signals
            else "",
            "disqualifiers: " + "; ".join(c.text for c in icp.disqualifiers)
            if icp_lines and icp.disqualifiers
            else "",
            f"sender: {self.sender_name}" + (f", {self.sender_title}" if self.sender_title else ""),
            f"tone: {self.tone}",
        ]
        return "\n".join(p for p in parts if p)


# ---------------------------------------------------------------- step outputs


# List bounds reach the model as JSON-schema maxItems (a grammar enforces them on the embedded
# model), which stops small models from looping. Strings stay unbounded in the schema: llama.cpp
# expands maxLength into nested rules and crashes on long limits; output rules check lengths.
Short = str
Sentence = str


def size_band(employees: int | None) -> SizeBand:
    """The size band is arithmetic on a known headcount, not something to ask a model."""
    if employees is None:
        return "unknown"
    for top, band in (
        (10, "1-10"),
        (50, "11-50"),
        (200, "51-200"),
        (1000, "201-1000"),
        (5000, "1001-5000"),
    ):
        if employees <= top:
            return band  # type: ignore[return-value]
    return "5000+"


class KeyFact(BaseModel):
    fact: Sentence
    source: FactSource
    url: str | None = None  # the page or document a web/docs fact was found in (set in code)


class SourceText(BaseModel):
    """One page or document the research step read, as handed to the model (data, never
    instructions) and kept on the research step's record."""

    kind: Literal["web", "docs"]
    url: str  # the final page URL, or docs://<account_id>/<file name>
    title: str = ""
    text: str


class ResearchMaterial(BaseModel):
    """What the research sources gave for one account: the texts, and one line per page that
    was refused or failed (recorded on the step, never failing the account)."""

    sources: list[str] = Field(default_factory=lambda: ["account"])
    texts: list[SourceText] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)
    fetched: int = 0  # network requests made
    cached: int = 0  # pages served from the page cache
    refused: int = 0
    failed: int = 0


class CompanyProfile(BaseModel):
    summary: str
    industry: Short
    size_band: SizeBand = "unknown"
    products: list[Short] = Field(default_factory=list, max_length=6)
    recent_developments: list[Sentence] = Field(default_factory=list, max_length=5)
    key_facts: list[KeyFact] = Field(default_factory=list, max_length=8)


def _clamped(value: object, lo: float, hi: float) -> object:
    """Scores off scale (a small model's 5.0 for a 0-1 confidence) are clamped into range
    rather than failing the whole account: JSON grammars cannot bound numbers."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return type(value)(min(max(value, lo), hi))
    return value


class PainPoint(BaseModel):
    title: Short
    description: Sentence
    evidence: Sentence  # a span of the account text or a research fact, verified in code
    severity: int = Field(ge=1, le=5)

    @field_validator("severity", mode="before")
    @classmethod
    def _severity(cls, value: object) -> object:
        return _clamped(value, 1, 5)


Verdict = Literal["present", "absent", "unknown"]
CriterionKind = Literal["industry", "size", "signal", "disqualifier"]


class Judgment(BaseModel):
    """What the model says of one ICP criterion: the exact words of the account text that
    decide it, then the verdict. Code checks the quote; an unverified one counts as unknown."""

    criterion: Short  # the criterion id as listed in `criteria`
    quote: str = ""  # copied word for word from `account`; empty when nothing says
    verdict: Verdict = "unknown"


class CriterionVerdict(BaseModel):
    """One ICP criterion's outcome for an account, as the fit score used it."""

    criterion: str  # "industry", "size" or a signal / disqualifier id
    kind: CriterionKind
    verdict: Verdict
    evidence: str = ""  # the verified quote, or the data code decided from
    decided_by: Literal["code", "model"]
    points: float = 0.0  # what it added to the score (a disqualifier: 0, it caps instead)


class AccountAnalysis(BaseModel):
    pain_points: list[PainPoint] = Field(default_factory=list, max_length=5)
    opportunities: list[Sentence] = Field(default_factory=list, max_length=5)
    fit_score: int = Field(ge=0, le=100)
    fit_rationale: str
    approach: Approach
    confidence: float = Field(ge=0.0, le=1.0)
    criteria: list[CriterionVerdict] = Field(default_factory=list)
    # the research facts found on the account's website or in its documents (with their URLs):
    # what the writers may say beyond the account row, and what a message's claims may rest on
    facts: list[KeyFact] = Field(default_factory=list, max_length=8)

    @field_validator("fit_score", mode="before")
    @classmethod
    def _fit(cls, value: object) -> object:
        return _clamped(value, 0, 100)

    @field_validator("confidence", mode="before")
    @classmethod
    def _confidence(cls, value: object) -> object:
        return _clamped(value, 0.0, 1.0)

    @property
    def disqualified(self) -> list[str]:
        return [
            c.criterion
            for c in self.criteria
            if c.kind == "disqualifier" and c.verdict == "present"
        ]


class AnalysisDraft(BaseModel):
    """What the analysis model writes; `fit.py` turns it into an `AccountAnalysis` (the score,
    rationale and confidence are computed, never generated)."""

    judgments: list[Judgment] = Field(default_factory=list, max_length=12)
    pain_points: list[PainPoint] = Field(default_factory=list, max_length=4)
    opportunities: list[Sentence] = Field(default_factory=list, max_length=3)
    approach: Approach = "relationship_building"


class OutreachMessage(BaseModel):
    channel: Channel
    subject: str | None = None
    body: str
    call_to_action: Short = ""
    personalization_elements: list[Short] = Field(default_factory=list, max_length=6)
    # the writer's sentences cut in code after the rule retries (they named what the account
    # data does not, or copied a demo): the message sent is grounded, and the eval's
    # output_rules still counts the writer's failure
    cut: list[str] = Field(default_factory=list, max_length=8)


class OutreachPlan(BaseModel):
    contact_name: str = ""
    messages: list[OutreachMessage] = Field(max_length=8)
    recommended_sequence: list[Channel] = Field(default_factory=list, max_length=8)

    def message(self, channel: Channel) -> OutreachMessage | None:
        return next((m for m in self.messages if m.channel == channel), None)


class ColleagueMessage(BaseModel):
    target_contact_id: str | None = None
    target_name: str
    referring_contact_id: str | None = None
    referring_name: str
    topic: str
    channel: Channel = Channel.email
    subject: str | None = None
    body: str


class AccountResult(BaseModel):
    """Everything one account's run produced; what `run --json` prints and batch outputs flatten."""

    run_id: str
    account_id: str
    company_name: str
    status: RunStatus
    error: str | None = None
    profile: CompanyProfile | None = None
    analysis: AccountAnalysis | None = None
    outreach: OutreachPlan | None = None
    colleague_messages: list[ColleagueMessage] = Field(default_factory=list)
    extra: dict[str, Any] = Field(default_factory=dict)  # outputs of steps with no field here
    model: str
    program_version: str
    lm_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    duration_ms: int = 0
    suppressed: list[str] = Field(default_factory=list)  # "email (reason)": got no outreach
