"""Delivery of rendered touches. The engine writes every touch to the outbox first and then
hands it to a sender, so a crash between the two leaves a queued row, never a double send.

`RecordingSender` (the default) delivers nothing: the outbox is the product, for a person or
another system to send. `SMTPSender` delivers email through a mail server with the standard
library; other channels stay in the outbox.

A sender says what kind of failure it saw, because the engine's policy depends on it (README,
"Delivery failures"): `deferred` is worth another attempt later (a 4xx reply, a refused login,
no connection; `sender_failed` when the sender itself is unusable), `failed` is final (a 5xx
reply; `bounce` when the server refused the recipient's address).
"""

from __future__ import annotations

import smtplib
import threading
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Protocol
from urllib.parse import quote

from pydantic import BaseModel

from accountflow.campaign.models import DeliveryStatus, OutboxEntry
from accountflow.errors import ConfigError
from accountflow.models import Channel


class Delivery(BaseModel):
    status: DeliveryStatus
    detail: str | None = None
    bounce: bool = False  # the server refused the recipient's address for good
    sender_failed: bool = False  # the sender itself is unusable (login, connection)


class Sender(Protocol):
    """Anything that can deliver one outbox entry; `name` is stored with the delivery.
    `unsubscribe` is where the recipient can opt out (a mailto: address or an https URL)."""

    name: str

    def send(self, entry: OutboxEntry, unsubscribe: str | None = None) -> Delivery: ...


class RecordingSender:
    """Keeps what it was given (in `sent`) and leaves delivery to whoever reads the outbox."""

    name = "record"

    def __init__(self) -> None:
        self.sent: list[OutboxEntry] = []
        self._lock = threading.Lock()

    def send(self, entry: OutboxEntry, unsubscribe: str | None = None) -> Delivery:
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
        unsubscribe: str | None = None,
    ) -> None:
        if not from_addr:
            raise ConfigError("The SMTP sender needs a From address; pass --smtp-from ADDRESS.")
        self.host, self.port, self.from_addr = host, port, from_addr
        self.username, self._password = username, password
        self.starttls, self.timeout = starttls, timeout
        # the default opt-out is a reply to the From address
        self.unsubscribe = unsubscribe or f"mailto:{from_addr}?subject=unsubscribe"
        list_unsubscribe(self.unsubscribe, "x@example.com")  # a bad setting fails here, once

    def send(self, entry: OutboxEntry, unsubscribe: str | None = None) -> Delivery:
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
        header, post = list_unsubscribe(unsubscribe or self.unsubscribe, entry.address)
        message["List-Unsubscribe"] = header
        if post:
            message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        message.set_content(entry.body)
        server = f"{self.host}:{self.port}"
        try:
            with smtplib.SMTP(self.host, self.port, timeout=self.timeout) as smtp:
                if self.starttls:
                    smtp.starttls()
                if self.username:
                    smtp.login(self.username, self._password or "")
                refused = smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            refused = exc.recipients
        except smtplib.SMTPAuthenticationError as exc:
            return Delivery(
                status=DeliveryStatus.deferred,
                sender_failed=True,
                detail=f"{server} refused the login ({exc.smtp_code} {_text(exc.smtp_error)}); "
                "check ACCOUNTFLOW_SMTP_USER and ACCOUNTFLOW_SMTP_PASSWORD",
            )
        except smtplib.SMTPResponseException as exc:
            status = DeliveryStatus.failed if exc.smtp_code >= 500 else DeliveryStatus.deferred
            return Delivery(
                status=status,
                detail=f"{server} answered {exc.smtp_code} {_text(exc.smtp_error)}",
            )
        except (OSError, smtplib.SMTPException) as exc:  # no connection, timeout, hung up
            return Delivery(
                status=DeliveryStatus.deferred,
                sender_failed=True,
                detail=f"{server} could not be reached: {str(exc) or type(exc).__name__}",
            )
        if refused:
            why = "; ".join(
                f"{address} ({code} {_text(reply)})"
                for address, (code, reply) in sorted(refused.items())
            )
            if all(code >= 500 for code, _ in refused.values()):
                return Delivery(
                    status=DeliveryStatus.failed,
                    bounce=True,
                    detail=f"refused by the server: {why}",
                )
            return Delivery(status=DeliveryStatus.deferred, detail=f"deferred by the server: {why}")
        return Delivery(status=DeliveryStatus.sent, detail=server)


def list_unsubscribe(target: str, recipient: str) -> tuple[str, bool]:
    """The `List-Unsubscribe` header for `target` (comma-separated mailto: addresses, plain
    addresses or https URLs; `{email}` becomes the recipient, URL-quoted), and whether the
    one-click `List-Unsubscribe-Post` header may go with it (RFC 8058: only with an https URL)."""
    uris: list[str] = []
    for part in (p.strip() for p in target.split(",")):
        if not part:
            continue
        part = part.replace("{email}", quote(recipient, safe="@"))
        if "@" in part and not part.startswith(("mailto:", "https:", "http:")):
            part = "mailto:" + part
        if not part.startswith(("mailto:", "https://", "http://")):
            raise ConfigError(
                f"Unsubscribe target {part!r} is neither an email address, a mailto: URI nor an "
                "https URL; set ACCOUNTFLOW_UNSUBSCRIBE or the campaign's `unsubscribe` setting."
            )
        uris.append(part)
    if not uris:
        raise ConfigError(
            "The unsubscribe target is empty; set ACCOUNTFLOW_UNSUBSCRIBE to an address or URL."
        )
    return ", ".join(f"<{u}>" for u in uris), any(u.startswith("https://") for u in uris)


def _text(reply: bytes | str) -> str:
    return reply.decode(errors="replace") if isinstance(reply, bytes) else reply
