"""The `accountflow` command: noun groups with verbs, `--json` on every listing.

Heavy imports (dspy, duckdb, litellm) happen inside commands so `accountflow --help` stays fast.
User errors print one line on stderr and exit 2; a run with failed or rejected rows exits 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from typer.exceptions import TyperException

from accountflow.evals.cli import eval_app

if TYPE_CHECKING:
    from accountflow.config import Settings
    from accountflow.models import AccountResult
    from accountflow.store import Store

app = typer.Typer(
    name="accountflow",
    help="B2B account research and outreach as DSPy programs, recorded in DuckDB.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
runs_app = typer.Typer(help="Inspect recorded runs and their step attempts.", no_args_is_help=True)
lm_app = typer.Typer(help="Check which language model backend is used.", no_args_is_help=True)
app.add_typer(runs_app, name="runs")
app.add_typer(lm_app, name="lm")
app.add_typer(eval_app, name="eval")

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="State dir (env ACCOUNTFLOW_HOME, default ./.accountflow)."),
]
LmOpt = Annotated[
    str | None,
    typer.Option(
        "--lm",
        help="Model: fake, local/qwen2.5-coder-0.5b (default), or a litellm string such as "
        "openai/gpt-4o-mini (env ACCOUNTFLOW_LM).",
    ),
]
ApiBaseOpt = Annotated[
    str | None,
    typer.Option("--api-base", help="OpenAI-compatible server URL (env ACCOUNTFLOW_API_BASE)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]


def _settings(home: Path | None, lm: str | None = None, api_base: str | None = None,
              seller: Path | None = None) -> Settings:
    from accountflow.config import Settings

    return Settings.load(home=home, lm=lm, api_base=api_base, seller=seller)


def _open_store(settings: Settings) -> Store:
    from accountflow.store import Store

    return Store(settings.db_path)


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
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Research, analyse and write outreach for each account, one after another."""
    from accountflow.io import load_accounts

    settings = _settings(home, lm, api_base, seller)
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
        err.print(f"[yellow]warning:[/] {warning}", highlight=False)
    for rejection in loaded.rejected:
        err.print(f"[red]rejected:[/] {rejection}", highlight=False)

    from accountflow.lm import build_lm, use_cache_dir
    from accountflow.orchestrator import Orchestrator

    lm_obj = build_lm(settings.lm, settings.api_base)
    use_cache_dir(settings.cache_dir)
    results: list[AccountResult] = []
    with _open_store(settings) as store:
        store.add_rejections(str(input), loaded.rejected)
        orchestrator = Orchestrator(store, lm_obj, seller_profile, source=str(input))
        if not as_json:
            err.print(
                f"Running {len(accounts)} account(s) on {settings.lm} "
                f"(program {orchestrator.program_version}); state in {settings.home}",
                highlight=False,
            )
        for account in accounts:
            if as_json:
                results.append(orchestrator.run(account))
                continue
            with err.status(f"{account.account_id} {account.company_name}..."):
                result = orchestrator.run(account)
            results.append(result)
            _print_result(result)
    failed = sum(r.status.value != "succeeded" for r in results)
    if as_json:
        _print_json({
            "results": [r.model_dump(mode="json") for r in results],
            "rejected": [r.model_dump() for r in loaded.rejected],
            "warnings": loaded.warnings,
        })
    else:
        err.print(
            f"{len(results) - failed} succeeded, {failed} failed, "
            f"{len(loaded.rejected)} rejected. `accountflow runs show RUN_ID` shows every step.",
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
        grid.add_row("error", f"[red]{result.error}[/]")
    if result.profile:
        grid.add_row("profile", result.profile.summary)
    if result.analysis:
        a = result.analysis
        grid.add_row("fit", f"{a.fit_score}/100 ({a.approach}, confidence {a.confidence:.2f}): "
                     f"{a.fit_rationale}")
        for p in a.pain_points:
            grid.add_row("pain point", f"[{p.severity}/5] {p.title}: {p.description}")
    if result.outreach:
        for m in result.outreach.messages:
            text = f"[bold]{m.subject}[/]\n{m.body}" if m.subject else m.body
            grid.add_row(m.channel.value, text)
        grid.add_row("sequence", " -> ".join(c.value for c in result.outreach.recommended_sequence))
    for c in result.colleague_messages:
        grid.add_row(f"to {c.target_name}", f"[bold]{c.subject}[/]\n{c.body}")
    cost = f", ${result.cost_usd:.4f}" if result.cost_usd else ""
    grid.add_row(
        "run",
        f"{result.run_id} · {result.lm_calls} LM calls · "
        f"{result.prompt_tokens}+{result.completion_tokens} tokens{cost} · "
        f"{result.duration_ms / 1000:.1f}s",
    )
    color = "green" if result.status.value == "succeeded" else "red"
    out.print(Panel(
        grid, title=f"{result.company_name} ({result.account_id})",
        subtitle=f"[{color}]{result.status.value}[/]", title_align="left",
    ))


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
    """List recorded runs, newest first."""
    with _open_store(_settings(home)) as store:
        rows = store.list_runs(limit=limit, status=status)
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
            r.run_id, r.account_id, r.status.value, f"{r.started_at:%m-%d %H:%M:%S}",
            r.company_name or "", str(r.lm_calls), str(r.prompt_tokens + r.completion_tokens),
            f"{r.cost_usd:.4f}" if r.cost_usd is not None else "-", r.model or "",
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
        f"[bold]{run_row['run_id']}[/] {run_row['account_id']} {run_row['company_name']} · "
        f"{run_row['status']} · model {run_row['model']} · program {run_row['program_version']}"
        + (f"\n[red]{run_row['error']}[/]" if run_row.get("error") else "")
    )
    table = Table("step", "try", "status", "started", "ms", "calls", "tokens in/out", "cost $",
                  "cache", "rule retries", "error / reason")
    for s in steps:
        table.add_row(
            s.step, str(s.attempt), s.status.value,
            f"{s.started_at:%H:%M:%S}" if s.started_at else "-",
            str(s.duration_ms) if s.duration_ms is not None else "-", str(s.lm_calls),
            f"{s.prompt_tokens}/{s.completion_tokens}",
            f"{s.cost_usd:.5f}" if s.cost_usd is not None else "-",
            "hit" if s.cache_hit else "", str(s.rule_retries),
            " ".join(filter(None, [s.error_type, s.error_message])),
        )
    out.print(table)
    for s in steps:
        if s.input is None and s.output is None:
            continue
        out.rule(f"{s.step} (attempt {s.attempt})")
        out.print("[bold]input[/]")
        out.print(JSON(json.dumps(s.input, ensure_ascii=False, default=str)))
        if s.output is not None:
            out.print("[bold]output[/]")
            out.print(JSON(json.dumps(s.output, ensure_ascii=False, default=str)))


# ---------------------------------------------------------------------------- lm
@lm_app.command("check")
def lm_check(lm: LmOpt = None, api_base: ApiBaseOpt = None) -> None:
    """Say which backend a model string selects and make one tiny call to it."""
    import time

    import dspy

    from accountflow.lm import build_lm, describe_backend

    settings = _settings(None, lm, api_base)
    out.print(f"model {settings.lm}: {describe_backend(settings.lm)}", highlight=False)
    lm_obj = build_lm(settings.lm, settings.api_base, cache=False)
    t0 = time.perf_counter()
    try:
        with dspy.context(lm=lm_obj, adapter=dspy.JSONAdapter()):
            ask = dspy.Predict("question -> answer")
            answer = ask(question="Reply with the word ready.").answer
    except Exception as exc:
        from accountflow.errors import ConfigError
        from accountflow.orchestrator import one_line

        raise ConfigError(f"{settings.lm} did not answer: {one_line(exc)}") from None
    out.print(f"ok in {time.perf_counter() - t0:.1f}s: {answer!r}", highlight=False)


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
        err.print(f"[red]error:[/] {exc}", highlight=False)
        sys.exit(exc.exit_code)
    sys.exit(code if isinstance(code, int) else 0)


if __name__ == "__main__":
    main()
