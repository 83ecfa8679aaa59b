"""Batch scoring: stream an account file through N workers, write results as they finish.

The main thread reads and validates rows, queues work (a bounded queue, so memory does not grow
with the file), writes output rows and enforces the budget; workers run accounts through one
shared `Orchestrator` (one store writer lock, one circuit breaker). A batch has a name; running
it again skips accounts that already succeeded with the same run identity (`identity.py`: input
row, seller, program, model, review mode, sources), resumes interrupted or failed runs of that
identity from their last finished step, runs the rest afresh, and rewrites the output whole.
"""

from __future__ import annotations

import hashlib
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from accountflow.errors import (
    ConfigError,
    NotFoundError,
    OutputWriteError,
    StoreWriteError,
    storage_reason,
)
from accountflow.io import Rejection, parquet_row_count, stream_accounts
from accountflow.lm.ref import ModelRef
from accountflow.lm.usage import price as lm_price
from accountflow.models import Account, AccountResult, RunStatus
from accountflow.orchestrator import Orchestrator, RunStopped, one_line
from accountflow.outputs import RejectedWriter, check_output, flatten, open_writer, rejected_path
from accountflow.resilience import (
    Budget,
    BudgetExhaustedError,
    CircuitOpenError,
    KeyRefusedError,
    format_usd,
)
from accountflow.stats import publish_live
from accountflow.store import Store
from accountflow.store.batches import BatchRecord
from accountflow.store.codec import utcnow

StopReason = Literal["completed", "budget", "breaker", "refused", "interrupted", "store", "output"]
# How long a stopping batch waits for its workers to end their current step.
STOP_GRACE_S = 5.0
# Stops that end the batch at once (no more rows read); budget and breaker stops read on to
# count what was not started.
_AT_ONCE = ("interrupted", "store", "output")
EXIT_CODES: dict[str, int] = {"budget": 3, "refused": 2, "interrupted": 130}


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
    rejected_input: int = 0  # of the rejected rows, those of the accounts file (not --contacts)
    not_started: int = 0  # never began: queued or unread when the batch stopped
    interrupted: int = 0  # began, stopped part-way (Ctrl-C, breaker, store): resumed next time
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
    def rate_text(self) -> str:
        """`12.3 accounts/s`, or `4.1 s/account` when slower than one a second (a slow batch
        read `0.00 accounts/s`)."""
        rate = self.accounts_per_s
        if rate >= 1:
            return f"{rate:.2f} accounts/s"
        if rate > 0:
            return f"{1 / rate:.1f} s/account"
        return "no account finished"

    @property
    def exit_code(self) -> int:
        if self.stop in EXIT_CODES:
            return EXIT_CODES[self.stop]
        return 1 if (self.failed or self.rejected or self.stop == "breaker") else 0


