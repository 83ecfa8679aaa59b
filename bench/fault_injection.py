"""The three resilience checks of issue 3, with their figures, over real HTTP to the scripted
OpenAI-compatible stub server (tests/resilience/stub_server.py) on 127.0.0.1.

    python bench/fault_injection.py [--accounts 20] [--fail-rate 0.3] [--max-attempts 8]

1. `fail_rate` of requests fail transiently (500/503/429) at random: every account must succeed,
   every failed attempt must be in `steps`, no step may be recorded as succeeded twice.
2. A refused API key (401): the run must stop within 2 s, with one sentence and one request.
3. `kill -9` of a real `accountflow run` mid-way, then `resume`: same results as an
   uninterrupted run, no finished step called again.
4. (issue 12 item 5) A refused key in a 200-account batch at concurrency 8: the first refusal
   stops the batch (exit 2, the key's variable named), at most a few requests in all.
5. (issue 12 item 10) A hanging provider with a short step timeout: once the breaker opens,
   sleeping retries wake and stop and no request starts; the wall time is about one timeout.

Figures (2-core machine, 2 cores shared): 4. refused key, 200 accounts, concurrency 8:
1 request, exit 2, 0.07 s (the issue measured 200 refused requests, exit 1, before the fix).
5. hanging provider, timeout 1 s, backoff base 5 s, concurrency 8, breaker at 8: 8 requests,
0 after the breaker opened, stopped 1.1 s after the first request (the issue measured 7
requests after it opened and 254 s with the default 120 s timeout).
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from accountflow import Store, load_accounts  # noqa: E402
from accountflow.batch import BatchScorer  # noqa: E402
from accountflow.config import Settings  # noqa: E402
from accountflow.datasets import path as data_path  # noqa: E402
from accountflow.lm import build_lm, fake_lm  # noqa: E402
from accountflow.orchestrator import Orchestrator  # noqa: E402
from accountflow.resilience import KeyRefusedError, RetryPolicy  # noqa: E402
from tests.resilience.stub_server import UNAUTHORIZED, StubServer, slow  # noqa: E402
from tests.resilience.test_resume_review import _cached_answers  # noqa: E402


def check_random_faults(tmp: Path, n: int, rate: float, attempts: int) -> None:
    stub = StubServer().start()
    stub.fail_randomly(rate, seed=7)
    try:
        lm = build_lm("openai/gpt-4o-mini", api_base=stub.url, timeout_s=5)
        policy = RetryPolicy(max_attempts=attempts, base_delay_s=0.05, breaker_threshold=20)
        settings = Settings.load(home=tmp / "faults").model_copy(update={"retry": policy})
        orch = Orchestrator.from_settings(settings, Store(tmp / "faults.duckdb"), lm=lm)
        demo = load_accounts(data_path("accounts_demo.jsonl")).accounts
        accounts = [  # distinct accounts: every prompt new, no cache hits between them
            demo[i % len(demo)].model_copy(
                update={"account_id": f"f{i}", "notes": f"fault-injection copy {i}"}
            )
            for i in range(n)
        ]
        t0 = time.perf_counter()
        results = [orch.run(a) for a in accounts]
        elapsed = time.perf_counter() - t0
        steps = orch.store.query("SELECT run_id, step, status, error_class FROM steps")
        failed = [s for s in steps if s["status"] == "failed"]
        ok = [(s["run_id"], s["step"]) for s in steps if s["status"] == "succeeded"]
        faults = sum(1 for code in stub.statuses if code != 200)
        print(
            f"1. {rate:.0%} transient faults, {n} accounts, max {attempts} attempts: "
            f"{sum(r.status.value == 'succeeded' for r in results)}/{n} succeeded in "
            f"{elapsed:.1f}s; {len(stub.requests)} requests, {faults} faulted; "
            f"{len(failed)} failed attempts recorded (all transient: "
            f"{all(s['error_class'] == 'transient' for s in failed)}); "
            f"steps succeeded twice: {len(ok) - len(set(ok))}"
        )
    finally:
        stub.stop()


def check_bad_key(tmp: Path) -> None:
    stub = StubServer(lambda n, body: UNAUTHORIZED).start()
    try:
        # a wrong key passed explicitly: the environment (and any real key in it) is not read
        lm = build_lm(
            "openai/gpt-4o-mini",
            api_base=stub.url,
            timeout_s=5,
            cache=False,
            api_key="wrong-key-for-this-check",
        )
        orch = Orchestrator.from_settings(
            Settings.load(home=tmp / "key"), Store(tmp / "key.duckdb"), lm=lm
        )
        account = load_accounts(data_path("accounts_demo.jsonl")).accounts[0]
        t0 = time.perf_counter()
        try:
            orch.run(account)
        except KeyRefusedError:
            pass  # all work stops at a refused key; the run is left interrupted, resumable
        elapsed = time.perf_counter() - t0
        (run,) = orch.store.list_runs()
        step = orch.store.get_steps(run.run_id)[0]
        print(
            f"2. refused key: run {run.status.value} in {elapsed:.2f}s after "
            f"{len(stub.requests)} request(s); {step.error_class}: {step.error_message}"
        )
    finally:
        stub.stop()


def check_kill_9(tmp: Path) -> None:
    home = tmp / "killed"
    env = {**os.environ, "ACCOUNTFLOW_HOME": str(home)}
    cmd = [
        sys.executable,
        "-m",
        "accountflow.cli",
        "run",
        str(data_path("accounts_demo.jsonl")),
        "--account-id",
        "acc-002",
        "--lm",
        "fake?latency_ms=400",
        "--json",
    ]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while _cached_answers(home / "dspy_cache") < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    store = Store(home / "accountflow.duckdb")
    (run,) = store.list_runs()
    before = store.get_steps(run.run_id)
    done = sorted({s.step for s in before if s.status.value == "succeeded"})
    engine_lm = fake_lm("latency_ms=400")
    t0 = time.perf_counter()
    resumed = Orchestrator.from_settings(Settings.load(home=home), store, lm=engine_lm).resume(
        run.run_id
    )
    after = store.get_steps(run.run_id)
    new = [s for s in after if s.step_id not in {b.step_id for b in before}]
    clean = Orchestrator.from_settings(
        Settings.load(home=tmp / "clean"),
        Store(tmp / "clean.duckdb"),
        lm=fake_lm("clean", cache=False),
    ).run(
        next(
            a
            for a in load_accounts(data_path("accounts_demo.jsonl")).accounts
            if a.account_id == "acc-002"
        )
    )
    same = (resumed.analysis, resumed.outreach, resumed.colleague_messages) == (
        clean.analysis,
        clean.outreach,
        clean.colleague_messages,
    )
    print(
        f"3. kill -9 after {done}: store showed run {run.status.value}; resume ran "
        f"{sorted({s.step for s in new})} in {time.perf_counter() - t0:.1f}s with "
        f"{sum(s.lm_calls for s in new)} LM calls; finished steps re-run: "
        f"{len({s.step for s in new} & set(done))}; result equals an uninterrupted run: {same}"
    )


def _csv(path: Path, n: int) -> Path:
    rows = "".join(f"b{i},Co {i},c{i}.example,Retail,{10 + i},Fault copy {i}.\n" for i in range(n))
    path.write_text(
        "account_id,company_name,domain,industry,employee_count,description\n" + rows,
        encoding="utf-8",
    )
    return path


def check_refused_key_batch(tmp: Path, n: int = 200, concurrency: int = 8) -> None:
    stub = StubServer(lambda i, body: UNAUTHORIZED).start()
    try:
        lm = build_lm(
            "openai/gpt-4o-mini",
            api_base=stub.url,
            timeout_s=5,
            cache=False,
            api_key="wrong-key-for-this-check",
        )
        settings = Settings.load(home=tmp / "refused")
        store = Store(tmp / "refused.duckdb")
        orch = Orchestrator.from_settings(settings, store, lm=lm)
        scorer = BatchScorer(
            orch, _csv(tmp / "refused.csv", n), tmp / "refused-out.csv", concurrency=concurrency
        )
        t0 = time.perf_counter()
        summary = scorer.run()
        elapsed = time.perf_counter() - t0
        store.close()
        print(
            f"4. refused key, {n} accounts, concurrency {concurrency}: {len(stub.requests)} "
            f"request(s), exit {summary.exit_code} ({summary.stop}) in {elapsed:.2f}s; "
            f"{summary.not_started} not started; {summary.stop_detail}"
        )
    finally:
        stub.stop()


def check_hanging_provider(
    tmp: Path, n: int = 40, concurrency: int = 8, timeout_s: float = 1.0
) -> None:
    stub = StubServer(lambda i, body: slow(timeout_s * 5)).start()
    try:
        policy = RetryPolicy(
            max_attempts=4, base_delay_s=5.0, step_timeout_s=timeout_s, breaker_threshold=8
        )
        settings = Settings.load(home=tmp / "hang").model_copy(update={"retry": policy})
        lm = build_lm("openai/gpt-4o-mini", api_base=stub.url, timeout_s=timeout_s, cache=False)
        store = Store(tmp / "hang.duckdb")
        orch = Orchestrator.from_settings(settings, store, lm=lm, seed=1)
        orch.breaker.verified = True  # as after a first good reply: every worker sends at once
        scorer = BatchScorer(
            orch, _csv(tmp / "hang.csv", n), tmp / "hang-out.csv", concurrency=concurrency
        )
        summary = scorer.run()
        ended = time.monotonic()
        store.close()
        opened = orch.breaker.opened_at
        after = sum(1 for t in stub.times if opened is not None and t > opened)
        first = stub.times[0] if stub.times else ended
        print(
            f"5. hanging provider, timeout {timeout_s:g}s, backoff base {policy.base_delay_s:g}s, "
            f"concurrency {concurrency}: {len(stub.requests)} request(s), {after} after the "
            f"breaker opened; stopped by {summary.stop} {ended - first:.1f}s after the first "
            f"request; {summary.not_started} not started"
        )
    finally:
        stub.stop()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--accounts", type=int, default=20)
    parser.add_argument("--fail-rate", type=float, default=0.3)
    parser.add_argument("--max-attempts", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="accountflow-faults-") as tmp:
        os.environ["ACCOUNTFLOW_HOME"] = tmp
        import dspy

        dspy.configure_cache(disk_cache_dir=str(Path(tmp) / "cache"))
        check_random_faults(Path(tmp), args.accounts, args.fail_rate, args.max_attempts)
        check_bad_key(Path(tmp))
        check_kill_9(Path(tmp))
        check_refused_key_batch(Path(tmp))
        check_hanging_provider(Path(tmp))


if __name__ == "__main__":
    main()
