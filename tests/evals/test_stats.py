"""The paired statistics (evals/stats.py) and the paired gate of `compare` and suite files."""

from __future__ import annotations

import math
import random
import statistics
import time
from pathlib import Path
from typing import Any

import pytest

from accountflow.errors import ConfigError
from accountflow.evals.compare import compare, paired_delta, verdict
from accountflow.evals.scores import ExampleResult, MetricScore
from accountflow.evals.stats import mcnemar, paired_bootstrap
from accountflow.evals.suites import load_suite

WEIGHTS = {"grounding": 1.0}


def _rows(scores: list[float], prefix: str = "ex") -> list[ExampleResult]:
    return [
        ExampleResult(
            index=i,
            example_id=f"{prefix}-{i}",
            status="ok",
            score=s,
            scores={"grounding": MetricScore(score=s, reason=f"grounding {s}")},
        )
        for i, s in enumerate(scores)
    ]


def _baseline(n: int = 30, seed: int = 7) -> list[float]:
    rng = random.Random(seed)
    return [round(0.4 + 0.6 * rng.random(), 3) for _ in range(n)]


# ---------------------------------------------------------------------------- paired_bootstrap
def test_identical_scores_give_a_zero_interval_and_no_regression() -> None:
    base = _baseline()
    r = paired_bootstrap(base, list(base))
    assert r.n == 30 and r.confidence == 0.95
    assert r.mean_delta == 0.0 and r.ci_low == 0.0 and r.ci_high == 0.0
    assert r.ci_low <= 0.0 <= r.ci_high
    assert r.p_not_better == 1.0 and r.p_not_worse == 1.0
    c = compare(_rows(base), _rows(base), WEIGHTS, "eval_b", tolerance=0.0, gate="paired")
    assert not c.aggregate_regressed and c.paired_verdict == "no clear change"
    assert c.paired is not None and c.paired.n == 30


def test_symmetric_noise_straddles_zero() -> None:
    base = [0.5] * 40
    cur = [0.6 if i % 2 else 0.4 for i in range(40)]  # mean difference exactly 0
    r = paired_bootstrap(cur, base)
    assert r.mean_delta == pytest.approx(0.0, abs=1e-12)
    assert r.ci_low < -0.02 and r.ci_high > 0.02
    assert 0.4 < r.p_not_better < 0.7 and 0.4 < r.p_not_worse < 0.7


def test_interval_matches_the_normal_approximation_on_many_pairs() -> None:
    rng = random.Random(3)
    diffs = [rng.gauss(-0.05, 0.2) for _ in range(200)]
    r = paired_bootstrap(diffs, [0.0] * 200, n_resamples=20000)
    mean = statistics.fmean(diffs)
    se = statistics.pstdev(diffs) / math.sqrt(len(diffs))
    assert r.mean_delta == pytest.approx(mean)
    assert r.ci_low == pytest.approx(mean - 1.96 * se, abs=0.15 * se)
    assert r.ci_high == pytest.approx(mean + 1.96 * se, abs=0.15 * se)
    narrow = paired_bootstrap(diffs, [0.0] * 200, n_resamples=20000, confidence=0.5)
    assert r.ci_low < narrow.ci_low < narrow.ci_high < r.ci_high


def test_the_seed_makes_it_deterministic() -> None:
    base = _baseline()
    rng = random.Random(11)
    cur = [max(0.0, b - 0.02 + rng.gauss(0, 0.1)) for b in base]
    first = paired_bootstrap(cur, base, seed=5)
    assert paired_bootstrap(cur, base, seed=5) == first
    other = paired_bootstrap(cur, base, seed=6)
    assert other.mean_delta == first.mean_delta
    assert (other.ci_low, other.ci_high) != (first.ci_low, first.ci_high)
    assert other.ci_low == pytest.approx(first.ci_low, abs=0.01)


def test_ten_thousand_resamples_of_a_hundred_pairs_are_fast() -> None:
    base = _baseline(100)
    t0 = time.perf_counter()
    paired_bootstrap([b - 0.01 for b in base], base, n_resamples=10000)
    assert time.perf_counter() - t0 < 1.0


