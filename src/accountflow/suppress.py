"""The suppression list: email addresses and whole domains that get no outreach.

One definition of "suppressed" for every path that could contact someone: `score` and `run`
(the personalization and colleague steps' skip rules read `RunState.suppressions`, loaded by
the orchestrator before the steps run), campaign start and every touch (the engine excludes
suppressed contacts), and the campaign sender, which asks `is_suppressed` right before it
sends. Campaign responses (unsubscribe, bounce, complaint) add to the list; so do
`accountflow suppress add|import`. A domain entry covers its subdomains too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel

from accountflow.errors import InputError
from accountflow.models import Contact

if TYPE_CHECKING:
    from accountflow.store import Store

_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]*$")
_LOCAL = re.compile(r"^[^\s@<>(),;:\"\[\]]+$")


class SuppressionReason(str, Enum):
    unsubscribe = "unsubscribe"
    bounce = "bounce"
    complaint = "complaint"
    manual = "manual"


class Suppression(BaseModel):
    """One entry: `value` is a lower-cased email address (`kind` email) or domain."""

    value: str
    kind: Literal["email", "domain"]
    reason: SuppressionReason
    source: str | None = None
    created_at: datetime

    def describe(self) -> str:
        return f"{self.value} is on the suppression list ({self.reason.value})"


def normalize(value: str) -> tuple[str, Literal["email", "domain"]]:
    """The stored form of an entry and its kind; InputError says why a value is neither an
    email address nor a domain."""
    text = value.strip().strip("<>").strip().casefold()
    if text.startswith("mailto:"):
        text = text[len("mailto:") :]
    if "@" in text and not text.startswith("@"):
        local, _, domain = text.rpartition("@")
        if not _LOCAL.match(local) or not _DOMAIN.match(domain):
            raise InputError(f"{value!r} is not an email address (name@domain.tld).")
        return f"{local}@{domain}", "email"
    domain = text.lstrip("@").rstrip(".")
    if not _DOMAIN.match(domain):
        raise InputError(
            f"{value!r} is neither an email address nor a domain (example.com or a@example.com)."
        )
    return domain, "domain"


def candidates(email: str) -> list[str]:
    """The entries that would suppress `email`: itself, its domain and every parent domain."""
    address = email.strip().casefold()
    if "@" not in address:
        return [address] if address else []
    domain = address.rpartition("@")[2]
    labels = domain.split(".")
    return [address, *(".".join(labels[i:]) for i in range(len(labels) - 1))]


class SuppressionSet:
    """A snapshot of the entries that matter to a run (the orchestrator loads the ones for an
    account's contacts before its steps run)."""

    def __init__(self, entries: Iterable[Suppression] = ()) -> None:
        self._by_value: Mapping[str, Suppression] = {e.value: e for e in entries}

    def __len__(self) -> int:
        return len(self._by_value)

    def match(self, email: str | None) -> Suppression | None:
        """The entry suppressing `email` (its own, else its domain's), or None."""
        if not email or not self._by_value:
            return None
        for key in candidates(email):
            if key in self._by_value:
                return self._by_value[key]
        return None

    def contact(self, contact: Contact | None) -> Suppression | None:
        return self.match(contact.email) if contact is not None else None

    def among(self, contacts: Iterable[Contact]) -> list[str]:
        """`email (reason)` for each suppressed contact: what an output row reports."""
        hits = []
        for c in contacts:
            entry = self.contact(c)
            if entry is not None and c.email:
                hits.append(f"{c.email} ({entry.reason.value})")
        return list(dict.fromkeys(hits))


def for_emails(store: Store, emails: Iterable[str | None]) -> SuppressionSet:
    """The entries that suppress any of `emails` (one indexed query, however long the list)."""
    keys = list(dict.fromkeys(k for e in emails if e for k in candidates(e)))
    return SuppressionSet(store.suppressions.find(keys))


def is_suppressed(store: Store, email: str | None) -> Suppression | None:
    """The entry suppressing `email` now, read from the store (the sender's last check)."""
    if not email:
        return None
    return SuppressionSet(store.suppressions.find(candidates(email))).match(email)


def suppress(
    store: Store,
    value: str,
    reason: SuppressionReason | str,
    source: str | None,
    now: datetime,
) -> tuple[Suppression, bool]:
    """Add `value` (an email address or a domain); returns the entry on the list and whether
    it is new (an existing entry keeps its first reason and time)."""
    normal, kind = normalize(value)
    try:
        why = SuppressionReason(reason)
    except ValueError:
        raise InputError(
            f"Suppression reason {reason!r} is not one of "
            f"{', '.join(r.value for r in SuppressionReason)}."
        ) from None
    entry = Suppression(value=normal, kind=kind, reason=why, source=source, created_at=now)
    added = store.suppressions.add(entry)
    if added:
        return entry, True
    [existing] = store.suppressions.find([normal])
    return existing, False
