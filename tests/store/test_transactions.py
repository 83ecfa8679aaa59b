"""Store.transaction(), the one-store-per-file rule, and literal id-prefix lookups."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from accountflow import Store
from accountflow.config import Settings
from accountflow.errors import ConfigError, NotFoundError
from accountflow.models import RunStatus
from accountflow.programs import get_program
from accountflow.store.codec import like_prefix, utcnow
from accountflow.store.programs import ProgramVersion


def _statuses(store: Store) -> dict[str, str]:
    return {r["run_id"]: r["status"] for r in store.query("SELECT run_id, status FROM runs")}


def _run(store: Store, run_id: str) -> None:
    store.create_run(run_id, "a1", "Acme", "fake", "v1", None, {"account_id": "a1"})


# ------------------------------------------------------------------ transactions
def test_a_transaction_commits_all_its_writes_together(tmp_path: Path) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        _run(store, "r1")
        with store.transaction() as cur:
            cur.execute("UPDATE runs SET status = 'failed' WHERE run_id = 'r1'")
            store.execute("UPDATE runs SET error = 'boom' WHERE run_id = 'r1'")  # joins it
            # inside, this thread reads its own uncommitted writes
            assert store.query("SELECT error FROM runs WHERE run_id = 'r1'")[0]["error"] == "boom"
        row = store.get_run("r1")
    assert (row["status"], row["error"]) == ("failed", "boom")


def test_a_transaction_rolls_back_when_its_block_raises(tmp_path: Path) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        _run(store, "r1")
        with pytest.raises(RuntimeError, match="midway"):
            with store.transaction() as cur:
                cur.execute("UPDATE runs SET status = 'failed' WHERE run_id = 'r1'")
                with store.transaction() as inner:  # nested: part of the same transaction
                    inner.execute("DELETE FROM runs WHERE run_id = 'r1'")
                raise RuntimeError("midway")
        assert _statuses(store) == {"r1": "running"}
        store.execute("UPDATE runs SET status = 'failed' WHERE run_id = 'r1'")  # still usable
        assert _statuses(store) == {"r1": "failed"}


def test_a_transaction_comes_after_the_queued_write_behind_records(tmp_path: Path) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        store.write_behind(True, interval_s=60)  # nothing is written until something flushes
        _run(store, "r1")  # queued, not in the table yet
        with store.transaction() as cur:
            cur.execute("UPDATE runs SET status = 'rejected' WHERE run_id = 'r1'")
        store.write_behind(False)  # the queued insert must not come back over the update
        assert _statuses(store) == {"r1": "rejected"}


def test_a_transaction_holds_the_writer_until_it_ends(tmp_path: Path) -> None:
    with Store(tmp_path / "t.duckdb") as store:
        _run(store, "r1")
        order: list[str] = []
        inside, release = threading.Event(), threading.Event()

        def other_writer() -> None:
            inside.wait(5)
            store.finish_run("r1", RunStatus.succeeded, None, None)
            order.append("other")

        thread = threading.Thread(target=other_writer)
        thread.start()
        with store.transaction() as cur:
            inside.set()
            release.wait(0.3)  # the other writer is blocked meanwhile
            cur.execute("UPDATE runs SET status = 'failed' WHERE run_id = 'r1'")
            order.append("transaction")
        thread.join(5)
        assert order == ["transaction", "other"]
        assert _statuses(store) == {"r1": "succeeded"}


# ------------------------------------------------------------------ one store per file
def test_opening_a_file_twice_in_one_process_shares_one_store(tmp_path: Path) -> None:
    path = tmp_path / "s" / "a.duckdb"
    first = Store(path)
    again = Store(tmp_path / "s" / ".." / "s" / "a.duckdb")  # another spelling, the same file
    assert again is first
    _run(again, "r1")
    again.close()  # one of two opens given back: the store stays open
    assert not first.closed and first.get_run("r1")["run_id"] == "r1"
    first.close()
    assert first.closed
    with Store(path) as reopened:  # after the last close, a fresh store on the same file
        assert reopened is not first
        assert reopened.get_run("r1")["status"] == "running"


def test_threads_opening_the_same_file_get_the_same_store(tmp_path: Path) -> None:
    path = tmp_path / "a.duckdb"
    opened: list[Store] = []
    threads = [threading.Thread(target=lambda: opened.append(Store(path))) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(s) for s in opened}) == 1
    for store in opened:
        store.close()
    assert opened[0].closed


def test_a_second_open_with_another_memory_limit_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb", memory_limit="64MB") as store:
        with pytest.raises(ConfigError, match="already open in this process"):
            Store(tmp_path / "a.duckdb", memory_limit="1GB")
        assert Store(tmp_path / "a.duckdb", memory_limit="64MB") is store
        store.close()  # the matching close of the line above


# ------------------------------------------------------------------ LIKE prefixes
def test_like_prefix_escapes_the_wildcards() -> None:
    assert like_prefix("ab") == "ab%"
    assert like_prefix("a%b_c\\") == "a\\%b\\_c\\\\%"


def _program(store: Store, version: str) -> None:
    store.programs.save(
        ProgramVersion(
            version=version, target="pipeline", path=f"/p/{version}.json", created_at=utcnow()
        )
    )


def test_a_program_prefix_with_wildcards_matches_no_other_version(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        for version in ("abc123", "abd456", "a_c789"):
            _program(store, version)
        found = {p: [e.version for e in store.programs.by_prefix(p)] for p in ("%", "a%", "a_")}
        assert found == {"%": [], "a%": [], "a_": ["a_c789"]}
        assert [e.version for e in store.programs.by_prefix("abc")] == ["abc123"]
        assert len(store.programs.by_prefix("ab")) == 2
        settings = Settings.load(home=tmp_path)
        with pytest.raises(NotFoundError):
            get_program(settings, "%", store=store)
        assert get_program(settings, "abd", store=store).version == "abd456"


def test_run_eval_and_campaign_prefixes_are_literal_too(tmp_path: Path) -> None:
    with Store(tmp_path / "a.duckdb") as store:
        _run(store, "run_1")
        _run(store, "runx2")
        assert store.resolve_run_id("run_") == "run_1"  # `_` is not "any character"
        with pytest.raises(NotFoundError, match="No run"):
            store.resolve_run_id("%")
        with pytest.raises(NotFoundError, match="No eval"):
            store.evals.resolve_id("%")
        with pytest.raises(NotFoundError, match="No campaign"):
            store.campaigns.resolve("%")
