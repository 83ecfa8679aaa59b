"""Batch scoring on Spark: the same steps per account, run inside `DataFrame.mapInPandas`.

How it works, and why:

- **The driver** resolves everything a partition needs once (settings, the seller, the promoted
  program as JSON, the review policy, the batch name, each task's share of the rate limits) into
  a `SparkJob`, which Spark ships to the executors with the function.
- **Each partition** builds an `Orchestrator` from the job on a private scratch DuckDB file in
  a temp dir (never the state dir's store, which executors never open), runs its accounts with
  `threads` at a time through the same retries, rules and step records as `score`, and yields
  one row per account: the output row `score` writes, plus the run and its step records as
  JSON. Run and step ids are derived from (batch, account, run identity) and (run, step,
  attempt), so a retried or speculative attempt of a partition produces the same keys.
- **Spark writes** that DataFrame once (its commit protocol keeps one attempt per partition) to
  a staging Parquet dir; the driver then, in DuckDB, writes the result rows as Parquet
  (partitioned by status) and merges the records into the store with upserts keyed by those
  ids (`RunStore.merge_records`): a retried task, a speculative duplicate, or the merge run
  twice leaves exactly one record per account, step and attempt.
- **Rate limits** are per organisation: `rpm`/`tpm` are the whole job's, and each task slot
  gets `1 / slots` of them (`spark.default.parallelism`), so N executors stay under the cap.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field

from accountflow.config import Settings
from accountflow.errors import ConfigError
from accountflow.models import Account, SellerProfile
from accountflow.outputs import output_columns

if TYPE_CHECKING:
    import pandas as pd
    from pyspark.sql import DataFrame, SparkSession

    from accountflow.store import Store

__all__ = [
    "RECORD_COLUMNS",
    "SparkJob",
    "SparkScore",
    "build_job",
    "merge_staged",
    "result_schema",
    "run_accounts",
    "score",
    "session",
]

# what a partition yields beyond the output row: the run and its step records, as JSON
RECORD_COLUMNS = ("run_record", "step_records")
_INT_COLUMNS = {"fit_score", "lm_calls", "cache_hits", "prompt_tokens", "completion_tokens"}
_FLOAT_COLUMNS = {"cost_usd"}
_LONG_COLUMNS = {"latency_ms"}
MERGE_CHUNK = 100  # account runs per merge transaction
FAIL_ONCE_ENV = "ACCOUNTFLOW_SPARK_FAIL_ONCE"  # tests: a marker dir; see `_maybe_fail`


class SparkJob(BaseModel):
    """Everything a partition needs, resolved on the driver and shipped to the executors."""

    settings: Settings
    seller: SellerProfile
    program_json: str
    program_version: str
    review: str
    batch: str
    threads: int = Field(default=4, ge=1, le=64)
    rpm_share: int | None = None
    tpm_share: int | None = None
    # tests: a marker dir (from ACCOUNTFLOW_SPARK_FAIL_ONCE on the driver); see `_maybe_fail`
    fail_once: str | None = None


class SparkScore(BaseModel):
    """What `score` did: where the rows went and the counts."""

    batch: str
    results: str  # Parquet dir, partitioned by status
    accounts: int
    by_status: dict[str, int]
    runs_merged: int
    steps_merged: int
    partitions: int


def result_schema() -> str:
    """The partition output's Spark DDL schema: the output row, then the record columns."""
    parts = []
    for name in output_columns():
        kind = "string"
        if name in _INT_COLUMNS:
            kind = "int"
        elif name in _LONG_COLUMNS:
            kind = "bigint"
        elif name in _FLOAT_COLUMNS:
            kind = "double"
        parts.append(f"`{name}` {kind}")
    parts += [f"`{c}` string" for c in RECORD_COLUMNS]
    return ", ".join(parts)