def _stop_reason(exc: CircuitOpenError) -> StopReason:
    if isinstance(exc, KeyRefusedError):
        return "refused"
    if isinstance(exc, BudgetExhaustedError):
        return "budget"
    return "breaker"


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
    breaker: str | None = None  # why all work stopped (breaker, refused key, budget)
    stop: StopReason = "breaker"
    error: str | None = None
    interrupted: bool = False  # began but stopped part-way (its finished steps are recorded)


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
        seller_path: Path | None = None,
        program_ref: str | None = None,
    ) -> None:
        """`seller_path` and `program_ref` (the `--seller` file and `--program` ref the
        orchestrator was built from) are recorded so that `resume --batch` builds it again."""
        if concurrency < 1:
            raise ConfigError("--concurrency must be at least 1.")
        if budget_usd is not None and budget_usd <= 0:
            raise ConfigError("--budget-usd must be more than 0.")
        # before reading anything: an output that is an input would be destroyed
        check_output(output, [input] if contacts is None else [input, contacts])
        # the files, headers, contacts and first row are checked here, before the batch is
        # recorded or the output opened, so a file that cannot start leaves both untouched
        self.stream = stream_accounts(input, contacts)
        self.orchestrator = orchestrator
        self.store = orchestrator.store
        self.input, self.output, self.contacts = input, output, contacts
        self.name = batch or default_batch_name(input)
        orchestrator.batch = self.name
        self.concurrency = concurrency
        self.limit = limit
        self.budget_usd = budget_usd
        # every step attempt reserves from it, so the limit holds across workers; a model
        # without a per-token price cannot be held to one (the CLI says so)
        in_process = ModelRef.parse(orchestrator.model).in_process
        self.budget = Budget(None if in_process else budget_usd)
        orchestrator.budget = self.budget
        self.on_result = on_result
        self.seller_path = seller_path
        self.program_ref = program_ref or orchestrator.program_version
        self.summary = BatchSummary(batch=self.name, output=str(output), rejected_file=None)
        self._stop = threading.Event()
        self._output_error: OutputWriteError | None = None
        # finished jobs whose records are still queued: (write-behind generation, job)
        self._held: list[tuple[int, _Done]] = []

    # ------------------------------------------------------------------ public
    def run(self) -> BatchSummary:
        """Score the file; meanwhile `stats` and `runs list` in other processes read the live
        snapshot this publishes (the store itself is locked to this process)."""
        with publish_live(self.store, self.name):
            return self._run()

    def _run(self) -> BatchSummary:
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
            with self._ctrl_c_stops():
                in_flight = self._feed(work, done, writer, rejects, prior)
                while in_flight > 0 and self.summary.stop not in _AT_ONCE:
                    in_flight -= self._drain(done, writer, block=True)
        except KeyboardInterrupt:  # a second Ctrl-C, or one outside the handler
            self._stop_with("interrupted", "Ctrl-C")
        finally:
            self._stop_workers(work, done, workers, writer)
            try:
                writer.close()
                rejects.close()
            except OSError as exc:
                self._output_failed(exc)
            self.summary.rejected_file = str(rejects.path) if rejects.count else None
            self.summary.warnings = list(self.stream.warnings)
            self.summary.elapsed_s = time.perf_counter() - started
            # what every attempt cost, including those of runs a stop left interrupted
            self.summary.cost_usd = max(self.summary.cost_usd, self.budget.spent_usd)
            self._close_batch()
        return self.summary

    def _feed(
        self,
        work: queue.Queue[_Work | None],
        done: queue.Queue[_Done],
        writer: Any,
        rejects: RejectedWriter,
        prior: dict[str, dict[str, Any]],
    ) -> int:
        """Read the input and queue work until it ends or the batch stops at once; returns
        how many queued jobs have not finished yet."""
        in_flight = 0
        for item in self.stream:
            in_flight -= self._drain(done, writer, block=False)
            if isinstance(item, Rejection):
                self._reject(item, rejects)
                continue
            if self.summary.stop in _AT_ONCE:
                break
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
        return in_flight

    @contextmanager
    def _ctrl_c_stops(self) -> Iterator[None]:
        """The first Ctrl-C stops the batch in order (runs end between steps, finished steps
        are recorded) instead of raising wherever the main thread is: inside a DuckDB call it
        surfaced as "Query interrupted", a traceback. A second Ctrl-C raises as usual."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum: int, frame: object) -> None:
            if self.summary.stop == "interrupted":
                raise KeyboardInterrupt
            self._stop_with("interrupted", "Ctrl-C")

        previous = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, previous)

    def _stop_workers(
        self,
        work: queue.Queue[_Work | None],
        done: queue.Queue[_Done],
        workers: list[threading.Thread],
        writer: Any,
    ) -> None:
        """Unqueue what did not start, let each worker end its current step (runs stop
        between steps), and record what they finished; a worker still waiting on the provider
        after `STOP_GRACE_S` is left behind (its run stays resumable)."""
        if self._stop.is_set():
            self.orchestrator.stopping.set()
        while True:
            try:
                job = work.get_nowait()
            except queue.Empty:
                break
            if job is not None:
                self.summary.not_started += 1
        for _ in workers:
            work.put(None)  # the queue was just emptied: room for one per worker
        deadline = time.monotonic() + STOP_GRACE_S
        while any(t.is_alive() for t in workers) and time.monotonic() < deadline:
            self._drain(done, writer, block=True)
        self._drain(done, writer, block=False)
        self._release(writer, flush=True)

    def _write_row(self, writer: Any, result: AccountResult) -> None:
        if self._output_error is not None:
            return
        try:
            writer.write(flatten(result))
        except OSError as exc:
            self._output_failed(exc)

    def _output_failed(self, exc: OSError) -> None:
        """The results file cannot be written: stop starting work and say why in one line
        (the store has every finished run; the next run writes the whole file again)."""
        if self._output_error is None:
            self._output_error = OutputWriteError(
                f"Could not write the results file {self.output} ({storage_reason(exc)}); "
                "free space or pass another --out, then run the same command again to resume."
            )
        self._stop_with("output", str(self._output_error))

    def _close_batch(self) -> None:
        """Write what is queued and the batch's final status; a store that cannot write ends
        the batch with its one sentence (the runs it did record resume next time)."""
        if self.store.write_error is None:
            try:
                self.store.flush()
                self._record_batch(self.summary.stop)
            except StoreWriteError:
                pass
        if self.store.write_error is not None:
            raise self.store.write_error
        if self._output_error is not None:
            raise self._output_error

    # ------------------------------------------------------------------ planning
    def _plan(self, account: Account, prior: dict[str, Any] | None, writer: Any) -> _Work | None:
        """Skip (writing the stored result), resume the stored run, or run afresh."""
        same = prior is not None and prior["identity"] == self.orchestrator.identity(account).key
        if same and prior is not None:
            status = prior["status"]
            if status in (RunStatus.succeeded.value, RunStatus.awaiting_review.value):
                stored = self.store.get_run(prior["run_id"]).get("result")
                result = AccountResult.model_validate(stored) if stored else None
                # a contact suppressed since then must not get the stored outreach: run again
                if result is not None and result.suppressed == self.orchestrator.suppressions(
                    account
                ).among(account.contacts):
                    self.summary.skipped += 1
                    self._count_status(result)
                    self._write_row(writer, result)
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
        self.summary.rejected_input += rejection.source == str(self.input)
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
                done.put(
                    _Done(job.account, breaker=str(exc), stop=_stop_reason(exc), interrupted=True)
                )
            except (RunStopped, StoreWriteError):
                done.put(_Done(job.account, interrupted=True))
            except Exception as exc:  # a bug must not take the batch down: record and go on
                done.put(_Done(job.account, error=one_line(exc)))

    def _drain(self, done: queue.Queue[_Done], writer: Any, block: bool) -> int:
        """Take finished jobs; returns how many finished. A job's output row is written once
        the write-behind has flushed its records (`Database.is_written`), so the output never
        lists an account the store did not record; a failed flush stops the batch at once."""
        items: list[_Done] = []
        while True:
            try:
                items.append(done.get(timeout=0.05) if block and not items else done.get_nowait())
            except queue.Empty:
                break
        generation = self.store.queued_generation  # covers every record of these jobs
        self._held.extend((generation, item) for item in items)
        self._release(writer)
        return len(items)

    def _release(self, writer: Any, flush: bool = False) -> None:
        """Finish the held jobs whose records are in the store (all of them after `flush`;
        with a failed store, all of them as interrupted)."""
        if flush and self._held and self.store.write_error is None:
            try:
                self.store.flush()
            except StoreWriteError:
                pass
        if self.store.write_error is not None:
            self._stop_with("store", str(self.store.write_error))
        failed = self.store.write_error is not None
        ready = [item for gen, item in self._held if failed or self.store.is_written(gen)]
        self._held = [(g, i) for g, i in self._held if not (failed or self.store.is_written(g))]
        for item in ready:
            self._finish(item, writer)

    def _finish(self, item: _Done, writer: Any) -> None:
        if item.breaker is not None:
            self._stop_with(item.stop, item.breaker)
        if item.interrupted or (item.result is not None and self.store.write_error is not None):
            self.summary.interrupted += 1  # not recorded as finished: resumed next time
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
        self._write_row(writer, result)
        if self.budget_usd is not None and self.budget.spent_usd >= self.budget_usd:
            self._stop_with(
                "budget",
                f"Spent {format_usd(self.budget.spent_usd)} of the "
                f"{format_usd(self.budget_usd)} budget.",
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
        if reason in ("interrupted", "store"):  # no step of any run starts after this
            self.orchestrator.stopping.set()

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
                seller_path=str(self.seller_path.absolute()) if self.seller_path else None,
                review=orch.review.mode,
                program_ref=self.program_ref,
                sources=orch.gatherer.settings.model_dump_json() if orch.gatherer else None,
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
        raise NotFoundError(f"No batch {name!r}; `accountflow batches list` lists them.")
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