@pytest.mark.parametrize(
    ("current", "baseline", "kwargs", "message"),
    [
        ([0.1, 0.2], [0.1], {}, "differ in length"),
        ([], [], {}, "at least one pair"),
        ([0.1], [0.2], {"confidence": 1.0}, "confidence"),
        ([0.1], [0.2], {"n_resamples": 0}, "n_resamples"),
    ],
)
def test_bad_input_is_a_value_error(
    current: list[float], baseline: list[float], kwargs: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        paired_bootstrap(current, baseline, **kwargs)


# ---------------------------------------------------------------------------- mcnemar
def test_mcnemar_exact_p_values_by_hand() -> None:
    # 2 fixed, 10 broken, 8 concordant: p = 2 * (C(12,0) + C(12,1) + C(12,2)) / 2**12
    #                                      = 2 * 79 / 4096 = 0.03857421875
    current = [True] * 2 + [False] * 10 + [True] * 5 + [False] * 3
    baseline = [False] * 2 + [True] * 10 + [True] * 5 + [False] * 3
    r = mcnemar(current, baseline)
    assert (r.b, r.c) == (2, 10)
    assert r.p_value == pytest.approx(0.03857421875, rel=1e-12)
    # 0 vs 5: 2 / 32; 1 vs 6: 2 * 8 / 128; balanced and no discordant pairs: 1
    assert mcnemar([False] * 5, [True] * 5).p_value == pytest.approx(0.0625)
    assert mcnemar([True] * 6 + [False], [False] * 6 + [True]).p_value == pytest.approx(0.125)
    assert mcnemar([True, False, True, False], [False, True, True, False]).p_value == 1.0
    none = mcnemar([True, False], [True, False])
    assert (none.b, none.c, none.p_value) == (0, 0, 1.0)
    with pytest.raises(ValueError):
        mcnemar([True], [True, False])


# ---------------------------------------------------------------------------- the gate
def test_a_clear_drop_regresses_under_the_paired_gate() -> None:
    base = _baseline()
    rng = random.Random(2)
    cur = [max(0.0, b - 0.3 + rng.uniform(-0.05, 0.05)) for b in base]
    c = compare(_rows(cur), _rows(base), WEIGHTS, "eval_b", tolerance=0.02, gate="paired")
    assert c.gate == "paired" and c.paired is not None and c.paired.n == 30
    assert c.paired.mean_delta == pytest.approx(-0.3, abs=0.03)
    assert c.paired.mean_delta == pytest.approx(c.delta)  # one metric: the same difference
    assert c.paired.ci_high < -0.25 and c.paired.p_not_worse == 0.0
    assert c.aggregate_regressed and c.paired_verdict == "regressed"
    v = verdict(c.aggregate_current, {}, None, {}, c)
    assert not v.passed and "95% CI" in v.reasons[0] and "below -0.020" in v.reasons[0]


def test_a_drop_within_noise_fails_the_threshold_gate_but_not_the_paired_one() -> None:
    base = _baseline()
    # differences +0.2, -0.22 alternating (clipped at 1): a mean drop of ~0.02 that is noise
    cur = [b + (0.2 if i % 2 else -0.22) for i, b in enumerate(base)]
    cur = [min(1.0, max(0.0, s)) for s in cur]
    threshold = compare(_rows(cur), _rows(base), WEIGHTS, "eval_b", tolerance=0.0)
    assert -0.03 < threshold.delta < -0.01
    assert threshold.aggregate_regressed  # tolerance 0: any drop fails
    paired = compare(_rows(cur), _rows(base), WEIGHTS, "eval_b", tolerance=0.0, gate="paired")
    assert paired.paired is not None
    assert paired.paired.ci_low < -0.03 < 0.03 < paired.paired.ci_high
    assert not paired.aggregate_regressed and paired.paired_verdict == "no clear change"
    assert verdict(paired.aggregate_current, {}, None, {}, paired).passed
    # threshold mode still computes (and reports) the same paired figures
    assert threshold.paired == paired.paired and threshold.paired_verdict == "no clear change"


def test_a_clear_gain_is_reported_as_an_improvement() -> None:
    base = _baseline()
    cur = [min(1.0, b + 0.1) for b in base]
    c = compare(_rows(cur), _rows(base), WEIGHTS, "eval_b", gate="paired")
    assert c.paired is not None and c.paired.ci_low > 0.05 and c.paired.p_not_better == 0.0
    assert c.paired_verdict == "improved" and not c.aggregate_regressed


def test_paired_delta_matches_by_example_id() -> None:
    base = _rows([0.2, 0.4, 0.6])
    cur = list(reversed(_rows([0.5, 0.4, 0.9, 1.0], prefix="ex")))  # ex-3 is new
    r = paired_delta(cur, base)
    assert r is not None and r.n == 3
    assert r.mean_delta == pytest.approx((0.3 + 0.0 + 0.3) / 3)
    assert paired_delta(cur, _rows([0.5], prefix="other")) is None
    empty = compare(_rows([0.5]), _rows([0.5], prefix="other"), WEIGHTS, "b", gate="paired")
    assert empty.paired is None and empty.paired_verdict is None
    assert not empty.aggregate_regressed


def test_suite_files_may_opt_into_the_paired_gate(tmp_path: Path) -> None:
    assert load_suite("smoke").thresholds.gate == "threshold"
    assert load_suite("smoke").thresholds.confidence == 0.95
    path = tmp_path / "paired.yaml"
    path.write_text(
        "name: paired\ntarget: analysis\nmetrics: {fit_band: 1}\n"
        "thresholds: {gate: paired, confidence: 0.9, tolerance: 0.01}\n"
    )
    t = load_suite(path).thresholds
    assert (t.gate, t.confidence, t.tolerance) == ("paired", 0.9, 0.01)
    path.write_text("name: bad\ntarget: analysis\nmetrics: {fit_band: 1}\nthresholds: {gate: x}\n")
    with pytest.raises(ConfigError, match=r"thresholds\.gate"):
        load_suite(path)
    path.write_text(
        "name: bad\ntarget: analysis\nmetrics: {fit_band: 1}\nthresholds: {confidence: 1.5}\n"
    )
    with pytest.raises(ConfigError, match=r"thresholds\.confidence"):
        load_suite(path)
