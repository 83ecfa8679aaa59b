"""No outreach for an account the seller's ICP rules out: the writing steps are skipped with
the disqualifier named, and the other accounts of the same run still get theirs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

DEMO = Path(__file__).resolve().parents[2] / "datasets" / "accounts_demo.jsonl"


def test_a_disqualified_account_gets_no_outreach(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    rows = [json.loads(line) for line in DEMO.read_text().splitlines() if line.strip()]
    chosen = [r for r in rows if r["account_id"] in ("acc-001", "acc-009")]
    source = tmp_path / "two.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in chosen))

    code, out, err = run_cli(
        ["run", str(source), "--lm", "fake", "--json", "--home", str(home)], capsys, monkeypatch
    )
    assert code == 0, err
    results = {r["account_id"]: r for r in json.loads(out)["results"]}
    bakery, harborline = results["acc-009"], results["acc-001"]
    assert bakery["analysis"]["fit_score"] < 40
    assert bakery["outreach"] is None and bakery["colleague_messages"] == []
    assert harborline["outreach"] is not None  # the qualified account is still written to

    code, out, err = run_cli(
        ["runs", "show", bakery["run_id"], "--json", "--home", str(home)], capsys, monkeypatch
    )
    steps = {s["step"]: s for s in json.loads(out)["steps"]}
    for step in ("personalization", "colleague"):
        assert steps[step]["status"] == "skipped"
        assert "disqualified (too_small" in steps[step]["error_message"]


def test_review_always_holds_nothing_for_a_disqualified_account(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The review gate holds written outreach; a disqualified account has none to release, so
    its run finishes, and a qualified account in the same run is still held."""
    rows = [json.loads(line) for line in DEMO.read_text().splitlines() if line.strip()]
    source = tmp_path / "two.jsonl"
    chosen = [r for r in rows if r["account_id"] in ("acc-001", "acc-009")]
    source.write_text("".join(json.dumps(r) + "\n" for r in chosen))
    args = ["run", str(source), "--lm", "fake", "--json", "--review", "always"]
    code, out, err = run_cli([*args, "--home", str(tmp_path / "h")], capsys, monkeypatch)
    assert code == 0, err
    status = {r["account_id"]: (r["status"], r["outreach"]) for r in json.loads(out)["results"]}
    assert status["acc-009"] == ("succeeded", None)
    assert status["acc-001"][0] == "awaiting_review" and status["acc-001"][1] is not None
