"""Runs and batches record the model as the user typed it (endpoint included, secrets never),
and `resume` rebuilds exactly that model from the record."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import duckdb
import pytest

from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli
from tests.resilience.stub_server import OK, SERVER_ERROR, StubServer

DEMO = str(data_path("accounts_demo.jsonl"))


@pytest.fixture(autouse=True)
def one_attempt(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failed step stays failed (no retries), so that a resume has something to do."""
    monkeypatch.setenv("ACCOUNTFLOW_MAX_ATTEMPTS", "1")


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def _accounts(tmp_path: Path) -> Path:
    path = tmp_path / "accounts.csv"
    path.write_text("account_id,company_name\na1,Acme Robotics\na2,Beta Freight\n")
    return path


def _recorded(home: Path, table: str) -> set[str]:
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    try:
        return {row[0] for row in con.execute(f"SELECT model FROM {table}").fetchall()}
    finally:
        con.close()


def test_a_run_records_the_fake_as_typed_and_resume_rebuilds_it(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    typed = "fake?seed=4&fail_rate=1"
    code, out, _ = run_cli(
        ["run", DEMO, "--lm", typed, "--limit", "1", "--json"], capsys, monkeypatch
    )
    assert code == 1
    run_id = json.loads(out)["results"][0]["run_id"]
    assert _recorded(home, "runs") == {"fake?fail_rate=1&seed=4"}  # canonical: options sorted

    # No --lm: the recorded model comes back, faults and all (the default would be the
    # embedded model, and `fake/fail_rate=1` would have gone to litellm).
    code, out, err = run_cli(["resume", run_id, "--json"], capsys, monkeypatch)
    assert code == 1, err
    result = json.loads(out)
    assert result["status"] == "failed" and "injected fault" in result["error"]

    code, out, _ = run_cli(["resume", run_id, "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["status"] == "succeeded"


def test_a_batch_records_the_fake_as_typed_and_resume_batch_rebuilds_it(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    args = ["score", str(_accounts(tmp_path)), "--out", str(tmp_path / "out.jsonl"), "--json"]
    code, out, _ = run_cli([*args, "--lm", "fake?fail_rate=1"], capsys, monkeypatch)
    first = json.loads(out)
    assert code == 1 and first["failed"] == 2
    assert _recorded(home, "batches") == {"fake?fail_rate=1"}

    code, out, err = run_cli(["resume", "--batch", first["batch"], "--json"], capsys, monkeypatch)
    again = json.loads(out)
    assert code == 1 and again["failed"] == 2 and again["resumed"] == 2, err

    code, out, _ = run_cli(
        ["resume", "--batch", first["batch"], "--lm", "fake", "--json"], capsys, monkeypatch
    )
    assert code == 0 and json.loads(out)["succeeded"] == 2


def test_an_endpoint_is_recorded_and_resume_calls_it_again(
    home: Path,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub.script = lambda n, body: SERVER_ERROR
    model = "openai/gpt-4o-mini"
    code, out, _ = run_cli(
        ["run", DEMO, "--lm", model, "--api-base", stub.url, "--limit", "1", "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 1 and len(stub.requests) == 1
    run_id = json.loads(out)["results"][0]["run_id"]
    recorded = f"{model}?api_base={quote(stub.url, safe='/')}"
    assert _recorded(home, "runs") == {recorded}

    stub.script = lambda n, body: OK
    code, out, err = run_cli(["resume", run_id, "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["status"] == "succeeded", err
    assert len(stub.requests) > 1  # the same endpoint, rebuilt from the record alone


def test_resume_batch_calls_the_recorded_endpoint_without_api_base(
    home: Path,
    tmp_path: Path,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stub.script = lambda n, body: SERVER_ERROR
    args = ["score", str(_accounts(tmp_path)), "--out", str(tmp_path / "out.jsonl"), "--json"]
    code, out, _ = run_cli(
        [*args, "--lm", "openai/gpt-4o-mini", "--api-base", stub.url], capsys, monkeypatch
    )
    first = json.loads(out)
    assert code == 1 and first["failed"] == 2

    stub.script = lambda n, body: OK
    code, out, err = run_cli(["resume", "--batch", first["batch"], "--json"], capsys, monkeypatch)
    assert code == 0 and json.loads(out)["succeeded"] == 2, err
    assert len(stub.requests) == 2 + 2 * 2  # two failed, then research + analysis for each


def test_credentials_in_the_api_base_are_used_but_never_recorded(
    home: Path,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    base = stub.url.replace("http://", "http://user:pw-SECRET@") + "?token=tok-SECRET"
    code, _, err = run_cli(
        ["run", DEMO, "--lm", "openai/gpt-4o-mini", "--api-base", base, "--limit", "1", "--json"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    assert stub.requests  # the endpoint was called
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    try:
        dump = str(con.execute("SELECT * FROM runs").fetchall())
        dump += str(con.execute("SELECT * FROM steps").fetchall())
    finally:
        con.close()
    assert "SECRET" not in dump
    assert f"openai/gpt-4o-mini?api_base={quote(stub.url, safe='/')}" in dump
