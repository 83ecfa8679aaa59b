"""Running a suite end to end: data, program and LMs in; DuckDB rows, an MLflow run, the
baseline comparison and the pass/fail verdict out. `accountflow eval SUITE` is a thin shell
over `run_suite`.
"""

from __future__ import annotations

import json
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dspy
from pydantic import BaseModel, ConfigDict, Field

from accountflow.config import Settings
from accountflow.datasets import dataset_hash, load_split
from accountflow.evals.compare import Comparison, Gate, Verdict, compare, verdict
from accountflow.evals.runner import EvalReport, evaluate
from accountflow.evals.scores import ExampleResult
from accountflow.evals.store import (
    EvalRun,
    add_results,
    create_eval_run,
    finish_eval_run,
    get_eval_run,
    get_results,
    recover_interrupted,
    resolve_eval_id,
)
from accountflow.evals.suites import Suite
from accountflow.lm.usage import model_ref
from accountflow.orchestrator import Orchestrator, lm_for, one_line, redact
from accountflow.pipeline import AccountPipeline
from accountflow.sources.gather import SourceSummary, using
from accountflow.store import Store
from accountflow.store.db import utcnow

EXPERIMENT = "accountflow-evals"


class SuiteOutcome(BaseModel):
    """What one `eval` produced: ids, the report, the baseline comparison and the verdict."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    eval_id: str
    suite: str
    target: str
    dataset: str
    dataset_hash: str
    model: str
    judge_model: str | None
    program_version: str
    report: EvalReport
    comparison: Comparison | None = None
    verdict: Verdict
    mlflow_run_id: str | None = None
    warnings: list[str] = Field(default_factory=list)
    # what research read beyond the account rows (`--sources`): None when only the rows
    sources: SourceSummary | None = None


def load_examples(suite: Suite, limit: int | None = None) -> tuple[list[dspy.Example], str]:
    """The suite's examples and the dataset's hash."""
    n = limit if limit is not None else suite.limit
    return load_split(suite.dataset, n), dataset_hash(suite.dataset)


def run_suite(
    settings: Settings,
    suite: Suite,
    *,
    lm: str | dspy.LM | None = None,
    judge_lm: str | dspy.LM | None = None,
    program: str | AccountPipeline | None = None,
    baseline: str | None = None,
    fail_under: float | None = None,
    limit: int | None = None,
    threads: int | None = None,
    track: bool = True,
    store: Store | None = None,
    progress: Callable[[ExampleResult], None] | None = None,
    gate: Gate | None = None,
) -> SuiteOutcome:
    """Run `suite` and record it; see the module docstring. `lm` defaults to `settings.lm`,
    `judge_lm` to `lm`; `program` is a ref for `--program` or a program object; `gate`
    (threshold | paired) overrides the suite's `thresholds.gate` for the baseline comparison."""
    examples, data_hash = load_examples(suite, limit)
    own_store = store is None
    store = store if store is not None else Store(settings.db_path)
    try:
        # the same factory as `score`: model (timeout, cache in the state dir) and program
        runtime = Orchestrator.from_settings(settings, store, lm=lm, program=program)
        lm_obj, pipeline = runtime.lm, runtime.program
        judge_obj = lm_for(settings, judge_lm) if suite.uses_judge and judge_lm else None
        judge_name = model_ref(judge_obj or lm_obj).format() if suite.uses_judge else None
        recorded_model = model_ref(lm_obj).format()  # as runs record it: typed, no secrets
        recover_interrupted(store)
        version = runtime.program_version
        baseline_id = (
            resolve_eval_id(store, baseline, suite=suite.name) if baseline is not None else None
        )
        eval_id = "eval_" + uuid.uuid4().hex[:10]
        create_eval_run(
            store,
            EvalRun(
                eval_id=eval_id,
                suite=suite.name,
                target=suite.target,
                dataset=suite.dataset,
                dataset_hash=data_hash,
                model=recorded_model,
                judge_model=judge_name,
                program_version=version,
                status="running",
                started_at=utcnow(),
                n_examples=len(examples),
                baseline_id=baseline_id,
                weights=suite.metrics,
            ),
        )

        def on_result(row: ExampleResult) -> None:
            add_results(store, eval_id, [row])
            if progress is not None:
                progress(row)

        try:
            # the pipeline's research reads the sources the settings name, through the same
            # gatherer (and the store's page cache) that `score` would use
            with using(runtime.gatherer):
                report = evaluate(
                    pipeline,
                    suite.target,
                    examples,
                    suite.metrics,
                    threads or suite.threads,
                    lm=lm_obj,
                    judge_lm=judge_obj,
                    progress=on_result,
                )
        except BaseException as exc:
            status = "interrupted" if isinstance(exc, KeyboardInterrupt) else "error"
            finish_eval_run(store, eval_id, status=status, error=one_line(exc))
            raise
        comparison = None
        if baseline_id is not None:
            base_run = get_eval_run(store, baseline_id)
            t = suite.thresholds
            comparison = compare(
                report.rows,
                get_results(store, baseline_id),
                report.weights,
                baseline_id,
                tolerance=t.tolerance,
                metric_tolerance=t.metric_tolerance,
                example_tolerance=t.example_tolerance,
                target=suite.target,
                gate=gate or t.gate,
                confidence=t.confidence,
            )
            if base_run.dataset_hash != data_hash:
                comparison_note = (
                    f"the baseline {baseline_id} used dataset "
                    f"{base_run.dataset_hash}, this eval {data_hash}"
                )
            else:
                comparison_note = None
        threshold = fail_under if fail_under is not None else suite.thresholds.fail_under
        result = verdict(
            report.aggregate, report.metric_means, threshold, suite.thresholds.metrics, comparison
        )
        outcome = SuiteOutcome(
            eval_id=eval_id,
            suite=suite.name,
            target=suite.target,
            dataset=suite.dataset,
            dataset_hash=data_hash,
            model=recorded_model,
            judge_model=judge_name,
            program_version=version,
            report=report,
            comparison=comparison,
            verdict=result,
            sources=runtime.gatherer.summary if runtime.gatherer else None,
        )
        if comparison is not None and comparison_note:
            outcome.warnings.append(comparison_note)
        if track:
            try:
                outcome.mlflow_run_id = log_to_mlflow(settings, suite, outcome, threshold)
            except Exception as exc:  # tracking must not lose the eval itself
                outcome.warnings.append(f"MLflow logging failed: {one_line(exc)}")
        finish_eval_run(
            store,
            eval_id,
            status="passed" if result.passed else "failed",
            aggregate=report.aggregate,
            passed=result.passed,
            n_examples=report.n_examples,
            n_failed=report.n_failed,
            metric_means=report.metric_means,
            summary=summary(outcome, threshold),
            mlflow_run_id=outcome.mlflow_run_id,
            duration_ms=report.duration_ms,
            lm_calls=report.lm_calls,
            prompt_tokens=report.prompt_tokens,
            completion_tokens=report.completion_tokens,
            cost_usd=report.cost_usd,
        )
        return outcome
    finally:
        if own_store:
            store.close()


