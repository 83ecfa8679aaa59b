"""`accountflow optimize`, `accountflow programs list|show|promote|diff` and `accountflow ui`.

Only typer and rich load at import time (`accountflow --help` stays fast); dspy, duckdb and
mlflow load inside the commands. `register(app)` adds the commands to the main app.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accountflow.cli_options import console, say, styled

if TYPE_CHECKING:
    from accountflow.config import Settings
    from accountflow.optimizers.runner import OptimizeResult
    from accountflow.programs import ProgramVersion

out = console()
err = console(stderr=True)

programs_app = typer.Typer(
    help="Versioned programs: list, show, promote (what every command loads) and diff.",
    no_args_is_help=True,
)

HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="State dir (env ACCOUNTFLOW_HOME, default ./.accountflow)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
TARGET_HELP = "Step to optimize: research, analysis, personalization, colleague or pipeline."
OPTIMIZER_HELP = (
    "Recipe: labeled-fewshot, bootstrap, random-search, mipro (= mipro-light), mipro-medium, "
    "mipro-heavy, gepa, copro, simba."
)


def _settings(home: Path | None, lm: str | None = None, api_base: str | None = None) -> Settings:
    from accountflow.config import Settings

    return Settings.load(home=home, lm=lm, api_base=api_base)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


# ---------------------------------------------------------------------------- optimize
def optimize(
    target: Annotated[str, typer.Argument(help=TARGET_HELP)],
    optimizer: Annotated[str | None, typer.Option("--optimizer", "-o", help=OPTIMIZER_HELP)] = None,
    recipe_file: Annotated[
        Path | None,
        typer.Option(
            "--recipe",
            help="Replay a recipe file (recipe.json from a run's MLflow "
            "artifacts, or YAML) instead of --optimizer.",
        ),
    ] = None,
    suite: Annotated[
        str | None,
        typer.Option(
            "--suite",
            help="Eval suite (smoke, full... or a YAML path) giving the dev "
            "set, its limit and the metric weights.",
        ),
    ] = None,
    trainset: Annotated[
        str | None, typer.Option("--trainset", help="Train split or .jsonl (default train).")
    ] = None,
    devset: Annotated[
        str | None, typer.Option("--devset", help="Dev split or .jsonl (default dev).")
    ] = None,
    testset: Annotated[
        str | None,
        typer.Option(
            "--testset",
            help="Test split or .jsonl, scored before and after (reported only; never used "
            "to choose or promote).",
        ),
    ] = None,
    train_limit: Annotated[
        int | None, typer.Option("--train-limit", min=1, help="Use the first N train examples.")
    ] = None,
    dev_limit: Annotated[
        int | None, typer.Option("--dev-limit", min=1, help="Use the first N dev examples.")
    ] = None,
    metric: Annotated[
        list[str] | None,
        typer.Option("--metric", help="Metric to optimize (repeatable; default: the target's)."),
    ] = None,
    lm: Annotated[
        str | None,
        typer.Option(
            "--lm",
            help="Task model: fake, local/qwen2.5-coder-0.5b (default) or a "
            "litellm string (env ACCOUNTFLOW_LM).",
        ),
    ] = None,
    api_base: Annotated[
        str | None, typer.Option("--api-base", help="OpenAI-compatible server URL.")
    ] = None,
    teacher_lm: Annotated[
        str | None,
        typer.Option(
            "--teacher-lm",
            help="Model that bootstraps demos and proposes prompts (default: the task model).",
        ),
    ] = None,
    reflection_lm: Annotated[
        str | None,
        typer.Option(
            "--reflection-lm", help="GEPA's reflection model (default: teacher, else task model)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed for sampling and search.")] = 0,
    max_calls: Annotated[
        int | None, typer.Option("--max-calls", min=1, help="Stop after N provider LM calls.")
    ] = None,
    budget_usd: Annotated[
        float | None, typer.Option("--budget-usd", min=0.0, help="Stop after spending $X.")
    ] = None,
    threads: Annotated[int, typer.Option("--threads", min=1, max=64, help="Parallel calls.")] = 1,
    sets: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="Optimizer option KEY=VALUE (repeatable), e.g. "
            "--set max_bootstrapped_demos=3 --set num_candidate_programs=8.",
        ),
    ] = None,
    start: Annotated[
        str | None,
        typer.Option(
            "--from",
            help="Program to start from: a version, a program JSON or "
            "'default' (default: the promoted program).",
        ),
    ] = None,
    promote_after: Annotated[
        bool, typer.Option("--promote", help="Promote the result when the run finishes.")
    ] = False,
    autolog: Annotated[
        bool, typer.Option("--autolog/--no-autolog", help="mlflow.dspy.autolog during compile.")
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check everything and print the estimate; no calls.")
    ] = False,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Optimize a step (or the pipeline) with a DSPy optimizer, tracked in MLflow.

    The result is registered as a program version: see `accountflow programs`.
    """
    from accountflow.errors import ConfigError
    from accountflow.optimizers.recipes import get_recipe, load_recipe, parse_sets
    from accountflow.optimizers.runner import OptimizeRequest, execute, prepare

    if (optimizer is None) == (recipe_file is None):
        raise ConfigError("Pass exactly one of --optimizer NAME or --recipe FILE.")
    recipe = load_recipe(recipe_file) if recipe_file else get_recipe(str(optimizer))
    changes: dict[str, Any] = {"params": parse_sets(sets or [])}
    if suite is not None:
        if devset is not None:
            raise ConfigError("Pass --suite or --devset, not both: the suite names the dev set.")
        from accountflow.evals.suites import load_suite

        s = load_suite(suite)
        if s.target != target:
            raise ConfigError(f"Suite {s.name!r} is for the {s.target} target, not {target}.")
        changes.update(
            devset=s.dataset, dev_limit=s.limit, weights=dict(s.metrics), metrics=list(s.metrics)
        )
    flags = {
        "trainset": trainset,
        "devset": devset,
        "testset": testset,
        "train_limit": train_limit,
        "dev_limit": dev_limit,
        "metrics": metric or None,
    }
    changes.update({k: v for k, v in flags.items() if v is not None})  # flags beat the suite
    recipe = recipe.with_overrides(**changes)
    settings = _settings(home, lm, api_base)
    request = OptimizeRequest(
        target=target,
        recipe=recipe,
        lm=settings.lm,
        api_base=settings.api_base,
        teacher_lm=teacher_lm,
        reflection_lm=reflection_lm,
        seed=seed,
        max_calls=max_calls,
        budget_usd=budget_usd,
        threads=threads,
        start=start,
        autolog=autolog,
        promote=promote_after,
    )
    prepared = prepare(settings, request)
    err.print(
        f"optimize {target} with {recipe.name} on {settings.lm}: {len(prepared.train)} train, "
        f"{len(prepared.val)} val (held out of {recipe.trainset}), {len(prepared.dev)} dev; "
        f"from program {prepared.start.version} ({prepared.start.source})",
        highlight=False,
    )
    err.print(prepared.estimate.line(), highlight=False)
    for note in prepared.notes:
        say(err, "note", note, "yellow")
    if dry_run:
        if as_json:
            _print_json(
                {
                    "recipe": recipe.model_dump(mode="json"),
                    "estimate": prepared.estimate.model_dump(),
                    "data": prepared.data_params,
                    "start": prepared.start.version,
                    "notes": prepared.notes,
                }
            )
        return
    # DSPy's optimizers print progress bars and proposals on stdout: keep stdout for results.
    with contextlib.redirect_stdout(sys.stderr):
        result = execute(prepared, lambda msg: err.print(f"· {msg}", highlight=False))
    if as_json:
        _print_json(result.model_dump(mode="json"))
    else:
        _print_optimize(result)


