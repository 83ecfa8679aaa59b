"""A requests- and tokens-per-minute cap on one model's calls.

Provider limits are per organisation: one process with N threads shares one limiter (attached to
the LM and every copy DSPy makes of it); Spark executors each get a share of the budget
(`accountflow.spark` divides it by the task slots), so the cluster as a whole stays under it.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

WINDOW_S = 60.0


class RateLimiter:
    """Sliding one-minute window: `acquire()` before a call blocks while the calls started in
    the last minute reach `rpm` or the tokens they used reach `tpm`; `spent()` after the call
    books its tokens (a cache hit gives its request back)."""

    def __init__(
        self,
        rpm: int | None = None,
        tpm: int | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if (rpm is not None and rpm < 1) or (tpm is not None and tpm < 1):
            raise ValueError("rate limits must be at least 1 per minute")
        self.rpm, self.tpm = rpm, tpm
        self._clock, self._sleep = clock, sleep
        self._calls: deque[float] = deque()
        self._tokens: deque[tuple[float, int]] = deque()
        self._lock = threading.Lock()
        self.waited_s = 0.0

    def __deepcopy__(self, memo: dict[int, Any]) -> RateLimiter:
        return self  # one budget for the LM and every copy DSPy makes of it

    def _trim(self, now: float) -> None:
        while self._calls and self._calls[0] <= now - WINDOW_S:
            self._calls.popleft()
        while self._tokens and self._tokens[0][0] <= now - WINDOW_S:
            self._tokens.popleft()

    def _wait_for(self, now: float) -> float:
        """Seconds until a call may start (0: now)."""
        waits = [0.0]
        if self.rpm is not None and len(self._calls) >= self.rpm:
            waits.append(self._calls[len(self._calls) - self.rpm] + WINDOW_S - now)
        if self.tpm is not None:
            used = sum(n for _, n in self._tokens)
            for at, n in self._tokens:  # the oldest spends leave the window first
                if used < self.tpm:
                    break
                waits.append(at + WINDOW_S - now)
                used -= n
        return max(waits)

    def acquire(self) -> None:
        while True:
            with self._lock:
                now = self._clock()
                self._trim(now)
                wait = self._wait_for(now)
                if wait <= 0:
                    self._calls.append(now)
                    return
            self.waited_s += wait
            self._sleep(min(wait, WINDOW_S))

    def spent(self, tokens: int, cache_hit: bool = False) -> None:
        with self._lock:
            now = self._clock()
            if cache_hit and self._calls:
                self._calls.pop()  # no request reached the provider
            elif tokens > 0:
                self._tokens.append((now, tokens))

    def share(self, parts: int) -> RateLimiter:
        """A limiter with 1/`parts` of this budget (at least 1 per minute each)."""
        return RateLimiter(
            None if self.rpm is None else max(1, self.rpm // parts),
            None if self.tpm is None else max(1, self.tpm // parts),
        )