def build_job(
    settings: Settings,
    store: Store,
    batch: str,
    program: str | None = None,
    seller: SellerProfile | None = None,
    threads: int = 4,
    slots: int = 1,
) -> SparkJob:
    """The job for a batch: the program (promoted, or `program`) as JSON with its version, the
    seller, the review policy, and each of `slots` task slots' share of the rate limits."""
    from accountflow.lm.limits import RateLimiter
    from accountflow.orchestrator import ReviewPolicy
    from accountflow.programs import resolve_program, write_program_file

    if settings.sources.extra:
        raise ConfigError(
            "--engine spark researches from the account rows only; drop --sources web/docs "
            "(executors do not fetch websites or read a local docs folder)."
        )
    loaded = resolve_program(settings, program, store=store)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "program.json"
        version = write_program_file(loaded.program, path)
        program_json = path.read_text(encoding="utf-8")
    share = RateLimiter(settings.rpm, settings.tpm).share(max(1, slots))
    return SparkJob(
        settings=settings,
        seller=seller or settings.seller(),
        program_json=program_json,
        program_version=version,
        review=ReviewPolicy.from_settings(settings).identity(),
        batch=batch,
        threads=threads,
        rpm_share=share.rpm,
        tpm_share=share.tpm,
        fail_once=os.environ.get(FAIL_ONCE_ENV) or None,
    )


def stable_run_id(batch: str, account_id: str, identity: str) -> str:
    digest = hashlib.sha256(f"{batch}\x1f{account_id}\x1f{identity}".encode()).hexdigest()
    return "run_" + digest[:12]


def _account(raw: str) -> Account:
    data = json.loads(raw)
    contacts = data.get("contacts")
    if isinstance(contacts, str):  # a JSON column kept as text by the source
        data["contacts"] = json.loads(contacts) if contacts.strip() else []
    return Account.model_validate({k: v for k, v in data.items() if v is not None})


def _maybe_fail(marker_dir: str | None, partition: int, attempt: int, done: int) -> None:
    """Test hook: with ACCOUNTFLOW_SPARK_FAIL_ONCE=DIR set on the driver, partition 0's first
    attempt dies after its first account (the marker file makes it once per job)."""
    if not marker_dir or partition != 0 or attempt != 0 or done != 1:
        return
    marker = Path(marker_dir) / "failed-once"
    if marker.exists():
        return
    marker.write_text("partition 0 attempt 0\n", encoding="utf-8")
    raise RuntimeError("injected failure: partition 0, first attempt")


def run_accounts(
    job: SparkJob, frames: Iterator[pd.DataFrame], partition: int = 0, attempt: int = 0
) -> Iterator[pd.DataFrame]:
    """Run the accounts of one partition (frames with an `account_json` column) and yield
    their output rows with the run and step records. Opens only a scratch store."""
    import pandas as pd

    from accountflow.lm.limits import RateLimiter
    from accountflow.orchestrator import Orchestrator, ReviewPolicy, lm_for
    from accountflow.outputs import flatten
    from accountflow.programs import read_program_file
    from accountflow.store import Store

    scratch = Path(tempfile.mkdtemp(prefix="accountflow-spark-"))
    settings = job.settings.model_copy(update={"home": scratch, "rpm": None, "tpm": None})
    store = Store(scratch / "scratch.duckdb")
    try:
        program_path = scratch / "program.json"
        program_path.write_text(job.program_json, encoding="utf-8")
        program = read_program_file(program_path, settings)
        lm = lm_for(settings)
        if job.rpm_share or job.tpm_share:
            lm.limiter = RateLimiter(job.rpm_share, job.tpm_share)
        orchestrator = Orchestrator.from_settings(
            settings,
            store,
            lm=lm,
            program=program,
            seller=job.seller,
            review=ReviewPolicy.parse(job.review),
            batch=job.batch,
            source="spark",
        )
        done = 0
        for frame in frames:
            raws = [str(v) for v in frame["account_json"].tolist()]
            rows: list[dict[str, Any]] = []
            with ThreadPoolExecutor(max_workers=job.threads) as pool:
                for row in pool.map(lambda raw: _one(orchestrator, store, raw, flatten), raws):
                    rows.append(row)
                    done += 1
                    _maybe_fail(job.fail_once, partition, attempt, done)
            yield pd.DataFrame(rows, columns=[*output_columns(), *RECORD_COLUMNS])
    finally:
        store.close()
        shutil.rmtree(scratch, ignore_errors=True)