def _print_optimize(result: OptimizeResult) -> None:
    from rich.table import Table

    color = "green" if result.status == "completed" else "yellow"
    out.print(
        styled(
            (result.version, "bold"),
            f" {result.target} · {result.recipe} · ",
            (result.status, color),
            f" ({result.stop_reason})" if result.stop_reason else "",
        ),
        highlight=False,
    )
    table = Table("metric", "before", "after", box=None, header_style="bold")
    table.add_row(
        styled(("dev score", "bold")), _fmt(result.dev_score_before), _fmt(result.dev_score_after)
    )
    for name in dict.fromkeys([*result.metrics_before, *result.metrics_after]):
        table.add_row(
            name, _fmt(result.metrics_before.get(name)), _fmt(result.metrics_after.get(name))
        )
    if result.test_score_before is not None or result.test_score_after is not None:
        table.add_row(
            styled(("test score", "bold")),
            _fmt(result.test_score_before),
            _fmt(result.test_score_after),
        )
    out.print(table)
    if result.test_delta is not None:
        out.print(
            f"test delta {result.test_delta:+.3f} per example, 95% CI "
            f"[{result.test_delta_ci_low:+.3f}, {result.test_delta_ci_high:+.3f}] "
            "(paired bootstrap; reported only)",
            highlight=False,
        )
    u = result.usage
    cost = f", ${u['cost_usd']:.4f}" if "cost_usd" in u else ""
    out.print(
        f"{int(u.get('lm_calls', 0))} LM calls ({int(u.get('cache_hits', 0))} cache hits), "
        f"{int(u.get('prompt_tokens', 0) + u.get('completion_tokens', 0))} tokens{cost}, "
        f"{result.wall_time_s:.1f}s (compile {result.compile_time_s:.1f}s)",
        highlight=False,
    )
    changed = ", ".join(result.changed_predictors) or "nothing (same program as the start)"
    out.print(f"changed: {changed}", highlight=False)
    registered = (
        f"; registered {result.registered_model} v{result.registered_version}"
        if result.registered_model
        else ""
    )
    out.print(
        f"MLflow run {result.mlflow_run_id} in {result.mlflow_experiment}{registered}",
        highlight=False,
    )
    out.print(f"program {result.program_path}", highlight=False)
    for warning in result.warnings:
        say(err, "warning", warning, "yellow")
    if result.promoted:
        out.print(f"promoted {result.version}: commands now load it by default", highlight=False)
    else:
        out.print(
            f"`accountflow programs promote {result.version}` makes it the default.",
            highlight=False,
        )


