"""Budget enforcement for optimize runs: every LM call is metered and a spent budget stops the run.

DSPy optimizers catch `Exception` around each example (a failed example scores 0 and the search
goes on), so an ordinary exception cannot stop them: they would keep "evaluating" candidates
that all fail and might even pick one. `BudgetExhausted` therefore derives from `BaseException`,
like `KeyboardInterrupt`, which DSPy's executors and optuna re-raise; the runner catches it,
keeps the best program seen so far and records why it stopped.

Calls are reserved in the LM itself (`MeteredLM`) and measured by the one usage seam
(`accountflow.lm.usage.UsageCallback`), which hands each finished call to the LM's `on_usage`:
not to a context-local collector, because optimizers fan out to worker threads and a context
variable does not follow them there, while every copy of the LM an optimizer makes
(`lm.copy(rollout_id=...)`) shares the one `Meter`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import dspy

from accountflow.lm.usage import CallUsage, TrackedLM


class BudgetExhausted(BaseException):  # a stop signal, like KeyboardInterrupt
    """The run's call or dollar budget is spent; raised before the call that would exceed it."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


@dataclass
class Meter:
    """Calls, tokens and cost of every LM call in a run, and the run's total limits.

    `calls` counts provider calls: a call is reserved before it starts (so concurrent threads
    cannot overshoot a call limit) and refunded when it turns out to be a cache hit, which costs
    nothing. A failed call stays counted. Whether a call will hit the cache is unknown before
    it runs, so once the limit is reached even a call that would have been free is refused.
    Dollar cost is known only after a call, so `budget_usd` can be overshot by the calls
    already in flight when it is reached.
    """

    max_calls: int | None = None
    budget_usd: float | None = None
    calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    priced: bool = False  # whether any call reported a cost (local and fake models do not)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __deepcopy__(self, memo: dict[int, Any]) -> Meter:
        return self  # one meter per run, however many times DSPy copies what holds it

    def phase(self, name: str, reserve_calls: int = 0, reserve_usd: float = 0.0) -> Phase:
        """A phase of the run whose LMs stop `reserve_*` short of the totals (the runner keeps
        a reserve for the final dev evaluation)."""
        calls = None if self.max_calls is None else max(0, self.max_calls - reserve_calls)
        usd = None if self.budget_usd is None else max(0.0, self.budget_usd - reserve_usd)
        return Phase(self, name, calls, usd, reserved=bool(reserve_calls or reserve_usd))

    def acquire(self, phase: Phase) -> None:
        """Reserve one call for `phase`, or close the phase and raise `BudgetExhausted`."""
        with self._lock:
            if phase.stop_reason is None:
                if phase.max_calls is not None and self.calls >= phase.max_calls:
                    phase.stop_reason = (
                        f"the call budget is spent ({self.calls} LM calls, limit {phase.max_calls}"
                        f"{' in this phase' if phase.reserved else ''})"
                    )
                elif phase.budget_usd is not None and self.cost_usd >= phase.budget_usd:
                    phase.stop_reason = (
                        f"the dollar budget is spent (${self.cost_usd:.4f}, limit "
                        f"${phase.budget_usd:.4f}{' in this phase' if phase.reserved else ''})"
                    )
            if phase.stop_reason is not None:
                raise BudgetExhausted(f"{phase.name}: {phase.stop_reason}")
            self.calls += 1

    def record(self, call: CallUsage) -> None:
        """Account for one finished call, as the usage seam measured it."""
        with self._lock:
            if call.cache_hit:  # served from DSPy's cache: no provider call
                self.calls -= 1
                self.cache_hits += 1
                return
            self.prompt_tokens += call.prompt_tokens
            self.completion_tokens += call.completion_tokens
            if call.cost_usd is not None:
                self.priced = True
                self.cost_usd += call.cost_usd

    def snapshot(self) -> dict[str, float]:
        """Figures for MLflow metrics and reports."""
        with self._lock:
            figures: dict[str, float] = {
                "lm_calls": self.calls,
                "cache_hits": self.cache_hits,
                "prompt_tokens": self.prompt_tokens,
                "completion_tokens": self.completion_tokens,
            }
            if self.priced:
                figures["cost_usd"] = round(self.cost_usd, 6)
            return figures


@dataclass
class Phase:
    """One part of a run (baseline eval, compile, final eval) with its own ceilings. Once its
    budget is spent the phase stays closed, so worker threads an optimizer leaves running
    cannot spend the reserve that a later phase needs."""

    meter: Meter
    name: str
    max_calls: int | None
    budget_usd: float | None
    reserved: bool = False
    stop_reason: str | None = None

    def __deepcopy__(self, memo: dict[int, Any]) -> Phase:
        return self


class MeteredLM(TrackedLM):
    """A `TrackedLM` whose calls go through a `Meter` (built with `metered`, not directly)."""

    phase: Phase

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.phase.meter.acquire(self.phase)
        return super().__call__(*args, **kwargs)

    async def acall(self, *args: Any, **kwargs: Any) -> Any:
        self.phase.meter.acquire(self.phase)
        return await super().acall(*args, **kwargs)

    def on_usage(self, call: CallUsage) -> None:
        self.phase.meter.record(call)


def metered(lm: dspy.LM, phase: Phase) -> MeteredLM:
    """A metered copy of `lm` for one phase: same model, engine, cache and settings (the
    `lm.copy()` state). Works for any `dspy.LM` that `accountflow.lm.build_lm` returns."""
    if not isinstance(lm, dspy.LM):
        raise TypeError(f"cannot meter {type(lm).__name__}: build it with accountflow.lm.build_lm")
    copy = lm.copy()
    wrapped = MeteredLM.__new__(MeteredLM)
    wrapped.__dict__.update(copy.__dict__)
    wrapped.phase = phase
    return wrapped
