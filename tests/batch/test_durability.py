"""Issue 12, items 1, 11 and 14: a store that cannot write stops the batch at once and says
why in one line; unwritable homes are named for what they are; the counters add up."""

from __future__ import annotations

import json
import stat
from pathlib import Path
from typing import Any

import duckdb
import pytest

from accountflow.batch import BatchSummary
from accountflow.store.db import Database
from tests.batch.test_score import _file
from tests.cli_runner import run_cli
from tests.resilience.stub_server import StubServer, slow

FAKE = ("--lm", "fake")


def _score_args(accounts: Path, out: Path, stub: StubServer) -> list[str]:
    return [
        "score",
        str(accounts),
        "--out",
        str(out),
        "--lm",
        "openai/gpt-4o-mini",
        "--api-base",
        stub.url,
        "--concurrency",
        "4",
        "--quiet",
    ]


def test_a_failed_flush_stops_the_batch_at_once_and_a_rerun_resumes(
    tmp_path: Path,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub = StubServer(lambda n, body: slow(0.03)).start()
    try:
        accounts, _, _ = _file(tmp_path, n=40)
        out = tmp_path / "out.jsonl"
        real_upsert = Database._upsert_with
        state: dict[str, Any] = {"flushes": 0, "requests_at_failure": None}

        def full_disk(cur: duckdb.DuckDBPyConnection, records: Any) -> None:
            state["flushes"] += 1
            if state["flushes"] > 6:
                if state["requests_at_failure"] is None:
                    state["requests_at_failure"] = len(stub.requests)
                raise duckdb.IOException(
                    f'Could not write file "{home}/accountflow.duckdb.wal": No space left on device'
                )
            real_upsert(cur, records)

        monkeypatch.setattr(Database, "_upsert_with", staticmethod(full_disk))
        code, _, err = run_cli(_score_args(accounts, out, stub), capsys, monkeypatch)
        assert code == 2, err
        assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
        assert str(home / "accountflow.duckdb") in err and "the disk is full" in err
        # the step each of the 4 workers was in may finish its calls (a step makes 1-3 with
        # rule feedback); no new step and no new account starts
        assert state["requests_at_failure"] is not None
        assert len(stub.requests) - state["requests_at_failure"] <= 4 * 3

        monkeypatch.setattr(Database, "_upsert_with", staticmethod(real_upsert))
        con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
        recorded = {
            r[0]
            for r in con.execute(
                "SELECT account_id FROM runs WHERE status = 'succeeded' AND result IS NOT NULL"
            ).fetchall()
        }
        con.close()
        listed = [json.loads(line)["account_id"] for line in out.read_text().splitlines()]
        assert set(listed) <= recorded  # the output never lists what the store did not record

        code, stdout, err = run_cli(
            [*_score_args(accounts, out, stub), "--json"], capsys, monkeypatch
        )
        summary = json.loads(stdout)
        assert summary["succeeded"] == 40 and summary["skipped"] >= len(listed), err
        rows = [json.loads(line)["account_id"] for line in out.read_text().splitlines()]
        assert sorted(rows) == sorted(f"a{i:04d}" for i in range(40))
        con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
        assert (
            con.execute(
                "SELECT account_id FROM runs WHERE status = 'succeeded' "
                "GROUP BY 1 HAVING count(*) > 1"
            ).fetchall()
            == []
        )
        assert con.execute("SELECT status FROM batches").fetchall() == [("completed",)]
    finally:
        stub.stop()


def test_a_read_only_home_is_named_as_read_only_not_in_use(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "ro"
    home.mkdir()
    accounts, _, _ = _file(tmp_path, n=3)

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise duckdb.IOException(
            f'Cannot open file "{home}/accountflow.duckdb": Read-only file system'
        )

    monkeypatch.setattr(duckdb, "connect", refuse)
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(tmp_path / "o.csv"), *FAKE, "--home", str(home)],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "in use" not in err and "read-only" in err, err
    assert str(home / "accountflow.duckdb") in err and len(err.strip().splitlines()) == 1


def test_a_home_that_cannot_be_created_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    parent = tmp_path / "locked"
    parent.mkdir()
    accounts, _, _ = _file(tmp_path, n=3)
    real_mkdir = Path.mkdir

    def read_only_mount(self: Path, *args: Any, **kwargs: Any) -> None:
        if str(self).startswith(str(parent)):
            raise OSError(30, "Read-only file system", str(self))
        real_mkdir(self, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", read_only_mount)
    home = parent / "missing" / "home"
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(tmp_path / "o.csv"), *FAKE, "--home", str(home)],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "Traceback" not in err, err
    assert str(home) in err and "read-only" in err and len(err.strip().splitlines()) == 1
    assert stat.S_ISDIR(parent.stat().st_mode)


def test_a_slow_batch_shows_seconds_per_account() -> None:
    slow_batch = BatchSummary(batch="b", output="o", rejected_file=None, succeeded=3)
    slow_batch.elapsed_s = 30.0
    assert slow_batch.rate_text == "10.0 s/account"
    fast = BatchSummary(batch="b", output="o", rejected_file=None, succeeded=30, elapsed_s=3.0)
    assert fast.rate_text == "10.00 accounts/s"


def test_rejected_contact_rows_do_not_push_the_bar_past_the_accounts(
    tmp_path: Path, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow import cli

    accounts, contacts, _ = _file(tmp_path, n=10)
    contacts.write_text(
        "account_id,contact_id,name,email,title,is_primary\n"
        + "".join(f"a{i:04d},c{i},N {i},bad-email-{i},CTO,true\n" for i in range(10)),
        encoding="utf-8",
    )
    seen: list[tuple[float, float | None]] = []
    real_update = cli._BatchProgress.update

    def spy(self: Any, s: Any, result: Any) -> None:
        real_update(self, s, result)
        task = self.bar.tasks[0]
        seen.append((task.completed, task.total))

    monkeypatch.setattr(cli._BatchProgress, "update", spy)
    progress = cli._BatchProgress(accounts)
    from accountflow.batch import BatchScorer
    from accountflow.config import Settings
    from accountflow.orchestrator import Orchestrator
    from accountflow.store import Store

    with Store(home / "accountflow.duckdb") as store:
        orch = Orchestrator.from_settings(Settings.load(home=home, lm="fake"), store)
        summary = BatchScorer(
            orch,
            accounts,
            tmp_path / "o.csv",
            contacts=contacts,
            concurrency=2,
            on_result=progress.update,
        ).run()
    assert summary.rejected > 10  # the account file's bad rows and the 10 contact rows
    assert seen and all(total is not None and done <= total for done, total in seen), seen
    assert seen[-1][0] == seen[-1][1]


def test_a_full_output_disk_is_one_line_and_the_batch_is_not_left_running(
    tmp_path: Path,
    home: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from accountflow import batch as batch_module

    real_open = batch_module.open_writer

    def open_on_a_full_disk(path: Path) -> Any:
        writer = real_open(path)
        real_write, written = writer.write, [0]

        def write(row: Any) -> None:
            written[0] += 1
            if written[0] > 3:
                raise OSError(28, "No space left on device")
            real_write(row)

        writer.write = write
        return writer

    monkeypatch.setattr(batch_module, "open_writer", open_on_a_full_disk)
    accounts, _, _ = _file(tmp_path, n=20)
    out = tmp_path / "out.jsonl"
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(out), *FAKE, "--quiet"], capsys, monkeypatch
    )
    assert code == 2 and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert str(out) in err and "the disk is full" in err
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    assert con.execute("SELECT status FROM batches").fetchall() == [("output",)]
    con.close()
    monkeypatch.setattr(batch_module, "open_writer", real_open)
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(out), *FAKE, "--quiet"], capsys, monkeypatch
    )
    assert code == 1, err  # the file's rejected rows
    assert len(out.read_text().splitlines()) == 20


