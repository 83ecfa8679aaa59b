"""Delivery failures are reported, counted as not delivered, retried or surfaced (README,
"Delivery failures"), against a local SMTP server on 127.0.0.1 answering 535, 550 or 451."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from accountflow.campaign import CampaignEngine, DeliveryStatus, SMTPSender, StepAction
from accountflow.campaign.engine import DELIVERY_ATTEMPTS, SEND_TIMEOUT
from accountflow.campaign.models import CampaignState, OutboxEntry
from accountflow.campaign.senders import Delivery
from accountflow.datasets import path as data_path
from tests.campaign.helpers import FakeClock, make_lead
from tests.campaign.smtp_server import smtp_server
from tests.cli_runner import run_cli

Maker = Callable[..., CampaignEngine]
FAST = {"touchpoint_intervals": [1], "response_timeout": 0}
FROM = "maya@northwind.example"
DEMO = str(data_path("accounts_demo.jsonl"))


def test_a_refused_login_fails_the_tick_holds_the_campaign_and_is_retried(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCOUNTFLOW_SMTP_USER", "maya")
    monkeypatch.setenv("ACCOUNTFLOW_SMTP_PASSWORD", "wrong-password")

    def cli(*args: str) -> tuple[int, str, str]:
        return run_cli(["campaign", *args], capsys, monkeypatch)

    code, out, err = cli("start", DEMO, "--account-id", "acc-001", "--lm", "fake", "--json")
    assert code == 0, err
    cid = json.loads(out)["results"][0]["campaign_id"]
    with smtp_server(reject_auth=True) as server:
        smtp = ["--smtp", f"127.0.0.1:{server.server_address[1]}", "--smtp-from", FROM]
        code, out, _ = cli("tick", "--lm", "fake", *smtp)
        assert code == 1
        assert "undelivered" in out and "refused the login (535" in out
        code, out, _ = cli("status", cid, "--json")
        status = json.loads(out)
        assert (status["current_step"], status["delivered"]) == (1, 0)
        [pending] = status["undelivered"]
        assert (pending["status"], pending["attempts"]) == ("deferred", 1)
        assert "touch_undelivered" in [e["event"] for e in status["events"]]

        # the next touch is due in a month, but the campaign waits for the undelivered one
        later = (datetime.now(timezone.utc) + timedelta(days=30)).isoformat()
        code, out, _ = cli("tick", "--now", later, "--lm", "fake", "--json", *smtp)
        [retry] = json.loads(out)
        assert code == 1 and (retry["action"], retry["step"]) == ("undelivered", 1)
        assert json.loads(cli("outbox", cid, "--json")[1])[0]["attempts"] == 2

        server.reject_auth = False  # the login is fixed: the third attempt goes out
        code, out, _ = cli("tick", "--now", later, "--lm", "fake", "--json", *smtp)
        assert code == 0
        assert [(r["action"], r["step"]) for r in json.loads(out)] == [("redelivered", 1)]
        assert len(server.received) == 1
    status = json.loads(cli("status", cid, "--json")[1])
    assert (status["current_step"], status["delivered"], status["undelivered"]) == (1, 1, [])


def test_a_refused_address_is_a_failed_touch_a_bounce_and_a_pause(
    make_engine: Maker, clock: FakeClock
) -> None:
    with smtp_server(refuse={"marcus@harborline.example"}) as server:
        engine = make_engine(FAST, sender=SMTPSender("127.0.0.1", server.server_address[1], FROM))
        cid = engine.start(make_lead()).campaign_id
        result = engine.step(cid)
    assert not result.success and result.action == StepAction.undelivered
    assert result.delivery == DeliveryStatus.failed and "550 no such user" in (result.error or "")
    [entry] = engine.outbox(cid)
    assert entry.status == DeliveryStatus.failed and entry.attempts == 1
    status = engine.status(cid)
    assert status is not None and status.delivered == 0
    assert status.status == CampaignState.paused and "bounced" in (status.pause_reason or "")
    assert {c.email: c.excluded for c in status.contacts}["marcus@harborline.example"] == "bounced"
    assert server.received == []


def test_a_deferred_touch_fails_after_the_last_attempt_and_pauses(
    make_engine: Maker, clock: FakeClock
) -> None:
    with smtp_server(defer={"marcus@harborline.example"}) as server:
        engine = make_engine(FAST, sender=SMTPSender("127.0.0.1", server.server_address[1], FROM))
        cid = engine.start(make_lead()).campaign_id
        results = [engine.tick()]
        for _ in range(DELIVERY_ATTEMPTS - 1):
            clock.advance(days=1)
            results.append(engine.tick())
    statuses = [[r.delivery for r in batch] for batch in results]
    assert statuses == [[DeliveryStatus.deferred]] * (DELIVERY_ATTEMPTS - 1) + [
        [DeliveryStatus.failed]
    ]
    [entry] = engine.outbox(cid)  # no second touch was written while the first waited
    assert (entry.status, entry.attempts) == (DeliveryStatus.failed, DELIVERY_ATTEMPTS)
    status = engine.status(cid)
    assert status is not None and status.status == CampaignState.paused
    assert "451 try again later" in (status.pause_reason or "")
    assert "gave up after 3 attempts" in (status.pause_reason or "")


def test_an_unreachable_server_stops_the_tick(make_engine: Maker, clock: FakeClock) -> None:
    with smtp_server() as server:
        port = server.server_address[1]  # closed once the block ends
    engine = make_engine(sender=SMTPSender("127.0.0.1", port, FROM, timeout=2))
    ids = {engine.start(make_lead()).campaign_id}
    ids.add(str(engine.start(make_lead(account_id="acc-2", company_name="Other Co")).campaign_id))
    [result] = engine.tick()  # the second due touch is not written against a dead sender
    assert result.action == StepAction.undelivered and result.campaign_id in ids
    assert [len(engine.outbox(cid)) for cid in sorted(ids)].count(0) == 1
    results = [result]
    assert results[0].sender_failed and "could not be reached" in (results[0].error or "")


class _Crash(BaseException):
    """What a kill looks like from inside: nothing after it runs."""


class _CrashingSender:
    name = "smtp"

    def send(self, entry: OutboxEntry, unsubscribe: str | None = None) -> Delivery:
        raise _Crash


class _CountingSender:
    name = "smtp"

    def __init__(self) -> None:
        self.sent: list[OutboxEntry] = []

    def send(self, entry: OutboxEntry, unsubscribe: str | None = None) -> Delivery:
        self.sent.append(entry)
        return Delivery(status=DeliveryStatus.sent)


def test_a_touch_left_queued_by_a_crash_is_settled_after_the_send_timeout(
    make_engine: Maker, clock: FakeClock, home: Path
) -> None:
    crashing = make_engine(FAST, sender=_CrashingSender())
    cid = crashing.start(make_lead()).campaign_id
    with pytest.raises(_Crash):
        crashing.step(cid)
    sender = _CountingSender()
    engine = make_engine(FAST, sender=sender)  # the next process
    clock.now = engine.outbox(cid)[0].created_at + SEND_TIMEOUT / 2
    assert engine.tick() == []  # it may still be on its way
    status = engine.status(cid)
    assert status is not None and [u.status for u in status.undelivered] == [DeliveryStatus.queued]
    clock.advance(hours=1)  # now past the send timeout
    [result] = engine.tick()
    assert result.action == StepAction.undelivered and result.delivery == DeliveryStatus.unknown
    assert sender.sent == []  # never resent: it may have gone out
    status = engine.status(cid)
    assert status is not None and status.status == CampaignState.paused
    assert "delivery unknown" in (status.pause_reason or "")
    assert [u.status for u in status.undelivered] == [DeliveryStatus.unknown]
    assert engine.tick() == []  # settled once


def test_a_recorded_touch_left_queued_is_settled_as_recorded(
    make_engine: Maker, clock: FakeClock
) -> None:
    class CrashingRecorder(_CrashingSender):
        name = "record"

    crashing = make_engine(FAST, sender=CrashingRecorder())
    cid = crashing.start(make_lead()).campaign_id
    with pytest.raises(_Crash):
        crashing.step(cid)
    clock.advance(hours=1)
    engine = make_engine(FAST)
    engine.tick()
    [first, *_] = engine.outbox(cid)
    assert first.status == DeliveryStatus.recorded
    status = engine.status(cid)
    assert status is not None and status.status == CampaignState.active


def test_a_completed_campaigns_last_touch_is_still_retried(
    make_engine: Maker, clock: FakeClock
) -> None:
    with smtp_server(defer={"marcus@harborline.example"}) as server:
        engine = make_engine(
            {**FAST, "max_touchpoints": 1},
            sender=SMTPSender("127.0.0.1", server.server_address[1], FROM),
        )
        cid = engine.start(make_lead()).campaign_id
        [first] = engine.tick()
        assert first.delivery == DeliveryStatus.deferred
        assert first.campaign_status == CampaignState.completed
        server.defer.clear()
        [retry] = engine.tick()
    assert (retry.action, retry.delivery) == (StepAction.redelivered, DeliveryStatus.sent)
    assert len(server.received) == 1 and engine.outbox(cid)[0].status == DeliveryStatus.sent
