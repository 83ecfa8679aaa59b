"""Row types of the store: what `runs list`, `runs show` and `stats` read."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel

from accountflow.models import RunStatus, StepStatus


class StepRecord(BaseModel):
    step_id: str
    run_id: str
    account_id: str | None = None
    step: str
    attempt: int = 1
    status: StepStatus
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_ms: int | None = None
    input: Any = None
    output: Any = None
    error_type: str | None = None
    error_message: str | None = None
    model: str | None = None
    program_version: str | None = None
    lm_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    cache_hit: bool = False
    rule_retries: int = 0
    error_class: str | None = None  # transient | permanent (accountflow.resilience)
    backoff_ms: int | None = None  # the wait before the next attempt, when one followed


class RunRecord(BaseModel):
    run_id: str
    account_id: str
    company_name: str | None = None
    status: RunStatus
    started_at: datetime
    ended_at: datetime | None = None
    error: str | None = None
    model: str | None = None
    program_version: str | None = None
    source: str | None = None
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None


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


class UsageTotals(BaseModel):
    """LM usage summed over the steps of some runs (`accountflow stats`)."""

    accounts: int = 0
    lm_calls: int = 0
    cache_hits: int = 0
    tokens: int = 0
    cost_usd: float | None = None
