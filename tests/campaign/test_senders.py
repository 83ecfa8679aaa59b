"""Delivery: the recording sender by default, SMTP against a local server (127.0.0.1)."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from accountflow.campaign import (
    CampaignEngine,
    DeliveryStatus,
    RecordingSender,
    SMTPSender,
)
from accountflow.errors import ConfigError
from accountflow.models import Channel
from tests.campaign.helpers import FakeClock, make_lead
from tests.campaign.smtp_server import smtp_server

Maker = Callable[..., CampaignEngine]
FAST = {"touchpoint_intervals": [1], "response_timeout": 0}


def test_default_sender_records_every_touch(make_engine: Maker, clock: FakeClock) -> None:
    sender = RecordingSender()
    engine = make_engine(FAST, sender=sender)
    cid = engine.start(make_lead()).campaign_id
    for _ in range(3):
        engine.tick()
        clock.advance(days=1)
    assert [e.touch_number for e in sender.sent] == [1, 2, 3]
    assert {e.status for e in engine.outbox(cid)} == {DeliveryStatus.recorded}
    assert {e.sender for e in engine.outbox(cid)} == {"record"}


def test_smtp_sender_delivers_email_and_keeps_other_channels(
    make_engine: Maker, clock: FakeClock
) -> None:
    with smtp_server() as server:
        port = server.server_address[1]
        sender = SMTPSender("127.0.0.1", port, "maya@northwind.example")
        engine = make_engine({**FAST, "attempts_per_channel": 1}, sender=sender)
        cid = engine.start(make_lead()).campaign_id
        for _ in range(2):
            engine.tick()
            clock.advance(days=1)
    email, sms = engine.outbox(cid)
    assert (email.channel, email.status, email.sender) == (
        Channel.email,
        DeliveryStatus.sent,
        "smtp",
    )
    assert email.delivered_at == email.created_at  # the fake clock did not move meanwhile
    assert (sms.channel, sms.status) == (Channel.sms, DeliveryStatus.recorded)
    assert "not delivered by SMTP" in (sms.detail or "")
    [(mail_from, rcpts, message)] = server.received
    assert mail_from == "maya@northwind.example" and rcpts == ["marcus@harborline.example"]
    assert message["Subject"] == email.subject
    assert message["X-Accountflow-Campaign"] == f"{cid}/1"
    assert message.get_content().replace("\r\n", "\n").strip() == email.body.strip()


def test_smtp_sender_needs_a_from_address() -> None:
    with pytest.raises(ConfigError, match="From address"):
        SMTPSender("127.0.0.1", 25, "")
