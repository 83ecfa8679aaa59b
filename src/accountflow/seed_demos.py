"""Hand-written demonstrations that every new program starts with, one per writing predictor.

Small local models follow an example far better than a rule list: the 0.5B model asked for a
LinkedIn note without one answered "I'm sorry, I can't assist" or a bare name. The demo account
is fictional and unrelated to any dataset; optimizers replace these demos with their own.
"""

from __future__ import annotations

import dspy

from accountflow.models import (
    ICP,
    Account,
    AccountAnalysis,
    Channel,
    Contact,
    PainPoint,
    SellerProfile,
)

_ACCOUNT = Account(
    account_id="demo-seed",
    company_name="Lakeshore Dental Partners",
    domain="lakeshoredental.example",
    industry="Healthcare",
    employee_count=420,
    location="Cleveland, OH",
    description=(
        "A group of 31 dental clinics in Ohio that opened four new clinics this year. Patient "
        "scheduling and billing data moved from clinic servers to BigQuery in March; the "
        "weekly revenue report for the board is built from it."
    ),
    contacts=[
        Contact(contact_id="d1", name="Priya Raman", title="Head of Analytics", is_primary=True,
                email="priya@lakeshoredental.example"),
        Contact(contact_id="d2", name="Marco Bell", title="IT Director",
                email="marco@lakeshoredental.example"),
    ],
)
_SELLER = SellerProfile(
    company="Brightline Analytics",
    product="Brightline, data quality monitoring for analytics teams",
    sender_name="Sam Ortiz",
    sender_title="Account Executive",
    value_propositions=[
        "Alerts on late or broken data before a report goes out",
        "Setup in a day on BigQuery, Snowflake or Redshift",
    ],
    icp=ICP(industries=["Healthcare", "Retail"], min_employees=100, max_employees=5000),
    tone="plain, friendly, specific",
)
_ANALYSIS = AccountAnalysis(
    pain_points=[
        PainPoint(
            title="Board revenue report at risk",
            description="The weekly revenue report is built from data that just moved to "
            "BigQuery, so a late or broken load reaches the board.",
            evidence="weekly revenue report for the board is built from it",
            severity=4,
        ),
        PainPoint(
            title="More clinics, more data sources",
            description="Four new clinics add scheduling feeds that can break quietly.",
            evidence="opened four new clinics this year",
            severity=3,
        ),
    ],
    opportunities=["BigQuery migration in March"],
    fit_score=84,
    fit_rationale="Healthcare, 420 employees, a fresh warehouse migration feeding board reports.",
    approach="pain_point_focused",
    confidence=0.8,
)

EMAIL = {
    "subject": "Lakeshore's board report after the BigQuery move",
    "body": (
        "Hi Priya,\n\nCongratulations on the four new clinics. Since Lakeshore Dental Partners "
        "moved scheduling and billing data to BigQuery in March, the weekly revenue report for "
        "the board depends on every load arriving on time. Brightline watches those tables and "
        "alerts your team when data is late or broken, before the report goes out, and it "
        "takes a day to set up on BigQuery.\n\nWould a 15-minute call next week to see if it "
        "fits be useful?\n\nSam Ortiz\nBrightline Analytics"
    ),
}
MESSAGES = {
    Channel.linkedin: (
        "Hi Priya, congrats on Lakeshore Dental Partners' four new clinics. I help analytics "
        "teams keep BigQuery reports right after a migration like yours. Happy to connect."
    ),
    Channel.sms: (
        "Hi Priya, Sam from Brightline. Is the Lakeshore Dental Partners board report on "
        "BigQuery ever late? Open to a quick call?"
    ),
    Channel.call: (
        "Hi Priya, this is Sam Ortiz from Brightline, calling about Lakeshore Dental Partners' "
        "move to BigQuery. Do you have a minute to hear how teams like yours catch broken data "
        "before the board report goes out?"
    ),
}
COLLEAGUE = {
    "subject": "Marco asked us about your BigQuery reports",
    "body": (
        "Hi Priya,\n\nYour colleague Marco Bell, IT Director, asked us last week about alerts "
        "on late data in BigQuery. Since your team builds the board's revenue report at "
        "Lakeshore Dental Partners, it may matter to you too: Brightline flags late or broken "
        "loads before a report goes out.\n\nWould a short call with you and Marco help?\n\n"
        "Sam Ortiz"
    ),
}


def _inputs() -> dict[str, str]:
    from accountflow.modules import analysis_text, contact_text

    return {
        "account": _ACCOUNT.facts_for_prompt(),
        "contact": contact_text(_ACCOUNT.contacts[0]),
        "analysis": analysis_text(_ANALYSIS),
        "seller": _SELLER.for_prompt(),
        "feedback": "",
    }


def email_demos() -> list[dspy.Example]:
    return [dspy.Example(**_inputs(), **EMAIL)]


def channel_demos(channel: Channel, length: str) -> list[dspy.Example]:
    return [dspy.Example(**_inputs(), channel=channel.value, length=length,
                         message=MESSAGES[channel])]


def colleague_demos() -> list[dspy.Example]:
    from accountflow.modules import contact_text

    inputs = _inputs()
    inputs.pop("analysis")
    return [dspy.Example(
        **inputs, referrer=contact_text(_ACCOUNT.contacts[1]),
        topic="alerts on late data in BigQuery", **COLLEAGUE,
    )]
