"""A minimal SMTP server on 127.0.0.1 for tests: enough of RFC 5321 for smtplib to deliver."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def reply(self, line: str) -> None:
        self.wfile.write(line.encode() + b"\r\n")

    def handle(self) -> None:
        self.reply("220 localhost test SMTP")
        sender, recipients, lines, in_data = "", [], [], False
        while raw := self.rfile.readline():
            if in_data:
                if raw in (b".\r\n", b".\n"):
                    message = message_from_bytes(b"".join(lines), policy=policy.default)
                    self.server.received.append((sender, recipients, message))  # type: ignore
                    in_data, lines = False, []
                    self.reply("250 queued")
                else:
                    lines.append(raw[1:] if raw.startswith(b"..") else raw)
                continue
            command = raw.decode().strip()
            verb = command.split(" ")[0].upper()
            if verb == "EHLO":
                self.reply("250-localhost")
                self.reply("250-AUTH PLAIN LOGIN")
                self.reply("250 8BITMIME")
            elif verb == "AUTH":
                if self.server.reject_auth:
                    self.reply("535 5.7.8 authentication credentials invalid")
                else:
                    self.reply("235 2.7.0 accepted")
            elif verb == "HELO" or verb in ("NOOP", "RSET"):
                self.reply("250 ok")
            elif verb == "MAIL":
                sender, recipients = command.partition(":")[2].strip(" <>").split(">")[0], []
                self.reply("250 ok")
            elif verb == "RCPT":
                address = command.partition(":")[2].strip(" <>").split(">")[0]
                if address in self.server.refuse:
                    self.reply("550 no such user")
                elif address in self.server.defer:
                    self.reply("451 try again later")
                else:
                    recipients.append(address)
                    self.reply("250 ok")
            elif verb == "DATA":
                in_data = True
                self.reply("354 end with .")
            elif verb == "QUIT":
                self.reply("221 bye")
                return
            else:
                self.reply("502 not implemented")


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, refuse: set[str], defer: set[str], reject_auth: bool) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.received: list[tuple[str, list[str], EmailMessage]] = []
        self.refuse, self.defer, self.reject_auth = refuse, defer, reject_auth


@contextmanager
def smtp_server(
    refuse: set[str] | None = None, defer: set[str] | None = None, reject_auth: bool = False
) -> Iterator[Any]:
    """Yields the server; `server.server_address[1]` is its port, `server.received` the mail.
    Recipients in `refuse` get 550, in `defer` 451; `reject_auth` answers AUTH with 535.
    Attributes can be changed while it runs (e.g. `server.reject_auth = False`)."""
    server = _Server(refuse or set(), defer or set(), reject_auth)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
