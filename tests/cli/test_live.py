"""Watching a batch: `stats` and `runs list` from another process read the live snapshot the
running `score` publishes, instead of failing because the store is in use."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from accountflow.datasets import path as data_path
from accountflow.stats import LiveSnapshot, Stats, live_path
from tests.cli_runner import run_cli

SECRET = "sekrit-token-123"


@pytest.fixture
def batch(tmp_path: Path, home: Path) -> Iterator[subprocess.Popen[str]]:
    """A slow `score` in a subprocess (~0.2 s per LM call, one worker: about 10 s)."""
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(data_path("accounts_demo.jsonl").read_text())
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "accountflow.cli",
            "score",
            str(accounts),
            "--out",
            str(tmp_path / "out.jsonl"),
            "--lm",
            "fake?latency_ms=200",
            "--api-base",
            f"http://user:{SECRET}@127.0.0.1:9/v1?token={SECRET}",
            "--concurrency",
            "1",
            "--batch",
            "watched",
            "--home",
            str(home),
            "--quiet",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "ACCOUNTFLOW_HOME"},
    )
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=30)


def _wait_for(predicate: object, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_stats_and_runs_list_show_live_figures_while_a_batch_holds_the_store(
    batch: subprocess.Popen[str],
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    snapshot = live_path(home / "accountflow.duckdb")
    # the test process must not open the store before the batch holds it
    _wait_for(lambda: snapshot.exists() or batch.poll() is not None, 60, "the first snapshot")
    assert batch.poll() is None, batch.communicate()
    assert SECRET not in snapshot.read_text()

    label = f"live snapshot from PID {batch.pid} at "
    code, out, err = run_cli(["stats", "--json", "--home", str(home)], capsys, monkeypatch)
    assert code == 0, err
    assert label in err and "in use by a batch" in err
    first = json.loads(out)
    assert first["live_snapshot"]["pid"] == batch.pid

    def a_run_finished() -> bool:
        code, out, err = run_cli(
            ["runs", "list", "--json", "--home", str(home)], capsys, monkeypatch
        )
        assert code == 0 and label in err, err
        return any(r["status"] == "succeeded" for r in json.loads(out))

    _wait_for(a_run_finished, 30, "a succeeded run in the live snapshot")
    code, out, err = run_cli(
        ["stats", "--batch", "watched", "--json", "--home", str(home)], capsys, monkeypatch
    )
    assert code == 0 and label in err, err
    later = json.loads(out)
    assert later["runs_by_status"].get("succeeded", 0) >= 1  # the figures move
    assert later["live_snapshot"]["taken_at"] > first["live_snapshot"]["taken_at"]
    code, out, err = run_cli(["runs", "list", "--home", str(home)], capsys, monkeypatch)
    assert code == 0 and "succeeded" in out and label in err
    assert SECRET not in snapshot.read_text()

    code, _, err = run_cli(["stats", "--batch", "other", "--home", str(home)], capsys, monkeypatch)
    assert code == 2 and f"in use by PID {batch.pid}" in err and "watched" in err

    batch.send_signal(signal.SIGINT)  # the batch ends: its snapshot goes with it
    batch.communicate(timeout=60)
    assert not snapshot.exists()
    code, out, err = run_cli(["stats", "--json", "--home", str(home)], capsys, monkeypatch)
    assert code == 0 and "live snapshot" not in err and "live_snapshot" not in json.loads(out)


def test_a_snapshot_left_by_a_dead_process_is_never_shown(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process holds the store and a dead batch left its snapshot behind: the reader
    says the store is in use rather than show the old figures as live."""
    db = home / "accountflow.duckdb"
    hold = (
        f"from accountflow import Store; s = Store({str(db)!r}); print('open', flush=True); input()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", hold], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "open"
        empty = Stats(
            runs_total=0, runs_by_status={}, success_rate=None, accounts=0,
            lm_calls_per_account=None, tokens_per_account=None, cost_per_account_usd=None,
            cost_total_usd=None, cache_hit_rate=None, steps=[], top_errors=[], awaiting_review=0,
        )  # fmt: skip
        stale = LiveSnapshot(
            pid=holder.pid + 10_000_000,  # no such process
            taken_at=datetime.now(timezone.utc),
            batch="gone",
            stats=empty,
            batch_stats=empty,
            runs=[],
        )
        live_path(db).write_text(stale.model_dump_json())
        code, _, err = run_cli(["runs", "list", "--home", str(home)], capsys, monkeypatch)
        assert code == 2 and f"in use by PID {holder.pid}" in err and "live" not in err
        live_path(db).write_text(stale.model_copy(update={"pid": holder.pid}).model_dump_json())
        code, _, err = run_cli(["runs", "list", "--home", str(home)], capsys, monkeypatch)
        assert code == 0 and "live snapshot" in err  # the same file from a live publisher
    finally:
        holder.kill()
        holder.wait(timeout=30)
