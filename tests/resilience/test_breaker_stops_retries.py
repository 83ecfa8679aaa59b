"""Once the breaker opens, retries sleeping in their backoff wake and stop, and no new request
starts: a hanging provider costs one timeout, not a timeout per retry."""

from __future__ import annotations

import time
from pathlib import Path

from accountflow import Store
from accountflow.batch import BatchScorer
from accountflow.config import Settings
from accountflow.lm import build_lm
from accountflow.orchestrator import Orchestrator
from accountflow.resilience import RetryPolicy
from tests.resilience.stub_server import StubServer, slow

HEADER = "account_id,company_name,domain,industry,employee_count,description\n"


def test_an_open_breaker_stops_sleeping_retries_and_new_requests(
    home: Path, tmp_path: Path, stub: StubServer
) -> None:
    stub.script = lambda n, body: slow(3.0)  # hangs past the step timeout
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(
        HEADER + "".join(f"a{i},Co {i},c{i}.example,Retail,10,Hangs.\n" for i in range(12)),
        encoding="utf-8",
    )
    # backoffs long enough that the retries of the first failures are still asleep when the
    # third consecutive failure opens the breaker
    policy = RetryPolicy(max_attempts=4, base_delay_s=4.0, step_timeout_s=0.5, breaker_threshold=3)
    settings = Settings.load(home=home).model_copy(update={"retry": policy})
    lm = build_lm("openai/gpt-4o-mini", api_base=stub.url, timeout_s=policy.step_timeout_s)
    store = Store(home / "accountflow.duckdb")
    orch = Orchestrator.from_settings(settings, store, lm=lm, seed=3)
    scorer = BatchScorer(orch, accounts, tmp_path / "out.csv", concurrency=4)
    orch.breaker.verified = True  # as after a first good reply: all four workers send at once
    summary = scorer.run()
    ended = time.monotonic()
    store.close()

    assert summary.stop == "breaker" and summary.succeeded == 0
    opened = orch.breaker.opened_at
    assert opened is not None
    after = [t for t in stub.times if t > opened]
    assert after == [], f"{len(after)} request(s) after the breaker opened"
    # from the first request: one timeout and the wake-up, not the backoffs (litellm's first
    # import, before any request, is not the provider's time)
    assert ended - stub.times[0] < 3.0, ended - stub.times[0]
