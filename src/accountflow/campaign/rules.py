"""The pure campaign rules: who the contacts are, who matters most, whom to touch next and how.

No store, no model, no clock: each rule is a function of its arguments, so it can be tested on
its own and the engine stays a thin loop around them.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol, TypeVar

from pydantic import ValidationError

from accountflow.campaign.config import CampaignConfig, load_config
from accountflow.campaign.models import (
    UNKNOWN_NAME,
    CampaignContact,
    CampaignSnapshot,
    ContactRole,
    ExtractedContacts,
    Lead,
    RejectedContact,
    Touch,
)
from accountflow.errors import InputError
from accountflow.io import ACCOUNT_COLUMNS, _explain
from accountflow.models import EMAIL_RE, Account, Channel, Contact

TOP_CONTACT_TOUCHES = 3  # the top contact gets the first three touches
_CONTACT_KEYS = {
    "contact_id",
    "id",
    "name",
    "email",
    "phone",
    "title",
    "linkedin_url",
    "is_primary",
}
_C_LEVEL = {
    "cto",
    "cio",
    "cfo",
    "coo",
    "cmo",
    "cro",
    "cdo",
    "cpo",
    "ciso",
    "cso",
    "cco",
    "chro",
    "caio",
}
_VP = {"vp", "svp", "evp", "avp"}


# ---------------------------------------------------------------------------- titles


def title_score(title: str | None) -> int:
    """Seniority from a job title, on whole words, case-insensitive: CEO / Chief Executive 100;
    CTO, CIO, CFO, COO and other "Chief ... Officer" 95; VP / Vice President 80; Director /
    Head of 70; Manager 50; Lead 40; else 0. Whole words are why "Director" is not a CTO and
    "Doctor" is nothing."""
    if not title:
        return 0
    words = re.findall(r"\w+", title.casefold())
    text = " ".join(words)
    present = set(words)
    if "ceo" in present or re.search(r"\bchief executive\b", text):
        return 100
    if present & _C_LEVEL or re.search(r"\bchief(?: \w+)+ officer\b", text):
        return 95
    if present & _VP or re.search(r"\bvice president\b", text):
        return 80
    if "director" in present or re.search(r"\bhead of\b", text):
        return 70
    if "manager" in present:
        return 50
    if "lead" in present:
        return 40
    return 0


class _Titled(Protocol):
    @property
    def title(self) -> str | None: ...


T = TypeVar("T", bound=_Titled)


def prioritize(contacts: Iterable[T]) -> list[T]:
    """Highest title score first; equal scores keep their input order (a stable sort)."""
    return sorted(contacts, key=lambda c: -title_score(c.title))


# ---------------------------------------------------------------------------- contacts


def to_lead(lead: Lead | Account | Mapping[str, Any]) -> Lead:
    """Accept the lead shape (a dict or `Lead`) or a pipeline `Account` (its primary contact is
    the lead, the others its account_contacts). Raises InputError naming the bad field."""
    if isinstance(lead, Lead):
        return lead
    if isinstance(lead, Account):
        primary = lead.primary_contact
        others = [c for c in lead.contacts if c is not primary]
        own = primary.model_dump(exclude={"is_primary", "greeting_name"}) if primary else {}
        return Lead(
            **lead.model_dump(exclude={"contacts", "inquiry", "website"}),
            **own,
            account_contacts=[
                c.model_dump(exclude={"is_primary", "greeting_name"}) for c in others
            ],
            inquiry=lead.inquiry,
        )
    data = dict(lead)
    inquiry = data.get("inquiry")
    if isinstance(inquiry, Mapping) and not (inquiry.get("contact_id") or inquiry.get("email")):
        data["inquiry"] = {**inquiry, "email": data.get("email")}  # an inquiry on the lead
    try:
        return Lead.model_validate(data)
    except ValidationError as exc:
        _, reason = _explain(exc)
        who = f" {data['account_id']}" if data.get("account_id") else ""
        raise InputError(f"Lead{who}: {reason}.") from None


def _clean(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _contact_id(email: str) -> str:
    """Stable ids for contacts without one: the same email gets the same id in every run."""
    return "ct_" + hashlib.sha256(email.casefold().encode()).hexdigest()[:10]


def extract_contacts(lead: Lead | Account | Mapping[str, Any]) -> ExtractedContacts:
    """The lead first, then its account_contacts, each needing a valid email. Emails are
    de-duplicated ignoring case, a missing name becomes "Unknown", missing ids are generated.
    Roles follow input order: primary, secondary, then tertiary for the rest."""
    lead = to_lead(lead)
    own = {
        k: getattr(lead, k)
        for k in ("contact_id", "name", "email", "phone", "title", "linkedin_url")
    }
    raw: list[tuple[int, Mapping[str, Any]]] = []
    if any(v is not None for v in own.values()):
        raw.append((0, own))
    raw += [(i, c) for i, c in enumerate(lead.account_contacts, start=1)]
    result = ExtractedContacts()
    seen_emails: dict[str, str] = {}
    seen_ids: set[str] = set()
    for index, item in raw:
        email, name = _clean(item.get("email")), _clean(item.get("name"))

        def reject(
            reason: str, email: str | None = email, name: str | None = name, index: int = index
        ) -> None:
            result.rejected.append(
                RejectedContact(index=index, email=email, name=name, reason=reason)
            )

        unknown = sorted(set(item) - _CONTACT_KEYS)
        if unknown:
            reject(f"unknown field {unknown[0]!r}")
            continue
        if email is None:
            reject("no email address")
            continue
        if not EMAIL_RE.match(email):
            reject(f"malformed email {email!r}")
            continue
        if email.casefold() in seen_emails:
            reject(
                f"duplicate of {seen_emails[email.casefold()]} (emails are compared ignoring case)"
            )
            continue
        contact_id = _clean(item.get("contact_id")) or _clean(item.get("id")) or _contact_id(email)
        if contact_id in seen_ids:
            reject(f"duplicate contact_id {contact_id!r}")
            continue
        seen_emails[email.casefold()] = email
        seen_ids.add(contact_id)
        order = len(result.contacts)
        role = (
            (ContactRole.primary, ContactRole.secondary)[order]
            if order < 2
            else ContactRole.tertiary
        )
        title = _clean(item.get("title"))
        result.contacts.append(
            CampaignContact(
                contact_id=contact_id,
                name=name or UNKNOWN_NAME,
                email=email,
                phone=_clean(item.get("phone")),
                title=title,
                linkedin_url=_clean(item.get("linkedin_url")),
                role=role,
                input_order=order,
                score=title_score(title),
            )
        )
    return result


def lead_account(lead: Lead, contacts: Sequence[CampaignContact]) -> tuple[Account, list[str]]:
    """The pipeline Account a campaign writes about, and warnings. An inquiry whose contact
    was rejected is dropped: engagement nobody in the campaign made cannot be cited."""
    warnings: list[str] = []
    inquiry = lead.inquiry
    members = [c.to_contact() for c in contacts]
    if inquiry is not None and _engaged(inquiry.contact_id, inquiry.email, members) is None:
        warnings.append("the inquiry's contact is not among the usable contacts; it is ignored")
        inquiry = None
    fields = lead.model_dump(include=set(ACCOUNT_COLUMNS))
    try:
        return Account(**fields, contacts=members, inquiry=inquiry), warnings
    except ValidationError as exc:
        _, reason = _explain(exc)
        raise InputError(f"Lead {lead.account_id}: {reason}.") from None


def _engaged(
    contact_id: str | None, email: str | None, contacts: Sequence[Contact]
) -> Contact | None:
    for c in contacts:
        if contact_id and c.contact_id == contact_id:
            return c
        if email and c.email and c.email.casefold() == email.casefold():
            return c
    return None


# ---------------------------------------------------------------------------- channels


def available_channels(contact: CampaignContact | Contact) -> list[Channel]:
    """Channels this contact can be reached on: email always (a campaign contact has a valid
    email), LinkedIn with a profile URL, SMS and call with a phone number."""
    reachable = {
        Channel.email: bool(contact.email),
        Channel.linkedin: bool(contact.linkedin_url),
        Channel.sms: bool(contact.phone),
        Channel.call: bool(contact.phone),
    }
    return [c for c in Channel if reachable[c]]


def select_channel(
    history: Iterable[Channel | str | Touch],
    contact: CampaignContact | Contact,
    config: CampaignConfig | Mapping[str, Any] | None = None,
) -> Channel:
    """The next channel for a contact: each channel of `channel_escalation` in order, up to
    `attempts_per_channel` times, skipping channels the contact lacks; then email.

    `history` is the campaign's touches so far: a `Touch` counts only when it went to this
    contact (its `contact_id`); a bare channel is taken as one of this contact's touches."""
    config = load_config(config)
    used = Counter(
        Channel(h.channel if isinstance(h, Touch) else h)
        for h in history
        if not isinstance(h, Touch) or h.contact_id == contact.contact_id
    )
    reachable = set(available_channels(contact))
    for channel in config.channel_escalation:
        if channel in reachable and used[channel] < config.attempts_per_channel:
            return channel
    return Channel.email


# ---------------------------------------------------------------------------- rotation


def select_contact(state: CampaignSnapshot) -> CampaignContact | None:
    """Whom to touch next: the top contact for the first three touches, then each
    not-yet-touched contact in priority order while fewer than `max_concurrent_contacts` are in
    play, then back to the top. Excluded (unsubscribed, bounced) contacts are never chosen;
    None when nobody is left."""
    eligible = [c for c in prioritize(state.contacts) if c.contact_id not in state.excluded]
    if not eligible:
        return None
    top = eligible[0]
    if len(state.touches) < TOP_CONTACT_TOUCHES:
        return top
    touched = {t.contact_id for t in state.touches}
    in_play = sum(c.contact_id in touched for c in eligible)
    if in_play < state.max_concurrent_contacts:
        for contact in eligible:
            if contact.contact_id not in touched:
                return contact
    return top
