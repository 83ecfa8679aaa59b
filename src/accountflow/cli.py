"""The `accountflow` command: noun groups with verbs, `--json` on every listing.

Heavy imports (dspy, duckdb, litellm) happen inside commands so `accountflow --help` stays fast.
User errors print one line on stderr and exit 2; a run with failed or rejected rows exits 1.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer.exceptions import TyperException

from accountflow.campaign.cli import campaign_app
from accountflow.cli_options import (
    ApiBaseOpt,
    DocsOpt,
    HomeOpt,
    JsonOpt,
    LmOpt,
    OfflineOpt,
    SourcesOpt,
    WebMaxAgeOpt,
    console,
    say,
    styled,
)
from accountflow.evals.cli import eval_app
from accountflow.optimizers.cli import register as register_optimizers
from accountflow.resilience import format_usd
from accountflow.suppress_cli import suppress_app

if TYPE_CHECKING:
    from accountflow.config import Settings
    from accountflow.errors import StoreInUseError
    from accountflow.models import AccountResult, SellerProfile
    from accountflow.orchestrator import Orchestrator
    from accountflow.stats import LiveSnapshot
    from accountflow.store import Store

app = typer.Typer(
    name="accountflow",
    help="B2B account research and outreach as DSPy programs, recorded in DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Inspect recorded runs and their step attempts.", no_args_is_help=True)
review_app = typer.Typer(
    help="Look at outreach held for review; approve, reject or regenerate it.", no_args_is_help=True
)
app.add_typer(review_app, name="review")
lm_app = typer.Typer(help="Check which language model backend is used.", no_args_is_help=True)
batches_app = typer.Typer(
    help="Named `score` batches: their files, model, status and counts.", no_args_is_help=True
)
app.add_typer(runs_app, name="runs")
app.add_typer(batches_app, name="batches")
app.add_typer(lm_app, name="lm")
app.add_typer(eval_app, name="eval")
app.add_typer(campaign_app, name="campaign")
app.add_typer(suppress_app, name="suppress")

out = console()
err = console(stderr=True)


ReviewOpt = Annotated[
    str | None,
    typer.Option(
        "--review",
        help="Stop runs for human review after personalization: never (default), always or "
        "low_confidence (env ACCOUNTFLOW_REVIEW).",
    ),
]


def _settings(
    home: Path | None,
    lm: str | None = None,
    api_base: str | None = None,
    seller: Path | None = None,
    review: str | None = None,
    sources: tuple[str | None, Path | None, str | None, bool] = (None, None, None, False),
) -> Settings:
    from accountflow.config import Settings

    names, docs, max_age, offline = sources
    return Settings.load(
        home=home,
        lm=lm,
        api_base=api_base,
        seller=seller,
        review=review,
        sources=names,
        docs=docs,
        web_max_age=max_age,
        offline=offline,
    )


def _print_sources(orchestrator: Orchestrator) -> None:
    """The research sources' summary line, when research read more than the account rows."""
    if orchestrator.gatherer is not None:
        err.print(orchestrator.gatherer.summary.line(), highlight=False)


ProgramOpt = Annotated[
    str | None,
    typer.Option(
        "--program",
        help="Program version (or prefix) or a program JSON file; default: the promoted "
        "version, else the built-in program.",
    ),
]


def _orchestrator(
    settings: Settings,
    store: Store,
    seller: SellerProfile | None = None,
    source: str | None = None,
    batch: str | None = None,
    program: str | None = None,
) -> Orchestrator:
    """The orchestrator every command uses (`Orchestrator.from_settings`)."""
    from accountflow.orchestrator import Orchestrator

    return Orchestrator.from_settings(
        settings, store, seller=seller, source=source, batch=batch, program=program
    )


def _open_store(settings: Settings, wait: bool = True) -> Store:
    """The state dir's store; while another process holds it (the review page, for the
    milliseconds of a request) keep trying for `settings.store_wait_s` unless `wait` is off."""
    from accountflow.store import Store

    return Store(settings.db_path, wait_s=settings.store_wait_s if wait else 0.0)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


