"""The three resilience checks of issue 3, with their figures, over real HTTP to the scripted
OpenAI-compatible stub server (tests/resilience/stub_server.py) on 127.0.0.1.

    python bench/fault_injection.py [--accounts 20] [--fail-rate 0.3] [--max-attempts 8]

1. `fail_rate` of requests fail transiently (500/503/429) at random: every account must succeed,
   every failed attempt must be in `steps`, no step may be recorded as succeeded twice.
2. A refused API key (401): the run must stop within 2 s, with one sentence and one request.
3. `kill -9` of a real `accountflow run` mid-way, then `resume`: same results as an
   uninterrupted run, no finished step called again.
4. (issue 12 item 1) a store flush that fails mid-batch (disk full, injected): provider calls
   after the failure, exit code, runs recorded against output rows, then a re-run.
5. (issue 12 item 2) `score` subprocesses against the fake engine with latency: Ctrl-C, re-run,
   `kill -9`, re-run: succeeded runs per account and succeeded runs with a NULL result.
6. (issue 12 item 5) A refused key in a 200-account batch at concurrency 8: the first refusal
   stops the batch (exit 2, the key's variable named), at most a few requests in all.
7. (issue 12 item 10) A hanging provider with a short step timeout: once the breaker opens,
   sleeping retries wake and stop and no request starts; the wall time is about one timeout.

Figures (2-core machine, 2 cores shared): 6. refused key, 200 accounts, concurrency 8:
1 request, exit 2, 0.07 s (the issue measured 200 refused requests, exit 1, before the fix).
7. hanging provider, timeout 1 s, backoff base 5 s, concurrency 8, breaker at 8: 8 requests,
0 after the breaker opened, stopped 1.1 s after the first request (the issue measured 7
requests after it opened and 254 s with the default 120 s timeout).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from accountflow import Store, load_accounts  # noqa: E402
from accountflow.batch import BatchScorer  # noqa: E402
from accountflow.config import Settings  # noqa: E402
from accountflow.datasets import path as data_path  # noqa: E402
from accountflow.errors import StoreWriteError  # noqa: E402
from accountflow.lm import build_lm, fake_lm  # noqa: E402
from accountflow.orchestrator import Orchestrator  # noqa: E402
from accountflow.resilience import KeyRefusedError, RetryPolicy  # noqa: E402
from accountflow.store.db import Database  # noqa: E402
from tests.resilience.stub_server import (  # noqa: E402
    UNAUTHORIZED,
    StubServer,
    slow,
)
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


def _accounts_file(path: Path, n: int) -> Path:
    demo = load_accounts(data_path("accounts_demo.jsonl")).accounts
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            account = demo[i % len(demo)].model_copy(
                update={"account_id": f"b{i:04d}", "notes": f"fault-injection copy {i}"}
            )
            fh.write(account.model_dump_json() + "\n")
    return path


def check_flush_failure(tmp: Path, n: int = 60, fail_after: int = 8) -> None:
    """The write-behind's flush number `fail_after` raises what DuckDB raises on a full disk."""
    stub = StubServer(lambda k, body: slow(0.03)).start()
    real = Database._upsert_with
    seen = {"flushes": 0, "requests_at_failure": -1}

    def full_disk(cur: duckdb.DuckDBPyConnection, records: object) -> None:
        seen["flushes"] += 1
        if seen["flushes"] >= fail_after:
            if seen["requests_at_failure"] < 0:
                seen["requests_at_failure"] = len(stub.requests)
            raise duckdb.IOException("Could not write file: No space left on device")
        real(cur, records)  # type: ignore[arg-type]

    accounts = _accounts_file(tmp / "flush.jsonl", n)
    out = tmp / "flush-out.jsonl"
    home = tmp / "flush-home"
    settings = Settings.load(home=home, lm="openai/gpt-4o-mini", api_base=stub.url)
    try:
        Database._upsert_with = staticmethod(full_disk)  # type: ignore[method-assign]
        store = Store(home / "accountflow.duckdb")
        orch = Orchestrator.from_settings(settings, store)
        try:
            BatchScorer(orch, accounts, out, concurrency=8).run()
            message, code = "no failure", 0
        except StoreWriteError as exc:
            message, code = str(exc), exc.exit_code
        store.close()
        Database._upsert_with = staticmethod(real)  # type: ignore[method-assign]
        after = len(stub.requests) - seen["requests_at_failure"]
        con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
        recorded = {
            r[0]
            for r in con.execute(
                "SELECT account_id FROM runs WHERE status = 'succeeded' AND result IS NOT NULL"
            ).fetchall()
        }
        con.close()
        listed = [json.loads(line)["account_id"] for line in out.read_text().splitlines()]
        with Store(home / "accountflow.duckdb") as store:
            again = BatchScorer(
                Orchestrator.from_settings(settings, store), accounts, out, concurrency=8
            ).run()
        print(
            f"4. flush failure at flush {fail_after} of a {n}-account batch: exit {code}, "
            f"{after} provider call(s) after the failure (8 workers), {len(recorded)} runs "
            f"recorded, {len(listed)} output rows, listed but not recorded: "
            f"{len(set(listed) - recorded)}; message: {message}\n"
            f"   re-run: {again.succeeded} succeeded ({again.skipped} skipped, "
            f"{again.resumed} resumed), {again.lm_calls - again.cache_hits} uncached calls"
        )
    finally:
        Database._upsert_with = staticmethod(real)  # type: ignore[method-assign]
        stub.stop()


