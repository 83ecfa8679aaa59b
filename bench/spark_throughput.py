"""Spark `local[2]` against in-process threads, side by side in one run, same machine.

    python bench/spark_throughput.py [--n 400] [--latency-ms 200] [--concurrency 8]
                                     [--master local[2]]

Both score the same N distinct accounts on the fake engine with `latency_ms` per call and the
same number of accounts in flight: in-process `score` with C threads; Spark with one partition
per task slot, each running C / slots accounts at a time (`threads`). Spark's figure includes
its job overhead (shipping the job, Python workers, the staging write and the merge into the
store), not the session start-up, which a cluster pays once. Prints rows/s of each and the
ratio (target: Spark >= 0.75 x in-process).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from batch_throughput import make_accounts, score  # noqa: E402


def spark_score(input: Path, home: Path, lm: str, concurrency: int, master: str) -> dict:
    from accountflow.config import Settings
    from accountflow.io import load_accounts
    from accountflow.spark import accounts_frame, session
    from accountflow.spark import score as spark_run
    from accountflow.store import Store

    spark = session(master, "accountflow-bench")
    slots = int(spark.sparkContext.defaultParallelism)
    settings = Settings.load(home=home, lm=lm)
    accounts = load_accounts(input).accounts
    with Store(settings.db_path) as store:
        frame = accounts_frame(spark, accounts, slots).cache()
        frame.count()  # the input materialised before the clock starts, as a table read would be
        t0 = time.perf_counter()
        result = spark_run(
            frame,
            home / "out",
            settings,
            store,
            batch="bench",
            threads=max(1, concurrency // slots),
        )
        elapsed = time.perf_counter() - t0
    spark.stop()
    return {"result": result, "elapsed": elapsed, "slots": slots}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=400)
    parser.add_argument("--latency-ms", type=float, default=200)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--master", default="local[2]")
    args = parser.parse_args()
    lm = f"fake?latency_ms={args.latency_ms:g}"
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        accounts = work / "accounts.jsonl"
        make_accounts(accounts, args.n)
        local = score(accounts, work / "threads", lm, args.concurrency)
        sparked = spark_score(accounts, work / "spark", lm, args.concurrency, args.master)
    local_rate = args.n / local["elapsed"]
    spark_rate = args.n / sparked["elapsed"]
    result = sparked["result"]
    print(
        f"{args.n} accounts, fake engine at {args.latency_ms:g} ms per call, "
        f"{args.concurrency} accounts in flight"
    )
    print(
        f"  in-process threads ({args.concurrency}): {local['elapsed']:7.1f} s  "
        f"{local_rate:6.2f} rows/s  ({local['summary'].succeeded} succeeded)"
    )
    print(
        f"  Spark {args.master} ({sparked['slots']} slots x "
        f"{max(1, args.concurrency // sparked['slots'])} threads): {sparked['elapsed']:7.1f} s  "
        f"{spark_rate:6.2f} rows/s  ({result.by_status.get('succeeded', 0)} succeeded, "
        f"{result.steps_merged} step records merged)"
    )
    print(f"  ratio Spark / in-process: {spark_rate / local_rate:.2f} (target >= 0.75)")


if __name__ == "__main__":
    main()
