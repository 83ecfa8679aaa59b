"""Batch scoring: stream an account file through N workers, write results as they finish.

The main thread reads and validates rows, queues work (a bounded queue, so memory does not grow
with the file), writes output rows and enforces the budget; workers run accounts through one
shared `Orchestrator` (one store writer lock, one circuit breaker). A batch has a name; running
it again skips accounts that already succeeded with the same input, program and model, resumes
interrupted or failed runs from their last finished step, and rewrites the output whole.
"""

from __future__ import annotations

import hashlib
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from accountflow.errors import ConfigError, NotFoundError
from accountflow.io import Rejection, parquet_row_count, stream_accounts
from accountflow.lm.ref import ModelRef
from accountflow.lm.usage import price as lm_price
from accountflow.models import Account, AccountResult, RunStatus
from accountflow.orchestrator import Orchestrator, input_hash, one_line
from accountflow.outputs import RejectedWriter, check_output, flatten, open_writer, rejected_path
from accountflow.resilience import CircuitOpenError
from accountflow.store import Store
from accountflow.store.batches import BatchRecord
from accountflow.store.codec import utcnow

StopReason = Literal["completed", "budget", "breaker", "interrupted"]
EXIT_CODES: dict[str, int] = {"budget": 3, "interrupted": 130}


class BatchSummary(BaseModel):
    batch: str
    output: str
    rejected_file: str | None
    accounts: int = 0  # good rows seen
    succeeded: int = 0
    failed: int = 0
    awaiting_review: int = 0
    skipped: int = 0  # succeeded in an earlier run of this batch: not run again
    resumed: int = 0
    rejected: int = 0
    not_started: int = 0
    lm_calls: int = 0
    cache_hits: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    elapsed_s: float = 0.0
    stop: StopReason = "completed"
    stop_detail: str | None = None
    warnings: list[str] = Field(default_factory=list)  # e.g. unknown columns, ignored

    @property
    def accounts_per_s(self) -> float:
        done = self.succeeded + self.failed + self.awaiting_review
        return done / self.elapsed_s if self.elapsed_s else 0.0

    @property
    def exit_code(self) -> int:
        if self.stop in EXIT_CODES:
            return EXIT_CODES[self.stop]
        return 1 if (self.failed or self.rejected or self.stop == "breaker") else 0


def default_batch_name(path: Path) -> str:
    """`<file stem>-<first 10 hex of the file's sha256>`: the same file is the same batch."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return f"{path.stem}-{digest.hexdigest()[:10]}"


def count_rows(path: Path) -> int | None:
    """Rows in the input, for the progress bar's ETA (a cheap second pass; None if unknown)."""
    suffix = path.suffix.lower()
    try:
        if suffix == ".parquet":
            return parquet_row_count(path)
        with path.open("rb") as fh:
            lines = sum(1 for line in fh if line.strip())
        return lines - 1 if suffix == ".csv" else lines
    except Exception:
        return None


@dataclass
class _Work:
    account: Account
    resume_run: str | None = None


@dataclass
class _Done:
    account: Account
    result: AccountResult | None = None
    resumed: bool = False
    breaker: str | None = None
    error: str | None = None


