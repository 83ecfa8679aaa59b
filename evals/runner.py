"""The eval runner: a program's target step over examples, scored by weighted metrics.

Examples run in a thread pool with per-example failure handling: an example whose program
raises is recorded as an error and scores 0 on every metric that could have scored it, and the
other examples still run (unlike `dspy.Evaluate`, which aborts after `max_errors`). The report
is a pydantic model so the CLI, the store, MLflow and the optimizer read the same thing.
"""

from __future__ import annotations

import contextvars
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from typing import Any

import dspy
from pydantic import BaseModel, Field

from accountflow.errors import ConfigError
from accountflow.evals.judge import agreement, criteria_means, use_judge_lm
from accountflow.evals.metrics import METRICS, resolve_weights, score_all, weighted
from accountflow.evals.scores import Agreement, ExampleResult, MetricScore, spearman
from accountflow.evals.targets import TargetModule, build_target, fields
from accountflow.lm.usage import Usage, collect_usage
from accountflow.orchestrator import one_line
from accountflow.pipeline import AccountPipeline


class EvalReport(BaseModel):
    target: str
    weights: dict[str, float]
    n_examples: int
    n_failed: int
    aggregate: float
    metric_means: dict[str, float | None]
    metric_counts: dict[str, int]
    judge_criteria: dict[str, float] = Field(default_factory=dict)
    judge_agreement: list[Agreement] = Field(default_factory=list)
    rows: list[ExampleResult]
    duration_ms: int = 0
    lm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float | None = None
    # corpus-level figures no per-example mean can give: fit_spearman (the fit scores' rank
    # correlation with the gold ranges' midpoints), band_accuracy (exact gold band), n_ranked
    ranking: dict[str, float | None] = Field(default_factory=dict)


def ranking(rows: Sequence[ExampleResult]) -> dict[str, float | None]:
    """Fit ranking quality over the examples the `fit_band` metric scored (it records the
    predicted score, the gold midpoint and whether the band was exact in its details)."""
    scored = [
        r.scores["fit_band"].details
        for r in rows
        if "fit_band" in r.scores
        and r.scores["fit_band"].applicable
        and "fit" in r.scores["fit_band"].details
    ]
    if not scored:
        return {}
    fits = [d["fit"] for d in scored]
    gold = [d["gold_mid"] for d in scored]
    return {
        "fit_spearman": spearman(fits, gold),
        "band_accuracy": sum(d["exact"] for d in scored) / len(scored),
        "distinct_fit_scores": float(len(set(fits))),
        "n_ranked": float(len(scored)),
    }


def example_id(example: dspy.Example, index: int) -> str:
    account = example.get("account") if hasattr(example, "get") else None
    return str(getattr(account, "account_id", None) or f"example-{index}")


def dump_prediction(prediction: dspy.Prediction, target: str) -> dict[str, Any]:
    """The target's fields of a prediction as JSON-ready data (what the store keeps)."""
    out: dict[str, Any] = {}
    for key in fields(target):
        value = prediction.get(key) if key in prediction.keys() else None
        if isinstance(value, BaseModel):
            out[key] = value.model_dump(mode="json")
        elif isinstance(value, list):
            out[key] = [v.model_dump(mode="json") if isinstance(v, BaseModel) else v for v in value]
        else:
            out[key] = value
    return out


def _failure_scores(
    error: str, weights: Mapping[str, float], example: dspy.Example, target: str
) -> dict[str, MetricScore]:
    """A failed example scores 0 on every metric that would have applied to it."""
    empty = dspy.Prediction(**{k: None for k in fields(target)})
    out: dict[str, MetricScore] = {}
    for name in weights:
        try:
            applicable = METRICS[name](example, empty).applicable
        except Exception:
            applicable = True
        out[name] = MetricScore(
            score=0.0, reason=f"the program failed: {error}", applicable=applicable
        )
    return out


@contextmanager
def _lm_scope(lm: dspy.LM | None) -> Iterator[None]:
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()) if lm is not None else nullcontext():
        yield


