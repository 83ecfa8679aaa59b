"""Campaigns honour and feed the suppression list: start, every touch, the sender's last check,
responses (unsubscribe, bounce, complaint), and List-Unsubscribe headers on SMTP mail."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accountflow.campaign import CampaignEngine, DeliveryStatus, SMTPSender, StepAction
from accountflow.campaign.models import CampaignState, OutboxEntry
from accountflow.campaign.senders import Delivery
from accountflow.errors import ConfigError
from accountflow.lm import fake_lm
from accountflow.store.db import utcnow
from accountflow.suppress import is_suppressed, suppress
from tests.campaign.helpers import FakeClock, make_lead, reading_responder
from tests.campaign.smtp_server import smtp_server

Maker = Callable[..., CampaignEngine]
FAST = {"touchpoint_intervals": [1], "response_timeout": 0}
FROM = "maya@northwind.example"
MARCUS = "marcus@harborline.example"


def test_an_unsubscribe_in_one_campaign_keeps_the_next_from_contacting_them(
    make_engine: Maker, clock: FakeClock
) -> None:
    engine = make_engine({**FAST, "max_touchpoints": 1})
    first = engine.start(make_lead()).campaign_id
    [touch] = engine.tick()
    assert touch.contact == MARCUS and engine.status(first).status == CampaignState.completed  # type: ignore[union-attr]
    engine.record_response(first, MARCUS, "unsubscribe")
    entry = is_suppressed(engine.store, MARCUS)
    assert entry is not None and entry.reason.value == "unsubscribe"
    assert entry.source == f"campaign {first}"

    started = engine.start(make_lead())
    assert started.success and any(MARCUS in w for w in started.warnings)
    clock.advance(days=1)
    [touch] = engine.tick()
    assert touch.success and touch.contact != MARCUS
    status = engine.status(started.campaign_id)  # type: ignore[arg-type]
    assert status is not None
    assert {c.email: c.excluded for c in status.contacts}[MARCUS] == "suppressed (unsubscribe)"


@pytest.mark.parametrize(
    ("kind", "text", "reason"),
    [("complaint", None, "complaint"), ("reply", "please remove me", "unsubscribe")],
)
def test_complaints_and_unsubscribe_replies_are_suppressed(
    make_engine: Maker, kind: str, text: str | None, reason: str
) -> None:
    engine = make_engine()
    cid = engine.start(make_lead()).campaign_id
    engine.step(cid)
    result = engine.record_response(cid, MARCUS, kind, text)
    entry = is_suppressed(engine.store, MARCUS)
    assert entry is not None and entry.reason.value == reason
    assert result.paused  # a complaint is a conflict too


def test_a_suppressed_domain_stops_a_campaign_start(make_engine: Maker) -> None:
    engine = make_engine()
    suppress(engine.store, "harborline.example", "manual", "test", utcnow())
    result = engine.start(make_lead())
    assert not result.success and "suppression list" in (result.error or "")


class _Counting:
    name = "smtp"

    def __init__(self) -> None:
        self.sent: list[OutboxEntry] = []

    def send(self, entry: OutboxEntry, unsubscribe: str | None = None) -> Delivery:
        self.sent.append(entry)
        return Delivery(status=DeliveryStatus.sent)


def test_the_sender_checks_the_list_right_before_sending(
    make_engine: Maker, clock: FakeClock
) -> None:
    """An address suppressed while the model writes the touch is not sent to."""
    engine: CampaignEngine | None = None

    def responder(request: Any, answer: dict[str, Any]) -> dict[str, Any] | None:
        if engine is not None and "body" in str(answer):  # the touch is being written
            suppress(engine.store, MARCUS, "unsubscribe", "web form", utcnow())
        return reading_responder(request, answer)

    sender = _Counting()
    lm = fake_lm("campaign-suppress-race", responder=responder, cache=False)
    engine = make_engine(sender=sender, lm=lm)
    cid = engine.start(make_lead()).campaign_id
    result = engine.step(cid)
    assert result.action == StepAction.undelivered and not result.success
    assert result.delivery == DeliveryStatus.suppressed
    assert "marcus@harborline.example is on the suppression list" in (result.error or "")
    assert sender.sent == []
    [entry] = engine.outbox(cid)
    assert entry.status == DeliveryStatus.suppressed


def test_smtp_mail_carries_list_unsubscribe_headers(
    make_engine: Maker, monkeypatch: pytest.MonkeyPatch
) -> None:
    with smtp_server() as server:
        port = server.server_address[1]
        engine = make_engine(sender=SMTPSender("127.0.0.1", port, FROM))
        engine.step(engine.start(make_lead()).campaign_id)
        url = "https://northwind.example/unsubscribe?u={email}"
        other = make_engine({"unsubscribe": url}, sender=SMTPSender("127.0.0.1", port, FROM))
        other.step(other.start(make_lead(account_id="acc-2")).campaign_id)
    [(_, _, plain), (_, _, one_click)] = server.received
    assert plain["List-Unsubscribe"] == f"<mailto:{FROM}?subject=unsubscribe>"
    assert plain["List-Unsubscribe-Post"] is None  # RFC 8058 one-click needs an https URL
    assert str(one_click["List-Unsubscribe"]).strip() == (  # folded: a long line
        "<https://northwind.example/unsubscribe?u=marcus@harborline.example>"
    )
    assert one_click["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_a_bad_unsubscribe_target_is_a_config_error(make_engine: Maker) -> None:
    with pytest.raises(ConfigError, match="unsubscribe"):
        make_engine({"unsubscribe": "call us"})
    with pytest.raises(ConfigError, match="Unsubscribe target"):
        SMTPSender("127.0.0.1", 25, FROM, unsubscribe="ftp://x")
