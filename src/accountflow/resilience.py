"""The one retry policy: classify a step failure, wait with full-jitter backoff, trip a breaker.

DSPy's and litellm's own retries are switched off (`num_retries=0` on every LM we build) so that
each attempt is visible as its own step record and a 401 never costs eight seconds of retries.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, Field

from accountflow.errors import RuleViolationError
from accountflow.lm.ref import key_env, provider_of


class ErrorClass(str, Enum):
    transient = "transient"
    permanent = "permanent"


@dataclass(frozen=True)
class Classified:
    kind: ErrorClass
    message: str
    retry_after: float | None = None
    refused: bool = False  # the provider refused the key: every account would fail the same way


class RetryPolicy(BaseModel):
    """How hard to try one step before giving up on it."""

    max_attempts: int = Field(4, ge=1, le=20)
    base_delay_s: float = Field(1.0, ge=0)
    max_delay_s: float = Field(30.0, ge=0)
    step_timeout_s: float = Field(120.0, gt=0)  # per LM request of a step
    breaker_threshold: int = Field(8, ge=1)  # consecutive transient failures, across accounts

    def delay(self, attempt: int, retry_after: float | None, rng: random.Random) -> float:
        """Full jitter (uniform in [0, base * 2^attempt], capped); a server's Retry-After wins
        when it asks for longer."""
        ceiling = min(self.max_delay_s, self.base_delay_s * 2 ** max(attempt - 1, 0))
        wait = rng.uniform(0, ceiling)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.max_delay_s * 4))
        return wait


def classify(exc: BaseException, truncated: bool = False) -> Classified:
    """Transient: worth another attempt. Permanent: the same request will fail the same way."""
    from dspy.utils.exceptions import (
        AdapterParseError,
        ContextWindowExceededError,
        LMAuthError,
        LMError,
        LMNotConfiguredError,
        is_retryable_lm_error,
    )

    if isinstance(exc, LMAuthError | LMNotConfiguredError):  # HTTP 401 and 403
        return Classified(ErrorClass.permanent, _auth_sentence(exc), refused=True)
    if isinstance(exc, ContextWindowExceededError):
        return Classified(
            ErrorClass.permanent,
            "The prompt is longer than the model's context window; shorten the account's "
            "description or notes, or pick a model with a longer context.",
        )
    if isinstance(exc, Exception) and is_retryable_lm_error(exc):
        return Classified(ErrorClass.transient, _lm_sentence(exc), retry_after(exc))
    if isinstance(exc, TimeoutError | ConnectionError):
        return Classified(ErrorClass.transient, f"{type(exc).__name__}: {exc}")
    if isinstance(exc, AdapterParseError):
        body = (exc.lm_response or "").strip()
        if not body:
            return Classified(ErrorClass.transient, "The model returned an empty reply.")
        if truncated:
            return Classified(ErrorClass.transient, "The model's reply was cut off at max_tokens.")
        return Classified(ErrorClass.permanent, _first_line(exc))
    if isinstance(exc, RuleViolationError):
        return Classified(ErrorClass.permanent, _first_line(exc))
    if isinstance(exc, LMError):
        return Classified(ErrorClass.permanent, _lm_sentence(exc))
    return Classified(ErrorClass.permanent, _first_line(exc))


def retry_after(exc: BaseException) -> float | None:
    """The server's Retry-After in seconds, wherever in the cause chain it survived (DSPy's
    litellm engine drops it from its own error; the HTTP response headers keep it)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        value = getattr(current, "retry_after", None)
        if value is not None:
            return float(value)
        for headers in (
            getattr(current, "litellm_response_headers", None),
            getattr(getattr(current, "response", None), "headers", None),
        ):
            if headers:
                parsed = _parse_retry_after(headers)
                if parsed is not None:
                    return parsed
        current = current.__cause__ or current.__context__
    return None


