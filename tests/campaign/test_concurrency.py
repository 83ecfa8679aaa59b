"""Concurrent ticks never send a touch twice: two threads on one engine, two engines on one
Store, and two Stores (two DuckDB connections) on one file."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from accountflow.campaign import CampaignEngine, StepResult
from accountflow.lm import fake_lm
from accountflow.store import Store
from tests.campaign.helpers import FakeClock, make_lead

Maker = Callable[..., CampaignEngine]
CAMPAIGNS = 3
ROUNDS = 3


def _race(engines: list[CampaignEngine], clock: FakeClock) -> list[StepResult]:
    """Every engine ticks at the same instant, from its own thread, for a few rounds."""
    sent: list[StepResult] = []
    lock = threading.Lock()
    for _ in range(ROUNDS):
        barrier = threading.Barrier(len(engines))
        errors: list[BaseException] = []

        def work(
            engine: CampaignEngine,
            barrier: threading.Barrier = barrier,
            errors: list[BaseException] = errors,
        ) -> None:
            try:
                barrier.wait()
                results = engine.tick(now=clock.now)
                with lock:
                    sent.extend(r for r in results if r.success)
            except BaseException as exc:  # surfaced below, not lost in the thread
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(e,)) for e in engines]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        assert not errors, errors
        clock.advance(days=3)
    return sent


def _start(engine: CampaignEngine) -> list[str]:
    return [
        engine.start(make_lead(account_id=f"acc-{i}", company_name=f"Northgate {i}")).campaign_id
        or ""
        for i in range(CAMPAIGNS)
    ]


def _assert_once(engine: CampaignEngine, ids: list[str], sent: list[StepResult]) -> None:
    assert sorted((r.campaign_id, r.step) for r in sent) == sorted(
        (cid, k) for cid in ids for k in range(1, ROUNDS + 1)
    )
    for cid in ids:
        steps = [e.touch_number for e in engine.outbox(cid)]
        assert steps == list(range(1, ROUNDS + 1))
        status = engine.status(cid)
        assert status is not None and status.current_step == ROUNDS


@pytest.fixture
def slow_lm() -> Any:
    # latency makes the model calls of the racing workers overlap
    return fake_lm("slow-campaign", latency_ms=15, cache=False)


def test_two_threads_on_one_engine(make_engine: Maker, clock: FakeClock, slow_lm: Any) -> None:
    engine = make_engine(lm=slow_lm)
    ids = _start(engine)
    _assert_once(engine, ids, _race([engine, engine], clock))


def test_two_engines_on_one_store(make_engine: Maker, clock: FakeClock, slow_lm: Any) -> None:
    first = make_engine(lm=slow_lm)
    second = make_engine(lm=slow_lm, store=first.store)
    ids = _start(first)
    _assert_once(first, ids, _race([first, second, first], clock))


def test_opening_the_file_again_shares_the_one_store(
    make_engine: Maker, clock: FakeClock, slow_lm: Any, home: Path
) -> None:
    first = make_engine(lm=slow_lm)
    other_store = Store(home / "accountflow.duckdb")  # the same file: the same store, one writer
    try:
        assert other_store is first.store
        second = make_engine(lm=slow_lm, store=other_store)
        ids = _start(first)
        _assert_once(first, ids, _race([first, second], clock))
    finally:
        other_store.close()
    assert not first.store.closed  # the engine's own open still holds it


def test_a_stale_claim_from_a_dead_worker_is_taken_over(
    engine: CampaignEngine, clock: FakeClock
) -> None:
    [cid] = [engine.start(make_lead()).campaign_id or ""]
    assert engine.db.claim(cid, 0, "dead-worker", clock.now)  # a worker that never finished
    assert engine.step(cid).error == "another worker is making this touch"
    clock.advance(hours=1)
    assert engine.step(cid).success
    assert [e.touch_number for e in engine.outbox(cid)] == [1]
    assert engine.tick(now=clock.now + timedelta(hours=1)) == []
