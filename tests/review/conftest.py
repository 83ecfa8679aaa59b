"""A state dir with three runs awaiting review, made by `score --review always` on the fake
engine; one company is named `<script>alert(1)</script>` (account text is hostile input)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli

HOSTILE = "<script>alert(1)</script>"
BATCH = "review-batch"


def write_accounts(path: Path) -> Path:
    rows = [json.loads(line) for line in data_path("accounts_demo.jsonl").read_text().splitlines()]
    rows = rows[:3]
    rows[2]["company_name"] = HOSTILE
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


@pytest.fixture
def queue_home(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> dict[str, object]:
    accounts = write_accounts(tmp_path / "accounts.jsonl")
    out = tmp_path / "scored.jsonl"
    args = ["score", str(accounts), "--out", str(out), "--lm", "fake", "--review", "always"]
    code, _, err = run_cli([*args, "--batch", BATCH, "--quiet"], capsys, monkeypatch)
    assert code in (0, 2), err
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["status"] for r in rows] == ["awaiting_review"] * 3
    return {"home": home, "accounts": accounts, "out": out, "args": args, "rows": rows}
