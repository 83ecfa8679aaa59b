"""The engine through its public API: start, step, tick, schedule, completion, persistence."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from accountflow.campaign import (
    CampaignEngine,
    CampaignState,
    ContactRole,
    DeliveryStatus,
    MessageKind,
    StepAction,
)
from accountflow.datasets import path as data_path
from accountflow.errors import ConfigError
from accountflow.io import load_accounts
from accountflow.lm import fake_lm
from accountflow.models import Channel
from tests.campaign.helpers import MONDAY, FakeClock, make_lead

Maker = Callable[..., CampaignEngine]


def _run_days(engine: CampaignEngine, clock: FakeClock, days: int) -> list[Any]:
    sent = []
    for _ in range(days + 1):
        sent += [r for r in engine.tick() if r.success]
        clock.advance(days=1)
    return sent


# ---------------------------------------------------------------------------- start


def test_start_creates_an_active_campaign_due_now(engine: CampaignEngine, lead: dict) -> None:
    result = engine.start(lead)
    assert result.success and result.error is None
    assert result.contacts_count == 3 and result.lm_calls == 2  # research + analysis, once
    status = engine.status(result.campaign_id)
    assert status is not None
    assert status.status == CampaignState.active
    assert (status.current_step, status.total_touchpoints) == (0, 7)
    assert status.next_touch_at == MONDAY
    assert [c.role for c in status.contacts] == [
        ContactRole.primary,
        ContactRole.secondary,
        ContactRole.tertiary,
    ]


def test_start_reports_problems_as_results(engine: CampaignEngine, lead: dict) -> None:
    no_id = engine.start({**lead, "account_id": None})
    assert (no_id.success, no_id.error) == (False, "account_id required")
    nobody = engine.start(make_lead(email="broken", account_contacts=[{"name": "No Mail"}]))
    assert (nobody.success, nobody.error) == (False, "No contacts found")
    assert [r.reason for r in nobody.rejected_contacts] == [
        "malformed email 'broken'",
        "no email address",
    ]
    assert engine.list() == []


def test_start_rejects_a_second_open_campaign_for_the_account(
    engine: CampaignEngine, lead: dict
) -> None:
    first = engine.start(lead)
    second = engine.start(lead)
    assert not second.success
    assert first.campaign_id in (second.error or "") and "already has campaign" in second.error


def test_start_accepts_an_account_and_a_bad_config_raises(engine: CampaignEngine) -> None:
    account = load_accounts(data_path("accounts_demo.jsonl")).accounts[2]  # 2 contacts
    result = engine.start(account, config={"max_touchpoints": 2})
    assert result.success and result.contacts_count == 2
    status = engine.status(result.campaign_id)
    assert status is not None and status.total_touchpoints == 2
    with pytest.raises(ConfigError, match="unknown setting"):
        engine.start(account, config={"touches": 2})


def test_research_failure_is_a_result_and_creates_nothing(make_engine: Maker, lead: dict) -> None:
    def broken(request: Any, answer: Any) -> Any:
        return "not json" if isinstance(answer, dict) and "profile" in answer else None

    engine = make_engine(lm=fake_lm("broken-research", responder=broken, cache=False))
    result = engine.start(lead)
    assert not result.success and (result.error or "").startswith("research failed")
    assert engine.list() == []


# ---------------------------------------------------------------------------- step, schedule


def test_step_sends_the_personalized_message_and_schedules_the_next(
    engine: CampaignEngine, lead: dict
) -> None:
    cid = engine.start(lead).campaign_id
    result = engine.step(cid)
    assert result.success and result.action == StepAction.sent and result.step == 1
    assert result.contact == "marcus@harborline.example"
    assert (result.channel, result.kind) == (Channel.email, MessageKind.personalized)
    assert result.message is not None and "Marcus" in result.message.body
    assert "Harborline Freight" in result.message.body
    assert result.delivery == DeliveryStatus.recorded
    assert result.next_touch_at == MONDAY + timedelta(days=2)
    [entry] = engine.outbox(cid)
    assert entry.body == result.message.body and entry.address == "marcus@harborline.example"
    assert entry.lm_calls == 1 and entry.status == DeliveryStatus.recorded


def test_step_before_due_does_nothing_unless_forced(
    engine: CampaignEngine, clock: FakeClock, lead: dict
) -> None:
    cid = engine.start(lead).campaign_id
    assert engine.step(cid).success
    clock.advance(days=1, hours=23)
    early = engine.step(cid)
    assert (early.success, early.action) == (False, StepAction.not_due)
    assert "not due until" in (early.error or "")
    assert len(engine.outbox(cid)) == 1
    forced = engine.step(cid, force=True)
    assert forced.success and forced.step == 2
    assert forced.next_touch_at == clock.now + timedelta(days=3)  # from the real touch time


def test_tick_runs_exactly_the_due_touches_once(
    engine: CampaignEngine, clock: FakeClock, lead: dict
) -> None:
    cid = engine.start(lead).campaign_id
    later = engine.start(make_lead(account_id="acc-2", company_name="Lumen Co")).campaign_id
    assert sorted(r.campaign_id for r in engine.tick()) == sorted([cid, later])
    assert engine.tick() == []  # same instant: nothing twice
    assert engine.tick(now=clock.now + timedelta(days=1)) == []
    due = engine.tick(now=clock.now + timedelta(days=2))
    assert sorted(r.step for r in due) == [2, 2]
    assert len(engine.outbox(cid)) == 2


def test_schedule_follows_intervals_and_completes_at_max_touchpoints(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    engine = make_engine(
        {"max_touchpoints": 4, "touchpoint_intervals": [1, 2], "response_timeout": 0}
    )
    cid = engine.start(lead).campaign_id
    sent = _run_days(engine, clock, 10)
    days = [(e.created_at - MONDAY).days for e in engine.outbox(cid)]
    assert days == [0, 1, 3, 5]
    assert sent[-1].campaign_status == CampaignState.completed
    status = engine.status(cid)
    assert status is not None
    assert (status.status, status.current_step, status.next_touch_at) == (
        CampaignState.completed,
        4,
        None,
    )
    assert status.completed_reason == "max touchpoints reached"
    after = engine.step(cid, force=True)
    assert (after.success, after.action) == (False, StepAction.not_active)
    assert "not active" in (after.error or "")


def test_response_timeout_delays_the_next_touch(make_engine: Maker, lead: dict) -> None:
    engine = make_engine({"touchpoint_intervals": [1], "response_timeout": 60})
    result = engine.step(engine.start(lead).campaign_id)
    assert result.next_touch_at == MONDAY + timedelta(hours=60)


def test_business_days_only_never_touches_on_a_weekend(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    clock.set(datetime(2026, 11, 7, 10))  # a Saturday
    engine = make_engine(
        {
            "business_days_only": True,
            "touchpoint_intervals": [1],
            "response_timeout": 0,
            "max_touchpoints": 4,
        }
    )
    cid = engine.start(lead).campaign_id
    status = engine.status(cid)
    assert status is not None and status.next_touch_at == datetime(2026, 11, 9, 10)  # Monday
    clock.set(datetime(2026, 11, 12, 10))  # Thursday
    engine.step(cid, force=True)
    _run_days(engine, clock, 6)
    days = [e.created_at.strftime("%a") for e in engine.outbox(cid)]
    assert days == ["Thu", "Fri", "Mon", "Tue"]


def test_aware_clock_is_converted_to_utc(make_engine: Maker, lead: dict) -> None:
    plus_two = timezone(timedelta(hours=2))
    engine = make_engine(clock=lambda: datetime(2026, 11, 2, 11, 0, tzinfo=plus_two))
    status = engine.status(engine.start(lead).campaign_id)
    assert status is not None and status.next_touch_at == datetime(2026, 11, 2, 9, 0)


def test_unknown_and_paused_campaigns_are_not_stepped(engine: CampaignEngine, lead: dict) -> None:
    missing = engine.step("cmp_nope")
    assert (missing.success, missing.action) == (False, StepAction.not_found)
    assert "not found" in (missing.error or "")
    cid = engine.start(lead).campaign_id
    engine.pause(cid, "waiting for legal review")
    paused = engine.step(cid, force=True)
    assert (paused.success, paused.action) == (False, StepAction.not_active)
    assert "waiting for legal review" in (paused.error or "")
    assert engine.tick() == []
    status = engine.resume(cid)
    assert status.status == CampaignState.active and status.pause_reason is None
    assert engine.step(cid).success


# ---------------------------------------------------------------------------- channels, rotation


def test_channels_escalate_per_contact_and_rotation_moves_on(
    engine: CampaignEngine, clock: FakeClock, lead: dict
) -> None:
    cid = engine.start(lead).campaign_id
    _run_days(engine, clock, 45)
    touches = [(e.contact_id, e.channel.value) for e in engine.outbox(cid)]
    assert touches == [
        ("c1", "email"),
        ("c1", "email"),
        ("c1", "sms"),  # top contact for three touches
        ("c2", "email"),
        ("c3", "email"),  # then each not-yet-touched contact
        ("c1", "sms"),
        ("c1", "call"),  # back to the top, escalation continues
    ]
    sms = [e for e in engine.outbox(cid) if e.channel == Channel.sms]
    assert all(e.address == "+19015550142" and len(e.body) <= 160 for e in sms)


def test_all_channels_exhausted_falls_back_to_email(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    engine = make_engine(
        {
            "attempts_per_channel": 1,
            "max_touchpoints": 5,
            "max_concurrent_contacts": 1,
            "touchpoint_intervals": [1],
            "response_timeout": 0,
        }
    )
    cid = engine.start(lead).campaign_id
    _run_days(engine, clock, 6)
    assert [e.channel.value for e in engine.outbox(cid)] == [
        "email",
        "sms",
        "call",
        "email",
        "email",
    ]
    assert {e.contact_id for e in engine.outbox(cid)} == {"c1"}  # one contact in play


def test_contact_without_phone_only_gets_email(make_engine: Maker, clock: FakeClock) -> None:
    engine = make_engine({"touchpoint_intervals": [1], "response_timeout": 0, "max_touchpoints": 4})
    lead = make_lead(phone=None)
    cid = engine.start(lead).campaign_id
    _run_days(engine, clock, 5)
    assert [e.channel.value for e in engine.outbox(cid)][:3] == ["email", "email", "email"]


def test_linkedin_in_the_escalation(make_engine: Maker, clock: FakeClock) -> None:
    engine = make_engine(
        {
            "channel_escalation": ["linkedin", "email"],
            "attempts_per_channel": 1,
            "max_touchpoints": 3,
            "touchpoint_intervals": [1],
            "response_timeout": 0,
        }
    )
    lead = make_lead(linkedin_url="https://www.linkedin.com/in/marcus-reed")
    cid = engine.start(lead).campaign_id
    _run_days(engine, clock, 3)
    entries = engine.outbox(cid)
    assert [e.channel.value for e in entries] == ["linkedin", "email", "email"]
    assert entries[0].address == "https://www.linkedin.com/in/marcus-reed"
    assert entries[0].subject is None and len(entries[0].body) <= 300


def test_follow_ups_tell_the_model_what_it_said_before(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    prompts: list[str] = []

    def spy(request: Any, answer: Any) -> None:
        prompts.append(request.messages[-1].text or "")
        return None

    engine = make_engine(lm=fake_lm("spy", responder=spy, cache=False))
    cid = engine.start(lead).campaign_id
    engine.step(cid)
    engine.step(cid, force=True)
    first, second = prompts[-2], prompts[-1]
    assert "follow-up" not in first
    assert "follow-up number 1" in second and "Harborline Freight: a quick idea" in second
    assert len(engine.outbox(cid)) == 2


def test_a_failed_message_is_recorded_and_retried_next_tick(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    broken = {"on": True}

    def sometimes(request: Any, answer: Any) -> Any:
        if broken["on"] and isinstance(answer, dict) and "subject" in answer:
            return {"subject": "Hello", "body": "We can help [Company] with data."}  # a placeholder
        return None

    engine = make_engine(lm=fake_lm("flaky", responder=sometimes, cache=False))
    cid = engine.start(lead).campaign_id
    failed = engine.step(cid)
    assert (failed.success, failed.action) == (False, StepAction.failed)
    assert "placeholder" in (failed.error or "")
    assert engine.outbox(cid) == []
    assert [e.event for e in engine.events(cid)] == ["started", "touch_failed"]
    broken["on"] = False
    assert [r.step for r in engine.tick()] == [1]  # still due, and the claim was released


# ---------------------------------------------------------------------------- persistence


def test_a_new_process_sees_the_same_campaign(
    home: Path, lm: Any, clock: FakeClock, lead: dict
) -> None:
    with CampaignEngine(home=home, lm=lm, clock=clock, config={"max_touchpoints": 3}) as first:
        cid = first.start(lead).campaign_id
        first.step(cid)
        first.record_response(cid, "tom@harborline.example", "bounce")
    with CampaignEngine(home=home, lm=lm, clock=clock) as second:  # default config here
        status = second.status(cid)
        assert status is not None
        assert status.total_touchpoints == 3  # the campaign kept its own config
        assert status.current_step == 1 and status.status == CampaignState.paused
        assert "bounce" in (status.pause_reason or "")
        assert [e.event for e in second.events(cid)] == ["started", "touch", "response", "paused"]
        assert len(second.outbox(cid)) == 1
        assert [s.campaign_id for s in second.list(status="paused")] == [cid]
        assert second.list(status="active") == []
