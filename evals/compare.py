"""Baselines and gates: per-metric differences between two evals, the examples that got worse,
and the pass/fail verdict a CI job exits on.

Two evals are compared on the examples they share (by example id), so a baseline run on more or
fewer examples still gives a like-for-like difference. Every comparison also carries a paired
bootstrap of the shared examples' weighted scores (`evals/stats.py`); the `paired` gate decides
on its confidence interval instead of the raw difference of the aggregates.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

from pydantic import BaseModel, Field

from accountflow.evals.metrics import weighted
from accountflow.evals.runner import summarise
from accountflow.evals.scores import ExampleResult
from accountflow.evals.stats import PairedResult, paired_bootstrap

EPS = 1e-9

Gate = Literal["threshold", "paired"]
PairedVerdict = Literal["regressed", "improved", "no clear change"]


class MetricDelta(BaseModel):
    metric: str
    current: float | None
    baseline: float | None
    delta: float | None
    regressed: bool = False


class ExampleDelta(BaseModel):
    example_id: str
    current: float
    baseline: float
    delta: float
    metrics: dict[str, float] = Field(default_factory=dict)  # metric -> its drop
    reasons: dict[str, str] = Field(default_factory=dict)  # metric -> why it scores lower now
    error: str | None = None


class Comparison(BaseModel):
    baseline_id: str
    common: int
    only_current: list[str] = Field(default_factory=list)
    only_baseline: list[str] = Field(default_factory=list)
    aggregate_current: float
    aggregate_baseline: float
    delta: float
    aggregate_regressed: bool = False
    metrics: list[MetricDelta]
    worse: list[ExampleDelta]
    better: list[str] = Field(default_factory=list)
    gate: Gate = "threshold"  # what decides `aggregate_regressed`
    tolerance: float = 0.0
    # the paired bootstrap of the shared examples' weighted scores (current - baseline); its
    # mean is the mean per-example difference, which can differ from `delta` (a difference of
    # weighted metric means over the examples each metric applies to)
    paired: PairedResult | None = None
    # regressed: the CI lies wholly below -tolerance; improved: wholly above 0
    paired_verdict: PairedVerdict | None = None

    @property
    def regressed_metrics(self) -> list[MetricDelta]:
        return [m for m in self.metrics if m.regressed]


def compare(
    current: Sequence[ExampleResult],
    baseline: Sequence[ExampleResult],
    weights: Mapping[str, float],
    baseline_id: str,
    tolerance: float = 0.0,
    metric_tolerance: float | None = None,
    example_tolerance: float = 0.0,
    target: str = "pipeline",
    gate: Gate = "threshold",
    confidence: float = 0.95,
) -> Comparison:
    """Differences on the shared examples. With `gate="threshold"` the aggregate regresses when
    it drops by more than `tolerance`; with `gate="paired"` when the upper end of the paired
    bootstrap's `confidence` interval of (current - baseline) is below `-tolerance`, a drop
    the noise of the shared examples cannot explain. A metric regresses when its mean drops by
    more than `metric_tolerance` (None: never) in either mode; an example is worse when its
    weighted score drops by more than `example_tolerance`."""
    base = {r.example_id: r for r in baseline}
    cur = {r.example_id: r for r in current}
    common = [i for i in cur if i in base]
    now = summarise(target, weights, [cur[i] for i in common])
    then = summarise(target, weights, [_rescored(base[i], weights) for i in common])
    deltas = []
    for name in weights:
        a, b = now.metric_means.get(name), then.metric_means.get(name)
        delta = None if a is None or b is None else a - b
        regressed = (
            delta is not None and metric_tolerance is not None and delta < -metric_tolerance - EPS
        )
        deltas.append(
            MetricDelta(metric=name, current=a, baseline=b, delta=delta, regressed=regressed)
        )
    worse: list[ExampleDelta] = []
    better: list[str] = []
    for i in common:
        row, was = cur[i], _rescored(base[i], weights)
        drop = row.score - was.score
        if drop < -example_tolerance - EPS:
            metrics: dict[str, float] = {}
            reasons: dict[str, str] = {}
            for name in weights:
                sc, sb = row.scores.get(name), was.scores.get(name)
                if sc is None or sb is None or not (sc.applicable or sb.applicable):
                    continue
                if sc.score < sb.score - EPS:
                    metrics[name] = sb.score - sc.score
                    reasons[name] = sc.reason
            worse.append(
                ExampleDelta(
                    example_id=i,
                    current=row.score,
                    baseline=was.score,
                    delta=drop,
                    metrics=metrics,
                    reasons=reasons,
                    error=row.error,
                )
            )
        elif drop > example_tolerance + EPS:
            better.append(i)
    worse.sort(key=lambda d: d.delta)
    delta = now.aggregate - then.aggregate
    paired = paired_delta(now.rows, then.rows, confidence) if common else None
    label = paired_label(paired, tolerance)
    if gate == "paired":
        regressed = label == "regressed"
    else:
        regressed = bool(common) and delta < -tolerance - EPS
    return Comparison(
        baseline_id=baseline_id,
        common=len(common),
        only_current=[i for i in cur if i not in base],
        only_baseline=[i for i in base if i not in cur],
        aggregate_current=now.aggregate,
        aggregate_baseline=then.aggregate,
        delta=delta,
        aggregate_regressed=regressed,
        metrics=deltas,
        worse=worse,
        better=better,
        gate=gate,
        tolerance=tolerance,
        paired=paired,
        paired_verdict=label,
    )


def paired_delta(
    current: Sequence[ExampleResult],
    baseline: Sequence[ExampleResult],
    confidence: float = 0.95,
    n_resamples: int = 10000,
    seed: int = 0,
) -> PairedResult | None:
    """The paired bootstrap of the weighted scores of the examples both runs scored (matched
    by example id, in `current`'s order), or None when they share none. The rows are taken as
    scored: rescore a baseline first when its weights differ (`compare` does). The optimizer
    uses it for its dev score before vs after."""
    base = {r.example_id: r.score for r in baseline}
    pairs = [(r.score, base[r.example_id]) for r in current if r.example_id in base]
    if not pairs:
        return None
    return paired_bootstrap(
        [c for c, _ in pairs],
        [b for _, b in pairs],
        n_resamples=n_resamples,
        confidence=confidence,
        seed=seed,
    )


def paired_label(paired: PairedResult | None, tolerance: float) -> PairedVerdict | None:
    """What the interval says: a clear drop beyond the tolerance, a clear gain, or neither."""
    if paired is None:
        return None
    if paired.ci_high < -tolerance - EPS:
        return "regressed"
    if paired.ci_low > EPS:
        return "improved"
    return "no clear change"


def _rescored(row: ExampleResult, weights: Mapping[str, float]) -> ExampleResult:
    """The baseline row scored with the current weights (a suite's weights may have changed);
    metrics the baseline did not compute are left out."""
    if row.status == "error":
        return row
    scores = {k: v for k, v in row.scores.items() if k in weights}
    return row.model_copy(update={"score": weighted(scores, weights)})


class Verdict(BaseModel):
    passed: bool
    reasons: list[str] = Field(default_factory=list)


def verdict(
    aggregate: float,
    metric_means: Mapping[str, float | None],
    fail_under: float | None,
    metric_floors: Mapping[str, float],
    comparison: Comparison | None,
) -> Verdict:
    """Pass unless the aggregate is under `fail_under`, a metric is under its floor, or the
    comparison with the baseline shows a regression beyond the tolerances."""
    reasons: list[str] = []
    if fail_under is not None and aggregate < fail_under - EPS:
        reasons.append(f"aggregate {aggregate:.3f} is below the threshold {fail_under:.3f}")
    for name, floor in metric_floors.items():
        value = metric_means.get(name)
        if value is not None and value < floor - EPS:
            reasons.append(f"{name} {value:.3f} is below its floor {floor:.3f}")
    if comparison is not None:
        if comparison.aggregate_regressed:
            paired = comparison.paired
            detail = (
                f"; paired mean delta {paired.mean_delta:+.3f}, {paired.confidence:.0%} CI "
                f"[{paired.ci_low:+.3f}, {paired.ci_high:+.3f}] below "
                f"{-comparison.tolerance:+.3f}"
                if comparison.gate == "paired" and paired is not None
                else ""
            )
            reasons.append(
                f"aggregate regressed {comparison.aggregate_baseline:.3f} -> "
                f"{comparison.aggregate_current:.3f} ({comparison.delta:+.3f}{detail}) against "
                f"{comparison.baseline_id}"
            )
        for m in comparison.regressed_metrics:
            reasons.append(
                f"{m.metric} regressed {m.baseline:.3f} -> {m.current:.3f} ({m.delta:+.3f})"
            )
    return Verdict(passed=not reasons, reasons=reasons)
