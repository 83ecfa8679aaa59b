"""Colleague references: only after real engagement, after the delay, citing its real topic."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from accountflow.campaign import CampaignEngine, MessageKind
from accountflow.models import Channel
from tests.campaign.helpers import MONDAY, FakeClock, make_lead

Maker = Callable[..., CampaignEngine]
FAST = {"touchpoint_intervals": [1], "response_timeout": 0}
INQUIRY = {"topic": "freshness alerts for Snowflake", "received_at": MONDAY.isoformat()}


def _run(engine: CampaignEngine, clock: FakeClock, days: int) -> None:
    for _ in range(days):
        engine.tick()
        clock.advance(days=1)


def _by_contact(engine: CampaignEngine, cid: str) -> dict[str, list]:
    out: dict[str, list] = {}
    for e in engine.outbox(cid):
        out.setdefault(e.contact_id, []).append(e)
    return out


def test_inquiry_on_the_lead_is_cited_to_colleagues_after_the_delay(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine({**FAST, "colleague_message_delay": 3})
    cid = engine.start(make_lead(inquiry=INQUIRY)).campaign_id
    _run(engine, clock, 5)  # touches on days 0-4: c1 x3, then c2 on day 3, c3 on day 4
    sent = _by_contact(engine, cid)
    assert [e.kind for e in sent["c1"]] == [MessageKind.personalized] * 3  # primary: never
    for contact, name in (("c2", "Priya"), ("c3", "Tom")):
        [ref] = sent[contact]
        assert ref.kind == MessageKind.colleague_reference and ref.channel == Channel.email
        assert ref.body.startswith(f"Hi {name},")
        assert "Marcus Reed" in ref.body and "freshness alerts for Snowflake" in ref.body
        assert "Reply STOP to opt out" in ref.body  # the seller's footer, as on every email


def test_before_the_delay_colleagues_get_personalized_messages(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine({**FAST, "colleague_message_delay": 3.5})
    cid = engine.start(make_lead(inquiry=INQUIRY)).campaign_id
    _run(engine, clock, 6)
    sent = _by_contact(engine, cid)
    assert sent["c2"][0].kind == MessageKind.personalized  # day 3 < 3.5 days after
    assert sent["c3"][0].kind == MessageKind.colleague_reference  # day 4 >= 3.5


def test_without_engagement_nobody_is_told_a_colleague_engaged(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine({**FAST, "colleague_message_delay": 0})
    cid = engine.start(make_lead()).campaign_id
    _run(engine, clock, 8)
    entries = engine.outbox(cid)
    assert len(entries) == 7
    assert {e.kind for e in entries} == {MessageKind.personalized}
    assert not any("your colleague" in e.body for e in entries)


def test_a_recorded_reply_is_cited_with_its_own_topic(make_engine: Maker, clock: FakeClock) -> None:
    engine = make_engine({**FAST, "auto_pause_on_response": False, "colleague_message_delay": 1})
    cid = engine.start(make_lead()).campaign_id
    engine.tick()
    clock.advance(hours=4)
    engine.record_response(
        cid,
        "marcus@harborline.example",
        "reply",
        "Yes - can you send pricing for three warehouses?",
    )
    clock.advance(hours=20)
    _run(engine, clock, 5)
    sent = _by_contact(engine, cid)
    [ref] = sent["c2"]
    assert ref.kind == MessageKind.colleague_reference
    assert "pricing for freshness alerts" in ref.body  # the topic the model read in the reply


def test_negative_or_unread_replies_are_never_cited(make_engine: Maker, clock: FakeClock) -> None:
    engine = make_engine({**FAST, "auto_pause_on_response": False, "colleague_message_delay": 0})
    cid = engine.start(make_lead()).campaign_id
    engine.tick()
    engine.record_response(cid, "marcus@harborline.example", "reply", "Not interested.")
    _run(engine, clock, 6)
    assert {e.kind for e in engine.outbox(cid)} == {MessageKind.personalized}


def test_engagement_by_a_colleague_is_cited_to_the_others_only(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine({**FAST, "colleague_message_delay": 0})
    inquiry = {**INQUIRY, "email": "priya@harborline.example"}
    cid = engine.start(make_lead(inquiry=inquiry)).campaign_id
    _run(engine, clock, 6)
    sent = _by_contact(engine, cid)
    assert sent["c2"][0].kind == MessageKind.personalized  # Priya is not told about herself
    [ref] = sent["c3"]
    assert ref.kind == MessageKind.colleague_reference and "Priya Natarajan" in ref.body
    status = engine.status(cid)
    assert status is not None and status.contacts_engaged == ["priya@harborline.example"]


def test_a_due_reference_goes_by_email_even_when_escalation_says_sms(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine(
        {
            **FAST,
            "colleague_message_delay": 0,
            "attempts_per_channel": 1,
            "channel_escalation": ["sms", "email"],
            "max_concurrent_contacts": 2,
            "max_touchpoints": 7,
        }
    )
    cid = engine.start(make_lead(inquiry=INQUIRY)).campaign_id
    _run(engine, clock, 5)
    sent = _by_contact(engine, cid)
    assert [e.channel for e in sent["c1"]][:2] == [Channel.sms, Channel.email]  # escalation
    [priya] = sent["c2"]  # she has a phone, and sms is first in the escalation...
    assert priya.kind == MessageKind.colleague_reference
    assert priya.channel == Channel.email  # ...but a reference is an email
    assert priya.created_at == MONDAY + timedelta(days=3)


def test_an_inquiry_by_a_rejected_contact_is_ignored_with_a_warning(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine({**FAST, "colleague_message_delay": 0})
    lead = make_lead(inquiry={**INQUIRY, "email": "x@bad"})
    lead["company"] = lead.pop("company_name")  # the lead shape's other name for it
    lead["account_contacts"].append({"name": "Bad", "email": "x@bad"})
    started = engine.start(lead)
    assert started.success and started.contacts_count == 3
    assert started.warnings == [
        "the inquiry's contact is not among the usable contacts; it is ignored"
    ]
    _run(engine, clock, 6)
    assert {e.kind for e in engine.outbox(started.campaign_id or "")} == {MessageKind.personalized}
