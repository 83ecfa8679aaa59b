"""`accountflow eval`: run a suite (`eval SUITE` = `eval run SUITE`), list, show and compare.

Only typer and rich are imported at module level: `accountflow --help` must stay fast, so dspy,
duckdb and mlflow load inside the commands.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.text import Text
from typer.core import TyperGroup

from accountflow.cli_options import (
    DocsOpt,
    OfflineOpt,
    SourcesOpt,
    WebMaxAgeOpt,
    console,
    say,
    styled,
)

if TYPE_CHECKING:
    from accountflow.config import Settings
    from accountflow.evals.compare import Comparison
    from accountflow.evals.execute import SuiteOutcome
    from accountflow.evals.runner import EvalReport
    from accountflow.evals.scores import ExampleResult
    from accountflow.evals.store import EvalRun

out = console()
err = console(stderr=True)


class _SuiteGroup(TyperGroup):
    """A group whose unknown first word is a suite: `eval smoke` runs `eval run smoke`."""

    # ctx is typer's vendored click Context, which typer does not export under a public name
    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


eval_app = typer.Typer(
    cls=_SuiteGroup,
    help="Evaluation suites: `accountflow eval SUITE` runs one (same as `eval run SUITE`); "
    "list, show and compare recorded evals.",
    no_args_is_help=True,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="State dir (env ACCOUNTFLOW_HOME, default ./.accountflow)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
GateOpt = Annotated[
    Literal["threshold", "paired"] | None,
    typer.Option(
        "--gate",
        help="How the aggregate is gated against the baseline: `threshold` (a drop beyond the "
        "suite's tolerance) or `paired` (the paired bootstrap's CI of the difference lies "
        "below -tolerance). Default: the suite's `thresholds.gate`.",
    ),
]


def _settings(home: Path | None, lm: str | None = None, api_base: str | None = None) -> Settings:
    from accountflow.config import Settings

    return Settings.load(home=home, lm=lm, api_base=api_base)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _fmt(value: float | None, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _delta(value: float | None) -> str | Text:
    if value is None:
        return "-"
    color = "red" if value < -1e-9 else "green" if value > 1e-9 else "dim"
    return styled((f"{value:+.3f}", color))


# ---------------------------------------------------------------------------- run
@eval_app.command("run")
def eval_run(
    suite: Annotated[str, typer.Argument(help="A bundled suite (smoke, full...) or a YAML path.")],
    lm: Annotated[
        str | None,
        typer.Option("--lm", help="Model that runs the program (env ACCOUNTFLOW_LM)."),
    ] = None,
    judge_lm: Annotated[
        str | None,
        typer.Option(
            "--judge-lm",
            envvar="ACCOUNTFLOW_JUDGE_LM",
            help="Model for the LLM judge (env ACCOUNTFLOW_JUDGE_LM; default: --lm).",
        ),
    ] = None,
    program: Annotated[
        str | None,
        typer.Option(
            "--program",
            help="Program version, prefix or program JSON path "
            "(default: the promoted program, else the built-in one).",
        ),
    ] = None,
    baseline: Annotated[
        str | None,
        typer.Option(
            "--baseline",
            help="Eval id (or prefix) to compare with, or `last` for the "
            "newest finished eval of this suite.",
        ),
    ] = None,
    fail_under: Annotated[
        float | None,
        typer.Option(
            "--fail-under",
            min=0.0,
            max=1.0,
            help="Exit 1 when the aggregate is below this (overrides the suite).",
        ),
    ] = None,
    gate: GateOpt = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Only the first N examples.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, help="Parallel examples (overrides suite).")
    ] = None,
    api_base: Annotated[
        str | None,
        typer.Option("--api-base", help="OpenAI-compatible server URL (env ACCOUNTFLOW_API_BASE)."),
    ] = None,
    no_mlflow: Annotated[
        bool, typer.Option("--no-mlflow", help="Do not log an MLflow run.")
    ] = False,
    sources: SourcesOpt = None,
    docs: DocsOpt = None,
    web_max_age: WebMaxAgeOpt = None,
    offline: OfflineOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Run a suite, store every example's scores, log MLflow, compare with a baseline.

    Exit 1 when the aggregate is under the threshold, a metric is under its floor, or the
    comparison with --baseline shows a regression beyond the suite's tolerances (with
    --gate paired: a drop the paired bootstrap's confidence interval says is real).
    """
    from accountflow.config import Settings
    from accountflow.evals.execute import run_suite
    from accountflow.evals.suites import load_suite

    settings = Settings.load(
        home=home,
        lm=lm,
        api_base=api_base,
        sources=sources,
        docs=docs,
        web_max_age=web_max_age,
        offline=offline,
    )
    suite_obj = load_suite(suite)
    done = 0

    def progress(row: ExampleResult) -> None:
        nonlocal done
        done += 1
        if not as_json:
            mark = ("error", "red") if row.status == "error" else f"{row.score:.3f}"
            err.print(
                styled(f"  [{done}] {row.example_id} ", mark, f" ({row.duration_ms / 1000:.1f}s)"),
                highlight=False,
            )

    if not as_json:
        err.print(
            f"Running suite {suite_obj.name} ({suite_obj.target} on {suite_obj.dataset}) "
            f"with {settings.lm}; state in {settings.home}",
            highlight=False,
        )
    outcome = run_suite(
        settings,
        suite_obj,
        judge_lm=judge_lm,
        program=program,
        baseline=baseline,
        fail_under=fail_under,
        limit=limit,
        threads=threads,
        track=not no_mlflow,
        progress=progress,
        gate=gate,
    )
    if as_json:
        _print_json(outcome.model_dump(mode="json"))
    else:
        _print_outcome(outcome, settings)
        if outcome.sources is not None:
            err.print(outcome.sources.line(), highlight=False)
    if not outcome.verdict.passed:
        raise typer.Exit(1)