# ---------------------------------------------------------------------------- programs
def _entry_json(entry: ProgramVersion) -> dict[str, Any]:
    return entry.model_dump(mode="json")


@programs_app.command("list")
def programs_list(
    target: Annotated[str | None, typer.Option("--target", help="Only this target.")] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Registered programs, newest first; the promoted one is what commands load."""
    from accountflow.pipeline import AccountPipeline, program_version
    from accountflow.programs import list_programs

    settings = _settings(home)
    rows = list_programs(settings, target)
    builtin = program_version(AccountPipeline())
    if as_json:
        _print_json({"programs": [_entry_json(r) for r in rows], "default_version": builtin})
        return
    from rich.table import Table

    table = Table(box=None, header_style="bold", pad_edge=False)
    # dev: score before -> after the optimization; run: the MLflow run id (prefix)
    for name in ("version", "target", "optimizer", "dev", "run", "created", "promoted"):
        table.add_column(name, no_wrap=name not in ("target", "optimizer"), overflow="fold")
    for r in rows:
        table.add_row(
            r.version,
            r.target,
            r.optimizer or "-",
            f"{_fmt(r.dev_score_before)}->{_fmt(r.dev_score)}",
            (r.mlflow_run_id or "-")[:8],
            f"{r.created_at:%m-%d %H:%M}",
            styled(("yes", "green")) if r.promoted else "",
        )
    if rows:
        out.print(table)
    else:
        out.print("No programs yet: `accountflow optimize TARGET --optimizer NAME` makes one.")
    if not any(r.promoted for r in rows):
        out.print(f"In use: the built-in program {builtin} (none promoted).", highlight=False)


@programs_app.command("show")
def programs_show(
    ref: Annotated[str, typer.Argument(help="Version or prefix, a program JSON, or 'default'.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """A program's instructions and demos per predictor, and what produced it."""
    from accountflow.programs import BUILTIN, describe_program, get_program, program_state_of

    settings = _settings(home)
    version, state = program_state_of(settings, ref)
    entry = None
    if ref != BUILTIN and not ref.endswith(".json") and not Path(ref).is_file():
        with contextlib.suppress(Exception):
            entry = get_program(settings, version)
    views = describe_program(state)
    if as_json:
        _print_json(
            {
                "version": version,
                "entry": _entry_json(entry) if entry else None,
                "predictors": [v.model_dump(mode="json") for v in views],
            }
        )
        return
    from accountflow.programs import demo_summary

    head = styled((version, "bold"))
    if entry:
        head.append(
            f" {entry.target} · {entry.optimizer or '-'} · dev {_fmt(entry.dev_score_before)}"
            f" -> {_fmt(entry.dev_score)} · from {entry.parent_version or '-'} · MLflow run "
            f"{entry.mlflow_run_id or '-'}"
        )
        if entry.promoted:
            head.append(" · ").append("promoted", "green")
        if entry.stop_reason:
            head.append(f"\nstopped: {entry.stop_reason}")
    out.print(head, highlight=False)
    for view in views:
        out.rule(f"{view.name} ({len(view.demos)} demos)")
        out.print(view.instructions, highlight=False)
        for i, demo in enumerate(view.demos, 1):
            out.print(styled((f"demo {i}:", "dim"), f" {demo_summary(demo)}"), highlight=False)


@programs_app.command("promote")
def programs_promote(
    ref: Annotated[str, typer.Argument(help="Version or prefix; 'default' = the built-in one.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Make a version what `run`, `score`, `eval` and campaigns load by default."""
    from accountflow.optimizers.mlflow_record import set_promoted_alias
    from accountflow.programs import promote

    settings = _settings(home)
    entry = promote(settings, ref)
    warning = set_promoted_alias(settings, entry)
    if as_json:
        _print_json({"promoted": _entry_json(entry) if entry else None, "warning": warning})
        return
    if entry is None:
        out.print("Promoted the built-in program: commands load it by default.")
    else:
        out.print(
            f"Promoted {entry.version} ({entry.target}, {entry.optimizer or '-'}, dev "
            f"{_fmt(entry.dev_score)}): commands load it by default.",
            highlight=False,
        )
    if warning:
        say(err, "warning", warning, "yellow")


@programs_app.command("log-pyfunc")
def programs_log_pyfunc(
    ref: Annotated[
        str | None,
        typer.Argument(help="Version, program JSON or 'default' (default: the promoted one)."),
    ] = None,
    name: Annotated[str, typer.Option("--name", help="The model's name in the run.")] = (
        "accountflow"
    ),
    lm: Annotated[
        str | None, typer.Option("--lm", help="The model the pyfunc calls (env ACCOUNTFLOW_LM).")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Log the program as an MLflow pyfunc that scores DataFrames of any number of rows (for
    `mlflow.pyfunc.spark_udf`); prints its model URI."""
    from accountflow.spark import PYFUNC_RESULT_TYPE, log_pyfunc
    from accountflow.store import Store

    settings = _settings(home, lm)
    with Store(settings.db_path, wait_s=settings.store_wait_s) as store:
        uri = log_pyfunc(settings, store, name=name, program=ref)
    if as_json:
        _print_json({"model_uri": uri, "result_type": PYFUNC_RESULT_TYPE})
        return
    out.print(uri, highlight=False)
    err.print(
        f"spark_udf(spark, {uri!r}, result_type=accountflow.spark.PYFUNC_RESULT_TYPE, "
        "env_manager='local') scores rows; the MLflow tracking URI is the state dir's "
        f"(sqlite:///{settings.home / 'mlflow.db'}).",
        highlight=False,
    )


@programs_app.command("diff")
def programs_diff(
    a: Annotated[str, typer.Argument(help="Version, program JSON or 'default'.")],
    b: Annotated[str, typer.Argument(help="Version, program JSON or 'default'.")],
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """What changed between two programs: instructions (unified diff), fields and demos."""
    from accountflow.programs import diff_states, program_state_of, render_diff

    settings = _settings(home)
    va, sa = program_state_of(settings, a)
    vb, sb = program_state_of(settings, b)
    diff = diff_states(sa, sb, va, vb)
    if as_json:
        _print_json(diff.model_dump(mode="json"))
        return
    sys.stdout.write(render_diff(diff))


# ---------------------------------------------------------------------------- ui
def ui_command(settings: Settings, host: str, port: int) -> list[str]:
    """`mlflow ui` over the state dir's tracking store (the same interpreter, so the venv's
    MLflow), with new experiments' artifacts kept in the state dir too. Measured: it serves
    after ~55 s on a busy 2-core machine."""
    from accountflow.tracking import artifact_root, mlflow_uri

    return [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        mlflow_uri(settings),
        "--default-artifact-root",
        str(artifact_root(settings).absolute()),
        "--host",
        host,
        "--port",
        str(port),
        "--workers",
        "1",  # one local user; uvicorn's default 4 workers crowd a small machine
    ]


def ui_env() -> dict[str, str]:
    """The environment `mlflow ui` needs offline: without the local price map it deadlocked."""
    env = dict(os.environ)
    env["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
    env["MLFLOW_DISABLE_TELEMETRY"] = "true"
    return env


def free_port(host: str, port: int) -> int:
    """`port` if nothing listens there (0: any free port); a clear error otherwise."""
    from accountflow.errors import ConfigError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            raise ConfigError(
                f"Port {port} on {host} is in use (another MLflow UI?); pass --port N, or "
                "--port 0 for any free port."
            ) from None
        return int(sock.getsockname()[1])


def _stop_on_sigterm(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def serve(
    command: list[str],
    env: dict[str, str],
    host: str,
    port: int,
    say: Callable[[str], None],
    ready_timeout: float = 180.0,
) -> int:
    """Run the server in the foreground until it exits, Ctrl-C or SIGTERM; report when it
    answers. The server gets its own process group, and the whole group is stopped on the
    way out: `mlflow ui` runs its web server as a child process that would outlive it."""
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _stop_on_sigterm)
    process = subprocess.Popen(command, env=env, start_new_session=True)
    try:
        deadline = time.monotonic() + ready_timeout
        while process.poll() is None and time.monotonic() < deadline:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.settimeout(0.5)
                if sock.connect_ex((host, port)) == 0:
                    say(f"ready: http://{host}:{port}")
                    break
            time.sleep(0.5)
        return process.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        _stop_group(process)
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _stop_group(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(process.pid, sig)
        except (ProcessLookupError, PermissionError):
            break
        try:
            process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        # the leader is gone; give the rest of its group a moment, then check again
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and _group_alive(process.pid):
            time.sleep(0.1)
        if not _group_alive(process.pid):
            break


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def ui(
    port: Annotated[int, typer.Option("--port", min=0, max=65535, help="0: any free port.")] = 5000,
    home: HomeOpt = None,
    print_command: Annotated[
        bool, typer.Option("--print-command", help="Print the command instead of running it.")
    ] = False,
) -> None:
    """Start the MLflow UI on 127.0.0.1 over the state dir's runs and registered programs."""
    host = "127.0.0.1"
    settings = _settings(home)
    if print_command:
        command = ui_command(settings, host, port)
        sys.stdout.write(" ".join(command) + "\n")
        return
    port = free_port(host, port)
    command = ui_command(settings, host, port)
    settings.home.mkdir(parents=True, exist_ok=True)
    out.print(
        f"MLflow UI: http://{host}:{port} (state dir {settings.home}); it takes up to a "
        "minute to start, Ctrl-C stops it.",
        highlight=False,
    )
    code = serve(command, ui_env(), host, port, lambda msg: err.print(msg, highlight=False))
    if code not in (0, -15):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add `optimize`, `programs` and `ui` to the main `accountflow` app."""
    app.command("optimize")(optimize)
    app.add_typer(programs_app, name="programs")
    app.command("ui")(ui)
