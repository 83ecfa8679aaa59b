"""`accountflow batches list|show` (which the CLI's messages point to) and `lm check` with
`--home` and `--json`, like every command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli


def test_batches_list_and_show(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(["batches", "list"], capsys, monkeypatch)
    assert code == 0 and "No batches" in out
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,company_name\na1,Acme Robotics\n")
    args = ["score", str(accounts), "--out", str(tmp_path / "o.csv"), "--lm", "fake", "--json"]
    code, out, _ = run_cli(args, capsys, monkeypatch)
    name = json.loads(out)["batch"]

    code, out, _ = run_cli(["batches", "list", "--json"], capsys, monkeypatch)
    (row,) = json.loads(out)
    assert row["name"] == name and row["status"] == "completed" and row["model"] == "fake"
    code, out, _ = run_cli(["batches", "list"], capsys, monkeypatch)
    assert code == 0 and name in out

    code, out, _ = run_cli(["batches", "show", name, "--json"], capsys, monkeypatch)
    shown = json.loads(out)
    assert shown["batch"]["succeeded"] == 1 and shown["runs_by_status"] == {"succeeded": 1}
    code, out, _ = run_cli(["batches", "show", name], capsys, monkeypatch)
    assert code == 0 and "accountflow resume --batch" in out

    code, _, err = run_cli(["batches", "show", "nope"], capsys, monkeypatch)
    assert code == 2 and "accountflow batches list" in err
    code, _, err = run_cli(["resume", "--batch", "nope"], capsys, monkeypatch)
    assert code == 2 and "accountflow batches list" in err


def test_lm_check_takes_home_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run_cli(
        ["lm", "check", "--lm", "fake", "--home", str(tmp_path / "h"), "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["model"] == "fake" and report["backend"] and report["answer"]
    assert report["seconds"] >= 0
