"""LM usage, measured once per call by a DSPy callback and handed to whoever is counting.

Why a callback: DSPy skips `BaseLM.update_history` under `dspy.context(disable_history=True)`,
so a history hook silently reads zero there; `BaseCallback.on_lm_start/on_lm_end` fire for
every call (cache hits and failures included). For the duration of one call the callback
installs a per-call DSPy usage tracker (`dspy.context(usage_tracker=...)`, forwarding to any
tracker already active): DSPy hands it the token usage of every provider answer and nothing for
a cache hit. From that one measurement (`CallUsage`) come:

- the context-local collector (`collect_usage()`), which the orchestrator wraps around a step:
  the callback runs in the calling thread, so concurrent steps on one LM stay apart;
- the LM's own sink (`TrackedLM.on_usage`), which optimizer budgets use because their worker
  threads do not inherit a context.

Two figures are derived rather than read, because DSPy passes neither to a callback: the cost
(litellm's cost map for the model's tokens; in-process models cost nothing and report None) and
a cut-off reply (completion tokens reaching the call's `max_tokens`).
"""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.callback import BaseCallback
from dspy.utils.usage_tracker import UsageTracker

from accountflow.errors import ConfigError
from accountflow.lm.ref import Backend, ModelRef

__all__ = [
    "USAGE",
    "CallUsage",
    "TrackedLM",
    "Usage",
    "UsageCallback",
    "collect_usage",
    "model_ref",
    "price",
]


@dataclass(frozen=True)
class CallUsage:
    """One finished LM call, as measured by `UsageCallback`."""

    model: str  # the LM's model reference, formatted
    cache_hit: bool = False
    failed: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    truncated: bool = False  # cut off at max_tokens: a parse failure after it is transient


@dataclass
class Usage:
    """The usage of the calls made inside one `collect_usage()` block."""

    lm_calls: int = 0  # calls that returned (from the provider or the cache)
    cache_hits: int = 0
    failed_calls: int = 0  # calls that raised (provider errors, timeouts); not in lm_calls
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    truncated: int = 0  # replies cut off at max_tokens: a parse failure after one is transient
    models: set[str] = field(default_factory=set)

    def add(self, call: CallUsage) -> None:
        self.models.add(call.model)
        if call.failed:
            self.failed_calls += 1
        else:
            self.lm_calls += 1
            self.cache_hits += call.cache_hit
        self.truncated += call.truncated
        self.prompt_tokens += call.prompt_tokens
        self.completion_tokens += call.completion_tokens
        if call.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + call.cost_usd

    def merge(self, other: Usage) -> None:
        self.lm_calls += other.lm_calls
        self.cache_hits += other.cache_hits
        self.failed_calls += other.failed_calls
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


def price(ref: ModelRef, prompt_tokens: int, completion_tokens: int) -> float | None:
    """Dollar cost from litellm's bundled (offline) cost map; 0 for in-process models, None
    when the map has no price for the model."""
    if ref.in_process:
        return 0.0
    import litellm  # lazy: ~7 s; a litellm-served model has loaded it already

    try:
        prompt_cost, completion_cost = litellm.cost_per_token(
            model=ref.litellm_model,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
        )
    except Exception:  # not in the map
        return None
    return float(prompt_cost + completion_cost)


def model_ref(lm: Any) -> ModelRef:
    """The reference an LM was built from (`build_lm` attaches it); for an LM built elsewhere,
    its model string read as a reference."""
    ref = getattr(lm, "ref", None)
    if isinstance(ref, ModelRef):
        return ref
    model = str(getattr(lm, "model", ""))
    try:
        return ModelRef.parse(model)
    except ConfigError:  # e.g. a bare "gpt-4o": recorded as it is, never rebuilt from here
        return ModelRef(Backend.litellm, provider=model)