def _parse_retry_after(headers: Any) -> float | None:
    try:
        if (ms := headers.get("retry-after-ms")) is not None:
            return float(ms) / 1000
        value = headers.get("retry-after")
    except Exception:
        return None
    if value is None:
        return None
    try:
        return max(float(value), 0.0)
    except ValueError:
        pass
    try:  # an HTTP date
        when = parsedate_to_datetime(str(value))
        return max((when - datetime.now(when.tzinfo or timezone.utc)).total_seconds(), 0.0)
    except (TypeError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _lm_sentence(exc: BaseException) -> str:
    status = getattr(exc, "status", None)
    prefix = f"HTTP {status}: " if status else ""
    return f"{type(exc).__name__}: {prefix}{_first_line(exc)}"[:400]


def _auth_sentence(exc: BaseException) -> str:
    """Which key was refused and which variable sets it; never the key itself."""
    model = str(getattr(exc, "model", "") or "")
    provider = (getattr(exc, "provider", None) or provider_of(model) or "provider").lower()
    env_keys = getattr(exc, "env_keys", None) or [key_env(provider)]
    names = " or ".join(env_keys)
    return (
        f"The {provider} API key was refused (HTTP {getattr(exc, 'status', None) or 401}); "
        f"set a valid key in {names} and run again."
    )


class CircuitOpenError(Exception):
    """The provider kept failing across accounts: stop starting new work (all of it resumable)."""

    exit_code = 1


class KeyRefusedError(CircuitOpenError):
    """The provider refused the API key (HTTP 401/403): no account can succeed until the key is
    fixed, so all work stops at the first refusal (resumable once the key is valid)."""

    exit_code = 2


class BudgetExhaustedError(CircuitOpenError):
    """The remaining budget cannot cover the next step's estimate: stop before spending it."""

    exit_code = 3


class CircuitBreaker:
    """Provider health shared by every account and worker.

    - Consecutive transient failures, across accounts, open it at `threshold`; a success resets
      the count while it is closed. A refused key (`refuse`) opens it at once.
    - Open means: no new request starts (`admit` and `check` raise), and retries sleeping in
      `wait` wake at once and stop; runs are left `interrupted`, resumable. It stays open for
      the rest of the command (a success from a call already in flight does not close it or
      reset the count that opened it); a later command starts closed.
    - Until the provider has accepted one request (`verified`), `admit` lets one attempt through
      at a time, so a refused key costs one request, not one per worker.
    """

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._consecutive = 0
        self._opened = threading.Event()
        self._refusal: str | None = None
        self.opened_at: float | None = None  # time.monotonic() when it opened
        self.last_error: str | None = None
        self.verified = False
        self._lock = threading.Lock()
        self._probe = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._opened.is_set()

    def success(self) -> None:
        with self._lock:
            if not self.is_open:  # once open, the count stays the one that opened it
                self._consecutive = 0
            self.verified = True

    def failure(self, message: str) -> bool:
        """Record a transient failure; True when this one opened the breaker."""
        with self._lock:
            self._consecutive += 1
            self.last_error = message
            if not self.is_open and self._consecutive >= self.threshold:
                self._open()
                return True
            return False

    def refuse(self, message: str) -> None:
        """The provider refused the key: open now, with that sentence as the reason."""
        with self._lock:
            if self._refusal is None:
                self._refusal = message
            if not self.is_open:
                self._open()

    def _open(self) -> None:
        self.opened_at = time.monotonic()
        self._opened.set()

    def wait(self, seconds: float) -> None:
        """Sleep for a retry's backoff, waking at once if the breaker opens meanwhile."""
        self._opened.wait(seconds)

    @contextmanager
    def admit(self) -> Iterator[None]:
        """Enter around one attempt: raises when open; before the provider has accepted a
        request, one attempt at a time (the probe)."""
        self.check()
        if self.verified:
            yield
            return
        with self._probe:
            self.check()  # it may have opened while this attempt waited for the probe
            yield

    def check(self) -> None:
        if not self.is_open:
            return
        if self._refusal is not None:
            raise KeyRefusedError(self._refusal)
        raise CircuitOpenError(
            f"The provider failed {self._consecutive} times in a row "
            f"(last: {self.last_error}); stopped starting new work."
        )


def format_usd(amount: float) -> str:
    """Dollars with at least 2 decimals and 4 significant digits ($0.004812, $5.00, $12.35):
    budgets of a fraction of a cent must not print as $0.01."""
    if amount == 0 or not math.isfinite(amount):
        return f"${amount:.2f}"
    decimals = max(2, 3 - math.floor(math.log10(abs(amount))))
    text = f"{amount:.{decimals}f}"
    whole, _, frac = text.partition(".")
    frac = frac.rstrip("0").ljust(2, "0")
    return f"${whole}.{frac}"


@dataclass(frozen=True)
class Reservation:
    """What one step attempt holds of the budget until it settles."""

    step: str
    amount: float
    pilot: bool


class Budget:
    """A hard dollar limit shared by every worker: each step attempt reserves its estimate
    before it starts and settles its real cost when it ends; an attempt whose estimate does not
    fit in what is left (limit - spent - reserved) is not started.

    A step's estimate is `margin` times the most one attempt of it has cost so far. A step not
    yet priced runs as a pilot, one attempt at a time, reserved at `margin` times the most any
    step has cost (0 before the first price). A model without a price (in-process, or unknown to
    litellm's cost map) is never stopped: its attempts cost nothing that can be counted.
    """

    def __init__(self, limit_usd: float | None, margin: float = 1.5) -> None:
        self.limit_usd = limit_usd
        self.margin = margin
        self.spent_usd = 0.0
        self.unpriced = False
        self._reserved = 0.0
        self._most: dict[str, float] = {}
        self._pilots: set[str] = set()
        self._cond = threading.Condition()

    def estimate(self, step: str) -> float:
        known = self._most.get(step)
        if known is None:
            known = max(self._most.values(), default=0.0)
        return known * self.margin

    def reserve(self, step: str) -> Reservation:
        """Hold the step's estimate; raises BudgetExhaustedError when it does not fit."""
        if self.limit_usd is None:
            return Reservation(step, 0.0, False)
        with self._cond:
            while not self.unpriced and step not in self._most and step in self._pilots:
                self._cond.wait()
            if self.unpriced:
                return Reservation(step, 0.0, False)
            amount = self.estimate(step)
            left = self.limit_usd - self.spent_usd - self._reserved
            if left <= 0 or amount > left:
                raise BudgetExhaustedError(
                    f"Spent {format_usd(self.spent_usd)} of the {format_usd(self.limit_usd)} "
                    f"budget; the next {step} step (estimated {format_usd(amount)}) would not "
                    "fit, so no new step was started."
                )
            pilot = step not in self._most
            if pilot:
                self._pilots.add(step)
            self._reserved += amount
            return Reservation(step, amount, pilot)

    def settle(self, reservation: Reservation, cost_usd: float | None, provider_calls: int) -> None:
        """Release the reservation and count the real cost; `provider_calls` (not served from
        the cache) with no cost mean the model has no price."""
        with self._cond:
            self._reserved -= reservation.amount
            self.spent_usd += cost_usd or 0.0
            if cost_usd:
                self._most[reservation.step] = max(self._most.get(reservation.step, 0.0), cost_usd)
            elif provider_calls and cost_usd is None:
                self.unpriced = True
            self._pilots.discard(reservation.step)
            self._cond.notify_all()