def test_ctrl_c_with_16_workers_exits_130_quickly_with_every_finished_step_recorded(
    tmp_path: Path, home: Path
) -> None:
    """Issue 12 item 18: SIGINT sometimes ended in SIGABRT or hung for 40 s."""
    import signal
    import time

    from tests.batch.test_score import _spawn, _wait_for_rows

    accounts, _, _ = _file(tmp_path, n=80)
    out = tmp_path / "out.jsonl"
    args = ["score", str(accounts), "--out", str(out), "--lm", "fake?latency_ms=400"]
    proc = _spawn([*args, "--concurrency", "16"], home)
    _wait_for_rows(out, 3, proc)
    proc.send_signal(signal.SIGINT)
    sent = time.monotonic()
    _, stderr = proc.communicate(timeout=60)
    waited = time.monotonic() - sent
    text = stderr.decode()
    assert proc.returncode == 130, text
    assert waited < 8, waited  # the 5 s grace (STOP_GRACE_S) for steps in flight, then exit
    assert "resume with: accountflow resume --batch" in text and "Traceback" not in text
    assert "interrupted" in text
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    assert con.execute("SELECT count(*) FROM runs WHERE status = 'running'").fetchone() == (0,)
    assert con.execute("SELECT count(*) FROM steps WHERE status = 'running'").fetchone() == (0,)
    listed = {json.loads(line)["account_id"] for line in out.read_text().splitlines()}
    done = {
        r[0]
        for r in con.execute(
            "SELECT account_id FROM runs WHERE status = 'succeeded' AND result IS NOT NULL"
        ).fetchall()
    }
    assert listed == done
