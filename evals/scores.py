"""The evaluation's data types: one metric's verdict, one example's result, a judge-metric
agreement. Metrics, the judge and the runner all speak these, so they live apart from each of
them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

from pydantic import BaseModel, Field, PrivateAttr

from accountflow.lm.usage import Usage

ExampleStatus = Literal["ok", "error"]


class MetricScore(BaseModel):
    """One metric's verdict on one example."""

    score: float = Field(ge=0.0, le=1.0)
    reason: str
    applicable: bool = True
    details: dict[str, float] = Field(default_factory=dict)

    @classmethod
    def na(cls, reason: str) -> MetricScore:
        return cls(score=1.0, reason=f"n/a: {reason}", applicable=False)


class ExampleResult(BaseModel):
    """One example: its prediction, each metric's score and reason, and what it cost."""

    index: int
    example_id: str
    status: ExampleStatus
    error: str | None = None
    score: float
    scores: dict[str, MetricScore]
    prediction: dict[str, Any] | None = None
    duration_ms: int = 0
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    judge_calls: int = 0
    _usage: tuple[Usage, ...] = PrivateAttr(default=())


class Agreement(BaseModel):
    """How often an LLM-judge criterion agrees with the deterministic metric that overlaps it:
    both pass (>= 0.5) or both fail, and the Pearson correlation of the two scores."""

    criterion: str
    metric: str
    n: int
    agreement: float | None = None
    correlation: float | None = None


def pearson(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Pearson's r, or None when either side is constant or there are fewer than 3 pairs."""
    n = len(xs)
    if n < 3:
        return None
    mx, my = sum(xs) / n, sum(ys) / n
    sx = math.sqrt(sum((x - mx) ** 2 for x in xs))
    sy = math.sqrt(sum((y - my) ** 2 for y in ys))
    if sx == 0 or sy == 0:
        return None
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / (sx * sy)


def ranks(values: Sequence[float]) -> list[float]:
    """Average ranks (ties share the mean of their positions), as Spearman's rho needs."""
    order = sorted(range(len(values)), key=lambda i: values[i])
    out = [0.0] * len(values)
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            out[order[k]] = (i + j) / 2 + 1
        i = j + 1
    return out


def spearman(xs: Sequence[float], ys: Sequence[float]) -> float | None:
    """Spearman's rank correlation: does the score order accounts as the gold labels do?"""
    if len(xs) < 3:
        return None
    return pearson(ranks(xs), ranks(ys))
