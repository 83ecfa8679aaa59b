"""The CLI through `main()`: exit codes, JSON output, one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli


def test_run_demo_json(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, err = run_cli(
        ["run", str(data_path("accounts_demo.jsonl")), "--lm", "fake", "--limit", "3", "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    data = json.loads(out)
    assert [r["account_id"] for r in data["results"]] == ["acc-001", "acc-002", "acc-003"]
    assert all(r["status"] == "succeeded" for r in data["results"])
    assert data["rejected"] == []


def test_run_readable_output(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(
        ["run", str(data_path("accounts_demo.jsonl")), "--lm", "fake", "--account-id", "acc-002"],
        capsys,
        monkeypatch,
    )
    assert code == 0
    assert "Crestmed Health Partners" in out and "sms" in out and "succeeded" in out


def test_run_csv_with_contacts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(
        [
            "run",
            str(data_path("accounts_demo.csv")),
            "--contacts",
            str(data_path("contacts_demo.csv")),
            "--lm",
            "fake",
            "--limit",
            "2",
            "--json",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    results = json.loads(out)["results"]
    assert len(results) == 2 and results[0]["outreach"]["contact_name"]


def test_bad_rows_are_rejected_and_good_rows_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "mixed.jsonl"
    src.write_bytes(
        b'{"account_id": "g1", "company_name": "Good One", "contacts": [{"name": "Ann Lee", '
        b'"email": "ann@good.example", "is_primary": true}]}\n'
        b'{"company_name": "No Id"}\n'
        b'{"account_id": "b2", "company_name": "Bad Mail", "contacts": [{"name": "X", '
        b'"email": "not-an-email"}]}\n'
        b'{"account_id": "b3", "company_name": ""}\n'
        b'{"account_id": "b4", "company_name": "Caf\xe9 Latin1"}\n'
        b'{"account_id": "b5", "company_name": "Extra", "revenue": 5}\n'
        b'{"account_id": "g2", "company_name": "Good Two"}\n'
    )
    code, out, err = run_cli(["run", str(src), "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 1
    data = json.loads(out)
    assert [r["account_id"] for r in data["results"]] == ["g1", "g2"]
    reasons = {r["row"]: r["reason"] for r in data["rejected"]}
    assert set(reasons) == {2, 3, 4, 5, 6}
    assert "account_id" in reasons[2]
    assert "email" in reasons[3]
    assert "company_name" in reasons[4]
    assert "UTF-8" in reasons[5]
    assert "revenue" in reasons[6]
    assert "Traceback" not in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(None, "does not exist"), (b"", "is empty")],
)
def test_unreadable_input_is_one_line_exit_2(
    tmp_path: Path,
    content: bytes | None,
    message: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    src = tmp_path / "accounts.jsonl"
    if content is not None:
        src.write_bytes(content)
    code, _, err = run_cli(["run", str(src), "--lm", "fake"], capsys, monkeypatch)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_csv_column_warns_and_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "a.csv"
    src.write_text("account_id,company_name,owner\na1,Acme Robotics,bob\n")
    code, _, err = run_cli(["run", str(src), "--lm", "fake"], capsys, monkeypatch)
    assert code == 0
    assert "unknown column 'owner'" in err


def test_runs_list_and_show(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_cli(
        ["run", str(data_path("accounts_demo.jsonl")), "--lm", "fake", "--limit", "1", "--json"],
        capsys,
        monkeypatch,
    )
    code, out, _ = run_cli(["runs", "list", "--json"], capsys, monkeypatch)
    assert code == 0
    runs = json.loads(out)
    assert len(runs) == 1 and runs[0]["status"] == "succeeded" and runs[0]["lm_calls"] >= 3
    run_id = runs[0]["run_id"]
    code, out, _ = run_cli(["runs", "show", run_id[:10], "--json"], capsys, monkeypatch)
    assert code == 0
    shown = json.loads(out)
    assert shown["run"]["run_id"] == run_id
    fields = {
        "step",
        "attempt",
        "status",
        "started_at",
        "ended_at",
        "duration_ms",
        "input",
        "output",
        "error_type",
        "error_message",
        "model",
        "prompt_tokens",
        "completion_tokens",
        "cost_usd",
        "cache_hit",
        "program_version",
        "lm_calls",
    }
    for step in shown["steps"]:
        assert fields <= step.keys()
    code, out, _ = run_cli(["runs", "show", run_id], capsys, monkeypatch)
    assert code == 0 and "research" in out and "personalization" in out and "output" in out
    code, out, _ = run_cli(["runs", "list"], capsys, monkeypatch)
    assert code == 0 and "acc-001" in out


def test_runs_show_unknown_id(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(["runs", "show", "run_nope"], capsys, monkeypatch)
    assert code == 2 and "No run" in err


def test_lm_check_fake(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["lm", "check", "--lm", "fake"], capsys, monkeypatch)
    assert code == 0 and "deterministic offline" in out and "ok in" in out


def test_missing_key_fails_fast_naming_the_env_var(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.lm import key_env

    monkeypatch.delenv(key_var := key_env("openai/gpt-4o-mini"), raising=False)
    code, _, err = run_cli(
        ["run", str(data_path("accounts_demo.jsonl")), "--lm", "openai/gpt-4o-mini"],
        capsys,
        monkeypatch,
    )
    assert code == 2
    assert key_var in err and "Traceback" not in err


def test_bad_seller_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    seller = tmp_path / "seller.yaml"
    seller.write_text("company: X\nproduct: Y\n")
    code, _, err = run_cli(
        ["run", str(data_path("accounts_demo.jsonl")), "--lm", "fake", "--seller", str(seller)],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "value_propositions" in err


def test_usage_error_exits_2(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, _ = run_cli(["run"], capsys, monkeypatch)
    assert code == 2


def test_run_and_score_use_the_promoted_program(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.config import Settings
    from accountflow.pipeline import AccountPipeline
    from accountflow.programs import promote, save_program

    settings = Settings.load()
    program = AccountPipeline()
    program.analyst.predict.signature = program.analyst.predict.signature.with_instructions(
        "Score the fit of the account against the seller's ideal customer profile."
    )
    saved = save_program(settings, program, "analysis")
    promote(settings, saved.version)
    demo = str(data_path("accounts_demo.jsonl"))
    code, out, err = run_cli(
        ["run", demo, "--lm", "fake", "--limit", "1", "--json"], capsys, monkeypatch
    )
    assert code == 0, err
    assert json.loads(out)["results"][0]["program_version"] == saved.version
    code, out, err = run_cli(
        [
            "score",
            demo,
            "--out",
            str(tmp_path / "o.jsonl"),
            "--lm",
            "fake",
            "--limit",
            "1",
            "--program",
            "default",
            "--json",
            "--quiet",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    row = json.loads((tmp_path / "o.jsonl").read_text().splitlines()[0])
    assert row["program_version"] == AccountPipeline().version() != saved.version


def test_help_imports_no_heavy_libraries() -> None:
    """`accountflow --help` stays fast: DSPy, DuckDB, MLflow and litellm load on first use."""
    import subprocess
    import sys

    code = (
        "import sys, accountflow, accountflow.cli; "
        "print(sorted(m for m in ('dspy', 'duckdb', 'mlflow', 'litellm') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_error_text_is_printed_as_written_not_as_markup(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "accounts[local].csv"  # brackets rich would read as a style tag
    code, _, err = run_cli(
        ["score", str(missing), "--out", str(tmp_path / "o.csv"), "--lm", "fake"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "accounts[local].csv" in err and err.count("\n") == 1