class BatchScorer:
    """One invocation of `accountflow score` (also usable from Python)."""

    def __init__(
        self,
        orchestrator: Orchestrator,
        input: Path,
        output: Path,
        contacts: Path | None = None,
        batch: str | None = None,
        concurrency: int = 8,
        limit: int | None = None,
        budget_usd: float | None = None,
        on_result: Callable[[BatchSummary, AccountResult | None], None] | None = None,
    ) -> None:
        if concurrency < 1:
            raise ConfigError("--concurrency must be at least 1.")
        if budget_usd is not None and budget_usd <= 0:
            raise ConfigError("--budget-usd must be more than 0.")
        check_output(output)
        self.stream = stream_accounts(input, contacts)  # file checks happen here
        self.orchestrator = orchestrator
        self.store = orchestrator.store
        self.input, self.output, self.contacts = input, output, contacts
        self.name = batch or default_batch_name(input)
        orchestrator.batch = self.name
        self.concurrency = concurrency
        self.limit = limit
        self.budget_usd = budget_usd
        self.on_result = on_result
        self.summary = BatchSummary(batch=self.name, output=str(output), rejected_file=None)
        self._stop = threading.Event()

    # ------------------------------------------------------------------ public
    def run(self) -> BatchSummary:
        started = time.perf_counter()
        self.store.write_behind(True)
        self._record_batch("running")
        self.store.batches.clear_rejections(self.name)
        prior = self.store.batches.latest_runs(self.name)
        writer = open_writer(self.output)
        rejects = RejectedWriter(rejected_path(self.output))
        work: queue.Queue[_Work | None] = queue.Queue(maxsize=self.concurrency * 2)
        done: queue.Queue[_Done] = queue.Queue()
        workers = [
            threading.Thread(
                target=self._worker, args=(work, done), daemon=True, name=f"accountflow-worker-{i}"
            )
            for i in range(self.concurrency)
        ]
        for t in workers:
            t.start()
        in_flight = 0
        try:
            for item in self.stream:
                in_flight -= self._drain(done, writer, block=False)
                if isinstance(item, Rejection):
                    self._reject(item, rejects)
                    continue
                if self.limit is not None and self.summary.accounts >= self.limit:
                    break  # the accounts already queued still run
                self.summary.accounts += 1
                if self._stop.is_set():
                    self.summary.not_started += 1
                    continue
                job = self._plan(item, prior.get(item.account_id), writer)
                if job is None:
                    continue
                while True:  # a bounded queue: wait for room, collecting results meanwhile
                    try:
                        work.put(job, timeout=0.05)
                        in_flight += 1
                        break
                    except queue.Full:
                        in_flight -= self._drain(done, writer, block=False)
                        if self._stop.is_set():
                            self.summary.not_started += 1
                            break
            while in_flight > 0:
                in_flight -= self._drain(done, writer, block=True)
        except KeyboardInterrupt:
            self._stop_with("interrupted", "Ctrl-C")
            in_flight -= self._drain(done, writer, block=False)
        finally:
            for _ in workers:
                try:
                    work.put_nowait(None)
                except queue.Full:
                    break
            writer.close()
            rejects.close()
            self.store.flush()
            self.summary.rejected_file = str(rejects.path) if rejects.count else None
            self.summary.warnings = list(self.stream.warnings)
            self.summary.elapsed_s = time.perf_counter() - started
            self._record_batch(self.summary.stop)
        return self.summary

    # ------------------------------------------------------------------ planning
    def _plan(self, account: Account, prior: dict[str, Any] | None, writer: Any) -> _Work | None:
        """Skip (writing the stored result), resume the stored run, or run afresh."""
        orch = self.orchestrator
        same = prior is not None and (
            prior["input_hash"] == input_hash(account.model_dump(mode="json"))
            and prior["program_version"] == orch.program_version
            and prior["model"] == orch.model
        )
        if same and prior is not None:
            status = prior["status"]
            if status in (RunStatus.succeeded.value, RunStatus.awaiting_review.value):
                stored = self.store.get_run(prior["run_id"]).get("result")
                result = AccountResult.model_validate(stored) if stored else None
                # a contact suppressed since then must not get the stored outreach: run again
                if result is not None and result.suppressed == orch.suppressions(account).among(
                    account.contacts
                ):
                    self.summary.skipped += 1
                    self._count_status(result)
                    writer.write(flatten(result))
                    if self.on_result:
                        self.on_result(self.summary, result)
                    return None
            if status in (
                RunStatus.failed.value,
                RunStatus.interrupted.value,
                RunStatus.running.value,
            ):
                return _Work(account, resume_run=prior["run_id"])
        return _Work(account)

    def _reject(self, rejection: Rejection, rejects: RejectedWriter) -> None:
        self.summary.rejected += 1
        rejects.write(rejection)
        self.store.add_rejections(rejection.source, [rejection], batch=self.name)
        if self.on_result:
            self.on_result(self.summary, None)

    # ------------------------------------------------------------------ workers
    def _worker(self, work: queue.Queue[_Work | None], done: queue.Queue[_Done]) -> None:
        import dspy

        # DSPy keeps the last 10,000 calls, whole prompts, per LM and globally: a batch needs
        # neither (the store records every step). Usage is measured by a callback, which
        # DSPy runs with history disabled too.
        with dspy.context(disable_history=True):
            self._work_loop(work, done)

    def _work_loop(self, work: queue.Queue[_Work | None], done: queue.Queue[_Done]) -> None:
        while True:
            job = work.get()
            if job is None:
                return
            if self._stop.is_set():  # stopped (budget, breaker, Ctrl-C): leave it for later
                done.put(_Done(job.account))
                continue
            try:
                if job.resume_run is not None:
                    result = self.orchestrator.continue_run(job.resume_run)
                else:
                    result = self.orchestrator.run(job.account)
                done.put(_Done(job.account, result, resumed=job.resume_run is not None))
            except CircuitOpenError as exc:
                done.put(_Done(job.account, breaker=str(exc)))
            except Exception as exc:  # a bug must not take the batch down: record and go on
                done.put(_Done(job.account, error=one_line(exc)))

    def _drain(self, done: queue.Queue[_Done], writer: Any, block: bool) -> int:
        """Write finished results; returns how many jobs finished."""
        finished = 0
        while True:
            try:
                item = done.get(timeout=0.05) if block and not finished else done.get_nowait()
            except queue.Empty:
                return finished
            finished += 1
            self._finish(item, writer)

    def _finish(self, item: _Done, writer: Any) -> None:
        if item.breaker is not None:
            self._stop_with("breaker", item.breaker)
            self.summary.not_started += 1
            return
        if item.result is None:
            if item.error is not None:
                self.summary.failed += 1
                self.summary.stop_detail = self.summary.stop_detail or item.error
            else:
                self.summary.not_started += 1
            return
        result = item.result
        self.summary.resumed += item.resumed
        self._count_status(result)
        s = self.summary
        s.lm_calls += result.lm_calls
        s.cache_hits += result.cache_hits
        s.prompt_tokens += result.prompt_tokens
        s.completion_tokens += result.completion_tokens
        s.cost_usd += result.cost_usd or 0.0
        writer.write(flatten(result))
        if self.budget_usd is not None and s.cost_usd >= self.budget_usd:
            self._stop_with(
                "budget", f"spent ${s.cost_usd:.4f} of the ${self.budget_usd:.2f} budget"
            )
        if self.on_result:
            self.on_result(s, result)

    def _count_status(self, result: AccountResult) -> None:
        if result.status == RunStatus.succeeded:
            self.summary.succeeded += 1
        elif result.status == RunStatus.awaiting_review:
            self.summary.awaiting_review += 1
        else:
            self.summary.failed += 1

    def _stop_with(self, reason: StopReason, detail: str) -> None:
        if not self._stop.is_set():
            self.summary.stop, self.summary.stop_detail = reason, detail
            self._stop.set()

    # ------------------------------------------------------------------ bookkeeping
    def _record_batch(self, status: str) -> None:
        s, orch = self.summary, self.orchestrator
        now = utcnow()
        self.store.batches.record(
            BatchRecord(
                name=self.name,
                input_path=str(self.input.absolute()),
                contacts_path=str(self.contacts.absolute()) if self.contacts else None,
                output_path=str(self.output.absolute()),
                model=orch.model,
                program_version=orch.program_version,
                status=status,
                stop_reason=s.stop_detail,
                accounts=s.accounts,
                succeeded=s.succeeded,
                failed=s.failed,
                rejected=s.rejected,
                cost_usd=s.cost_usd,
                created_at=now,
                updated_at=now,
            )
        )