def _print_outcome(outcome: SuiteOutcome, settings: Settings) -> None:
    report = outcome.report
    out.print(
        styled(
            (outcome.eval_id, "bold"),
            f" suite {outcome.suite} · target {outcome.target} · "
            f"dataset {outcome.dataset} ({outcome.dataset_hash}) · model {outcome.model} · "
            f"program {outcome.program_version}"
            + (f" · judge {outcome.judge_model}" if outcome.judge_model else ""),
        ),
        highlight=False,
    )
    _print_report(report, outcome.comparison)
    for warning in outcome.warnings:
        say(err, "warning", warning, "yellow")
    if outcome.mlflow_run_id:
        from accountflow.tracking import ui_command

        out.print(f"MLflow run {outcome.mlflow_run_id}: {ui_command(settings)}", highlight=False)
    if outcome.verdict.passed:
        out.print("PASSED", style="green bold")
    else:
        out.print(
            styled(("FAILED", "red bold"), ": " + "; ".join(outcome.verdict.reasons)),
            highlight=False,
        )


def _print_report(report: EvalReport, comparison: Comparison | None) -> None:
    from rich.table import Table

    base = {m.metric: m for m in comparison.metrics} if comparison else {}
    table = Table(box=None, header_style="bold")
    for name in ("metric", "weight", "n", "mean"):
        table.add_column(name, justify="left" if name == "metric" else "right")
    if comparison:
        table.add_column("baseline", justify="right")
        table.add_column("delta", justify="right")
    for name, weight in report.weights.items():
        row: list[str | Text] = [
            name,
            f"{weight:g}",
            str(report.metric_counts.get(name, 0)),
            _fmt(report.metric_means.get(name)),
        ]
        if comparison:
            m = base.get(name)
            row += [_fmt(m.baseline if m else None), _delta(m.delta if m else None)]
            if m and m.regressed:
                row[0] = styled((f"{name} (regressed)", "red"))
        table.add_row(*row)
    agg: list[str | Text] = [
        styled(("aggregate", "bold")),
        "",
        str(report.n_examples),
        styled((f"{report.aggregate:.3f}", "bold")),
    ]
    if comparison:
        agg += [_fmt(comparison.aggregate_baseline), _delta(comparison.delta)]
    table.add_row(*agg)
    out.print(table)
    if report.ranking:
        fig = report.ranking
        out.print(
            f"fit ranking over {int(fig.get('n_ranked') or 0)} examples: Spearman "
            f"{_fmt(fig.get('fit_spearman'), 2)}, band accuracy "
            f"{_fmt(fig.get('band_accuracy'), 2)}, "
            f"{int(fig.get('distinct_fit_scores') or 0)} distinct scores",
            highlight=False,
        )
    if report.judge_criteria:
        out.print(
            "judge: " + ", ".join(f"{k} {v:.2f}" for k, v in report.judge_criteria.items()),
            highlight=False,
        )
        for a in report.judge_agreement:
            out.print(
                f"  judge {a.criterion} vs {a.metric}: agreement {_fmt(a.agreement, 2)}, "
                f"correlation {_fmt(a.correlation, 2)} over {a.n} examples",
                highlight=False,
            )
    failed = [r for r in report.rows if r.status == "error"]
    if failed:
        out.print(styled((f"{len(failed)} example(s) failed", "red"), " (scored 0):"))
        for r in failed:
            out.print(f"  {r.example_id}: {r.error}", highlight=False)
    out.print(
        f"{report.n_examples} examples in {report.duration_ms / 1000:.1f}s · "
        f"{report.lm_calls} LM calls · {report.prompt_tokens}+{report.completion_tokens} tokens"
        + (f" · ${report.cost_usd:.4f}" if report.cost_usd else ""),
        highlight=False,
    )
    if comparison:
        _print_worse(comparison)