def check_interrupt_kill_rerun(tmp: Path, n: int = 300) -> None:
    """Ctrl-C, re-run, kill -9, re-run of one `score` command (the sequence that lost resumed
    runs' results to DuckDB's WAL replay while `runs` had a secondary index)."""
    home = tmp / "sequence"
    accounts = _accounts_file(tmp / "sequence.jsonl", n)
    cmd = [
        sys.executable,
        "-m",
        "accountflow.cli",
        "score",
        str(accounts),
        "--out",
        str(tmp / "sequence-out.jsonl"),
        "--lm",
        "fake?latency_ms=100",
        "--home",
        str(home),
        "--concurrency",
        "8",
        "--quiet",
    ]
    codes = []
    for sig, after in ((signal.SIGINT, 8.0), (signal.SIGKILL, 8.0), (None, 0.0)):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(after)
        if sig is not None:
            proc.send_signal(sig)
        codes.append(proc.wait(timeout=600))
    con = duckdb.connect(str(home / "accountflow.duckdb"), read_only=True)
    per_account = con.execute(
        "SELECT max(n), count(*) FILTER (WHERE n > 1) FROM (SELECT account_id, count(*) AS n "
        "FROM runs WHERE status = 'succeeded' GROUP BY 1)"
    ).fetchone()
    nulls = con.execute(
        "SELECT count(*) FROM runs WHERE status = 'succeeded' AND result IS NULL"
    ).fetchone()
    accounts_done = con.execute(
        "SELECT count(DISTINCT account_id) FROM runs WHERE status = 'succeeded'"
    ).fetchone()
    con.close()
    assert per_account is not None and nulls is not None and accounts_done is not None
    print(
        f"5. Ctrl-C / re-run / kill -9 / re-run of {n} accounts (exits {codes}): "
        f"{accounts_done[0]} accounts succeeded, at most {per_account[0]} succeeded run(s) per "
        f"account ({per_account[1]} accounts with more than one), {nulls[0]} succeeded runs "
        "with a NULL result"
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
            f"6. refused key, {n} accounts, concurrency {concurrency}: {len(stub.requests)} "
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
            f"7. hanging provider, timeout {timeout_s:g}s, backoff base {policy.base_delay_s:g}s, "
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
        check_flush_failure(Path(tmp))
        check_interrupt_kill_rerun(Path(tmp))
        check_refused_key_batch(Path(tmp))
        check_hanging_provider(Path(tmp))


if __name__ == "__main__":
    main()