def _one(orchestrator: Any, store: Store, raw: str, flatten: Any) -> dict[str, Any]:
    """One account: its output row with stable ids, and its records as JSON."""
    from accountflow.store.codec import to_json

    try:
        account = _account(raw)
    except Exception as exc:  # a bad row is reported in its own row; the others go on
        data = json.loads(raw) if raw.startswith("{") else {}
        row: dict[str, Any] = dict.fromkeys(output_columns())
        row.update(
            account_id=str(data.get("account_id") or ""),
            company_name=data.get("company_name"),
            status="rejected",
            error=f"{type(exc).__name__}: {str(exc).splitlines()[0][:300]}",
            run_record=None,
            step_records=None,
        )
        return row
    result = orchestrator.run(account)
    run = store.query("SELECT * FROM runs WHERE run_id = ?", [result.run_id])[0]
    run_id = stable_run_id(orchestrator.batch or "", account.account_id, str(run["identity"]))
    steps = []
    for record in store.get_steps(result.run_id):
        data = record.model_dump(mode="json")
        data.update(step_id=f"{run_id}_{record.step}_{record.attempt}", run_id=run_id, pid=None)
        steps.append(data)
    run = {**run, "run_id": run_id, "pid": None}
    if isinstance(run.get("result"), dict):
        run["result"] = {**run["result"], "run_id": run_id}
    row = flatten(result.model_copy(update={"run_id": run_id}))
    row["run_record"] = to_json(run)
    row["step_records"] = to_json(steps)
    return row


def session(master: str = "local[2]", app: str = "accountflow") -> SparkSession:
    """A Spark session whose Python workers use this interpreter (the venv's)."""
    import sys

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    import warnings

    from pyspark.sql import SparkSession

    # PySpark 4 warns on every pandas conversion that it has not certified pandas 3 yet
    warnings.filterwarnings("ignore", message="PySpark does not yet fully support pandas")
    spark = (
        SparkSession.builder.master(master)
        .appName(app)
        .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "4")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def accounts_frame(spark: SparkSession, accounts: Sequence[Account], partitions: int) -> DataFrame:
    """Validated accounts as a DataFrame of `account_json` (what `score INPUT --engine spark`
    hands to `score` after reading the file with the same validation as in-process)."""
    import pandas as pd

    frame = pd.DataFrame({"account_json": [a.model_dump_json() for a in accounts]})
    return spark.createDataFrame(frame, "account_json string").repartition(partitions)