def _print_paired(comparison: Comparison) -> None:
    """The paired bootstrap line: mean per-example difference, its CI, n and what it says."""
    p = comparison.paired
    if p is None:
        return
    color = {"regressed": "red", "improved": "green"}.get(comparison.paired_verdict or "", "dim")
    role = "the gate" if comparison.gate == "paired" else "informational; the gate is threshold"
    out.print(
        styled(
            f"paired bootstrap (n {p.n}): mean delta {p.mean_delta:+.3f}, "
            f"{p.confidence:.0%} CI [{p.ci_low:+.3f}, {p.ci_high:+.3f}]: ",
            (comparison.paired_verdict or "", color),
            f" ({role})",
        ),
        highlight=False,
    )


def _print_worse(comparison: Comparison) -> None:
    from rich.table import Table

    _print_paired(comparison)
    out.print(
        f"against {comparison.baseline_id} on {comparison.common} shared examples: "
        f"{len(comparison.worse)} worse, {len(comparison.better)} better",
        highlight=False,
    )
    if not comparison.worse:
        return
    table = Table(
        box=None, header_style="bold", title="examples that got worse", title_justify="left"
    )
    table.add_column("example", no_wrap=True)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("metrics that dropped (reason now)", overflow="fold")
    for w in comparison.worse:
        detail = "; ".join(f"{m} -{d:.2f} ({w.reasons.get(m, '')})" for m, d in w.metrics.items())
        table.add_row(
            w.example_id, f"{w.baseline:.3f} -> {w.current:.3f}", detail or (w.error or "")
        )
    out.print(table)


