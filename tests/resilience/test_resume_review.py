"""Resume after a crash (a real `kill -9`), the review gate through the CLI, and stats."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from accountflow import Store, load_accounts, load_seller
from accountflow.datasets import path as data_path
from accountflow.lm import fake_lm
from accountflow.models import RunStatus, StepStatus
from accountflow.orchestrator import Orchestrator, ReviewPolicy
from tests.cli_runner import run_cli


def _acc(account_id: str):
    return next(
        a
        for a in load_accounts(data_path("accounts_demo.jsonl")).accounts
        if a.account_id == account_id
    )


def _cached_answers(cache_dir: Path) -> int:
    """How many LM answers the other process has written to its DSPy disk cache."""
    total = 0
    for db in cache_dir.glob("**/cache.db"):
        try:
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.1) as con:
                total += con.execute("SELECT count(*) FROM Cache").fetchone()[0]
        except sqlite3.Error:
            pass
    return total


def test_resume_after_kill_9_finishes_without_repeating_finished_steps(home: Path) -> None:
    env = {**os.environ, "ACCOUNTFLOW_HOME": str(home)}
    cmd = [
        sys.executable,
        "-m",
        "accountflow.cli",
        "run",
        str(data_path("accounts_demo.jsonl")),
        "--account-id",
        "acc-002",
        "--lm",
        "fake?latency_ms=400",
        "--json",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    # kill once two LM answers are in the run's DSPy cache: research and analysis are done,
    # personalization is in flight
    deadline = time.monotonic() + 90
    while _cached_answers(home / "dspy_cache") < 2:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "the run made no progress"
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL

    store = Store(home / "accountflow.duckdb")  # opening it detects the dead process's run
    (run,) = store.list_runs()
    assert run.status == RunStatus.interrupted
    before = store.get_steps(run.run_id)
    finished = {s.step for s in before if s.status == StepStatus.succeeded}
    assert finished, "the kill came before any step finished: raise ACCOUNTFLOW_TEST_KILL_AFTER"
    assert len(finished) < 4, "the run finished before the kill: lower ACCOUNTFLOW_TEST_KILL_AFTER"

    lm = fake_lm("latency_ms=400")
    result = Orchestrator(store, lm, load_seller()).resume(run.run_id)
    assert result.status == RunStatus.succeeded
    after = store.get_steps(run.run_id)
    new = [s for s in after if s.step_id not in {b.step_id for b in before}]
    assert not {s.step for s in new} & finished  # no finished step ran again
    succeeded = [s.step for s in after if s.status == StepStatus.succeeded]
    assert sorted(succeeded) == sorted(["research", "analysis", "personalization", "colleague"])

    clean = Orchestrator(
        Store(home / "clean.duckdb"), fake_lm("clean", cache=False), load_seller()
    ).run(_acc("acc-002"))
    assert result.analysis == clean.analysis
    assert result.outreach == clean.outreach
    assert result.colleague_messages == clean.colleague_messages


def test_review_gate_approve_regenerate_and_reject_through_the_cli(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    demo = str(data_path("accounts_demo.jsonl"))
    code, out, err = run_cli(
        ["run", demo, "--lm", "fake", "--limit", "2", "--review", "always", "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    results = json.loads(out)["results"]
    assert [r["status"] for r in results] == ["awaiting_review", "awaiting_review"]
    assert all(r["outreach"] and not r["colleague_messages"] for r in results)
    first, second = (r["run_id"] for r in results)

    code, out, _ = run_cli(["review", "list", "--json"], capsys, monkeypatch)
    assert {r["run_id"] for r in json.loads(out)} == {first, second}

    # regenerate: the note reaches the model as feedback, and the run returns to review
    code, out, err = run_cli(
        [
            "review",
            "reject",
            first,
            "--note",
            "Mention the Snowflake move.",
            "--regenerate",
            "--reviewer",
            "dana",
            "--lm",
            "fake",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    code, out, _ = run_cli(["review", "show", first, "--json"], capsys, monkeypatch)
    shown = json.loads(out)
    assert shown["status"] == "awaiting_review" and "regenerated" in shown["reason"]
    assert [(d["decision"], d["reviewer"], d["regenerate"]) for d in shown["decisions"]] == [
        ("reject", "dana", True)
    ]
    store_steps = _steps(home, first)
    personalization = [s for s in store_steps if s["step"] == "personalization"]
    assert [s["status"] for s in personalization] == ["superseded", "succeeded"]
    assert personalization[1]["input"]["reviewer_note"] == "Mention the Snowflake move."

    code, out, err = run_cli(["review", "approve", first, "--lm", "fake"], capsys, monkeypatch)
    assert code == 0, err
    code, out, _ = run_cli(["runs", "show", first, "--json"], capsys, monkeypatch)
    shown = json.loads(out)
    assert shown["run"]["status"] == "succeeded"
    assert [s["step"] for s in shown["steps"] if s["status"] == "succeeded"] == [
        "research",
        "analysis",
        "personalization",
        "colleague",
    ]

    code, _, err = run_cli(["review", "reject", second], capsys, monkeypatch)
    assert code == 2  # --note is required
    code, out, err = run_cli(
        ["review", "reject", second, "--note", "wrong person"], capsys, monkeypatch
    )
    assert code == 0, err
    code, _, err = run_cli(["review", "approve", second, "--lm", "fake"], capsys, monkeypatch)
    assert code == 2 and "not awaiting review" in err and err.count("\n") == 1

    code, out, _ = run_cli(["stats", "--json"], capsys, monkeypatch)
    stats = json.loads(out)
    assert stats["runs_by_status"] == {"succeeded": 1, "rejected": 1}
    assert stats["success_rate"] == 0.5 and stats["awaiting_review"] == 0
    assert {s["step"] for s in stats["steps"]} >= {"research", "analysis", "personalization"}


def _steps(home: Path, run_id: str) -> list[dict]:
    with Store(home / "accountflow.duckdb") as store:
        return [s.model_dump(mode="json") for s in store.get_steps(run_id)]


def test_low_confidence_review_policy() -> None:
    from accountflow.models import AccountAnalysis, PainPoint

    pain = [PainPoint(title="t", description="d", evidence="e", severity=3)]
    policy = ReviewPolicy("low_confidence", min_confidence=0.6, min_fit=50)
    sure = AccountAnalysis(
        pain_points=pain,
        opportunities=[],
        fit_score=80,
        fit_rationale="x",
        approach="pain_point_focused",
        confidence=0.9,
    )
    assert policy.needs_review(sure, 0) is None
    assert "retries" in (policy.needs_review(sure, 1) or "")
    unsure = sure.model_copy(update={"confidence": 0.3})
    assert "confidence" in (policy.needs_review(unsure, 0) or "")
    weak = sure.model_copy(update={"fit_score": 20})
    assert "fit score" in (policy.needs_review(weak, 0) or "")
    assert ReviewPolicy("never").needs_review(unsure, 3) is None


def test_stats_on_an_empty_store(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(["stats", "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["runs_total"] == 0
    code, out, _ = run_cli(["stats"], capsys, monkeypatch)
    assert code == 0 and "success rate" in out


def test_bad_review_mode_is_a_config_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(
        ["run", str(data_path("accounts_demo.jsonl")), "--lm", "fake", "--review", "sometimes"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "sometimes" in err and "low_confidence" in err
