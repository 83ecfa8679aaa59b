"""Hand-written demonstrations that every new program starts with, one per writing predictor.

Small local models follow an example far better than a rule list: the 0.5B model asked for a
LinkedIn note without one answered "I'm sorry, I can't assist" or a bare name. The demo account
is fictional and unrelated to any dataset; optimizers replace these demos with their own.
"""

from __future__ import annotations

import dspy

from accountflow.config import load_seller
from accountflow.models import Account, AccountAnalysis, Channel, Contact, PainPoint
from accountflow.prompts import analysis_text, contact_text

_ACCOUNT = Account(
    account_id="demo-seed",
    company_name="Lakeshore Dental Partners",
    domain="lakeshoredental.example",
    industry="Healthcare",
    employee_count=420,
    location="Cleveland, OH",
    description=(
        "A group of 31 dental clinics in Ohio. Patient scheduling and billing data moved from "
        "clinic servers to BigQuery in March."
    ),
    contacts=[
        Contact(
            contact_id="d1",
            name="Ingrid Solberg",
            title="Head of Analytics",
            is_primary=True,
            email="ingrid@lakeshoredental.example",
        ),
        Contact(
            contact_id="d2",
            name="Teodor Vance",
            title="IT Director",
            email="teodor@lakeshoredental.example",
        ),
    ],
)
_ANALYSIS = AccountAnalysis(
    pain_points=[
        PainPoint(
            title="Unwatched data after the BigQuery move",
            description="Scheduling and billing data just moved to BigQuery, so a late or "
            "broken load can reach reports unnoticed.",
            evidence="data moved from clinic servers to BigQuery in March",
            severity=4,
        ),
    ],
    opportunities=["BigQuery migration in March"],
    fit_score=84,
    fit_rationale="Healthcare, 420 employees, a recent move to a cloud warehouse.",
    approach="pain_point_focused",
    confidence=0.8,
)

# Written for the bundled demo seller (Northwind Data's Beacon). Only the middle of each
# message: greeting, introduction and signature are assembled in code, so the demo shows the
# model what it writes and nothing it could sign with. Small models copy demo text, so each demo
# is built from what a message may quote anyway (the demo account's own fact, the seller's value
# proposition word for word) joined by stock phrases shorter than the 8-word runs the demo-copy
# rule counts: a model that copies the demo's shape must still fill it with this account's facts,
# and the grounding rule rejects the demo's facts (BigQuery, March) carried over.
EMAIL = {
    "subject": "Lakeshore Dental Partners and the BigQuery move",
    "body": (
        "Patient scheduling and billing data moved from clinic servers to BigQuery in March at "
        "Lakeshore Dental Partners. Migrations often break loads quietly. Beacon can catch "
        "stale, missing or duplicated data within minutes, before business users notice a "
        "broken dashboard. Open to a 15-minute call next week?"
    ),
}
MESSAGES = {
    Channel.linkedin: (
        "Lakeshore Dental Partners moved patient scheduling and billing data to BigQuery in "
        "March. I help data teams after such moves. Happy to connect."
    ),
    # one fact quoted from the account, then a stock question under 8 words. The earlier
    # question ("Any stale reports at <company> since the BigQuery move?") was filled with
    # events no account had ("since the BigQuery acquisition", "the Snowflake migration in
    # March"); a quoted fact is grounded by construction
    Channel.sms: "Billing data moved from clinic servers to BigQuery in March. Worth a quick chat?",
    Channel.call: (
        "I'm calling about the BigQuery move at Lakeshore Dental Partners. Do you have a minute?"
    ),
}
COLLEAGUE = {
    "subject": "Teodor asked us about BigQuery alerts",
    "body": (
        "Your colleague Teodor Vance, IT Director, asked us about alerts on late data in "
        "BigQuery. You work with the same data at Lakeshore Dental Partners. Beacon can catch "
        "stale, missing or duplicated data within minutes, before business users notice a "
        "broken dashboard. Could the three of us talk briefly?"
    ),
}


def _inputs() -> dict[str, str]:
    return {
        "seller": load_seller().for_prompt(icp_lines=False),
        "account": _ACCOUNT.facts_for_prompt(),
        "contact": contact_text(_ACCOUNT.contacts[0]),
        "analysis": analysis_text(_ANALYSIS),
        "feedback": "",
    }


def email_demos() -> list[dspy.Example]:
    return [dspy.Example(**_inputs(), **EMAIL)]


def channel_demos(channel: Channel) -> list[dspy.Example]:
    from accountflow.modules import length_text

    length = length_text(channel, _ACCOUNT.contacts[0], load_seller())
    return [
        dspy.Example(**_inputs(), channel=channel.value, length=length, message=MESSAGES[channel])
    ]


def colleague_demos() -> list[dspy.Example]:
    inputs = _inputs()
    inputs.pop("analysis")
    return [
        dspy.Example(
            **inputs,
            referrer=contact_text(_ACCOUNT.contacts[1]),
            topic="alerts on late data in BigQuery",
            **COLLEAGUE,
        )
    ]


def seed_texts() -> tuple[str, ...]:
    """Every written part of the seed demos: what the demo-copy metric compares against."""
    return (*EMAIL.values(), *MESSAGES.values(), *COLLEAGUE.values())
