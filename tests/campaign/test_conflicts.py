"""Responses and conflicts: pause on each kind, reporting without auto-pause, out-of-office,
exclusions that survive a resume, and conflict checks switched off."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accountflow.campaign import (
    CampaignEngine,
    CampaignState,
    CampaignStateError,
    ConflictType,
    ResponseKind,
    Sentiment,
    StepAction,
)
from accountflow.campaign.models import CampaignEvent, ResponseRecord
from accountflow.errors import InputError, NotFoundError
from accountflow.lm import fake_lm
from accountflow.store.campaigns import CampaignStore
from tests.campaign.helpers import FakeClock

Maker = Callable[..., CampaignEngine]
PRIMARY, SECONDARY, TERTIARY = (
    "marcus@harborline.example",
    "priya@harborline.example",
    "tom@harborline.example",
)


def _started(engine: CampaignEngine, lead: dict) -> str:
    cid = engine.start(lead).campaign_id
    assert cid is not None and engine.step(cid).success
    return cid


@pytest.mark.parametrize(
    ("contact", "kind", "text", "conflict"),
    [
        (PRIMARY, "reply", "Thanks, please send pricing.", ConflictType.primary_responded),
        (SECONDARY, "meeting", None, ConflictType.meeting_scheduled),
        (TERTIARY, "unsubscribe", None, ConflictType.unsubscribe_request),
        (TERTIARY, "reply", "Please remove me from your list.", ConflictType.unsubscribe_request),
        (SECONDARY, "bounce", None, ConflictType.bounce),
        (SECONDARY, "reply", "We are not interested, thanks.", ConflictType.negative_sentiment),
    ],
)
def test_each_conflict_pauses_and_nothing_is_sent(
    engine: CampaignEngine,
    clock: FakeClock,
    lead: dict,
    contact: str,
    kind: str,
    text: str | None,
    conflict: ConflictType,
) -> None:
    cid = _started(engine, lead)
    clock.advance(hours=5)
    result = engine.record_response(cid, contact, kind, text=text)
    assert result.paused
    assert [c.type for c in result.report.conflicts] == [conflict]
    assert result.report.conflicts[0].contact == contact
    status = engine.status(cid)
    assert status is not None and status.status == CampaignState.paused
    assert status.pause_reason == result.report.reason
    assert conflict.value.replace("_", " ") in (status.pause_reason or "")
    clock.advance(days=10)
    assert engine.tick() == []
    assert len(engine.outbox(cid)) == 1  # nothing sent after the response


def test_negative_reply_from_the_primary_is_two_conflicts(
    engine: CampaignEngine, lead: dict
) -> None:
    cid = _started(engine, lead)
    result = engine.record_response(cid, PRIMARY, "reply", "Not interested at all.")
    assert result.sentiment == Sentiment.negative
    assert {c.type for c in result.report.conflicts} == {
        ConflictType.primary_responded,
        ConflictType.negative_sentiment,
    }


def test_out_of_office_reply_is_not_a_conflict(
    engine: CampaignEngine, clock: FakeClock, lead: dict
) -> None:
    cid = _started(engine, lead)
    result = engine.record_response(
        cid, PRIMARY, "reply", "I am out of the office until Monday with limited access."
    )
    assert result.sentiment == Sentiment.out_of_office
    assert not result.paused and not result.report.has_conflict
    clock.advance(days=2)
    assert [r.step for r in engine.tick()] == [2]


def test_colleague_reply_is_engagement_not_a_conflict(engine: CampaignEngine, lead: dict) -> None:
    cid = _started(engine, lead)
    result = engine.record_response(cid, SECONDARY, "reply", "Interested, can we see it?")
    assert result.sentiment == Sentiment.positive and not result.report.has_conflict
    status = engine.status(cid)
    assert status is not None and status.contacts_engaged == [SECONDARY]


def test_without_auto_pause_conflicts_are_reported_and_the_campaign_goes_on(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    engine = make_engine(
        {"auto_pause_on_response": False, "touchpoint_intervals": [1], "response_timeout": 0}
    )
    cid = _started(engine, lead)
    reply = engine.record_response(cid, PRIMARY, "reply", "Please send pricing.")
    assert reply.report.has_conflict and not reply.report.should_pause and not reply.paused
    gone = engine.record_response(cid, TERTIARY, "unsubscribe")
    assert not gone.paused
    report = engine.check_conflicts(cid)
    assert [c.type for c in report.conflicts] == [
        ConflictType.primary_responded,
        ConflictType.unsubscribe_request,
    ]
    for _ in range(6):
        clock.advance(days=1)
        for result in engine.tick():
            assert result.success and result.conflicts  # reported with every touch
    entries = engine.outbox(cid)
    assert len(entries) == 7
    assert TERTIARY not in {e.address for e in entries}  # unsubscribed: still excluded
    assert "conflict" in [e.event for e in engine.events(cid)]


def test_resume_acknowledges_conflicts_but_excluded_contacts_stay_out(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    engine = make_engine(
        {"touchpoint_intervals": [1], "response_timeout": 0, "max_concurrent_contacts": 3}
    )
    cid = _started(engine, lead)
    engine.record_response(cid, PRIMARY, "unsubscribe")
    assert engine.status(cid).status == CampaignState.paused  # type: ignore[union-attr]
    status = engine.resume(cid)
    assert status.status == CampaignState.active
    assert not engine.check_conflicts(cid).has_conflict
    for _ in range(6):
        clock.advance(days=1)
        engine.tick()
    touched = [e.address for e in engine.outbox(cid)]
    assert touched[0] == PRIMARY and PRIMARY not in touched[1:]
    # the new top contact takes the rest of the first three touches, then rotation goes on
    assert touched[1:4] == [SECONDARY, SECONDARY, TERTIARY]
    marcus = next(c for c in engine.status(cid).contacts if c.email == PRIMARY)  # type: ignore
    assert marcus.excluded == "unsubscribed"


def test_step_pauses_on_a_response_another_process_recorded(
    engine: CampaignEngine, clock: FakeClock, lead: dict
) -> None:
    cid = _started(engine, lead)
    now = clock.advance(hours=3)
    CampaignStore(engine.store).add_response(  # e.g. a CRM sync writing to the same tables
        ResponseRecord(
            response_id="rsp_sync",
            campaign_id=cid,
            contact_id="c2",
            kind=ResponseKind.meeting,
            at=now,
            recorded_at=now,
        ),
        CampaignEvent(campaign_id=cid, at=now, event="response"),
    )
    clock.advance(days=2)
    result = engine.step(cid)
    assert (result.success, result.action) == (False, StepAction.paused)
    assert [c.type for c in result.conflicts] == [ConflictType.meeting_scheduled]
    assert len(engine.outbox(cid)) == 1


def test_a_reply_arriving_while_the_model_writes_stops_the_touch(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    box: dict[str, Any] = {}

    def reply_meanwhile(request: Any, answer: Any) -> None:
        if box.get("armed") and isinstance(answer, dict) and "subject" in answer:
            box["armed"] = False
            box["engine"].record_response(box["cid"], PRIMARY, "meeting")
        return None

    engine = make_engine(lm=fake_lm("meanwhile", responder=reply_meanwhile, cache=False))
    box.update(engine=engine, cid=_started(engine, lead), armed=True)
    clock.advance(days=2)
    result = engine.step(box["cid"])
    assert result.action == StepAction.paused and not result.success
    assert len(engine.outbox(box["cid"])) == 1  # the second message was written, never sent


def test_conflict_checks_off_reads_nothing_and_never_pauses(
    make_engine: Maker, clock: FakeClock, lead: dict
) -> None:
    calls = {"n": 0}

    def count(request: Any, answer: Any) -> None:
        calls["n"] += 1
        return None

    engine = make_engine(
        {"conflict_check_enabled": False}, lm=fake_lm("no-checks", responder=count, cache=False)
    )
    cid = _started(engine, lead)
    before = calls["n"]
    result = engine.record_response(cid, PRIMARY, "reply", "Not interested, remove me.")
    assert calls["n"] == before  # the reply was not sent to the model
    assert result.sentiment is None and not result.paused
    report = engine.check_conflicts(cid)
    assert not report.has_conflict and "off" in (report.reason or "")
    engine.record_response(cid, TERTIARY, "bounce")  # an explicit bounce still excludes
    clock.advance(days=2)
    assert engine.tick()[0].success
    status = engine.status(cid)
    assert status is not None and status.status == CampaignState.active
    tom = next(c for c in status.contacts if c.email == TERTIARY)
    assert tom.excluded == "bounced"


def test_check_conflicts_on_an_unknown_campaign(engine: CampaignEngine) -> None:
    report = engine.check_conflicts("cmp_missing")
    assert not report.has_conflict and report.reason == "Campaign not found"


def test_bad_responses_are_clear_errors(engine: CampaignEngine, lead: dict) -> None:
    cid = _started(engine, lead)
    with pytest.raises(InputError, match="not one of reply, meeting, unsubscribe, bounce"):
        engine.record_response(cid, PRIMARY, "like")
    with pytest.raises(NotFoundError, match=r"No contact 'x@y\.example'"):
        engine.record_response(cid, "x@y.example", "reply")
    with pytest.raises(NotFoundError, match="No campaign"):
        engine.record_response("cmp_missing", PRIMARY, "reply")
    result = engine.record_response(cid, "MARCUS@harborline.EXAMPLE", "meeting")
    assert result.contact == PRIMARY  # emails match ignoring case


def test_classifier_failure_keeps_the_reply_and_still_pauses_for_the_primary(
    make_engine: Maker, lead: dict
) -> None:
    def broken(request: Any, answer: Any) -> Any:
        return "???" if isinstance(answer, dict) and "sentiment" in answer else None

    engine = make_engine(lm=fake_lm("broken-reader", responder=broken, cache=False))
    cid = _started(engine, lead)
    result = engine.record_response(cid, PRIMARY, "reply", "Sounds good")
    assert result.sentiment is None and "could not be classified" in (result.error or "")
    assert result.paused
    assert [c.type for c in result.report.conflicts] == [ConflictType.primary_responded]


def test_completed_campaigns_cannot_be_paused_or_resumed(make_engine: Maker, lead: dict) -> None:
    engine = make_engine({"max_touchpoints": 1})
    cid = _started(engine, lead)
    assert engine.status(cid).status == CampaignState.completed  # type: ignore[union-attr]
    with pytest.raises(CampaignStateError, match="completed"):
        engine.pause(cid, "late")
    with pytest.raises(CampaignStateError, match="completed"):
        engine.resume(cid)
    step = engine.step(cid, force=True)
    assert step.action == StepAction.not_active
