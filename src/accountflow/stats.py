"""Run statistics from the store: what `accountflow stats` prints.

Computed in SQL over `runs` and `steps` (`accountflow.store.runs`) so it stays cheap on a store
with millions of steps.
"""

from __future__ import annotations

from pydantic import BaseModel

from accountflow.store import Store
from accountflow.store.records import ErrorCount, StepLatency

__all__ = ["ErrorCount", "Stats", "StepLatency", "compute"]


class Stats(BaseModel):
    runs_total: int
    runs_by_status: dict[str, int]
    success_rate: float | None  # succeeded / finished (succeeded + failed + rejected)
    accounts: int
    lm_calls_per_account: float | None
    tokens_per_account: float | None
    cost_per_account_usd: float | None
    cost_total_usd: float | None
    cache_hit_rate: float | None  # share of LM calls served from the cache
    steps: list[StepLatency]
    top_errors: list[ErrorCount]
    awaiting_review: int


def compute(store: Store, batch: str | None = None) -> Stats:
    by_status = store.runs_by_status(batch)
    total = sum(by_status.values())
    finished = sum(by_status.get(s, 0) for s in ("succeeded", "failed", "rejected"))
    usage = store.usage_totals(batch)
    accounts, calls = usage.accounts, usage.lm_calls
    return Stats(
        runs_total=total,
        runs_by_status=by_status,
        success_rate=by_status.get("succeeded", 0) / finished if finished else None,
        accounts=accounts,
        lm_calls_per_account=calls / accounts if accounts else None,
        tokens_per_account=usage.tokens / accounts if accounts else None,
        cost_per_account_usd=usage.cost_usd / accounts if accounts and usage.cost_usd else None,
        cost_total_usd=usage.cost_usd,
        cache_hit_rate=usage.cache_hits / calls if calls else None,
        steps=store.step_latencies(batch),
        top_errors=store.top_errors(batch),
        awaiting_review=by_status.get("awaiting_review", 0),
    )
