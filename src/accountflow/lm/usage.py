"""Per-step LM usage, collected through the LM's history hook rather than threaded arguments.

`TrackedLM.update_history` runs in the calling thread for every finished call (cache hits
included), so a context-local collector sees exactly the calls made by the step it wraps, even
when many steps run concurrently on one LM.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import dspy


@dataclass
class Usage:
    lm_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    truncated: int = 0  # replies cut off at max_tokens: a parse failure after one is transient
    models: set[str] = field(default_factory=set)

    def add(self, entry: dict[str, Any]) -> None:
        usage = entry.get("usage") or {}
        self.lm_calls += 1
        self.models.add(str(entry.get("model", "")))
        if _finish_reason(entry.get("response")) == "length":
            self.truncated += 1
        if not usage:  # DSPy reports cache hits with empty usage; they cost nothing
            self.cache_hits += 1
            return
        self.prompt_tokens += int(usage.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage.get("completion_tokens") or 0)
        cost = entry.get("cost")
        if cost is not None:
            self.cost_usd = (self.cost_usd or 0.0) + float(cost)

    def merge(self, other: Usage) -> None:
        self.lm_calls += other.lm_calls
        self.cache_hits += other.cache_hits
        self.prompt_tokens += other.prompt_tokens
        self.completion_tokens += other.completion_tokens
        self.truncated += other.truncated
        if other.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + other.cost_usd
        self.models |= other.models

    @property
    def cache_hit(self) -> bool:
        """True when every call of the step was served from the cache."""
        return self.lm_calls > 0 and self.cache_hits == self.lm_calls


def _finish_reason(response: Any) -> str | None:
    """lm15 responses carry `finish_reason`; litellm ones carry it on their first choice."""
    reason = getattr(response, "finish_reason", None)
    if reason is None:
        choices = getattr(response, "choices", None) or []
        reason = getattr(choices[0], "finish_reason", None) if choices else None
    return str(reason) if reason is not None else None


_collector: contextvars.ContextVar[Usage | None] = contextvars.ContextVar(
    "accountflow_usage", default=None
)


@contextmanager
def collect_usage() -> Iterator[Usage]:
    """Collect the usage of every LM call made inside the block, in this context only."""
    usage = Usage()
    token = _collector.set(usage)
    try:
        yield usage
    finally:
        _collector.reset(token)


class TrackedLM(dspy.LM):
    """A `dspy.LM` that reports each finished call to the active usage collector."""

    def update_history(self, entry: dict[str, Any]) -> None:
        # `max_history_size=0` (batch workers) also keeps the call out of DSPy's global history:
        # its 10,000 entries hold whole prompts, about 100 MB of a batch's memory, and the store
        # already records every step.
        if dspy.settings.max_history_size != 0:
            super().update_history(entry)
        usage = _collector.get()
        if usage is not None:
            usage.add(entry)
