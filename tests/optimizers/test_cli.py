"""`accountflow optimize`, `programs ...` and `ui` through `main()`: output, exit codes."""

from __future__ import annotations

import json
import socket
import sys
from pathlib import Path

import pytest

from accountflow.config import Settings
from accountflow.errors import ConfigError
from accountflow.optimizers.cli import free_port, serve, ui_command, ui_env
from accountflow.pipeline import AccountPipeline, program_version
from tests.cli_runner import run_cli

TINY_ARGS = ["--lm", "fake", "--train-limit", "4", "--dev-limit", "2", "--no-autolog"]


def test_dry_run_prints_the_estimate_and_spends_nothing(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(
        ["optimize", "analysis", "-o", "mipro", *TINY_ARGS, "--dry-run", "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["recipe"]["name"] == "mipro-light" and data["estimate"]["total_calls"] > 0
    assert data["data"]["dev"]["size"] == 2
    assert "estimate: ~" in err
    assert not settings.programs_dir.exists()


def test_testset_is_reported_in_the_table_and_the_estimate(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    split = Path(__file__).resolve().parents[2] / "datasets" / "labeled" / "test.jsonl"
    test_file = tmp_path / "t2.jsonl"
    test_file.write_text("".join(split.read_text().splitlines(keepends=True)[:2]))
    args = ["optimize", "analysis", "-o", "labeled-fewshot", *TINY_ARGS]
    code, out, err = run_cli(
        [*args, "--testset", str(test_file), "--dry-run", "--json"], capsys, monkeypatch
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["data"]["test"]["size"] == 2 and data["estimate"]["test_calls"] > 0
    code, out, err = run_cli([*args, "--testset", str(test_file)], capsys, monkeypatch)
    assert code == 0, err
    assert "test score" in out and "test delta" in out and "reported only" in out
    code, out, err = run_cli([*args, "--testset", "nope"], capsys, monkeypatch)
    assert code == 2 and "nope" in err and "Traceback" not in err


def test_optimize_then_list_show_diff_and_promote(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(
        ["optimize", "analysis", "-o", "labeled-fewshot", "--set", "k=2", *TINY_ARGS, "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    result = json.loads(out)  # stdout is only the JSON: DSPy's progress output went to stderr
    version = result["version"]
    assert result["status"] == "completed" and result["registered_version"] == 1
    assert "dev score before" in err

    code, out, _ = run_cli(["programs", "list", "--json"], capsys, monkeypatch)
    listed = json.loads(out)
    assert [p["version"] for p in listed["programs"]] == [version]
    assert listed["default_version"] == program_version(AccountPipeline())

    code, out, _ = run_cli(["programs", "show", version[:7]], capsys, monkeypatch)
    assert code == 0 and "analyst.predict (2 demos)" in out and "labeled-fewshot" in out

    code, out, _ = run_cli(["programs", "diff", "default", version], capsys, monkeypatch)
    assert code == 0 and "## analyst.predict" in out and "Demos: 0 -> 2" in out

    code, out, _ = run_cli(["programs", "promote", version[:7]], capsys, monkeypatch)
    assert code == 0 and f"Promoted {version}" in out
    code, out, _ = run_cli(["programs", "list"], capsys, monkeypatch)
    assert version in out and "yes" in out
    import mlflow

    from accountflow.tracking import mlflow_uri

    alias = mlflow.MlflowClient(tracking_uri=mlflow_uri(settings)).get_model_version_by_alias(
        "accountflow-analysis", "promoted"
    )
    assert alias.tags["program_version"] == version

    code, out, _ = run_cli(["programs", "promote", "default"], capsys, monkeypatch)
    assert code == 0 and "built-in program" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["optimize", "analysis", "-o", "annealing"], "Unknown optimizer 'annealing'"),
        (["optimize", "analysis"], "exactly one of --optimizer NAME or --recipe FILE"),
        (["optimize", "analysis", "-o", "bootstrap", "--set", "k=2"], "has no parameter 'k'"),
        (["optimize", "research", "-o", "labeled-fewshot"], "only for analysis"),
        (["optimize", "analysis", "-o", "bootstrap", "--suite", "smoke"], "is for the pipeline"),
        (["optimize", "sales", "-o", "bootstrap"], "Unknown target 'sales'"),
        (["programs", "show", "fffffffff"], "No program 'fffffffff'"),
        (["programs", "promote", "zz"], "not a program version"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    home: Path,
    args: list[str],
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run_cli(
        [*args, "--lm", "fake"] if args[0] == "optimize" else args, capsys, monkeypatch
    )
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_ui_command_serves_the_state_dir_on_loopback(home: Path) -> None:
    settings = Settings.load()
    command = ui_command(settings, "127.0.0.1", 5123)
    assert command[:4] == [sys.executable, "-m", "mlflow", "ui"]
    assert command[command.index("--backend-store-uri") + 1] == (
        f"sqlite:///{settings.home / 'mlflow.db'}"
    )
    assert command[command.index("--host") + 1] == "127.0.0.1"
    assert command[command.index("--port") + 1] == "5123"
    assert str(settings.home / "mlartifacts") in command
    env = ui_env()
    assert env["LITELLM_LOCAL_MODEL_COST_MAP"] == "True"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_ui_print_command(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(["ui", "--print-command", "--port", "5001"], capsys, monkeypatch)
    assert code == 0 and "-m mlflow ui --backend-store-uri sqlite:///" in out
    assert "--host 127.0.0.1 --port 5001" in out


def test_serve_reports_ready_and_leaves_no_server_running() -> None:
    """The server lifecycle with a stand-in that answers one connection and exits (the real
    `mlflow ui` takes up to a minute to start, too slow for CI)."""
    port = free_port("127.0.0.1", 0)
    stand_in = (
        "import socket; s = socket.socket(); "
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); "
        f"s.bind(('127.0.0.1', {port})); s.listen(); c, _ = s.accept(); c.close(); s.close()"
    )
    said: list[str] = []
    code = serve(
        [sys.executable, "-c", stand_in], ui_env(), "127.0.0.1", port, said.append, ready_timeout=30
    )
    assert code == 0
    assert said == [f"ready: http://127.0.0.1:{port}"]
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", port)) != 0


def test_a_busy_port_is_a_clear_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        with pytest.raises(ConfigError, match=f"Port {port} on 127.0.0.1 is in use"):
            free_port("127.0.0.1", port)


def test_a_suite_gives_the_dev_set_its_limit_and_the_metric_weights(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.evals.suites import load_suite

    suite = load_suite("smoke")
    code, out, err = run_cli(
        [
            "optimize",
            suite.target,
            "-o",
            "bootstrap",
            "--suite",
            "smoke",
            "--lm",
            "fake",
            "--train-limit",
            "2",
            "--dry-run",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    data = json.loads(out)
    assert data["recipe"]["weights"] == suite.metrics
    assert data["data"]["dev"]["split"] == suite.dataset
    assert data["data"]["dev"]["size"] == suite.limit
    code, out, _ = run_cli(
        [
            "optimize",
            suite.target,
            "-o",
            "bootstrap",
            "--suite",
            "smoke",
            "--dev-limit",
            "1",
            "--lm",
            "fake",
            "--dry-run",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    assert json.loads(out)["data"]["dev"]["size"] == 1  # a flag beats the suite
