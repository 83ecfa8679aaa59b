"""The DuckDB store: migrations, the one-writer lock message, interrupted runs."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from accountflow import Store
from accountflow.errors import StoreInUseError
from accountflow.models import RunStatus, StepStatus
from accountflow.store.db import utcnow
from accountflow.store.migrations import MIGRATIONS
from accountflow.store.records import StepRecord


def test_migrations_are_recorded_and_applied_once(tmp_path: Path) -> None:
    db = tmp_path / "a.duckdb"
    with Store(db) as store:
        rows = store.query("SELECT version, name FROM schema_migrations ORDER BY version")
        assert [r["name"] for r in rows] == [name for name, _ in MIGRATIONS]
    with Store(db) as store:  # reopening applies nothing new
        assert store.migrate() == []


def test_second_process_gets_a_clear_message(tmp_path: Path) -> None:
    db = tmp_path / "locked.duckdb"
    with Store(db):
        code = (
            "import sys\nfrom accountflow import Store\nfrom accountflow.errors import "
            "StoreInUseError\ntry:\n    Store(sys.argv[1])\nexcept StoreInUseError as e:\n"
            "    print(e)\n    sys.exit(2)\n"
        )
        proc = subprocess.run(
            [sys.executable, "-c", code, str(db)], capture_output=True, text=True, timeout=60
        )
    assert proc.returncode == 2, proc.stderr
    assert f"in use by PID {os.getpid()}" in proc.stdout
    assert "Traceback" not in proc.stderr


def test_store_in_use_error_is_user_facing() -> None:
    assert StoreInUseError.exit_code == 2


def test_runs_left_running_by_a_dead_process_become_interrupted(tmp_path: Path) -> None:
    db = tmp_path / "crash.duckdb"
    with Store(db) as store:
        store.create_run("run_dead", "a1", "Acme", "fake", "v1", None, {"account_id": "a1"})
        store.insert_steps(
            [
                StepRecord(
                    step_id="s1",
                    run_id="run_dead",
                    step="research",
                    status=StepStatus.running,
                    started_at=utcnow(),
                )
            ]
        )
        store.execute("UPDATE runs SET pid = 999999999 WHERE run_id = 'run_dead'")
    with Store(db) as store:
        run = store.get_run("run_dead")
        assert run["status"] == RunStatus.interrupted.value
        step = store.get_steps("run_dead")[0]
        assert step.status == StepStatus.failed and step.error_type == "Interrupted"


def test_run_id_prefix_lookup(tmp_path: Path) -> None:
    from accountflow.errors import NotFoundError

    with Store(tmp_path / "p.duckdb") as store:
        store.create_run("run_abc123", "a1", "Acme", "fake", "v1", None, None)
        store.create_run("run_abd456", "a2", "Beta", "fake", "v1", None, None)
        assert store.get_run("run_abc")["run_id"] == "run_abc123"
        with pytest.raises(NotFoundError, match="ambiguous"):
            store.get_run("run_ab")
        with pytest.raises(NotFoundError, match="No run"):
            store.get_run("run_zzz")


def test_concurrent_writers_share_one_connection_safely(tmp_path: Path) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        errors: list[BaseException] = []

        def work(n: int) -> None:
            try:
                for i in range(20):
                    store.create_run(f"run_{n}_{i}", f"a{n}", "X", "fake", "v", None, None)
                    store.list_runs(limit=5)
            except BaseException as exc:  # pragma: no cover - the assertion reports it
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        assert store.query("SELECT count(*) AS n FROM runs")[0]["n"] == 80


def test_write_behind_keeps_the_latest_state_of_every_run_and_step(tmp_path: Path) -> None:
    """Queued writes are merged per run and per step and written in bulk: what a reader sees
    after the flush is what the same calls give when written one by one."""
    hostile = "'; DROP TABLE steps; --"

    def exercise(store: Store) -> tuple[list[dict], list[tuple]]:
        store.create_run("r_old", "a0", "Old", "fake", "v1", None, {"account_id": "a0"})
        store.flush()
        store.create_run("r_new", "a1", hostile, "fake", "v1", "in.csv", {"k": "é"}, batch="b")
        store.insert_steps(
            [
                StepRecord(
                    step_id="s1",
                    run_id="r_new",
                    step="research",
                    status=StepStatus.running,
                    started_at=utcnow(),
                )
            ]
        )
        store.update_step(
            StepRecord(
                step_id="s1",
                run_id="r_new",
                step="research",
                status=StepStatus.succeeded,
                started_at=utcnow(),
                output={"profile": {"summary": hostile}},
                lm_calls=1,
                cost_usd=None,
                cache_hit=True,
            )
        )
        store.finish_run("r_new", RunStatus.succeeded, None, {"fit": 80})
        store.finish_run("r_old", RunStatus.failed, "boom", None)
        store.set_run_status("r_old", RunStatus.running)
        runs = store.query(
            "SELECT run_id, company_name, status, error, ended_at IS NULL AS "
            "open, result, input, batch FROM runs ORDER BY run_id"
        )
        steps = [
            (s.step_id, s.status, s.output, s.lm_calls, s.cache_hit, s.cost_usd)
            for s in store.get_steps("r_new")
        ]
        return runs, steps

    with Store(tmp_path / "direct.duckdb") as direct:
        expected = exercise(direct)
    with Store(tmp_path / "behind.duckdb") as behind:
        behind.write_behind(True, interval_s=60)  # only reads and close flush
        assert exercise(behind) == expected
    runs, steps = expected
    assert [r["status"] for r in runs] == ["succeeded", "running"]
    assert runs[0]["company_name"] == hostile and runs[0]["result"] == {"fit": 80}
    assert runs[1]["open"] and runs[1]["error"] is None
    assert steps == [("s1", StepStatus.succeeded, {"profile": {"summary": hostile}}, 1, True, None)]


def test_duckdb_memory_limit_is_bounded_and_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.errors import ConfigError

    def limit(store: Store) -> str:
        return str(store.query("SELECT current_setting('memory_limit') AS m")[0]["m"])

    with Store(tmp_path / "a.duckdb") as store:
        assert limit(store) == "61.0 MiB"  # 64 MB, as DuckDB prints it
    monkeypatch.setenv("ACCOUNTFLOW_DUCKDB_MEMORY", "1GB")
    with Store(tmp_path / "a.duckdb") as store:
        assert limit(store) == "953.6 MiB"  # 1 GB
    monkeypatch.setenv("ACCOUNTFLOW_DUCKDB_MEMORY", "lots")
    with pytest.raises(ConfigError, match="ACCOUNTFLOW_DUCKDB_MEMORY='lots'"):
        Store(tmp_path / "a.duckdb")


_CRASH_AFTER_RESUME = """
import os, sys
from accountflow import Store
from accountflow.models import RunStatus
store = Store(sys.argv[1])
store.write_behind(True)
for i in range(3):  # a re-run: new runs appended, stored runs resumed and finished
    new = f"n{i}"
    store.create_run(f"run_{new}", new, "New", "fake", "v1", None, {"account_id": new}, "b")
    store.set_run_status(f"run_old{i}", RunStatus.running)
    store.flush()
    store.finish_run(f"run_old{i}", RunStatus.succeeded, None, {"text": "x" * 3000, "i": i})
    store.flush()
os._exit(0)  # what kill -9 leaves: the WAL, no checkpoint
"""


def test_a_resumed_run_keeps_its_result_after_kill_9(tmp_path: Path) -> None:
    """Issue 12 item 2: DuckDB 2.0 replayed the WAL's update of a stored row to NULL when the
    table had a secondary index and rows were appended in between; the result was lost."""
    db = tmp_path / "resumed.duckdb"
    with Store(db) as store:
        for i in range(6):  # three interrupted runs among stored results
            store.create_run(
                f"run_old{i}", f"o{i}", "Old", "fake", "v1", None, {"account_id": f"o{i}"}, "b"
            )
            if i < 3:
                store.finish_run(f"run_old{i}", RunStatus.interrupted, "interrupted", None)
            else:
                store.finish_run(f"run_old{i}", RunStatus.succeeded, None, {"text": "y" * 3000})
    proc = subprocess.run(
        [sys.executable, "-c", _CRASH_AFTER_RESUME, str(db)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    with Store(db) as store:
        for i in range(3):
            run = store.get_run(f"run_old{i}")
            assert run["status"] == "succeeded"
            assert run["result"] == {"text": "x" * 3000, "i": i}
