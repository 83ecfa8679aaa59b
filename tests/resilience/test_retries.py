"""Classified retries, fail-fast auth errors and the circuit breaker, over real HTTP (litellm)
against the scripted stub server."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from accountflow import Store, load_accounts, load_seller
from accountflow.datasets import path as data_path
from accountflow.lm import build_lm, key_env
from accountflow.models import Account, RunStatus, StepStatus
from accountflow.orchestrator import Orchestrator
from accountflow.resilience import CircuitOpenError, KeyRefusedError, RetryPolicy
from tests.resilience.stub_server import (
    EMPTY,
    MALFORMED,
    OK,
    SERVER_ERROR,
    UNAUTHORIZED,
    Fault,
    StubServer,
    rate_limited,
    slow,
)

MODEL = "openai/gpt-4o-mini"  # litellm knows it: structured outputs and a price


def _accounts() -> list[Account]:
    return load_accounts(data_path("accounts_demo.jsonl")).accounts


def _orch(
    home: Path,
    stub: StubServer,
    sleeps: list[float] | None = None,
    timeout_s: float = 5.0,
    **policy: Any,
) -> Orchestrator:
    lm = build_lm(MODEL, api_base=stub.url, timeout_s=timeout_s)
    record = sleeps.append if sleeps is not None else (lambda s: None)
    return Orchestrator(
        Store(home / "accountflow.duckdb"),
        lm,
        load_seller(),
        retry=RetryPolicy(**policy),
        sleep=record,
        seed=1,
    )


def _script(*faults: Fault):
    """The first requests get these faults, every later one a good reply."""
    return lambda n, body: faults[n - 1] if n <= len(faults) else OK


def test_transient_faults_are_retried_and_every_attempt_recorded(
    home: Path, stub: StubServer
) -> None:
    stub.script = _script(SERVER_ERROR, rate_limited(0.25), MALFORMED)
    sleeps: list[float] = []
    orch = _orch(home, stub, sleeps, base_delay_s=0.01)
    result = orch.run(_accounts()[2])
    assert result.status == RunStatus.succeeded
    research = [s for s in orch.store.get_steps(result.run_id) if s.step == "research"]
    assert [s.attempt for s in research] == [1, 2, 3, 4]
    assert [s.status for s in research] == [StepStatus.failed] * 3 + [StepStatus.succeeded]
    assert all(s.error_class == "transient" for s in research[:3])
    assert [s.error_type for s in research[:3]] == [
        "LMServerError",
        "LMRateLimitError",
        "LMServerError",
    ]
    assert "HTTP 500" in (research[0].error_message or "")
    assert research[1].backoff_ms is not None and research[1].backoff_ms >= 250  # Retry-After
    assert sleeps[1] >= 0.25 and len(sleeps) == 3
    assert research[3].cost_usd is not None and research[3].cost_usd > 0  # priced by litellm
    assert stub.statuses[:3] == [500, 429, 200]


def test_bad_key_fails_fast_with_one_sentence_and_no_retry(
    home: Path, stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "sk-test-THIS-KEY-MUST-NEVER-BE-STORED-123456"
    monkeypatch.setenv(key_env(MODEL), secret)
    stub.script = lambda n, body: UNAUTHORIZED
    orch = _orch(home, stub)
    started = time.perf_counter()
    with pytest.raises(KeyRefusedError, match=key_env(MODEL)):
        orch.run(_accounts()[0])
    assert time.perf_counter() - started < 2.0
    assert len(stub.requests) == 1
    (run,) = orch.store.list_runs()
    assert run.status == RunStatus.interrupted  # resumable once the key is fixed
    steps = orch.store.get_steps(run.run_id)
    assert [s.status for s in steps] == [StepStatus.failed]
    assert steps[0].error_class == "permanent" and steps[0].error_type == "LMAuthError"
    message = steps[0].error_message or ""
    assert key_env(MODEL) in message and "refused" in message and "\n" not in message
    dump = str(orch.store.query("SELECT * FROM steps"))
    dump += str(orch.store.query("SELECT * FROM runs"))
    assert secret not in dump
    with pytest.raises(KeyRefusedError):  # no other account starts in this process
        orch.run(_accounts()[1])
    assert len(stub.requests) == 1


def test_an_explicit_key_is_sent_instead_of_the_environment_one(
    stub: StubServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(key_env(MODEL), "from-the-environment")
    lm = build_lm(MODEL, api_base=stub.url, cache=False, api_key="given-by-the-caller")
    lm(messages=[{"role": "user", "content": "hi"}])
    assert stub.authorizations == ["Bearer given-by-the-caller"]


def test_slow_reply_past_the_timeout_is_retried(home: Path, stub: StubServer) -> None:
    stub.script = _script(slow(2.0))
    orch = _orch(home, stub, timeout_s=0.5)
    result = orch.run(_accounts()[2])
    assert result.status == RunStatus.succeeded
    research = [s for s in orch.store.get_steps(result.run_id) if s.step == "research"]
    assert research[0].status == StepStatus.failed and research[0].error_class == "transient"
    assert research[0].error_type in {"LMTimeoutError", "LMTransportError"}
    assert research[1].status == StepStatus.succeeded


def test_empty_reply_is_transient_and_not_served_again_from_cache(
    home: Path, stub: StubServer
) -> None:
    stub.script = _script(EMPTY)
    orch = _orch(home, stub)
    result = orch.run(_accounts()[2])
    assert result.status == RunStatus.succeeded
    research = [s for s in orch.store.get_steps(result.run_id) if s.step == "research"]
    assert research[0].error_class == "transient" and "empty" in (research[0].error_message or "")
    assert research[1].status == StepStatus.succeeded and not research[1].cache_hit


def test_permanent_parse_failure_is_not_retried(home: Path, stub: StubServer) -> None:
    stub.script = lambda n, body: Fault(content='{"profile": "not an object"}')
    orch = _orch(home, stub)
    result = orch.run(_accounts()[2])
    research = orch.store.get_steps(result.run_id)[0]
    assert result.status == RunStatus.failed
    assert research.error_class == "permanent" and research.error_type == "AdapterParseError"
    assert len(stub.requests) == 1


def test_retries_give_up_after_max_attempts(home: Path, stub: StubServer) -> None:
    stub.script = lambda n, body: SERVER_ERROR
    orch = _orch(home, stub, max_attempts=3, breaker_threshold=50)
    result = orch.run(_accounts()[2])
    assert result.status == RunStatus.failed and "after 3 attempts" in (result.error or "")
    assert len(stub.requests) == 3


def test_breaker_stops_new_work_and_everything_resumes(home: Path, stub: StubServer) -> None:
    stub.script = lambda n, body: SERVER_ERROR
    orch = _orch(home, stub, max_attempts=2, breaker_threshold=3)
    accounts = _accounts()[:5]
    done = []
    with pytest.raises(CircuitOpenError, match="in a row"):
        for account in accounts:
            done.append(orch.run(account))
    assert len(done) == 1 and done[0].status == RunStatus.failed
    runs = orch.store.list_runs()
    assert len(runs) == 2  # the third account was never started
    interrupted = next(r for r in runs if r.status == RunStatus.interrupted)
    assert len(stub.requests) == 3
    with pytest.raises(CircuitOpenError):  # stays open: no new work in this process
        orch.run(accounts[2])

    stub.script = lambda n, body: OK  # the provider recovers; a new process resumes
    store = orch.store
    resumed = Orchestrator(store, orch.lm, load_seller()).resume(interrupted.run_id)
    assert resumed.status == RunStatus.succeeded
    research = [s for s in store.get_steps(interrupted.run_id) if s.step == "research"]
    assert [s.attempt for s in research] == [1, 2]


def test_thirty_percent_transient_faults_every_account_succeeds(
    home: Path, stub: StubServer
) -> None:
    stub.fail_randomly(0.3, seed=11)
    orch = _orch(home, stub, max_attempts=8, breaker_threshold=20, base_delay_s=0.0)
    accounts = (_accounts() * 2)[:20]
    results = [orch.run(a) for a in accounts]
    assert all(r.status == RunStatus.succeeded for r in results), [r.error for r in results]
    steps = orch.store.query("SELECT run_id, step, status FROM steps")
    failed = [s for s in steps if s["status"] == "failed"]
    assert failed  # the faults happened and are on record
    succeeded = [(s["run_id"], s["step"]) for s in steps if s["status"] == "succeeded"]
    assert len(succeeded) == len(set(succeeded))  # never succeeded twice
    assert sum(1 for status in stub.statuses if status != 200) == len(failed)