class _CallTracker(UsageTracker):
    """DSPy's usage tracker for one call: keeps what DSPy reports and passes it on to the
    tracker that was active before (so `dspy.track_usage()` still sees every call)."""

    def __init__(self, parent: Any) -> None:
        super().__init__()
        self.parent = parent
        self.reported = False  # DSPy reports every provider answer, even one without usage
        self.prompt_tokens = 0
        self.completion_tokens = 0

    def add_usage(self, lm: str, usage_entry: dict[str, Any]) -> None:
        self.reported = True
        self.prompt_tokens += int(usage_entry.get("prompt_tokens") or 0)
        self.completion_tokens += int(usage_entry.get("completion_tokens") or 0)
        if self.parent is not None:
            self.parent.add_usage(lm, usage_entry)


@dataclass
class _OpenCall:
    lm: Any
    tracker: _CallTracker
    scope: AbstractContextManager[None]
    max_tokens: int | None


class UsageCallback(BaseCallback):
    """Measures every call of the LMs it is attached to and reports a `CallUsage` to the
    active `collect_usage()` block and to the LM's `on_usage` (one instance serves all LMs)."""

    def __init__(self) -> None:
        self._open: dict[str, _OpenCall] = {}
        self._lock = threading.Lock()

    def __deepcopy__(self, memo: dict[int, Any]) -> UsageCallback:
        return self  # shared by every LM and every copy DSPy makes of one

    def on_lm_start(self, call_id: str, instance: Any, inputs: dict[str, Any]) -> None:
        limiter = getattr(instance, "limiter", None)  # lm/limits.py: RPM/TPM cap, if set
        if limiter is not None:
            limiter.acquire()
        tracker = _CallTracker(dspy.settings.usage_tracker)
        scope = dspy.context(usage_tracker=tracker)
        scope.__enter__()  # left in on_lm_end, which DSPy runs in this same context
        kwargs = {**(getattr(instance, "kwargs", None) or {}), **(inputs.get("kwargs") or {})}
        limit = kwargs.get("max_tokens") or kwargs.get("max_completion_tokens")
        with self._lock:
            self._open[call_id] = _OpenCall(instance, tracker, scope, int(limit) if limit else None)

    def on_lm_end(
        self, call_id: str, outputs: Any | None, exception: Exception | None = None
    ) -> None:
        with self._lock:
            call = self._open.pop(call_id, None)
        if call is None:
            return
        call.scope.__exit__(None, None, None)
        measured = self.measure(call, failed=exception is not None)
        limiter = getattr(call.lm, "limiter", None)
        if limiter is not None:
            limiter.spent(measured.prompt_tokens + measured.completion_tokens, measured.cache_hit)
        usage = _collector.get()
        if usage is not None:
            usage.add(measured)
        on_usage = getattr(call.lm, "on_usage", None)
        if on_usage is not None:
            on_usage(measured)

    @staticmethod
    def measure(call: _OpenCall, failed: bool) -> CallUsage:
        tracker, ref = call.tracker, model_ref(call.lm)
        cost = None
        if tracker.reported and not ref.in_process:
            cost = price(ref, tracker.prompt_tokens, tracker.completion_tokens)
        return CallUsage(
            model=ref.format(),
            cache_hit=not failed and not tracker.reported,
            failed=failed,
            prompt_tokens=tracker.prompt_tokens,
            completion_tokens=tracker.completion_tokens,
            cost_usd=cost,
            truncated=call.max_tokens is not None and tracker.completion_tokens >= call.max_tokens,
        )


USAGE = UsageCallback()


class TrackedLM(dspy.LM):
    """A `dspy.LM` measured by `USAGE` (attached to every instance and copy); `ref` is the
    model reference it was built from. No history override: batch workers can keep whole
    prompts out of memory with `dspy.context(disable_history=True)` and usage still counts."""

    ref: ModelRef | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        callbacks: list[BaseCallback] = list(kwargs.pop("callbacks", None) or [])
        super().__init__(*args, callbacks=[*callbacks, USAGE], **kwargs)

    def on_usage(self, call: CallUsage) -> None:
        """Called after each call of this LM (and its copies) with what it used."""