# ---------------------------------------------------------------------------- run
@app.command()
def run(
    input: Annotated[Path, typer.Argument(help="Accounts file: .jsonl, .csv or .parquet.")],
    contacts: Annotated[
        Path | None, typer.Option("--contacts", help="Contacts CSV for a CSV/Parquet input.")
    ] = None,
    account_id: Annotated[
        str | None, typer.Option("--account-id", help="Run only this account.")
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="Run at most N accounts.")
    ] = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    seller: Annotated[
        Path | None,
        typer.Option("--seller", help="Seller profile YAML (env ACCOUNTFLOW_SELLER)."),
    ] = None,
    review: ReviewOpt = None,
    program: ProgramOpt = None,
    sources: SourcesOpt = None,
    docs: DocsOpt = None,
    web_max_age: WebMaxAgeOpt = None,
    offline: OfflineOpt = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Research, analyse and write outreach for each account, one after another."""
    from accountflow.io import load_accounts

    settings = _settings(home, lm, api_base, seller, review, (sources, docs, web_max_age, offline))
    seller_profile = settings.seller()
    loaded = load_accounts(input, contacts)
    accounts = loaded.accounts
    if account_id is not None:
        accounts = [a for a in accounts if a.account_id == account_id]
        if not accounts:
            from accountflow.errors import InputError

            raise InputError(f"No valid account with account_id {account_id!r} in {input}.")
    if limit is not None:
        accounts = accounts[:limit]
    for warning in loaded.warnings:
        say(err, "warning", warning, "yellow")
    for rejection in loaded.rejected:
        say(err, "rejected", rejection, "red")

    from accountflow.resilience import CircuitOpenError

    results: list[AccountResult] = []
    with _open_store(settings) as store:
        store.add_rejections(str(input), loaded.rejected)
        orchestrator = _orchestrator(
            settings, store, seller_profile, source=str(input), program=program
        )
        if not as_json:
            err.print(
                f"Running {len(accounts)} account(s) on {settings.lm} "
                f"(program {orchestrator.program_version}); state in {settings.home}",
                highlight=False,
            )
        try:
            for account in accounts:
                if as_json:
                    results.append(orchestrator.run(account))
                    continue
                with err.status(styled(f"{account.account_id} {account.company_name}...")):
                    result = orchestrator.run(account)
                results.append(result)
                _print_result(result)
        except CircuitOpenError as exc:
            left = [a.account_id for a in accounts[len(results) :]]
            say(
                err,
                "stopped",
                f"{exc} Resume the interrupted run with `accountflow resume RUN_ID --home "
                f"{shlex.quote(str(settings.home))}` (see `accountflow runs list --status "
                f"interrupted`); not started: {', '.join(left)}.",
                "red",
            )
            raise typer.Exit(exc.exit_code) from None
    failed = sum(r.status.value not in ("succeeded", "awaiting_review") for r in results)
    waiting = sum(r.status.value == "awaiting_review" for r in results)
    if as_json:
        _print_json(
            {
                "results": [r.model_dump(mode="json") for r in results],
                "rejected": [r.model_dump() for r in loaded.rejected],
                "warnings": loaded.warnings,
            }
        )
    else:
        _print_sources(orchestrator)
        err.print(
            f"{len(results) - failed - waiting} succeeded, {failed} failed, "
            f"{len(loaded.rejected)} rejected"
            + (f", {waiting} awaiting review (`accountflow review list`)" if waiting else "")
            + ". `accountflow runs show RUN_ID` shows every step.",
            highlight=False,
        )
    if failed or loaded.rejected:
        raise typer.Exit(1)


def _print_result(result: AccountResult) -> None:
    from rich.panel import Panel
    from rich.table import Table

    grid = Table.grid(padding=(0, 1))
    grid.add_column(style="bold cyan", no_wrap=True)
    grid.add_column()
    if result.error:
        grid.add_row("error", styled((result.error, "red")))
    if result.profile:
        grid.add_row("profile", result.profile.summary)
    if result.analysis:
        a = result.analysis
        grid.add_row(
            "fit",
            f"{a.fit_score}/100 ({a.approach}, confidence {a.confidence:.2f}): {a.fit_rationale}",
        )
        for p in a.pain_points:
            grid.add_row("pain point", f"[{p.severity}/5] {p.title}: {p.description}")
    if result.outreach:
        for m in result.outreach.messages:
            text = styled((m.subject, "bold"), "\n", m.body) if m.subject else m.body
            grid.add_row(m.channel.value, text)
        grid.add_row("sequence", " -> ".join(c.value for c in result.outreach.recommended_sequence))
    for c in result.colleague_messages:
        grid.add_row(f"to {c.target_name}", styled((c.subject or "", "bold"), "\n", c.body))
    if result.suppressed:  # no outreach was written to them
        grid.add_row("suppressed", "; ".join(result.suppressed))
    cost = f", ${result.cost_usd:.4f}" if result.cost_usd else ""
    grid.add_row(
        "run",
        f"{result.run_id} · {result.lm_calls} LM calls · "
        f"{result.prompt_tokens}+{result.completion_tokens} tokens{cost} · "
        f"{result.duration_ms / 1000:.1f}s",
    )
    color = "green" if result.status.value == "succeeded" else "red"
    out.print(
        Panel(
            grid,
            title=styled(f"{result.company_name} ({result.account_id})"),
            subtitle=styled((result.status.value, color)),
            title_align="left",
        )
    )


# ---------------------------------------------------------------------------- runs
@runs_app.command("list")
def runs_list(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest N runs.")] = 50,
    status: Annotated[
        str | None, typer.Option("--status", help="Only runs with this status.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List recorded runs, newest first (during a batch: from its live snapshot)."""
    from accountflow.errors import StoreInUseError

    settings = _settings(home)
    try:
        with _open_store(settings, wait=False) as store:
            rows = store.list_runs(limit=limit, status=status)
    except StoreInUseError as exc:
        live = _live_snapshot(settings, exc)
        rows = live.runs_for(limit, status)
        say(err, "note", live.label(), "cyan")
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for name in ("run id", "account", "status", "started (UTC)"):
        table.add_column(name, no_wrap=True)
    table.add_column("company", overflow="fold")
    for name in ("calls", "tokens", "cost $"):
        table.add_column(name, justify="right", no_wrap=True)
    table.add_column("model", overflow="fold")
    for r in rows:
        table.add_row(
            r.run_id,
            r.account_id,
            r.status.value,
            f"{r.started_at:%m-%d %H:%M:%S}",
            r.company_name or "",
            str(r.lm_calls),
            str(r.prompt_tokens + r.completion_tokens),
            f"{r.cost_usd:.4f}" if r.cost_usd is not None else "-",
            r.model or "",
        )
    out.print(table if rows else "No runs yet: `accountflow run FILE` records one per account.")


