"""Run statistics from the store: what `accountflow stats` prints.

Computed in SQL over `runs` and `steps` so it stays cheap on a store with millions of steps.
"""

from __future__ import annotations

from pydantic import BaseModel

from accountflow.store import Store


class StepLatency(BaseModel):
    step: str
    attempts: int
    succeeded: int
    p50_ms: float | None
    p95_ms: float | None


class ErrorCount(BaseModel):
    error_type: str
    error_class: str | None
    count: int


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
    where, params = ("WHERE batch = ?", [batch]) if batch else ("", [])
    by_status = {
        str(r["status"]): int(r["n"])
        for r in store.query(f"SELECT status, count(*) AS n FROM runs {where} GROUP BY 1", params)
    }
    total = sum(by_status.values())
    finished = sum(by_status.get(s, 0) for s in ("succeeded", "failed", "rejected"))
    run_filter = f"run_id IN (SELECT run_id FROM runs {where})"
    usage = store.query(
        f"""SELECT count(DISTINCT account_id) AS accounts, coalesce(sum(lm_calls), 0) AS calls,
               coalesce(sum(cache_hits), 0) AS hits,
               coalesce(sum(prompt_tokens + completion_tokens), 0) AS tokens,
               sum(cost_usd) AS cost
        FROM steps WHERE {run_filter}""",
        params,
    )[0]
    accounts = int(usage["accounts"] or 0)
    steps = store.query(
        f"""SELECT step, count(*) AS attempts,
               count(*) FILTER (WHERE status = 'succeeded') AS succeeded,
               quantile_cont(duration_ms, 0.5) FILTER (WHERE status = 'succeeded') AS p50,
               quantile_cont(duration_ms, 0.95) FILTER (WHERE status = 'succeeded') AS p95
        FROM steps WHERE {run_filter} AND status NOT IN ('not_run', 'running')
        GROUP BY step ORDER BY min(started_at)""",
        params,
    )
    errors = store.query(
        f"""SELECT error_type, any_value(error_class) AS error_class, count(*) AS n
        FROM steps WHERE {run_filter} AND status = 'failed' AND error_type IS NOT NULL
        GROUP BY error_type ORDER BY n DESC, error_type LIMIT 5""",
        params,
    )
    calls = int(usage["calls"])
    return Stats(
        runs_total=total,
        runs_by_status=by_status,
        success_rate=by_status.get("succeeded", 0) / finished if finished else None,
        accounts=accounts,
        lm_calls_per_account=calls / accounts if accounts else None,
        tokens_per_account=int(usage["tokens"]) / accounts if accounts else None,
        cost_per_account_usd=usage["cost"] / accounts if accounts and usage["cost"] else None,
        cost_total_usd=usage["cost"],
        cache_hit_rate=int(usage["hits"]) / calls if calls else None,
        steps=[
            StepLatency(
                step=r["step"],
                attempts=r["attempts"],
                succeeded=r["succeeded"],
                p50_ms=r["p50"],
                p95_ms=r["p95"],
            )
            for r in steps
        ],
        top_errors=[
            ErrorCount(error_type=r["error_type"], error_class=r["error_class"], count=r["n"])
            for r in errors
        ],
        awaiting_review=by_status.get("awaiting_review", 0),
    )
