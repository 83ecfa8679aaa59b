"""The "resume with:" hint resumes the same batch when run as printed (state dir, model,
endpoint, seller and review mode included), `resume` keeps the recorded endpoint even when
ACCOUNTFLOW_API_BASE names another, and a run resumed on another model records that model."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli
from tests.resilience.stub_server import OK, SERVER_ERROR, StubServer

DEMO = str(data_path("accounts_demo.jsonl"))


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def fail_fast(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCOUNTFLOW_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("ACCOUNTFLOW_RETRY_BASE_DELAY", "0")


def _query(home: Path, sql: str) -> list[tuple]:
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_the_printed_hint_resumes_the_same_batch_from_anywhere(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCOUNTFLOW_BREAKER_THRESHOLD", "2")
    monkeypatch.delenv("ACCOUNTFLOW_HOME")
    # another model in the environment: a hint without the batch's model would run this one
    monkeypatch.setenv("ACCOUNTFLOW_LM", "fake")
    home = tmp_path / "state"
    seller = tmp_path / "seller.yaml"
    demo = Path(str(data_path("seller_demo.yaml"))).read_text(encoding="utf-8")
    seller.write_text(demo.replace("Beacon", "Lighthouse"), encoding="utf-8")
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    model = "fake?fail_rate=1&seed=3"
    code, _, err = run_cli(
        [
            "score",
            DEMO,
            "--out",
            str(tmp_path / "out.jsonl"),
            "--lm",
            model,
            "--home",
            str(home),
            "--seller",
            str(seller),
            "--review",
            "always",
            "--concurrency",
            "1",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 1, err
    (hint,) = [line for line in err.splitlines() if line.startswith("resume with: ")]
    args = shlex.split(hint.removeprefix("resume with: "))
    assert args[0] == "accountflow"
    first_runs = _query(home, "SELECT run_id FROM runs WHERE status = 'interrupted'")
    assert first_runs
    attempts = (
        "SELECT count(*) FROM steps WHERE status = 'failed' AND run_id IN (SELECT run_id "
        "FROM runs WHERE status = 'interrupted' OR status = 'failed')"
    )
    before = _query(home, attempts)[0][0]

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # no ./.accountflow here: the hint must name the state dir
    code, out, err = run_cli([*args[1:], "--json"], capsys, monkeypatch)
    assert json.loads(out)["batch"] == args[args.index("--batch") + 1], err
    # the same runs went on (one run per account, more attempts), none started afresh
    assert _query(home, "SELECT count(*) = count(DISTINCT account_id) FROM runs") == [(True,)]
    assert all(
        _query(home, f"SELECT count(*) FROM runs WHERE run_id = '{r}'") == [(1,)]
        for (r,) in first_runs
    )
    assert _query(home, attempts)[0][0] > before, err
    assert not (elsewhere / ".accountflow").exists()
    assert {m for (m,) in _query(home, "SELECT DISTINCT model FROM runs")} == {
        "fake?fail_rate=1&seed=3"
    }
    assert _query(home, "SELECT DISTINCT review FROM runs") == [("always",)]


def test_resume_batch_keeps_the_recorded_endpoint_over_the_environment(
    home: Path,
    tmp_path: Path,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text("account_id,company_name\na1,Acme Robotics\n")
    stub.script = lambda n, body: SERVER_ERROR
    args = ["score", str(accounts), "--out", str(tmp_path / "out.jsonl"), "--json"]
    code, out, _ = run_cli(
        [*args, "--lm", "openai/gpt-4o-mini", "--api-base", stub.url], capsys, monkeypatch
    )
    batch = json.loads(out)["batch"]
    assert code == 1 and len(stub.requests) == 1

    # another endpoint in the environment (nothing listens there) must not replace the record
    monkeypatch.setenv("ACCOUNTFLOW_API_BASE", "http://127.0.0.1:9/v1")
    stub.script = lambda n, body: OK
    code, out, err = run_cli(["resume", "--batch", batch, "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["succeeded"] == 1, err
    assert len(stub.requests) == 3


def test_resume_run_keeps_the_recorded_endpoint_over_the_environment(
    home: Path,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub.script = lambda n, body: SERVER_ERROR
    code, out, _ = run_cli(
        ["run", DEMO, "--lm", "openai/gpt-4o-mini", "--api-base", stub.url, "--limit=1", "--json"],
        capsys,
        monkeypatch,
    )
    run_id = json.loads(out)["results"][0]["run_id"]
    monkeypatch.setenv("ACCOUNTFLOW_API_BASE", "http://127.0.0.1:9/v1")
    stub.script = lambda n, body: OK
    code, out, err = run_cli(["resume", run_id, "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["status"] == "succeeded", err


def test_a_run_resumed_on_another_model_records_that_model(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(
        ["run", DEMO, "--lm", "fake?fail_rate=1", "--limit", "1", "--json"], capsys, monkeypatch
    )
    run_id = json.loads(out)["results"][0]["run_id"]
    before = _query(home, f"SELECT identity FROM runs WHERE run_id = '{run_id}'")
    code, out, err = run_cli(["resume", run_id, "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 0, err
    assert json.loads(out)["model"] == "fake"
    (row,) = _query(home, f"SELECT model, identity FROM runs WHERE run_id = '{run_id}'")
    assert row[0] == "fake" and (row[1],) != before[0]