def evaluate(
    program: AccountPipeline | TargetModule | None,
    target: str,
    examples: Sequence[dspy.Example],
    metrics: Sequence[str] | Mapping[str, float] | None = None,
    threads: int = 1,
    *,
    lm: dspy.LM | None = None,
    judge_lm: dspy.LM | None = None,
    progress: Callable[[ExampleResult], None] | None = None,
) -> EvalReport:
    """Run `program`'s `target` on every example and score it (`program` may also be a
    `TargetModule`, such as an optimizer's compiled student).

    `metrics` is a list of metric names (weight 1 each) or a name -> weight mapping; None
    means the target's defaults. `lm` (else DSPy's configured LM) runs the program; `judge_lm`
    (else `lm`) runs the `judge` metric. `progress` is called with each finished example.
    """
    if isinstance(metrics, Mapping):
        weights = resolve_weights(target, None, metrics)
    else:
        weights = resolve_weights(target, list(metrics) if metrics is not None else None)
    if isinstance(program, TargetModule):  # e.g. an optimizer's compiled student
        if program.target != target:
            raise ConfigError(f"The program is a {program.target} target, not {target}.")
        module = program
    else:
        module = build_target(target, program)
    started = time.perf_counter()

    def run_one(index: int, example: dspy.Example) -> ExampleResult:

        t0 = time.perf_counter()
        error: str | None = None
        prediction: dspy.Prediction | None = None
        with collect_usage() as usage, _lm_scope(lm):
            try:
                prediction = module(account=example.account, seller=example.seller)
            except Exception as exc:
                error = f"{type(exc).__name__}: {one_line(exc)}"
        with collect_usage() as judge_usage, _lm_scope(lm), use_judge_lm(judge_lm or lm):
            if prediction is not None:
                scores = score_all(example, prediction, weights)
            else:
                scores = _failure_scores(error or "unknown error", weights, example, target)
        result = ExampleResult(
            index=index,
            example_id=example_id(example, index),
            status="ok" if error is None else "error",
            error=error,
            score=weighted(scores, weights) if error is None else 0.0,
            scores=scores,
            prediction=dump_prediction(prediction, target) if prediction is not None else None,
            duration_ms=int((time.perf_counter() - t0) * 1000),
            lm_calls=usage.lm_calls,
            prompt_tokens=usage.prompt_tokens + judge_usage.prompt_tokens,
            completion_tokens=usage.completion_tokens + judge_usage.completion_tokens,
            judge_calls=judge_usage.lm_calls,
        )
        result._usage = (usage, judge_usage)
        if progress is not None:
            progress(result)
        return result

    rows: list[ExampleResult] = []
    threads = max(1, int(threads))
    if threads == 1:
        rows = [run_one(i, ex) for i, ex in enumerate(examples)]
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            futures = [
                pool.submit(contextvars.copy_context().run, run_one, i, ex)
                for i, ex in enumerate(examples)
            ]
            try:
                rows = [f.result() for f in futures]
            except BaseException:
                for f in futures:
                    f.cancel()
                raise
    _dedupe_ids(rows)
    return summarise(target, weights, rows, int((time.perf_counter() - started) * 1000))


def _dedupe_ids(rows: list[ExampleResult]) -> None:
    seen: dict[str, int] = {}
    for row in rows:
        n = seen.get(row.example_id, 0)
        seen[row.example_id] = n + 1
        if n:
            row.example_id = f"{row.example_id}#{n + 1}"


def summarise(
    target: str, weights: Mapping[str, float], rows: list[ExampleResult], duration_ms: int = 0
) -> EvalReport:
    """Per-metric means over applicable rows, the weighted aggregate, judge details, usage."""
    means: dict[str, float | None] = {}
    counts: dict[str, int] = {}
    for name in weights:
        values = [
            r.scores[name].score for r in rows if name in r.scores and r.scores[name].applicable
        ]
        counts[name] = len(values)
        means[name] = sum(values) / len(values) if values else None
    num = sum(weights[n] * m for n, m in means.items() if m is not None)
    den = sum(weights[n] for n, m in means.items() if m is not None)
    usage = Usage()
    for r in rows:
        for part in r._usage:
            usage.merge(part)

    return EvalReport(
        target=target,
        weights=dict(weights),
        n_examples=len(rows),
        n_failed=sum(r.status == "error" for r in rows),
        aggregate=num / den if den else 0.0,
        metric_means=means,
        metric_counts=counts,
        judge_criteria=criteria_means(rows),
        judge_agreement=agreement(rows),
        rows=sorted(rows, key=lambda r: r.index),
        duration_ms=duration_ms,
        lm_calls=usage.lm_calls,
        prompt_tokens=usage.prompt_tokens,
        completion_tokens=usage.completion_tokens,
        cost_usd=usage.cost_usd,
        ranking=ranking(rows),
    )