# ---------------------------------------------------------------------------- list / show
@eval_app.command("list")
def eval_list(
    suite: Annotated[str | None, typer.Option("--suite", help="Only evals of this suite.")] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N evals.")] = 50,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded evals, newest first."""
    from accountflow.evals.store import list_eval_runs
    from accountflow.store import Store

    with Store(_settings(home).db_path) as store:
        rows = list_eval_runs(store, limit=limit, suite=suite)
    if as_json:
        _print_json([r.model_dump(mode="json", exclude={"summary"}) for r in rows])
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for name in (
        "eval id",
        "suite",
        "target",
        "status",
        "started (UTC)",
        "n",
        "failed",
        "aggregate",
        "program",
        "model",
    ):
        table.add_column(name, no_wrap=name != "model", overflow="fold")
    for r in rows:
        color = {"passed": "green", "failed": "red"}.get(r.status, "yellow")
        table.add_row(
            r.eval_id,
            r.suite,
            r.target,
            styled((r.status, color)),
            f"{r.started_at:%m-%d %H:%M:%S}",
            str(r.n_examples),
            str(r.n_failed),
            _fmt(r.aggregate),
            r.program_version or "",
            r.model or "",
        )
    out.print(table if rows else "No evals yet: `accountflow eval smoke --lm fake` records one.")


def _load(home: Path | None, ref: str) -> tuple[EvalRun, list[ExampleResult]]:
    from accountflow.evals.store import get_eval_run, get_results
    from accountflow.store import Store

    with Store(_settings(home).db_path) as store:
        run = get_eval_run(store, ref)
        return run, get_results(store, run.eval_id)


@eval_app.command("show")
def eval_show(
    eval_id: Annotated[str, typer.Argument(help="An eval id or a unique prefix of one.")],
    examples: Annotated[
        bool, typer.Option("--examples", help="Every example's per-metric scores and reasons.")
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one eval: its settings, per-metric means and its examples."""
    from accountflow.evals.runner import summarise

    run, rows = _load(home, eval_id)
    if as_json:
        _print_json(
            {
                "eval": run.model_dump(mode="json"),
                "results": [r.model_dump(mode="json") for r in rows],
            }
        )
        return
    out.print(
        styled(
            (run.eval_id, "bold"),
            f" suite {run.suite} · {run.status} · target {run.target} · "
            f"dataset {run.dataset} ({run.dataset_hash}) · model {run.model} · program "
            f"{run.program_version}"
            + (f" · judge {run.judge_model}" if run.judge_model else "")
            + (f" · baseline {run.baseline_id}" if run.baseline_id else ""),
            ("\n" + run.error, "red") if run.error else "",
        ),
        highlight=False,
    )
    report = summarise(run.target, run.weights, rows, run.duration_ms or 0)
    report.lm_calls, report.prompt_tokens = run.lm_calls, run.prompt_tokens
    report.completion_tokens, report.cost_usd = run.completion_tokens, run.cost_usd
    _print_report(report, None)
    reasons = (run.summary.get("verdict") or {}).get("reasons") or []
    if reasons:
        out.print(styled(("gate:", "red"), " " + "; ".join(reasons)), highlight=False)
    if run.summary.get("worse"):
        out.print("worse than the baseline: " + ", ".join(run.summary["worse"]), highlight=False)
    if run.mlflow_run_id:
        out.print(f"MLflow run {run.mlflow_run_id}", highlight=False)
    if examples:
        _print_examples(rows)


def _print_examples(rows: list[ExampleResult]) -> None:
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    table.add_column("example", no_wrap=True)
    table.add_column("score", justify="right")
    table.add_column("metric scores and reasons", overflow="fold")
    for r in rows:
        detail = r.error or "; ".join(
            f"{k} {v.score:.2f}: {v.reason}" for k, v in r.scores.items() if v.applicable
        )
        table.add_row(r.example_id, f"{r.score:.3f}", detail)
    out.print(table)


@eval_app.command("compare")
def eval_compare(
    baseline: Annotated[str, typer.Argument(help="The earlier eval (id or prefix).")],
    candidate: Annotated[str, typer.Argument(help="The later eval (id or prefix).")],
    gate: GateOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Per-metric differences and the examples that got worse from BASELINE to CANDIDATE."""
    from accountflow.evals.compare import compare
    from accountflow.evals.runner import summarise
    from accountflow.evals.suites import Thresholds

    base_run, base_rows = _load(home, baseline)
    cand_run, cand_rows = _load(home, candidate)
    t = Thresholds()
    comparison = compare(
        cand_rows,
        base_rows,
        cand_run.weights,
        base_run.eval_id,
        tolerance=t.tolerance,
        metric_tolerance=t.metric_tolerance,
        target=cand_run.target,
        gate=gate or t.gate,
        confidence=t.confidence,
    )
    if as_json:
        _print_json(
            {
                "baseline": base_run.eval_id,
                "candidate": cand_run.eval_id,
                **comparison.model_dump(mode="json"),
            }
        )
        return
    out.print(
        styled(
            (base_run.eval_id, "bold"),
            f" ({base_run.suite}, program {base_run.program_version}) -> ",
            (cand_run.eval_id, "bold"),
            f" ({cand_run.suite}, program {cand_run.program_version})",
        ),
        highlight=False,
    )
    if base_run.target != cand_run.target:
        say(
            err,
            "warning",
            f"different targets ({base_run.target} vs {cand_run.target}); "
            "only the shared metrics compare",
        )
    if comparison.only_current or comparison.only_baseline:
        say(
            err,
            "warning",
            f"{len(comparison.only_baseline)} example(s) only in the "
            f"baseline, {len(comparison.only_current)} only in the candidate",
        )
    report = summarise(
        cand_run.target,
        cand_run.weights,
        [r for r in cand_rows if r.example_id in {b.example_id for b in base_rows}],
    )
    _print_report(report, comparison)


# ---------------------------------------------------------------------------- catalogues
@eval_app.command("suites")
def eval_suites(as_json: JsonOpt = False) -> None:
    """List the bundled suites: target, dataset, size, metrics and threshold."""
    from accountflow.evals.suites import bundled_suites, load_suite

    suites = [load_suite(name) for name in bundled_suites()]
    if as_json:
        _print_json([s.model_dump(mode="json") for s in suites])
        return
    for s in suites:
        size = f"first {s.limit}" if s.limit else "all"
        out.print(
            styled(
                (s.name, "bold"),
                f": {s.description}\n  target {s.target}, dataset {s.dataset} "
                f"({size}), threads {s.threads}, fail under "
                f"{_fmt(s.thresholds.fail_under)}; metrics "
                + ", ".join(f"{k} x{v:g}" for k, v in s.metrics.items()),
            ),
            highlight=False,
        )


@eval_app.command("metrics")
def eval_metrics(as_json: JsonOpt = False) -> None:
    """List the metrics suites can use and what each checks."""
    from accountflow.evals.metrics import METRICS

    if as_json:
        _print_json(
            [
                {
                    "name": m.name,
                    "needs": m.needs,
                    "uses_lm": m.uses_lm,
                    "description": m.description,
                }
                for m in METRICS.values()
            ]
        )
        return
    for m in METRICS.values():
        out.print(
            styled((m.name, "bold"), f" ({', '.join(m.needs)}): {m.description}"),
            highlight=False,
        )
