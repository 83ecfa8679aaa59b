"""Delivery of rendered touches. The engine writes every touch to the outbox first and then
hands it to a sender, so a crash between the two leaves a queued row, never a double send.

`RecordingSender` (the default) delivers nothing: the outbox is the product, for a person or
another system to send. `SMTPSender` delivers email through a mail server with the standard
library; other channels stay in the outbox.
"""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol

from pydantic import BaseModel

from accountflow.campaign.models import DeliveryStatus, OutboxEntry
from accountflow.errors import ConfigError
from accountflow.models import Channel


class Delivery(BaseModel):
    status: DeliveryStatus
    detail: str | None = None


class Sender(Protocol):
    """Anything that can deliver one outbox entry; `name` is stored with the delivery."""

    name: str

    def send(self, entry: OutboxEntry) -> Delivery: ...


class RecordingSender:
    """Keeps what it was given (in `sent`) and leaves delivery to whoever reads the outbox."""

    name = "record"

    def __init__(self) -> None:
        self.sent: list[OutboxEntry] = []
        self._lock = threading.Lock()

    def send(self, entry: OutboxEntry) -> Delivery:
        with self._lock:
            self.sent.append(entry)
        return Delivery(status=DeliveryStatus.recorded, detail="kept in the outbox")


class SMTPSender:
    """Email through an SMTP server (`smtplib`); credentials stay in memory, never stored."""

    name = "smtp"

    def __init__(
        self,
        host: str,
        port: int = 25,
        from_addr: str = "",
        *,
        username: str | None = None,
        password: str | None = None,
        starttls: bool = False,
        timeout: float = 30.0,
    ) -> None:
        if not from_addr:
            raise ConfigError("The SMTP sender needs a From address; pass --smtp-from ADDRESS.")
        self.host, self.port, self.from_addr = host, port, from_addr
        self.username, self._password = username, password
        self.starttls, self.timeout = starttls, timeout

    def send(self, entry: OutboxEntry) -> Delivery:
        if entry.channel != Channel.email:
            return Delivery(
                status=DeliveryStatus.recorded,
                detail=f"{entry.channel.value} is not delivered by SMTP; kept in the outbox",
            )
        message = EmailMessage()
        message["From"] = self.from_addr
        message["To"] = entry.address
        message["Subject"] = entry.subject or ""
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain=self.from_addr.rpartition("@")[2] or None)
        message["X-Accountflow-Campaign"] = f"{entry.campaign_id}/{entry.touch_number}"
        message.set_content(entry.body)
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        if refused:
            why = "; ".join(
                f"{address} ({code} {_text(reply)})"
                for address, (code, reply) in sorted(refused.items())
            )
            return Delivery(status=DeliveryStatus.failed, detail=f"refused by the server: {why}")
        return Delivery(status=DeliveryStatus.sent, detail=f"{self.host}:{self.port}")


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