def summary(outcome: SuiteOutcome, threshold: float | None) -> dict[str, Any]:
    """What `eval show` needs besides the rows: judge details, gate and comparison."""
    report = outcome.report
    return {
        "threshold": threshold,
        "verdict": outcome.verdict.model_dump(),
        "judge_criteria": report.judge_criteria,
        "judge_agreement": [a.model_dump() for a in report.judge_agreement],
        "metric_counts": report.metric_counts,
        "comparison": (
            outcome.comparison.model_dump(exclude={"worse"}) if outcome.comparison else None
        ),
        "worse": ([w.example_id for w in outcome.comparison.worse] if outcome.comparison else []),
        "warnings": outcome.warnings,
    }


def results_table(rows: list[ExampleResult], weights: dict[str, float]) -> dict[str, list[Any]]:
    """One row per example, one column per metric: the table MLflow shows."""
    table: dict[str, list[Any]] = {"example_id": [], "status": [], "score": [], "error": []}
    for name in weights:
        table[name] = []
        table[f"{name}_reason"] = []
    for r in rows:
        table["example_id"].append(r.example_id)
        table["status"].append(r.status)
        table["score"].append(round(r.score, 4))
        table["error"].append(r.error or "")
        for name in weights:
            s = r.scores.get(name)
            table[name].append(None if s is None or not s.applicable else round(s.score, 4))
            table[f"{name}_reason"].append("" if s is None else s.reason)
    return table


def log_to_mlflow(
    settings: Settings, suite: Suite, outcome: SuiteOutcome, threshold: float | None
) -> str:
    """One MLflow run per eval: params (suite, models, program, data), every metric, the
    aggregate, and the results table plus the full report as artifacts."""
    import mlflow

    from accountflow.tracking import log_metrics, log_params, start_run

    report = outcome.report
    with start_run(
        settings,
        EXPERIMENT,
        f"{suite.name} {outcome.eval_id}",
        tags={"eval_id": outcome.eval_id, "suite": suite.name, "target": suite.target},
    ) as run:
        log_params(
            {
                "suite": suite.name,
                "target": suite.target,
                "dataset": suite.dataset,
                "dataset_hash": outcome.dataset_hash,
                "model": outcome.model,
                "judge_model": outcome.judge_model,
                "program_version": outcome.program_version,
                "n_examples": report.n_examples,
                "threshold": threshold,
                "baseline": outcome.comparison.baseline_id if outcome.comparison else None,
                "weights": json.dumps(report.weights, sort_keys=True),
                "sources": ",".join(settings.sources.sources),
            }
        )
        metrics: dict[str, float | None] = {
            "aggregate": report.aggregate,
            "n_failed": float(report.n_failed),
            "passed": float(outcome.verdict.passed),
            "duration_s": report.duration_ms / 1000,
            "lm_calls": float(report.lm_calls),
        }
        metrics.update(report.metric_means)
        metrics.update({f"judge.{k}": v for k, v in report.judge_criteria.items()})
        metrics.update(
            {f"agreement.{a.criterion}_vs_{a.metric}": a.agreement for a in report.judge_agreement}
        )
        if outcome.comparison is not None:
            metrics["delta.aggregate"] = outcome.comparison.delta
            paired = outcome.comparison.paired
            if paired is not None:
                metrics["delta.paired_mean"] = paired.mean_delta
                metrics["delta.paired_ci_low"] = paired.ci_low
                metrics["delta.paired_ci_high"] = paired.ci_high
            metrics.update({f"delta.{m.metric}": m.delta for m in outcome.comparison.metrics})
        log_metrics(metrics)
        mlflow.log_table(results_table(report.rows, report.weights), "eval_results.json")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "report.json"
            path.write_text(redact(outcome.model_dump_json(indent=1)), encoding="utf-8")
            mlflow.log_artifact(str(path))
        return str(run.info.run_id)
