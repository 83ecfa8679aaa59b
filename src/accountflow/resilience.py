"""The one retry policy: classify a step failure, wait with full-jitter backoff, trip a breaker.

DSPy's and litellm's own retries are switched off (`num_retries=0` on every LM we build) so that
each attempt is visible as its own step record and a 401 never costs eight seconds of retries.
"""

from __future__ import annotations

import random
import threading
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

    if isinstance(exc, LMAuthError | LMNotConfiguredError):
        return Classified(ErrorClass.permanent, _auth_sentence(exc))
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


class CircuitBreaker:
    """Counts consecutive transient failures across every account and worker; a success resets
    the count while the breaker is closed. At `threshold` it opens and stays open for the rest of
    the command (a success from a call already in flight does not close it): open means start
    nothing new, report, leave the rest resumable. A later command starts closed."""

    def __init__(self, threshold: int) -> None:
        self.threshold = threshold
        self._consecutive = 0
        self._open = False
        self.last_error: str | None = None
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self._open

    def success(self) -> None:
        with self._lock:
            if not self._open:  # once open, the count stays the one that opened it
                self._consecutive = 0

    def failure(self, message: str) -> bool:
        """Record a transient failure; True when this one opened the breaker."""
        with self._lock:
            self._consecutive += 1
            self.last_error = message
            if not self._open and self._consecutive >= self.threshold:
                self._open = True
                return True
            return False

    def check(self) -> None:
        if self._open:
            raise CircuitOpenError(
                f"The provider failed {self._consecutive} times in a row "
                f"(last: {self.last_error}); stopped starting new work."
            )
