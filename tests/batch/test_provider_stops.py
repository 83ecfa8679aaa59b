"""`accountflow score` against a provider that refuses the key or costs money: a refused key
stops the whole batch at once (exit 2), and `--budget-usd` is a hard limit (exit 3)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import pytest

from accountflow.lm import key_env
from tests.cli_runner import run_cli
from tests.resilience.stub_server import UNAUTHORIZED, Fault, StubServer

MODEL = "openai/gpt-4o-mini"  # litellm prices it
HEADER = "account_id,company_name,domain,industry,employee_count,description\n"


@pytest.fixture
def stub() -> Iterator[StubServer]:
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()


def _accounts(tmp_path: Path, n: int) -> Path:
    path = tmp_path / "accounts.csv"
    rows = [
        f"a{i:04d},Company {i},c{i}.example,Logistics,{100 + i},Moved to Snowflake in {i}.\n"
        for i in range(n)
    ]
    path.write_text(HEADER + "".join(rows), encoding="utf-8")
    return path


def _score(tmp_path: Path, stub: StubServer, n: int, *extra: str) -> list[str]:
    return [
        "score",
        str(_accounts(tmp_path, n)),
        "--out",
        str(tmp_path / "out.csv"),
        "--lm",
        MODEL,
        "--api-base",
        stub.url,
        "--json",
        *extra,
    ]


FORBIDDEN = Fault(
    403,
    body='{"error": {"message": "This key may not use this model", "type": "permission_error"}}',
)


@pytest.mark.parametrize("refusal", [UNAUTHORIZED, FORBIDDEN], ids=["401", "403"])
def test_a_refused_key_stops_the_batch_at_the_first_refusal(
    tmp_path: Path,
    stub: StubServer,
    refusal: Fault,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(key_env(MODEL), "sk-wrong-key-for-this-test-0000")
    stub.script = lambda n, body: refusal
    started = time.perf_counter()
    code, stdout, err = run_cli(
        _score(tmp_path, stub, 40, "--concurrency", "8"), capsys, monkeypatch
    )
    elapsed = time.perf_counter() - started
    summary = json.loads(stdout)
    assert code == 2, err
    assert summary["stop"] == "refused"
    assert len(stub.requests) <= 3, len(stub.requests)
    detail = summary["stop_detail"]
    assert key_env(MODEL) in detail and "refused" in detail and "\n" not in detail
    assert summary["not_started"] + summary["interrupted"] >= 37, summary
    assert summary["succeeded"] == 0
    assert elapsed < 30

    # nothing was marked failed: fix the key and the same command resumes every account
    con = duckdb.connect(str(tmp_path / "home" / "accountflow.duckdb"), read_only=True)
    statuses = {s for (s,) in con.execute("SELECT status FROM runs").fetchall()}
    con.close()
    assert statuses <= {"interrupted"}
    stub.script = lambda n, body: Fault()
    code, stdout, err = run_cli(_score(tmp_path, stub, 40), capsys, monkeypatch)
    assert code == 0, err
    assert json.loads(stdout)["succeeded"] == 40


def test_the_budget_is_hard_and_printed_with_enough_digits(
    tmp_path: Path,
    stub: StubServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budget = 0.004  # a few accounts' worth at gpt-4o-mini prices on the stub's token counts
    args = _score(tmp_path, stub, 30, "--concurrency", "8", "--budget-usd", str(budget))
    code, stdout, err = run_cli(args, capsys, monkeypatch)
    summary = json.loads(stdout)
    assert code == 3 and summary["stop"] == "budget", err
    con = duckdb.connect(str(tmp_path / "home" / "accountflow.duckdb"), read_only=True)
    (spent,) = con.execute("SELECT sum(cost_usd) FROM steps").fetchone() or (None,)
    con.close()
    assert spent is not None and 0 < spent <= budget, spent  # every attempt, all workers
    assert summary["cost_usd"] == pytest.approx(spent)
    assert "$0.004 budget" in summary["stop_detail"]
    assert 0 < summary["succeeded"] < 30, (summary, spent)

    # the same batch again, with the human summary: it resumes and stops at the budget again
    code, _, err = run_cli([a for a in args if a != "--json"], capsys, monkeypatch)
    assert code == 3
    assert "of the $0.004 budget" in err
