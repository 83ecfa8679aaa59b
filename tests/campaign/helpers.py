"""Test helpers for campaigns: a fake clock, scripted reply readings, a three-contact lead."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

MONDAY = datetime(2026, 11, 2, 9, 0)  # a Monday, naive UTC like the Store


class FakeClock:
    """The engine's clock in tests: time moves only when the test says so."""

    def __init__(self, start: datetime = MONDAY) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, days: float = 0, hours: float = 0) -> datetime:
        self.now += timedelta(days=days, hours=hours)
        return self.now

    def set(self, value: datetime) -> datetime:
        self.now = value
        return self.now


# How the scripted model reads a reply, keyed by a phrase in the reply text (first match wins).
# The fake engine otherwise picks a label by hash, which tests cannot rely on.
READINGS: dict[str, tuple[str, str]] = {
    "not interested": ("negative", ""),
    "send pricing": ("positive", "pricing for freshness alerts"),
    "interested": ("positive", "a demo of freshness monitoring"),
    "who owns": ("neutral", "who owns the data platform"),
    "remove me": ("unsubscribe_request", ""),
    "out of the office": ("out_of_office", ""),
}


def reading_responder(request: Any, answer: dict[str, Any]) -> dict[str, Any] | None:
    if not isinstance(answer, dict) or "sentiment" not in answer:
        return None
    text = request.messages[-1].text or ""
    reply = re.search(r"\[\[ ## reply ## \]\]\n(.*?)\n\n\[\[ ##", text, re.S)
    body = (reply.group(1) if reply else text).lower()
    for phrase, (sentiment, topic) in READINGS.items():
        if phrase in body:
            return {"sentiment": sentiment, "topic": topic}
    return {"sentiment": "neutral", "topic": ""}


def make_lead(**changes: Any) -> dict[str, Any]:
    """A lead in the CRM shape: the lead is the CTO; a Director and a Lead engineer follow."""
    lead: dict[str, Any] = {
        "account_id": "acc-h",
        "company_name": "Harborline Freight",
        "industry": "Logistics",
        "employee_count": 1450,
        "description": "LTL freight across 38 terminals; moved its warehouse to Snowflake.",
        "contact_id": "c1",
        "name": "Marcus Reed",
        "email": "marcus@harborline.example",
        "phone": "+19015550142",
        "title": "CTO",
        "account_contacts": [
            {
                "contact_id": "c2",
                "name": "Priya Natarajan",
                "email": "priya@harborline.example",
                "phone": "+19015550178",
                "title": "Director of Data",
            },
            {
                "contact_id": "c3",
                "name": "Tom Brannigan",
                "email": "tom@harborline.example",
                "title": "Lead Data Engineer",
            },
        ],
    }
    lead.update(changes)
    return lead