def score(
    df: DataFrame,
    out: str | Path,
    settings: Settings,
    store: Store,
    *,
    batch: str | None = None,
    program: str | None = None,
    seller: SellerProfile | None = None,
    threads: int = 4,
) -> SparkScore:
    """Score the accounts of `df` on its Spark session and merge the records into `store`.

    `df` has either an `account_json` column (an Account as JSON) or the account fields as
    columns (`contacts` as an array of structs or a JSON string). The result rows are written
    to `out` as Parquet partitioned by `status`, with the same columns `score` writes."""
    from pyspark.sql import functions as F
    from pyspark.taskcontext import TaskContext

    spark = df.sparkSession
    if "account_json" not in df.columns:
        df = df.select(
            F.to_json(F.struct(*[F.col(f"`{c}`") for c in df.columns])).alias("account_json")
        )
    name = batch or f"spark-{uuid.uuid4().hex[:8]}"
    slots = int(spark.sparkContext.defaultParallelism)
    job = build_job(settings, store, name, program, seller, threads, slots)
    out = Path(out)
    staging = out.parent / f".{out.name}.staging-{uuid.uuid4().hex[:8]}"

    def partition(frames: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        ctx = TaskContext.get()
        yield from run_accounts(
            job,
            frames,
            ctx.partitionId() if ctx else 0,
            ctx.attemptNumber() if ctx else 0,
        )

    scored = df.mapInPandas(partition, result_schema())
    scored.write.mode("overwrite").parquet(str(staging))
    # the staging dir goes only once merged: if the merge fails (a full disk, a held store),
    # the scored partitions stay for `merge_staged` to retry instead of being paid for again
    result = merge_staged(staging, out, store, name, df.rdd.getNumPartitions(), job)
    shutil.rmtree(staging, ignore_errors=True)
    return result


def merge_staged(
    staging: Path, out: Path, store: Store, batch: str, partitions: int, job: SparkJob
) -> SparkScore:
    """Write the result rows and merge the records, both from the committed staging Parquet;
    idempotent (upserts by stable ids), so it can run again on the same staging."""
    import duckdb

    from accountflow.store.batches import BatchRecord
    from accountflow.store.codec import utcnow

    files = str(staging / "*.parquet")
    con = duckdb.connect()
    try:
        # one row per account run: a duplicate attempt's copy (same stable run id) counts once
        con.execute(
            f"CREATE TEMP VIEW staged AS SELECT * FROM read_parquet('{_sql_path(Path(files))}') "
            "QUALIFY row_number() OVER (PARTITION BY coalesce(run_id, 'account:' || account_id) "
            "ORDER BY run_id) = 1"
        )
        columns = ", ".join(f'"{c}"' for c in output_columns())
        if out.exists():
            shutil.rmtree(out)
        con.execute(
            f"COPY (SELECT {columns} FROM staged ORDER BY account_id) "
            f"TO '{_sql_path(out)}' (FORMAT parquet, PARTITION_BY (status), OVERWRITE_OR_IGNORE)"
        )
        counts = dict(con.execute("SELECT status, count(*) FROM staged GROUP BY status").fetchall())
        # merged in chunks (each its own idempotent upsert), so neither the driver's memory nor
        # the store's transaction grows with the number of accounts
        merged_runs = merged_steps = 0
        cur = con.execute(
            "SELECT run_record, step_records FROM staged WHERE run_record IS NOT NULL"
        )
        while chunk := cur.fetchmany(MERGE_CHUNK):
            runs = [json.loads(run) for run, _ in chunk]
            steps = [step for _, text in chunk for step in json.loads(text or "[]")]
            n_runs, n_steps = store.merge_records(runs, steps)
            merged_runs += n_runs
            merged_steps += n_steps
    finally:
        con.close()
    now = utcnow()
    store.batches.record(
        BatchRecord(
            name=batch,
            input_path="spark",
            output_path=str(out.absolute()),
            model=job.settings.lm,
            program_version=job.program_version,
            review=job.review.split("?")[0],
            status="completed",
            accounts=sum(counts.values()),
            succeeded=int(counts.get("succeeded", 0)),
            failed=int(counts.get("failed", 0)),
            rejected=int(counts.get("rejected", 0)),
            created_at=now,
            updated_at=now,
        )
    )
    return SparkScore(
        batch=batch,
        results=str(out),
        accounts=sum(counts.values()),
        by_status={str(k): int(v) for k, v in counts.items()},
        runs_merged=merged_runs,
        steps_merged=merged_steps,
        partitions=partitions,
    )


def _sql_path(path: Path) -> str:
    return str(path).replace("'", "''")


# ---------------------------------------------------------------------------- MLflow pyfunc
class _Pyfunc:
    """Factory for the pyfunc class (mlflow is imported only when a model is logged/loaded)."""

    @staticmethod
    def cls() -> type:
        import mlflow.pyfunc

        class AccountflowModel(mlflow.pyfunc.PythonModel):  # type: ignore[name-defined]
            """The promoted program as an MLflow pyfunc that scores DataFrames of any number
            of rows (MLflow's own DSPy flavour rejects more than one: mlflow#17537), so
            `mlflow.pyfunc.spark_udf` works. Each call runs its rows through the same
            pipeline, retries and rules as `score`, on a scratch store."""

            def load_context(self, context: Any) -> None:
                self.job = SparkJob.model_validate_json(
                    Path(context.artifacts["job"]).read_text(encoding="utf-8")
                )

            def predict(
                self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None
            ) -> pd.DataFrame:
                import pandas as pd

                frame = pd.DataFrame({"account_json": input_json(model_input)})
                parts = list(run_accounts(self.job, iter([frame])))
                out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
                out = out.drop(columns=list(RECORD_COLUMNS), errors="ignore")
                # missing text as "": spark_udf writes a missing string field as "None"/"nan"
                numbers = _INT_COLUMNS | _LONG_COLUMNS | _FLOAT_COLUMNS
                for column in out.columns:
                    if column not in numbers:
                        out[column] = out[column].astype(object).where(out[column].notna(), "")
                return out

        return AccountflowModel


def input_json(frame: pd.DataFrame) -> list[str]:
    """Each row of a pyfunc input as an Account JSON: an `account_json` column as is, else the
    row's columns (account fields; `contacts` a list or a JSON string)."""
    if "account_json" in frame.columns:
        return [str(v) for v in frame["account_json"].tolist()]
    rows = frame.to_dict(orient="records")
    return [json.dumps(_plain(r), default=str) for r in rows]


def _plain(value: Any) -> Any:
    """numpy/pandas values (arrays of structs from Spark) as plain JSON values."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "asDict"):
        return _plain(value.asDict())
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


PYFUNC_RESULT_TYPE = ", ".join(
    f"{name} {kind}"
    for name, kind in (
        ("account_id", "string"),
        ("status", "string"),
        ("fit_score", "int"),
        ("approach", "string"),
        ("email_subject", "string"),
        ("email_body", "string"),
        ("linkedin_note", "string"),
        ("sms", "string"),
        ("call_opener", "string"),
        ("error", "string"),
        ("run_id", "string"),
    )
)


def log_pyfunc(
    settings: Settings,
    store: Store,
    name: str = "accountflow",
    program: str | None = None,
    seller: SellerProfile | None = None,
    threads: int = 4,
) -> str:
    """Log the promoted program (or `program`) as a multi-row pyfunc in the state dir's
    MLflow, with the program JSON (inside the job artifact) and explicit pip requirements.
    Returns the model URI for `mlflow.pyfunc.load_model` or `spark_udf` (result type
    `PYFUNC_RESULT_TYPE`, or any subset of the output columns)."""
    from importlib import metadata

    import mlflow

    from accountflow.tracking import start_run

    job = build_job(settings, store, f"pyfunc-{name}", program, seller, threads)
    from accountflow.lm.ref import redact_api_base

    # the job carries no state dir (each predict call works in a scratch dir of its own) and
    # no secret: an endpoint's credentials are dropped; keys come from the serving environment
    api_base = redact_api_base(job.settings.api_base) if job.settings.api_base else None
    safe = job.settings.model_copy(update={"home": Path("."), "api_base": api_base})
    job = job.model_copy(update={"settings": safe})
    requirements = []
    for dist in ("dspy", "duckdb", "pydantic", "litellm", "pyyaml", "pyarrow", "pandas"):
        try:
            requirements.append(f"{dist}=={metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            continue
    requirements.insert(0, f"accountflow=={metadata.version('accountflow')}")
    with tempfile.TemporaryDirectory() as tmp:
        job_path = Path(tmp) / "job.json"
        job_path.write_text(job.model_dump_json(), encoding="utf-8")
        program_path = Path(tmp) / "program.json"
        program_path.write_text(job.program_json, encoding="utf-8")
        tags = {"accountflow.program_version": job.program_version}
        with start_run(settings, "accountflow-models", f"pyfunc {job.program_version}", tags):
            info = mlflow.pyfunc.log_model(
                name=name,
                python_model=_Pyfunc.cls()(),
                artifacts={"job": str(job_path), "program": str(program_path)},
                pip_requirements=requirements,
            )
    return str(info.model_uri)
