"""A scripted OpenAI-compatible server on 127.0.0.1 for the real dspy.LM / litellm HTTP path.

Good replies come from the fake engine's schema-aware answers, so the pipeline parses them;
faults (500, 429 + Retry-After, 401, slow, malformed, empty) are scripted per request.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from accountflow.lm.fake import FakeEngine


@dataclass
class Fault:
    """One scripted reply: an HTTP status with headers/body, a delay, or a broken body."""

    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None  # None: a good completion
    delay_s: float = 0.0
    content: str | None = None  # a 200 completion whose message content is this text


OK = Fault()
SERVER_ERROR = Fault(500, body='{"error": {"message": "internal error", "type": "server_error"}}')
UNAVAILABLE = Fault(503, body='{"error": {"message": "overloaded", "type": "server_error"}}')
UNAUTHORIZED = Fault(
    401,
    body='{"error": {"message": "Incorrect API key provided", "type": "invalid_request_error",'
    ' "code": "invalid_api_key"}}',
)
MALFORMED = Fault(200, body='{"id": "x", "choices": [ {"message": ')
EMPTY = Fault(200, content="")


def rate_limited(retry_after: float) -> Fault:
    return Fault(
        429,
        headers={"Retry-After": str(retry_after)},
        body='{"error": {"message": "rate limited", "type": "rate_limit_error"}}',
    )


def slow(seconds: float) -> Fault:
    return Fault(delay_s=seconds)


Script = Callable[[int, dict[str, Any]], Fault]


class StubServer:
    """`script(n, request_json)` picks the reply to the n-th request (1-based)."""

    def __init__(self, script: Script | None = None) -> None:
        self.script: Script = script or (lambda n, body: OK)
        self.requests: list[dict[str, Any]] = []
        self.authorizations: list[str | None] = []  # the Authorization header of each request
        self.statuses: list[int] = []
        self.times: list[float] = []  # time.monotonic() when each request arrived
        self._lock = threading.Lock()
        self._engine = FakeEngine()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_randomly(self, rate: float, seed: int = 0) -> None:
        """Each request fails transiently (500, 503 or 429) with probability `rate`."""
        rng = random.Random(seed)
        faults = [SERVER_ERROR, UNAVAILABLE, rate_limited(0.01)]

        def script(n: int, body: dict[str, Any]) -> Fault:
            return rng.choice(faults) if rng.random() < rate else OK

        self.script = script

    def _reply(self, body: dict[str, Any]) -> tuple[Fault, str]:
        with self._lock:
            self.requests.append(body)
            self.times.append(time.monotonic())
            n = len(self.requests)
            fault = self.script(n, body)
            self.statuses.append(fault.status)
        if fault.body is not None:
            return fault, fault.body
        messages = body.get("messages", [])
        system = "\n".join(str(m.get("content")) for m in messages if m.get("role") == "system")
        user = str(messages[-1].get("content")) if messages else ""
        content = fault.content
        if content is None:
            content = json.dumps(self._engine.answer(system, user, body.get("response_format")))
        completion = {
            "id": f"chatcmpl-{n}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "stub"),
            "choices": [
                {
                    "index": 0,
                    "finish_reason": "stop",
                    "message": {"role": "assistant", "content": content},
                }
            ],
            "usage": {
                "prompt_tokens": len(user) // 4 + 1,
                "completion_tokens": len(content) // 4 + 1,
                "total_tokens": len(user) // 4 + len(content) // 4 + 2,
            },
        }
        return fault, json.dumps(completion)

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                stub.authorizations.append(self.headers.get("Authorization"))
                fault, text = stub._reply(body)
                if fault.delay_s:
                    time.sleep(fault.delay_s)
                data = text.encode()
                try:
                    self.send_response(fault.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    for key, value in fault.headers.items():
                        self.send_header(key, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test): nothing to answer

            def log_message(self, *args: object) -> None:
                pass

        return Handler
