"""Batch scoring throughput, cached replay and memory, measured side by side in one run.

    python bench/batch_throughput.py [--n 500] [--concurrency 16] [--latency-ms 200]
                                     [--rss-small 2000] [--rss-large 20000]

Prints: measured accounts/s against the ideal C / (calls per account x L) and their ratio;
steps/s for a fully cached replay; peak RSS of a subprocess scoring N_small and N_large accounts
(fake engine, no latency) and their ratio. Targets (issue 4): ratio >= 0.9 at C=16, L=200 ms,
N=500; cached replay >= 200 steps/s; RSS(20,000) <= 1.2 x RSS(2,000).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def make_accounts(path: Path, n: int) -> None:
    """N distinct accounts (distinct prompts: no accidental cache hits)."""
    with path.open("w", encoding="utf-8") as fh:
        for i in range(n):
            fh.write(
                json.dumps(
                    {
                        "account_id": f"bench-{i:06d}",
                        "company_name": f"Benchmark Freight {i}",
                        "industry": "Logistics",
                        "employee_count": 200 + i % 3000,
                        "description": (
                            f"Regional carrier number {i} that moved its data to Snowflake."
                        ),
                        "contacts": [
                            {
                                "contact_id": f"c{i}",
                                "name": f"Alex Rivera{i}",
                                "email": f"alex{i}@bench{i}.example",
                                "title": "Head of Data",
                                "is_primary": True,
                            }
                        ],
                    }
                )
                + "\n"
            )


def score(input: Path, home: Path, lm: str, concurrency: int) -> dict:
    from accountflow.batch import BatchScorer
    from accountflow.config import Settings
    from accountflow.orchestrator import Orchestrator
    from accountflow.store import Store

    settings = Settings.load(home=home, lm=lm)
    with Store(settings.db_path) as store:
        orch = Orchestrator.from_settings(settings, store)
        t0 = time.perf_counter()
        summary = BatchScorer(orch, input, home / "out.jsonl", concurrency=concurrency).run()
        elapsed = time.perf_counter() - t0
        steps = store.query("SELECT count(*) AS n FROM steps WHERE status = 'succeeded'")[0]["n"]
    return {"summary": summary, "elapsed": elapsed, "steps": steps}


def child_rss(n: int) -> int:
    """Peak RSS (KiB) of a fresh process scoring n accounts on the fake engine."""
    code = (
        f"import sys, resource; sys.path.insert(0, {str(HERE)!r}); import batch_throughput as b; "
        "from pathlib import Path; import tempfile; d = Path(tempfile.mkdtemp()); "
        f"b.make_accounts(d / 'a.jsonl', {n}); b.score(d / 'a.jsonl', d / 'home', 'fake', 8); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return int(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--rss-small", type=int, default=2000)
    parser.add_argument("--rss-large", type=int, default=20000)
    parser.add_argument("--skip-rss", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

    with tempfile.TemporaryDirectory(prefix="accountflow-bench-") as tmp:
        tmpdir = Path(tmp)
        accounts = tmpdir / "accounts.jsonl"
        make_accounts(accounts, args.n)
        lm = f"fake?latency_ms={args.latency_ms:g}"
        live = score(accounts, tmpdir / "live", lm, args.concurrency)
        s = live["summary"]
        calls_per_account = s.lm_calls / max(s.succeeded, 1)
        measured = s.succeeded / live["elapsed"]
        ideal = args.concurrency / (calls_per_account * args.latency_ms / 1000)
        print(
            f"throughput: N={args.n} C={args.concurrency} L={args.latency_ms:g}ms "
            f"calls/account={calls_per_account:.2f}"
        )
        print(
            f"  measured {measured:.2f} accounts/s, ideal {ideal:.2f} accounts/s, "
            f"ratio {measured / ideal:.3f} (target >= 0.9)"
        )
        tokens = (s.prompt_tokens + s.completion_tokens) / max(s.succeeded, 1)
        print(f"  tokens/account {tokens:.0f}, failed {s.failed}")

        # same accounts, new batch name, same state dir: every call from DSPy's cache
        from accountflow.batch import BatchScorer
        from accountflow.config import Settings
        from accountflow.orchestrator import Orchestrator
        from accountflow.store import Store

        settings = Settings.load(home=tmpdir / "live", lm=lm)
        with Store(settings.db_path) as store:
            orch = Orchestrator.from_settings(settings, store)
            t0 = time.perf_counter()
            replay = BatchScorer(
                orch,
                accounts,
                tmpdir / "replay.jsonl",
                batch="replay",
                concurrency=args.concurrency,
            ).run()
            elapsed = time.perf_counter() - t0
        steps = replay.succeeded * 3  # research, analysis, personalization (no inquiries)
        print(
            f"cached replay: {steps / elapsed:.0f} steps/s ({replay.cache_hits} of "
            f"{replay.lm_calls} calls from cache, {elapsed:.1f}s) (target >= 200)"
        )

    if not args.skip_rss:
        small, large = child_rss(args.rss_small), child_rss(args.rss_large)
        print(
            f"peak RSS: N={args.rss_small} {small / 1024:.0f} MiB, N={args.rss_large} "
            f"{large / 1024:.0f} MiB, ratio {large / small:.2f} (target <= 1.2)"
        )
    print(f"(self RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB)")


if __name__ == "__main__":
    main()