def get_batch(store: Store, name: str) -> dict[str, Any]:
    """A stored batch's row (its files, model and program: what `resume --batch` re-runs)."""
    record = store.batches.get(name)
    if record is None:
        raise NotFoundError(f"No batch {name!r}; `accountflow batches` lists them.")
    return record.model_dump()


class Estimate(BaseModel):
    """What `score --dry-run` prints: the pipeline run on the fake engine over a sample, scaled
    to the whole file and priced with litellm's cost map for the chosen model."""

    model: str
    sampled: int
    accounts: int
    rejected: int
    lm_calls_per_account: float
    prompt_tokens_per_account: float
    completion_tokens_per_account: float
    total_lm_calls: int
    total_prompt_tokens: int
    total_completion_tokens: int
    cost_usd: float | None
    price_note: str


def price(model: str, prompt_tokens: int, completion_tokens: int) -> tuple[float | None, str]:
    """Dollar cost from litellm's (local, offline) cost map; None when the model has no price."""
    ref = ModelRef.parse(model)
    if ref.in_process:
        return 0.0, "runs on this machine: no per-token price"
    cost = lm_price(ref, prompt_tokens, completion_tokens)
    if cost is None:
        return None, f"litellm's cost map has no price for {ref.litellm_model}"
    return cost, "priced with litellm's cost map"


def estimate(
    orchestrator_factory: Callable[[], Orchestrator],
    model: str,
    input: Path,
    contacts: Path | None = None,
    sample: int = 5,
    limit: int | None = None,
) -> Estimate:
    """Count the file's good rows and run the first `sample` of them on the fake engine.

    Completion tokens come from the fake's short answers, so they are a lower bound; prompt
    tokens are the real prompts' (characters / 4)."""
    stream = stream_accounts(input, contacts)
    good: list[Account] = []
    accounts = rejected = 0
    for item in stream:
        if isinstance(item, Rejection):
            rejected += 1
            continue
        if limit is not None and accounts >= limit:
            continue
        accounts += 1
        if len(good) < sample:
            good.append(item)
    orch = orchestrator_factory()
    calls = prompt = completion = 0
    for account in good:
        result = orch.run(account)
        calls += result.lm_calls
        prompt += result.prompt_tokens
        completion += result.completion_tokens
    n = max(len(good), 1)
    per = (calls / n, prompt / n, completion / n)
    total_prompt, total_completion = int(per[1] * accounts), int(per[2] * accounts)
    cost, note = price(model, total_prompt, total_completion)
    return Estimate(
        model=model,
        sampled=len(good),
        accounts=accounts,
        rejected=rejected,
        lm_calls_per_account=per[0],
        prompt_tokens_per_account=per[1],
        completion_tokens_per_account=per[2],
        total_lm_calls=int(per[0] * accounts),
        total_prompt_tokens=total_prompt,
        total_completion_tokens=total_completion,
        cost_usd=cost,
        price_note=note,
    )
