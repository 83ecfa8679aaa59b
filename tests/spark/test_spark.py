"""Spark `local[2]` (with 2 attempts per task: `local[2,2]`): the partition runner gives the
rows in-process `score` gives, a partition that fails once is retried and leaves exactly one
record per account and step, the merge is idempotent (also over a duplicated part file, as a
speculative attempt could leave on a non-transactional committer), the multi-row pyfunc serves
`spark_udf`, and `score --engine spark` records rejected rows. Needs Java and pyspark: skipped
without them unless ACCOUNTFLOW_REQUIRE_SPARK=1 (CI sets it)."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from accountflow import Settings, Store
from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli

VOLATILE = {"run_id", "latency_ms"}  # differ between any two runs of the same account


def _need(reason: str) -> None:
    if os.environ.get("ACCOUNTFLOW_REQUIRE_SPARK") == "1":
        pytest.fail(f"the Spark tests cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    try:
        import pyspark  # noqa: F401
    except ImportError:
        _need("pyspark is not installed (pip install -e '.[dev]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        _need("no Java runtime (apt-get install openjdk-17-jre-headless)")
    from accountflow.spark import session

    s = session("local[2,2]", "accountflow-tests")
    yield s
    s.stop()


def write_accounts(path: Path, n: int) -> Path:
    """`n` accounts made from the ten demo accounts, each with its own id."""
    demo = [json.loads(x) for x in data_path("accounts_demo.jsonl").read_text().splitlines()]
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            row = dict(demo[i % len(demo)])
            row["account_id"] = f"{row['account_id']}-{i:04d}"
            # each row its own text, so no answer comes from the LM cache (cache hits, tokens
            # and cost would then depend on the order the accounts ran in)
            row["description"] = f"{row.get('description') or ''} List row {i}.".strip()
            f.write(json.dumps(row) + "\n")
    return path


def _parquet_rows(out: Path) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect()
    try:
        cur = con.execute(
            "SELECT * FROM read_parquet(?, hive_partitioning = true) ORDER BY account_id",
            [str(out / "**" / "*.parquet")],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]
    finally:
        con.close()


def _score(spark: Any, accounts: Path, out: Path, batch: str, partitions: int = 2) -> Any:
    from accountflow import load_accounts
    from accountflow.spark import accounts_frame, score

    settings = Settings.load(lm="fake")
    frame = accounts_frame(spark, load_accounts(accounts).accounts, partitions)
    with Store(settings.db_path) as store:
        return score(frame, out, settings, store, batch=batch)


def test_a_thousand_accounts_give_the_rows_in_process_score_gives(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.outputs import output_columns

    accounts = write_accounts(tmp_path / "accounts.jsonl", 1000)
    local = tmp_path / "local.jsonl"
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(local), "--lm", "fake", "--quiet"],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    expected = {r["account_id"]: r for r in map(json.loads, local.read_text().splitlines())}

    result = _score(spark, accounts, tmp_path / "spark-out", "spark-1000", partitions=4)
    assert result.accounts == 1000 and result.by_status == {"succeeded": 1000}
    rows = _parquet_rows(tmp_path / "spark-out")
    assert len(rows) == 1000
    assert set(rows[0]) == set(output_columns())
    for row in rows:
        want = expected[row["account_id"]]
        assert set(want) == set(row)
        for column in set(row) - VOLATILE:
            assert row[column] == want[column], (row["account_id"], column)
    with Store(Settings.load().db_path) as store:
        counts = store.query(
            "SELECT count(*) AS n, count(DISTINCT account_id) AS a FROM runs WHERE batch = ?",
            ["spark-1000"],
        )[0]
        assert counts == {"n": 1000, "a": 1000}


def test_a_partition_that_fails_once_leaves_one_record_per_account_and_step(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    marker.mkdir()
    monkeypatch.setenv("ACCOUNTFLOW_SPARK_FAIL_ONCE", str(marker))
    accounts = write_accounts(tmp_path / "accounts.jsonl", 40)
    result = _score(spark, accounts, tmp_path / "out", "retried", partitions=2)
    assert (marker / "failed-once").is_file()  # the first attempt did fail
    assert result.by_status == {"succeeded": 40}
    with Store(Settings.load().db_path) as store:
        per_step = store.query(
            "SELECT r.account_id, s.step, count(*) AS n FROM steps s JOIN runs r USING (run_id) "
            "WHERE r.batch = 'retried' AND s.status = 'succeeded' GROUP BY 1, 2"
        )
        assert {r["n"] for r in per_step} == {1}
        assert len({r["account_id"] for r in per_step}) == 40
        assert store.query("SELECT count(*) AS n FROM runs WHERE batch = 'retried'")[0]["n"] == 40
    assert len(_parquet_rows(tmp_path / "out")) == 40


def test_the_merge_is_idempotent_over_duplicated_attempts(spark: Any, tmp_path: Path) -> None:
    from accountflow import load_accounts
    from accountflow.spark import (
        accounts_frame,
        build_job,
        merge_staged,
        result_schema,
        run_accounts,
    )

    settings = Settings.load(lm="fake")
    accounts = load_accounts(write_accounts(tmp_path / "a.jsonl", 12)).accounts
    staging = tmp_path / "staging"
    with Store(settings.db_path) as store:
        job = build_job(settings, store, "dupes", slots=2)
        frame = accounts_frame(spark, accounts, 2)
        frame.mapInPandas(lambda it: run_accounts(job, it), result_schema()).write.parquet(
            str(staging)
        )
        part = sorted(staging.glob("part-*.parquet"))[0]
        shutil.copy(part, staging / "part-99999-speculative-copy.parquet")
        first = merge_staged(staging, tmp_path / "out", store, "dupes", 2, job)
        again = merge_staged(staging, tmp_path / "out", store, "dupes", 2, job)
        assert first.runs_merged == again.runs_merged == 12
        runs = store.query("SELECT count(*) AS n FROM runs WHERE batch = 'dupes'")[0]["n"]
        steps = store.query(
            "SELECT count(*) AS n, count(DISTINCT step_id) AS d FROM steps "
            "WHERE run_id IN (SELECT run_id FROM runs WHERE batch = 'dupes')"
        )[0]
    assert runs == 12 and steps["n"] == steps["d"] == 12 * 4  # one per step
    assert first.accounts == 12 and len(_parquet_rows(tmp_path / "out")) == 12


def test_spark_udf_over_the_logged_pyfunc_scores_a_hundred_rows(spark: Any, tmp_path: Path) -> None:
    import mlflow
    import pandas as pd
    from pyspark.sql import functions as F

    from accountflow.spark import PYFUNC_RESULT_TYPE, log_pyfunc

    settings = Settings.load(lm="fake")
    with Store(settings.db_path) as store:
        uri = log_pyfunc(settings, store)
    demo = [json.loads(x) for x in data_path("accounts_demo.jsonl").read_text().splitlines()]
    rows = []
    for i in range(100):
        row = dict(demo[i % len(demo)])
        row["account_id"] = f"u-{i:03d}"
        row["contacts"] = json.dumps(row["contacts"])  # a JSON column, as tables often keep it
        row.pop("inquiry", None)
        row.pop("engagement", None)
        rows.append(
            {k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in row.items()}
        )
    df = spark.createDataFrame(
        pd.DataFrame(rows).astype(object).where(pd.DataFrame(rows).notna(), None)
    )
    udf = mlflow.pyfunc.spark_udf(spark, uri, result_type=PYFUNC_RESULT_TYPE, env_manager="local")
    scored = df.withColumn("r", udf(F.struct(*df.columns))).select("r.*").toPandas()
    assert len(scored) == 100
    assert set(scored["account_id"]) == {f"u-{i:03d}" for i in range(100)}
    assert (scored["status"] == "succeeded").all()
    sms = scored["sms"][scored["sms"] != ""]  # the disqualified demo accounts get no outreach
    assert len(sms) == 80 and sms.str.startswith("Hi ").all()
    # the same model loaded directly takes a multi-row pandas frame
    direct = mlflow.pyfunc.load_model(uri).predict(pd.DataFrame(rows[:3]))
    assert list(direct["account_id"]) == ["u-000", "u-001", "u-002"]


def test_score_engine_spark_from_the_cli_records_rejected_rows(
    spark: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = write_accounts(tmp_path / "a.jsonl", 6)
    with accounts.open("a", encoding="utf-8") as f:
        f.write(json.dumps({"account_id": "bad-1"}) + "\n")  # no company_name
    out = tmp_path / "out"
    code, _, err = run_cli(
        [
            *("score", str(accounts), "--out", str(out), "--engine", "spark", "--lm", "fake"),
            *("--batch", "cli-spark", "--json"),
        ],
        capsys,
        monkeypatch,
    )
    assert code == 1, err  # one rejected row
    assert len(_parquet_rows(out)) == 6
    with Store(Settings.load().db_path) as store:
        (rejected,) = store.query(
            "SELECT account_id, reason FROM rejected WHERE batch = 'cli-spark'"
        )
        assert rejected["account_id"] == "bad-1"
        batch = store.batches.get("cli-spark")
        assert batch is not None and batch.succeeded == 6
    code, _, err = run_cli(
        ["score", str(accounts), "--out", str(out), "--engine", "warp", "--lm", "fake"],
        capsys,
        monkeypatch,
    )
    assert code == 2 and "--engine" in err and err.count("\n") == 1


def test_score_takes_a_dataframe_of_account_fields(spark: Any, tmp_path: Path) -> None:
    """`spark.read.json` of an accounts file (contacts an array of structs) scores as is."""
    from accountflow.spark import score

    accounts = write_accounts(tmp_path / "a.jsonl", 8)
    df = spark.read.json(str(accounts))
    settings = Settings.load(lm="fake")
    with Store(settings.db_path) as store:
        result = score(df, tmp_path / "out", settings, store, batch="fields")
    assert result.by_status == {"succeeded": 8}
    rows = _parquet_rows(tmp_path / "out")
    assert [r["account_id"] for r in rows] == sorted(
        json.loads(x)["account_id"] for x in accounts.read_text().splitlines()
    )


def test_a_failed_merge_keeps_the_scored_partitions_for_a_retry(
    spark: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The merge into the store fails (as on a full disk): the staging Parquet stays, and
    `merge_staged` over it later records every account once, with no LM call."""
    from accountflow import load_accounts
    from accountflow.errors import StoreWriteError
    from accountflow.spark import accounts_frame, build_job, merge_staged, score
    from accountflow.store.runs import RunStore

    settings = Settings.load(lm="fake")
    accounts = load_accounts(write_accounts(tmp_path / "a.jsonl", 6)).accounts

    def full(*args: object, **kwargs: object) -> None:
        raise StoreWriteError("disk full")

    with Store(settings.db_path) as store, monkeypatch.context() as patch:
        patch.setattr(RunStore, "merge_records", full)
        with pytest.raises(StoreWriteError):
            score(
                accounts_frame(spark, accounts, 2), tmp_path / "out", settings, store, batch="full"
            )
    (staging,) = tmp_path.glob(".out.staging-*")
    with Store(settings.db_path) as store:
        job = build_job(settings, store, "full")
        result = merge_staged(staging, tmp_path / "out", store, "full", 2, job)
        assert result.runs_merged == 6
        assert store.query("SELECT count(*) AS n FROM runs WHERE batch = 'full'")[0]["n"] == 6