@runs_app.command("show")
def runs_show(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Show one run and every step attempt: status, timing, tokens, cost, input, output."""
    with _open_store(_settings(home)) as store:
        run_row = store.get_run(run_id)
        steps = store.get_steps(run_row["run_id"])
    if as_json:
        run_row.pop("result", None)
        _print_json({"run": run_row, "steps": [s.model_dump(mode="json") for s in steps]})
        return
    from rich.json import JSON
    from rich.table import Table

    out.print(
        styled(
            (run_row["run_id"], "bold"),
            f" {run_row['account_id']} {run_row['company_name']} · {run_row['status']} · "
            f"model {run_row['model']} · program {run_row['program_version']}",
            ("\n" + str(run_row["error"]), "red") if run_row.get("error") else "",
        )
    )
    table = Table(
        "step",
        "try",
        "status",
        "started",
        "ms",
        "calls",
        "tokens in/out",
        "cost $",
        "cache",
        "rule retries",
        "error / reason",
    )
    for s in steps:
        table.add_row(
            s.step,
            str(s.attempt),
            s.status.value,
            f"{s.started_at:%H:%M:%S}" if s.started_at else "-",
            str(s.duration_ms) if s.duration_ms is not None else "-",
            str(s.lm_calls),
            f"{s.prompt_tokens}/{s.completion_tokens}",
            f"{s.cost_usd:.5f}" if s.cost_usd is not None else "-",
            "hit" if s.cache_hit else "",
            str(s.rule_retries),
            " ".join(filter(None, [s.error_type, s.error_message])),
        )
    out.print(table)
    for s in steps:
        if s.input is None and s.output is None:
            continue
        out.rule(f"{s.step} (attempt {s.attempt})")
        out.print("input", style="bold")
        out.print(JSON(json.dumps(s.input, ensure_ascii=False, default=str)))
        if s.output is not None:
            out.print("output", style="bold")
            out.print(JSON(json.dumps(s.output, ensure_ascii=False, default=str)))


# ---------------------------------------------------------------------------- score
@app.command()
def score(
    input: Annotated[Path, typer.Argument(help="Accounts file: .jsonl, .csv or .parquet.")],
    out: Annotated[Path, typer.Option("--out", help="Results: .parquet, .csv or .jsonl.")],
    contacts: Annotated[
        Path | None, typer.Option("--contacts", help="Contacts CSV for a CSV/Parquet input.")
    ] = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    concurrency: Annotated[
        int | None,
        typer.Option(
            "--concurrency",
            min=1,
            help="Accounts in flight (default 8; 1 for the embedded model, which runs one call "
            "at a time).",
        ),
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Batch name (default: file name + content hash); re-running a batch "
            "skips what already succeeded.",
        ),
    ] = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="First N accounts.")] = None,
    budget_usd: Annotated[
        float | None,
        typer.Option(
            "--budget-usd",
            help="Stop starting accounts once this much is spent (exit 3).",
        ),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            help="Estimate calls, tokens and cost on the fake engine; spend nothing.",
        ),
    ] = False,
    review: ReviewOpt = None,
    seller: Annotated[
        Path | None,
        typer.Option("--seller", help="Seller profile YAML (env ACCOUNTFLOW_SELLER)."),
    ] = None,
    program: ProgramOpt = None,
    sources: SourcesOpt = None,
    docs: DocsOpt = None,
    web_max_age: WebMaxAgeOpt = None,
    offline: OfflineOpt = False,
    quiet: Annotated[bool, typer.Option("--quiet", help="No progress or summary.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary (or the estimate) as JSON on stdout.")
    ] = False,
    engine: Annotated[
        str,
        typer.Option(
            "--engine",
            help="threads (default: this process) or spark (DataFrame partitions; --out is a "
            "Parquet dir).",
        ),
    ] = "threads",
    spark_master: Annotated[
        str | None,
        typer.Option(
            "--spark-master",
            help="Spark master for --engine spark (default local[2]; env "
            "ACCOUNTFLOW_SPARK_MASTER).",
        ),
    ] = None,
    partitions: Annotated[
        int | None,
        typer.Option("--partitions", min=1, help="Spark partitions (default: the task slots)."),
    ] = None,
    rpm: Annotated[
        int | None,
        typer.Option(
            "--rpm",
            min=0,
            help="Cap on LM requests per minute for the whole job (env ACCOUNTFLOW_RPM).",
        ),
    ] = None,
    tpm: Annotated[
        int | None,
        typer.Option(
            "--tpm",
            min=0,
            help="Cap on LM tokens per minute for the whole job (env ACCOUNTFLOW_TPM).",
        ),
    ] = None,
    home: HomeOpt = None,
) -> None:
    """Score an account list: fit, pain points and outreach per account, written as they finish.

    Exit codes: 0 all succeeded, 1 some failed or were rejected, 2 usage or configuration error,
    3 budget reached, 130 interrupted (re-run the same command to resume)."""
    settings = _settings(home, lm, api_base, seller, review, (sources, docs, web_max_age, offline))
    if rpm is not None or tpm is not None:  # a flag over the environment; 0 means no cap
        caps = {"rpm": rpm, "tpm": tpm}
        settings = settings.model_copy(
            update={k: v or None for k, v in caps.items() if v is not None}
        )
    if engine not in ("threads", "spark"):
        from accountflow.errors import ConfigError

        raise ConfigError(f"--engine {engine!r} is unknown; use threads or spark.")
    if engine == "spark":
        _score_spark(
            settings,
            input,
            out,
            contacts,
            batch,
            limit,
            program,
            spark_master,
            partitions,
            concurrency,
            as_json,
            quiet,
        )
        return
    if dry_run:
        _dry_run(settings, input, contacts, limit, as_json)
        return
    _score(
        settings,
        input,
        out,
        contacts,
        concurrency,
        batch,
        limit,
        budget_usd,
        program,
        quiet,
        as_json,
    )


def _score(
    settings: Settings,
    input: Path,
    out: Path,
    contacts: Path | None,
    concurrency: int | None,
    batch: str | None,
    limit: int | None,
    budget_usd: float | None,
    program: str | None,
    quiet: bool,
    as_json: bool = False,
) -> None:
    """`score` (and `resume --batch`) with resolved settings: run the batch, print, exit."""
    from accountflow.batch import BatchScorer
    from accountflow.lm.ref import Backend, ModelRef

    local = ModelRef.parse(settings.lm).backend is Backend.local
    workers = concurrency or (1 if local else 8)
    if local and workers > 1 and not quiet:
        err.print("note: the embedded model runs one call at a time; extra workers only queue.")
    with _open_store(settings) as store:
        orchestrator = _orchestrator(settings, store, source=str(input), program=program)
        progress = None if quiet else _BatchProgress(input, limit)
        scorer = BatchScorer(
            orchestrator,
            input,
            out,
            contacts=contacts,
            batch=batch,
            concurrency=workers,
            limit=limit,
            budget_usd=budget_usd,
            on_result=progress.update if progress else None,
            seller_path=settings.seller_path,
            program_ref=program,
        )
        if budget_usd is not None and ModelRef.parse(orchestrator.model).in_process:
            err.print(f"note: {orchestrator.model} has no price, so --budget-usd never stops it.")
        if progress:
            progress.start(scorer.name, orchestrator.model, orchestrator.program_version, workers)
        try:
            summary = scorer.run()
        finally:
            if progress:
                progress.stop()
    if as_json:
        _print_json({**summary.model_dump(mode="json"), "exit_code": summary.exit_code})
    elif not quiet:
        for warning in summary.warnings:
            say(err, "warning", warning, "yellow")
        _print_summary(summary, settings, orchestrator.lm)
        _print_sources(orchestrator)
    if summary.exit_code:
        raise typer.Exit(summary.exit_code)


def _score_spark(
    settings: Settings,
    input: Path,
    out: Path,
    contacts: Path | None,
    batch: str | None,
    limit: int | None,
    program: str | None,
    master: str | None,
    partitions: int | None,
    threads: int | None,
    as_json: bool,
    quiet: bool,
) -> None:
    """`score --engine spark`: the file read and validated here as in-process (rejected rows
    recorded), the accounts scored in Spark partitions, the records merged into the store."""
    import os

    from accountflow import spark as engine
    from accountflow.batch import default_batch_name
    from accountflow.io import load_accounts

    loaded = load_accounts(input, contacts)
    accounts = loaded.accounts[:limit] if limit else loaded.accounts
    name = batch or default_batch_name(input)
    master = master or os.environ.get("ACCOUNTFLOW_SPARK_MASTER") or "local[2]"
    if not quiet and not as_json:
        err.print(
            f"Scoring {len(accounts)} account(s) on Spark {master} with {settings.lm}; "
            f"results in {out}/",
            highlight=False,
        )
    spark = engine.session(master)
    slots = int(spark.sparkContext.defaultParallelism)
    frame = engine.accounts_frame(spark, accounts, partitions or slots)
    with _open_store(settings) as store:
        store.add_rejections(str(input), loaded.rejected, batch=name)
        result = engine.score(
            frame, out, settings, store, batch=name, program=program, threads=threads or 4
        )
    rejected = len(loaded.rejected)
    if as_json:
        _print_json({**result.model_dump(mode="json"), "rejected_rows": rejected})
    elif not quiet:
        counts = ", ".join(f"{n} {status}" for status, n in sorted(result.by_status.items()))
        err.print(
            f"{result.accounts} account(s) in {result.partitions} partition(s): {counts}; "
            f"{rejected} row(s) rejected; {result.runs_merged} runs and {result.steps_merged} "
            f"step records merged into {settings.db_path}",
            highlight=False,
        )
    failed = result.accounts - result.by_status.get("succeeded", 0)
    failed -= result.by_status.get("awaiting_review", 0)
    if failed or rejected:
        raise typer.Exit(1)


def _dry_run(
    settings: Settings, input: Path, contacts: Path | None, limit: int | None, as_json: bool
) -> None:
    import tempfile

    from accountflow.batch import estimate
    from accountflow.lm import build_lm
    from accountflow.orchestrator import Orchestrator
    from accountflow.store import Store

    with tempfile.TemporaryDirectory(prefix="accountflow-dry-") as tmp:

        def factory() -> Orchestrator:
            return Orchestrator.from_settings(
                settings, Store(Path(tmp) / "dry.duckdb"), lm=build_lm("fake", cache=False)
            )

        est = estimate(factory, settings.lm, input, contacts, limit=limit)
    if as_json:
        _print_json(est.model_dump(mode="json"))
        return
    cost = "unknown" if est.cost_usd is None else f"${est.cost_usd:.4f}"
    err.print(
        f"dry run for {est.accounts} account(s) ({est.rejected} rejected) on {est.model}, "
        f"measured on {est.sampled} with the fake engine:\n"
        f"  LM calls      {est.lm_calls_per_account:.1f}/account, {est.total_lm_calls} total\n"
        f"  prompt tokens {est.prompt_tokens_per_account:.0f}/account, "
        f"{est.total_prompt_tokens} total\n"
        f"  output tokens {est.completion_tokens_per_account:.0f}/account (fake answers are "
        f"short: a lower bound), {est.total_completion_tokens} total\n"
        f"  cost          {cost} ({est.price_note})",
        highlight=False,
    )


class _BatchProgress:
    """A rich progress bar on stderr: accounts/s, ETA, failures, tokens and cost so far."""

    def __init__(self, input: Path, limit: int | None = None) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
        )

        from accountflow.batch import count_rows

        self.total = count_rows(input)
        if limit is not None and self.total is not None:
            self.total = min(self.total, limit)
        self.bar = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            TextColumn("[red]{task.fields[failed]} failed[/] {task.fields[rejected]} rejected"),
            TextColumn("{task.fields[tokens]} tok ${task.fields[cost]}"),
            console=err,
            transient=False,
        )
        self.task = self.bar.add_task(
            "scoring", total=self.total, rate="", failed=0, rejected=0, tokens=0, cost="0.0000"
        )
        self.started = 0.0

    def start(self, batch: str, model: str, version: str, workers: int) -> None:
        import time

        err.print(
            f"batch {batch} · {model} · program {version} · {workers} worker(s)", highlight=False
        )
        self.started = time.perf_counter()
        self.bar.start()

    def update(self, s: Any, result: Any) -> None:
        import time

        # rows of the accounts file dealt with: the total counts those, not --contacts rows
        accounts = s.succeeded + s.failed + s.awaiting_review + s.interrupted + s.not_started
        elapsed = max(time.perf_counter() - self.started, 1e-6)
        rate = accounts / elapsed
        self.bar.update(
            self.task,
            completed=accounts + s.rejected_input,
            rate=f"{rate:.3g} acc/s" if rate >= 1 or not accounts else f"{1 / rate:.3g} s/acc",
            failed=s.failed,
            rejected=s.rejected,
            tokens=s.prompt_tokens + s.completion_tokens,
            cost=f"{s.cost_usd:.4f}",
        )

    def stop(self) -> None:
        self.bar.stop()


def _print_summary(s: Any, settings: Settings, lm: Any) -> None:
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    table.add_row("batch", s.batch)
    table.add_row(
        "accounts",
        f"{s.accounts} ({s.succeeded} succeeded, {s.failed} failed, "
        f"{s.awaiting_review} awaiting review, {s.skipped} already done, "
        f"{s.resumed} resumed, {s.interrupted} interrupted, {s.not_started} not started)",
    )
    table.add_row(
        "rejected rows", f"{s.rejected}" + (f" -> {s.rejected_file}" if s.rejected_file else "")
    )
    table.add_row(
        "LM",
        f"{s.lm_calls} calls ({s.cache_hits} from cache), "
        f"{s.prompt_tokens}+{s.completion_tokens} tokens, {format_usd(s.cost_usd)}",
    )
    table.add_row("time", f"{s.elapsed_s:.1f}s ({s.rate_text})")
    table.add_row("output", s.output)
    if s.stop != "completed":
        table.add_row("stopped", f"{s.stop}: {s.stop_detail}")
    err.print(table)
    if s.stop in ("budget", "interrupted", "breaker", "refused"):
        err.print(f"resume with: {_resume_hint(s.batch, settings, lm)}", highlight=False)


def _resume_hint(batch: str, settings: Settings, lm: Any) -> str:
    """The command that resumes `batch` as it ran, from any directory: `resume --batch` takes
    the files, model, endpoint, seller, review mode and program from the batch's record; the
    state dir is named, and an endpoint whose credentials the record leaves out is given
    again (the environment's ACCOUNTFLOW_API_BASE, if that is where it came from, serves too)."""
    from accountflow.lm.usage import model_ref

    words = ["accountflow", "resume", "--batch", batch, "--home", str(settings.home)]
    ref = model_ref(lm)
    if ref.endpoint and ref.endpoint != ref.api_base:
        if ref.endpoint != os.environ.get("ACCOUNTFLOW_API_BASE"):
            words += ["--api-base", ref.endpoint]
    return shlex.join(words)


# ---------------------------------------------------------------------------- resume
@app.command()
def resume(
    run_id: Annotated[
        str | None, typer.Argument(help="A run id or a unique prefix of one.")
    ] = None,
    batch: Annotated[
        str | None,
        typer.Option(
            "--batch",
            help="Resume a whole batch: re-runs its `score` command as recorded.",
        ),
    ] = None,
    lm: LmOpt = None,
    api_base: ApiBaseOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Finish an interrupted or failed run, or a whole batch with --batch.

    Only the steps that did not succeed run again.
    """
    from accountflow.errors import ConfigError
    from accountflow.resilience import CircuitOpenError

    if (run_id is None) == (batch is None):
        raise ConfigError("Give a RUN_ID or --batch NAME (one of them).")
    if batch is not None:
        from accountflow.batch import get_batch

        with _open_store(_settings(home)) as store:
            row = get_batch(store, batch)
        contacts = Path(row["contacts_path"]) if row["contacts_path"] else None
        settings = _settings(home, lm, api_base, row["seller_path"], row["review"])
        if row.get("sources"):  # the batch's own research sources, so its runs match
            from accountflow.sources.gather import SourceSettings

            recorded = SourceSettings.model_validate_json(row["sources"])
            settings = settings.model_copy(update={"sources": recorded})
        settings = _resumed_model(settings, row["model"], lm, api_base)
        _score(
            settings,
            Path(row["input_path"]),
            Path(row["output_path"]),
            contacts,
            None,
            batch,
            None,
            None,
            row["program_ref"],
            False,
            as_json,
        )
        return
    assert run_id is not None
    settings = _settings(home, lm, api_base)
    with _open_store(settings) as store:
        settings = _resumed_model(settings, store.get_run(run_id).get("model"), lm, api_base)
        orchestrator = _orchestrator(settings, store)
        try:
            result = orchestrator.resume(run_id)
        except CircuitOpenError as exc:
            again = shlex.join(["accountflow", "resume", run_id, "--home", str(settings.home)])
            say(err, "stopped", f"{exc} Run `{again}` again later.", "red")
            raise typer.Exit(exc.exit_code) from None
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        _print_result(result)
    if result.status.value not in ("succeeded", "awaiting_review"):
        raise typer.Exit(1)


def _resumed_model(
    settings: Settings, recorded: str | None, lm: str | None, api_base: str | None
) -> Settings:
    """Settings on the model and endpoint a run or batch recorded, unless `--lm` names another
    model or `--api-base` another endpoint. ACCOUNTFLOW_API_BASE does not move a recorded
    endpoint: it is used only when it is that endpoint (it then restores credentials the
    record leaves out)."""
    from accountflow.lm.ref import ModelRef, redact_api_base

    if lm is not None or not recorded:
        return settings
    endpoint = api_base
    if endpoint is None:
        env = settings.api_base
        recorded_base = ModelRef.parse(recorded).api_base
        if env and recorded_base and redact_api_base(env) == recorded_base:
            endpoint = env
    return settings.model_copy(update={"lm": recorded, "api_base": endpoint})


# ---------------------------------------------------------------------------- batches
@batches_app.command("list")
def batches_list(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Latest N batches.")] = 50,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """List `score` batches, most recently run first."""
    with _open_store(_settings(home)) as store:
        rows = store.batches.list(limit)
    if as_json:
        _print_json([r.model_dump(mode="json") for r in rows])
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold")
    for name in ("batch", "status", "updated (UTC)", "accounts", "ok", "failed", "rejected"):
        table.add_column(name, no_wrap=name != "batch", overflow="fold")
    table.add_column("model", overflow="fold")
    for r in rows:
        table.add_row(
            r.name,
            r.status,
            f"{r.updated_at:%m-%d %H:%M:%S}",
            str(r.accounts),
            str(r.succeeded),
            str(r.failed),
            str(r.rejected),
            r.model,
        )
    out.print(table if rows else "No batches yet: `accountflow score FILE --out OUT` makes one.")


@batches_app.command("show")
def batches_show(
    name: Annotated[str, typer.Argument(help="A batch name (`accountflow batches list`).")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """One batch: its files, model, seller, review mode, program, status, counts, its runs by
    status, and the command that resumes it."""
    from accountflow.batch import get_batch

    settings = _settings(home)
    with _open_store(settings) as store:
        row = get_batch(store, name)
        by_status = store.runs_by_status(name)
    if as_json:
        _print_json({"batch": row, "runs_by_status": by_status})
        return
    from rich.table import Table

    table = Table.grid(padding=(0, 2))
    for key, value in row.items():
        table.add_row(key, "-" if value is None else str(value))
    table.add_row("runs", ", ".join(f"{k} {v}" for k, v in sorted(by_status.items())) or "-")
    out.print(table)
    again = shlex.join(["accountflow", "resume", "--batch", name, "--home", str(settings.home)])
    out.print(f"resume with: {again}", highlight=False, markup=False)


# ---------------------------------------------------------------------------- review
@review_app.command("list")
def review_list(
    status: Annotated[
        str,
        typer.Option(
            "--status",
            help="awaiting (default), approved, rejected, decided (approved or rejected) or all.",
        ),
    ] = "awaiting",
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch.")] = None,
    band: Annotated[
        str | None, typer.Option("--band", help="Only this fit band: high, medium or low.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The review queue: runs stopped after personalization, waiting for a decision (or,
    with --status, the ones decided), oldest first."""
    from accountflow.review import queue

    with _open_store(_settings(home)) as store:
        items = queue(store, status, batch, band)  # type: ignore[arg-type]
    if as_json:
        _print_json([i.model_dump(mode="json") for i in items])
        return
    from rich.table import Table

    table = Table(
        "run id",
        "account",
        "company",
        "fit",
        "status",
        "since (UTC)",
        "why",
        box=None,
        header_style="bold",
    )
    for i in items:
        edited = sum(m.edited for m in i.messages)
        table.add_row(
            i.run_id,
            i.account_id,
            i.company_name,
            f"{i.fit_score} {i.fit_band}" if i.fit_score is not None else "-",
            i.status + (f" ({edited} edited)" if edited else ""),
            f"{i.since:%m-%d %H:%M}" if i.since else "-",
            i.reason or "",
        )
    out.print(table if items else "Nothing awaits review.", highlight=False)


@review_app.command("show")
def review_show(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The outreach under review, the analysis behind it, and earlier decisions."""
    from accountflow.models import AccountResult
    from accountflow.review import history, item

    with _open_store(_settings(home)) as store:
        run_row = store.get_run(run_id)
        decisions = history(store, run_row["run_id"])
        shown = item(store, run_row["run_id"])
        edits = store.reviews.edits(run_row["run_id"])
    result = AccountResult.model_validate(run_row["result"]) if run_row.get("result") else None
    if as_json:
        _print_json(
            {
                "run_id": run_row["run_id"],
                "status": run_row["status"],
                "reason": run_row.get("error"),
                "result": result.model_dump(mode="json") if result else None,
                "decisions": [d.model_dump(mode="json") for d in decisions],
                "messages": [m.model_dump(mode="json") for m in shown.messages],
                "edits": [e.model_dump(mode="json") for e in edits],
            }
        )
        return
    out.print(
        styled(
            (run_row["run_id"], "bold"), f" · {run_row['status']} · {run_row.get('error') or ''}"
        ),
        highlight=False,
    )
    if result is not None:
        _print_result(result)
    for m in shown.messages:
        if m.edited:
            out.print(
                styled((f"{m.channel} as edited by {m.edited_by}:", "bold"), f" {m.body}"),
                highlight=False,
            )
        if m.diff:
            changed = " ".join(
                f"[-{p.text.strip()}-]" if p.op == "del" else f"{{+{p.text.strip()}+}}"
                for p in m.diff
                if p.op != "same" and p.text.strip()
            )
            out.print(f"{m.channel} changes from the previous draft: {changed}", highlight=False)
    for d in decisions:
        regen = " (regenerate)" if d.regenerate else ""
        out.print(
            f"{d.decided_at:%Y-%m-%d %H:%M} {d.reviewer}: {d.decision}{regen} {d.note or ''}",
            highlight=False,
        )


ReviewerOpt = Annotated[
    str | None, typer.Option("--reviewer", help="Who decides (default: the OS user).")
]


@review_app.command("approve")
def review_approve(
    run_ids: Annotated[
        list[str], typer.Argument(help="Run ids or unique prefixes (several: bulk approve).")
    ],
    note: Annotated[str | None, typer.Option("--note", help="Why, for the record.")] = None,
    reviewer: ReviewerOpt = None,
    lm: LmOpt = None,
    home: HomeOpt = None,
) -> None:
    """Approve the outreach (with the reviewer's edits); each run goes on to its remaining
    steps. With several runs, one that cannot be approved is reported and the rest go on."""
    if len(run_ids) == 1:
        _decide(run_ids[0], "approve", note, reviewer, False, lm, home)
        return
    from accountflow.review import approve_many

    settings = _settings(home, lm)
    with _open_store(settings) as store:
        done = approve_many(_orchestrator(settings, store), run_ids, note, reviewer)
    failed = 0
    for run_id, result, error in done:
        if error:
            failed += 1
            say(err, "error", f"{run_id}: {error}", "red")
        elif result is not None:
            out.print(f"{run_id}: approved ({result.status.value}).", highlight=False)
            failed += result.status.value not in ("succeeded", "awaiting_review")
    if failed:
        raise typer.Exit(1)


ChannelOpt = Annotated[
    str, typer.Option("--channel", help="email, linkedin, sms or call: the message to change.")
]


@review_app.command("edit")
def review_edit(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    channel: ChannelOpt,
    body: Annotated[
        str | None, typer.Option("--body", help="The whole message as it should be sent.")
    ] = None,
    body_file: Annotated[
        Path | None, typer.Option("--body-file", help="Read the message from this file.")
    ] = None,
    subject: Annotated[
        str | None, typer.Option("--subject", help="The email subject (email only).")
    ] = None,
    approve: Annotated[
        bool, typer.Option("--approve", help="Approve the run right after the edit.")
    ] = False,
    reviewer: ReviewerOpt = None,
    lm: LmOpt = None,
    home: HomeOpt = None,
) -> None:
    """Replace one message of a run awaiting review with your text (the draft is kept;
    `review restore` goes back to it). The text must pass the output rules generated text
    passes; an edit that breaks one is refused with the rule named (exit 2)."""
    from accountflow.errors import ConfigError
    from accountflow.review import decide, edit

    if (body is None) == (body_file is None):
        raise ConfigError("Give the new message with exactly one of --body or --body-file.")
    if body_file is not None:
        if not body_file.is_file():
            raise ConfigError(f"--body-file {body_file} does not exist.")
        body = body_file.read_text(encoding="utf-8")
    assert body is not None
    settings = _settings(home, lm)
    with _open_store(settings) as store:
        orchestrator = _orchestrator(settings, store)
        record = edit(orchestrator, run_id, channel, body, subject, reviewer)
        out.print(f"{record.run_id}: {record.channel} edited by {record.reviewer}.")
        if approve:
            result = decide(orchestrator, record.run_id, "approve", None, reviewer)
            if result is not None:
                _print_result(result)
                if result.status.value not in ("succeeded", "awaiting_review"):
                    raise typer.Exit(1)


@review_app.command("restore")
def review_restore(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    channel: ChannelOpt,
    reviewer: ReviewerOpt = None,
    home: HomeOpt = None,
) -> None:
    """Go back to the generated draft of one message (the edit stays on record)."""
    from accountflow.review import restore

    with _open_store(_settings(home)) as store:
        n = restore(store, run_id, channel, reviewer)
    out.print(
        f"{run_id}: {channel} restored to the draft." if n else f"{run_id}: {channel} had no edit."
    )


@review_app.command("serve")
def review_serve(
    port: Annotated[int, typer.Option("--port", help="Port on the host.")] = 8765,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to bind (default 127.0.0.1: only this machine can open it)."
        ),
    ] = "127.0.0.1",
    reviewer: ReviewerOpt = None,
    lm: LmOpt = None,
    home: HomeOpt = None,
) -> None:
    """The review queue as a local web page: approve, edit, reject, regenerate, bulk approve.
    The page opens the store per request, so batches keep running."""
    from accountflow.review_page import serve

    settings = _settings(home, lm)
    err.print(f"Review page on http://{host}:{port}/ (state in {settings.home}); Ctrl-C stops.")
    serve(settings, host=host, port=port, reviewer=reviewer, lm=lm)


@review_app.command("reject")
def review_reject(
    run_id: Annotated[str, typer.Argument(help="A run id or a unique prefix of one.")],
    note: Annotated[
        str,
        typer.Option(
            "--note", help="What is wrong (given to the model as feedback with --regenerate)."
        ),
    ],
    regenerate: Annotated[
        bool,
        typer.Option(
            "--regenerate",
            help="Rewrite the outreach with the note as feedback, then review again.",
        ),
    ] = False,
    channel: Annotated[
        str | None,
        typer.Option(
            "--channel",
            help="With --regenerate: rewrite only this message (email, linkedin, sms or call).",
        ),
    ] = None,
    reviewer: ReviewerOpt = None,
    lm: LmOpt = None,
    home: HomeOpt = None,
) -> None:
    """Reject the outreach (the run ends `rejected`), or regenerate it (or one message of
    it) from your note."""
    _decide(run_id, "reject", note, reviewer, regenerate, lm, home, channel)


def _decide(
    run_id: str,
    decision: str,
    note: str | None,
    reviewer: str | None,
    regenerate: bool,
    lm: str | None,
    home: Path | None,
    channel: str | None = None,
) -> None:
    from accountflow.review import decide, record_decision

    settings = _settings(home, lm)
    with _open_store(settings) as store:
        if decision == "reject" and not regenerate:  # ends the run: no model is loaded
            result = None
            run_id = record_decision(store, run_id, "reject", note, reviewer, False, channel)
        else:
            orchestrator = _orchestrator(settings, store)
            result = decide(
                orchestrator,
                run_id,
                decision,  # type: ignore[arg-type]
                note,
                reviewer,
                regenerate,
                channel,
            )
    if result is None:
        out.print(f"{run_id}: rejected.", highlight=False)
        return
    _print_result(result)
    if result.status.value not in ("succeeded", "awaiting_review"):
        raise typer.Exit(1)


# ---------------------------------------------------------------------------- stats
def _live_snapshot(settings: Settings, in_use: StoreInUseError) -> LiveSnapshot:
    """The snapshot of the batch holding the store; without one (no running process
    published it) the "in use" error stands. Callers print `live.label()` with the figures."""
    from accountflow.stats import read_live

    live = read_live(settings.db_path)
    if live is None:
        raise in_use
    return live


@app.command()
def stats(
    batch: Annotated[str | None, typer.Option("--batch", help="Only this batch.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Runs by status, success rate, step latency, calls, tokens, cost, cache hits, errors.

    While a batch holds the store, the figures come from the snapshot it publishes."""
    from accountflow.errors import StoreInUseError
    from accountflow.stats import compute

    settings = _settings(home)
    live = None
    try:
        with _open_store(settings, wait=False) as store:
            st = compute(store, batch)
    except StoreInUseError as exc:
        live = _live_snapshot(settings, exc)
        st = live.stats_for(batch, settings.db_path)
        say(err, "note", live.label(), "cyan")
    if as_json:
        data = st.model_dump(mode="json")
        if live is not None:
            data["live_snapshot"] = live.model_dump(
                mode="json", include={"pid", "taken_at", "batch"}
            )
        _print_json(data)
        return
    from rich.table import Table

    def num(v: float | None, fmt: str = "{:.1f}") -> str:
        return "-" if v is None else fmt.format(v)

    summary = Table.grid(padding=(0, 2))
    summary.add_row(
        "runs",
        str(st.runs_total)
        + "  ("
        + ", ".join(f"{k} {v}" for k, v in sorted(st.runs_by_status.items()))
        + ")",
    )
    summary.add_row("success rate", num(st.success_rate, "{:.1%}"))
    summary.add_row("accounts", str(st.accounts))
    summary.add_row("LM calls / account", num(st.lm_calls_per_account))
    summary.add_row("tokens / account", num(st.tokens_per_account, "{:.0f}"))
    summary.add_row("cost / account", num(st.cost_per_account_usd, "${:.5f}"))
    summary.add_row("cost total", num(st.cost_total_usd, "${:.4f}"))
    summary.add_row("cache-hit rate", num(st.cache_hit_rate, "{:.1%}"))
    summary.add_row("awaiting review", str(st.awaiting_review))
    out.print(summary)
    steps = Table(
        "step", "attempts", "succeeded", "p50 ms", "p95 ms", box=None, header_style="bold"
    )
    for s in st.steps:
        steps.add_row(
            s.step,
            str(s.attempts),
            str(s.succeeded),
            num(s.p50_ms, "{:.0f}"),
            num(s.p95_ms, "{:.0f}"),
        )
    out.print(steps)
    if st.top_errors:
        errors = Table("error", "class", "count", box=None, header_style="bold")
        for e in st.top_errors:
            errors.add_row(e.error_type, e.error_class or "-", str(e.count))
        out.print(errors)


# ---------------------------------------------------------------------------- lm
@lm_app.command("check")
def lm_check(
    lm: LmOpt = None, api_base: ApiBaseOpt = None, home: HomeOpt = None, as_json: JsonOpt = False
) -> None:
    """Say which backend a model string selects and make one tiny call to it."""
    import time

    import dspy

    from accountflow.lm import build_lm, describe_backend
    from accountflow.lm.ref import ModelRef

    settings = _settings(home, lm, api_base)
    ref = ModelRef.parse(settings.lm, settings.api_base)
    if not as_json:
        out.print(f"model {ref}: {describe_backend(ref)}", highlight=False, markup=False)
    lm_obj = build_lm(settings.lm, settings.api_base, cache=False)
    t0 = time.perf_counter()
    try:
        with dspy.context(lm=lm_obj, adapter=dspy.JSONAdapter()):
            ask = dspy.Predict("question -> answer")
            answer = ask(question="Reply with the word ready.").answer
    except Exception as exc:
        from accountflow.errors import ConfigError
        from accountflow.orchestrator import one_line

        raise ConfigError(f"{ref} did not answer: {one_line(exc)}") from None
    seconds = time.perf_counter() - t0
    if as_json:
        _print_json(
            {
                "model": ref.format(),
                "backend": describe_backend(ref),
                "answer": answer,
                "seconds": round(seconds, 3),
            }
        )
        return
    out.print(f"ok in {seconds:.1f}s: {answer!r}", highlight=False, markup=False)


register_optimizers(app)  # optimize, programs list|show|promote|diff, ui


# ---------------------------------------------------------------------------- entry
def main() -> None:
    """Console entry point: user errors become one line and an exit code, never a traceback."""
    from accountflow.errors import AccountflowError

    command = typer.main.get_command(app)
    try:
        code = command.main(prog_name="accountflow", standalone_mode=False)
    except (typer.Abort, KeyboardInterrupt):
        err.print("interrupted")
        sys.exit(130)
    except TyperException as exc:  # usage errors: bad or missing options and arguments
        exc.show()  # type: ignore[attr-defined]
        sys.exit(getattr(exc, "exit_code", 2))
    except AccountflowError as exc:
        say(err, "error", exc, "red")
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
