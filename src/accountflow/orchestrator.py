"""The orchestrator: runs the step table (`steps.py`) for one account, recording every step
attempt in the store.

This is the one seam where pipeline code meets the database: modules never see the store, and
LM usage reaches the step record through `collect_usage`, not through arguments. It owns
retries (policy in `resilience.py`), resume, the review gate, and recorded campaign touches;
`Orchestrator.from_settings` is the one place a working orchestrator is assembled.
"""

from __future__ import annotations

import functools
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from accountflow import steps
from accountflow.adapter import JSONAdapter
from accountflow.config import Settings
from accountflow.errors import AccountflowError, RuleViolationError
from accountflow.identity import ACCOUNT_SOURCES, RunIdentity, input_hash, seller_hash
from accountflow.lm import build_lm, use_cache_dir
from accountflow.lm.ref import known_secrets
from accountflow.lm.usage import Usage, collect_usage, model_ref
from accountflow.models import (
    Account,
    AccountAnalysis,
    AccountResult,
    Channel,
    OutreachPlan,
    RunStatus,
    SellerProfile,
    StepStatus,
)
from accountflow.pipeline import AccountPipeline, program_version
from accountflow.programs import load_program
from accountflow.resilience import (
    Budget,
    CircuitBreaker,
    CircuitOpenError,
    ErrorClass,
    RetryPolicy,
    classify,
)
from accountflow.sources.gather import Gatherer
from accountflow.store import Store
from accountflow.store.db import utcnow
from accountflow.store.records import StepRecord
from accountflow.suppress import SuppressionSet, for_emails

_SECRET_RE = re.compile(r"\b(sk|pk|rk|xox[abp])-[A-Za-z0-9_\-]{8,}")
_DONE = {StepStatus.succeeded, StepStatus.skipped}


class RunStopped(Exception):
    """A run ended between steps because its batch is stopping; it is left `interrupted`."""


def redact(text: str) -> str:
    """Remove anything that looks like a credential before it is stored or printed."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and re.search(r"KEY|TOKEN|SECRET|PASSWORD", name):
            text = text.replace(value, "***")
    for secret in known_secrets():  # e.g. an api base's token, echoed in a connection error
        text = text.replace(secret, "***")
    return _SECRET_RE.sub("***", text)


def one_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return redact(text)[:500]


def lm_for(settings: Settings, lm: dspy.BaseLM | str | None = None) -> dspy.BaseLM:
    """The LM a command runs on: `lm` (a built LM is used as is; a model string, else the
    settings' model, is built with the settings' endpoint and step timeout), with DSPy's cache
    in the state dir. Optimizers build their teacher and reflection models through it too."""
    use_cache_dir(settings.cache_dir)
    if isinstance(lm, dspy.BaseLM):
        return lm
    built = build_lm(lm or settings.lm, settings.api_base, timeout_s=settings.retry.step_timeout_s)
    if settings.rpm or settings.tpm:  # one budget for every thread and copy of this model
        from accountflow.lm.limits import RateLimiter

        built.limiter = RateLimiter(settings.rpm, settings.tpm)
    return built


class ReviewPolicy:
    """When a run stops after its review-gated step (personalization) for a human to look at
    the outreach."""

    def __init__(self, mode: str = "never", min_confidence: float = 0.5, min_fit: int = 0):
        self.mode, self.min_confidence, self.min_fit = mode, min_confidence, min_fit

    @classmethod
    def from_settings(cls, settings: Settings) -> ReviewPolicy:
        return cls(settings.review, settings.review_min_confidence, settings.review_min_fit)

    def identity(self) -> str:
        """The policy as runs record it (part of the run identity): the mode, and for
        `low_confidence` its thresholds, e.g. `low_confidence?min_confidence=0.5&min_fit=0`."""
        if self.mode != "low_confidence":
            return self.mode
        return f"low_confidence?min_confidence={self.min_confidence:g}&min_fit={self.min_fit}"

    @classmethod
    def parse(cls, text: str) -> ReviewPolicy:
        """The policy a run recorded (`identity()`), so that its resume gates the same way."""
        mode, _, query = text.partition("?")
        options = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        return cls(
            mode,
            float(options.get("min_confidence", 0.5)),
            int(options.get("min_fit", 0)),
        )

    def needs_review(self, analysis: AccountAnalysis | None, rule_retries: int) -> str | None:
        """The reason a review is needed, or None."""
        if self.mode == "always":
            return "review: always"
        if self.mode != "low_confidence":
            return None
        if rule_retries:
            return f"outreach needed {rule_retries} rule-feedback retries"
        if analysis is not None and analysis.confidence < self.min_confidence:
            return f"analysis confidence {analysis.confidence:.2f} < {self.min_confidence}"
        if analysis is not None and analysis.fit_score < self.min_fit:
            return f"fit score {analysis.fit_score} < {self.min_fit}"
        return None


@dataclass(frozen=True)
class _Gate:
    """What a run's recorded review decisions say about its current review-gated output."""

    step: str | None = None  # the review-gated step
    approved: bool = False  # a reviewer approved the current output
    rejected: bool = False  # a reviewer rejected the run: it never goes on
    redo: bool = False  # a reviewer asked for the current output to be rewritten
    regenerated: bool = False  # the output is (being) rewritten on request: back to review
    note: str | None = None  # the reviewer's note, feedback for the rewrite
    channel: str | None = None  # rewrite only this channel's message (None: the whole output)


class Orchestrator:
    """Runs accounts through the step table one step at a time and records each attempt.

    Thread-safe: batch workers share one orchestrator (and so one breaker and one store).
    Build it with `from_settings` unless a test needs to inject parts."""

    def __init__(
        self,
        store: Store,
        lm: dspy.LM,
        seller: SellerProfile,
        program: AccountPipeline | None = None,
        source: str | None = None,
        retry: RetryPolicy | None = None,
        review: ReviewPolicy | None = None,
        batch: str | None = None,
        sleep: Callable[[float], None] | None = None,
        seed: int | None = None,
        budget: Budget | None = None,
        gatherer: Gatherer | None = None,
    ) -> None:
        self.store = store
        self.gatherer = gatherer  # research sources beyond the account row (`--sources`)
        self.lm = lm
        self.seller = seller
        self.program = program or AccountPipeline()
        self.source = source
        self.batch = batch
        self.retry = retry or RetryPolicy()
        self.review = review or ReviewPolicy()
        self.breaker = CircuitBreaker(self.retry.breaker_threshold)
        self.budget = budget  # a hard dollar limit every step attempt reserves from
        self.model = model_ref(lm).format()
        self.program_version = program_version(self.program)
        self.seller_hash = seller_hash(seller)  # per run otherwise: the profile is fixed
        self.adapter = JSONAdapter()
        self._sleep = sleep  # None: the breaker's wait, which an opening breaker cuts short
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        # set by a batch that is stopping (Ctrl-C, store failure): runs end between steps,
        # left `interrupted` with every finished step recorded, instead of calling on
        self.stopping = threading.Event()

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        store: Store,
        *,
        lm: dspy.BaseLM | str | None = None,
        program: AccountPipeline | str | None = None,
        seller: SellerProfile | None = None,
        review: ReviewPolicy | None = None,
        batch: str | None = None,
        source: str | None = None,
        sleep: Callable[[float], None] | None = None,
        seed: int | None = None,
    ) -> Orchestrator:
        """The one way to assemble a working orchestrator: the model from the settings (or `lm`,
        a model string or a built LM) with the step timeout, DSPy's cache in the state dir, the
        review policy, the seller, and the promoted program (or `program`: a version, a file,
        "default", or a built program). The CLI, campaigns, evals, optimizers and benchmarks
        all come through here, so each runs what `score` runs."""
        lm_obj = lm_for(settings, lm)
        if not isinstance(program, AccountPipeline):
            program = load_program(settings, program, store=store)
        return cls(
            store,
            lm_obj,
            seller or settings.seller(),
            program=program,
            source=source,
            retry=settings.retry,
            review=review or ReviewPolicy.from_settings(settings),
            batch=batch,
            sleep=sleep,
            seed=seed,
            gatherer=Gatherer(settings.sources, store.pages) if settings.sources.extra else None,
        )

    # ------------------------------------------------------------------ public
    def run(self, account: Account, only: Iterable[str] | None = None) -> AccountResult:
        """Run one account end to end; a failed step fails the run, later steps are not run.
        `only` runs just those steps (and records the others as skipped), e.g. a campaign's
        research and analysis.

        Raises CircuitOpenError (the run left `interrupted`, resumable) when the provider keeps
        failing across accounts."""
        self.breaker.check()
        run_id = self.open_run(account)
        state = steps.RunState(
            account=account,
            seller=self.seller,
            suppressions=self.suppressions(account),
            gather=self.gatherer,
        )
        selected = None if only is None else set(only)
        return self._execute(run_id, state, set(), selected=selected)

    def open_run(self, account: Account) -> str:
        """Record a new run of `account` (status running) and return its id."""
        run_id = "run_" + uuid.uuid4().hex[:12]
        data = account.model_dump(mode="json")
        self.store.create_run(
            run_id,
            account.account_id,
            account.company_name,
            self.model,
            self.program_version,
            self.source,
            data,
            self.batch,
            identity=self.identity(account),
        )
        return run_id

    def identity(self, account: Account, review: ReviewPolicy | None = None) -> RunIdentity:
        """What shapes `account`'s output when this orchestrator runs it (`identity.py`);
        `review` is the run's own policy when it differs from this orchestrator's."""
        return RunIdentity(
            input_hash=input_hash(account.model_dump(mode="json")),
            seller_hash=self.seller_hash,
            program_version=self.program_version,
            model=self.model,
            review=(review or self.review).identity(),
            sources=self.gatherer.identity(account) if self.gatherer else ACCOUNT_SOURCES,
        )

    def suppressions(self, account: Account) -> SuppressionSet:
        """The suppression entries for the account's contacts as they stand now: read once per
        run, so an address added while a batch runs is honoured from the next account on."""
        return for_emails(self.store, (c.email for c in account.contacts))

    def run_many(self, accounts: Iterable[Account]) -> Iterator[AccountResult]:
        for account in accounts:
            yield self.run(account)

    def resume(self, run_id: str) -> AccountResult:
        """Re-run only the steps of a run that did not succeed, feeding them the stored outputs
        of those that did; a succeeded step is never called again."""
        run = self.store.get_run(run_id)
        if RunStatus(run["status"]) == RunStatus.running and run.get("pid") == os.getpid():
            raise AccountflowError(f"Run {run['run_id']} is still running in this process.")
        return self.continue_run(run["run_id"])

    def continue_run(self, run_id: str) -> AccountResult:
        """Continue a stored run on this orchestrator's model, program and seller (the run's
        record then names them), under the review policy the run recorded.

        The review gate follows the recorded decisions, not the caller: a run awaiting review
        goes on only once a decision about its current outreach is stored (approve: the
        remaining steps run; reject with regenerate: the outreach is rewritten with the note
        and goes back to review); a rejected run never goes on. A gated output recorded without
        a decision (e.g. a crash before the run stopped for review) stops for review again."""
        self.breaker.check()
        run = self.store.get_run(run_id)
        run_id = str(run["run_id"])
        status = RunStatus(run["status"])
        records = self.store.get_steps(run_id)
        gate = self._gate(run_id, records)
        if status == RunStatus.rejected or gate.rejected:
            raise AccountflowError(
                f"Run {run_id} was rejected in review, so it does not go on; run the account "
                "again for new outreach."
            )
        if status == RunStatus.awaiting_review and not (gate.approved or gate.redo):
            raise AccountflowError(
                f"Run {run_id} is awaiting review; approve or reject it with "
                "`accountflow review approve|reject`."
            )
        review = ReviewPolicy.parse(run["review"]) if run.get("review") else self.review
        account = Account.model_validate(run["input"])
        note = gate.note if gate.regenerated and not gate.approved else None
        state = steps.RunState(
            account=account,
            seller=self.seller,
            note=note,
            suppressions=self.suppressions(account),
            gather=self.gatherer,
        )
        redo = gate.step if gate.redo else None
        if gate.regenerated and gate.channel and not gate.approved:
            # one message rewritten, the others kept: from the draft the reviewer saw (already
            # superseded when a rewrite crashed before it was recorded)
            drafts = [
                r
                for r in records
                if r.step == gate.step
                and r.status in (StepStatus.succeeded, StepStatus.superseded)
                and r.output
            ]
            if drafts:
                state.previous = OutreachPlan.model_validate(drafts[-1].output)
                state.redo_channel = Channel(gate.channel)
        next_attempt: dict[str, int] = {}
        placeholders: set[str] = set()
        done = self._load_done(records, state, redo, next_attempt, placeholders)
        plan = state.outputs.get("outreach")
        if gate.approved and isinstance(plan, OutreachPlan):
            from accountflow.review import edited_plan  # review imports this module

            state.outputs["outreach"] = edited_plan(self.store, run_id, plan)
        if redo is not None:
            self.store.supersede_step(run_id, redo)
        self.store.set_run_status(run_id, RunStatus.running, self.identity(account, review))
        return self._execute(
            run_id,
            state,
            done,
            review=review,
            approved=gate.approved,
            force_review="regenerated on a reviewer's request" if gate.regenerated else None,
            next_attempt=next_attempt,
            placeholders=placeholders,
        )

    def _gate(self, run_id: str, records: list[StepRecord]) -> _Gate:
        """What the run's recorded review decisions say about its current gated output (the
        latest succeeded attempt of the review-gated step): a decision counts for that
        output only if it was taken after the output was recorded."""
        gated = next((s.name for s in steps.table() if s.review_gate), None)
        decisions = self.store.reviews.history(run_id)
        if gated is None or not decisions:
            return _Gate(step=gated)
        ends = [
            r.ended_at
            for r in records
            if r.step == gated and r.status == StepStatus.succeeded and r.ended_at is not None
        ]
        last = decisions[-1]
        about_current = bool(ends) and last.decided_at >= max(ends)
        if last.decision == "approve":
            return _Gate(step=gated, approved=about_current)
        if not last.regenerate:
            return _Gate(step=gated, rejected=True)
        return _Gate(
            step=gated,
            redo=about_current,
            regenerated=True,
            note=last.note,
            channel=last.channel,
        )

    def touch(
        self,
        run_id: str,
        account: Account,
        name: str,
        call: Callable[[AccountPipeline], steps.StepOutput],
        record_input: dict[str, Any],
    ) -> tuple[steps.StepOutput | None, str | None, Usage]:
        """Run one recorded extra step of a stored run (a campaign touch): the same attempt
        records, retries, breaker, usage, program and model as a pipeline step. Returns the
        output (None when it failed), the error sentence, and the usage of all attempts.

        Raises CircuitOpenError when the provider keeps failing."""
        self.breaker.check()
        state = steps.RunState(account=account, seller=self.seller)
        first = 1 + max(
            (r.attempt for r in self.store.get_steps(run_id) if r.step == name), default=0
        )
        box: dict[str, steps.StepOutput] = {}

        def attempt(state: steps.RunState) -> steps.StepOutput:
            box["out"] = call(self.program)
            return box["out"]

        error = self._run_step(run_id, name, state, first, attempt, lambda s: record_input)
        return (None if error else box.get("out")), error, state.usage

    # ------------------------------------------------------------------ core
    def _execute(
        self,
        run_id: str,
        state: steps.RunState,
        done: set[str],
        review: ReviewPolicy | None = None,
        approved: bool = False,
        force_review: str | None = None,
        next_attempt: dict[str, int] | None = None,
        selected: set[str] | None = None,
        placeholders: set[str] | frozenset[str] = frozenset(),
    ) -> AccountResult:
        """Run the steps not in `done`; stop after a review-gated output that needs review
        (also one recorded earlier) unless `approved`. `placeholders` are steps already
        recorded `not_run`: they are not recorded again."""
        started = time.perf_counter()
        error: str | None = None
        failed_step: str | None = None
        status = RunStatus.succeeded
        next_attempt = next_attempt or {}
        review = review or self.review
        try:
            for step in steps.table():
                if step.name in done:
                    if step.review_gate and not approved:
                        reason = self._review_reason(step, state, review, force_review)
                        if reason is not None:
                            status, error = RunStatus.awaiting_review, reason
                            break
                    continue
                if self.stopping.is_set():
                    raise RunStopped(f"stopped before {step.name}")
                if failed_step is not None:
                    if step.name not in placeholders:
                        self._record_not_run(run_id, state.account, step.name, failed_step)
                    continue
                if selected is not None and step.name not in selected:
                    self._record_skipped(run_id, state.account, step.name, "not requested")
                    continue
                err = self._run_step(
                    run_id,
                    step.name,
                    state,
                    next_attempt.get(step.name, 1),
                    functools.partial(self._call_step, step),
                    step.record_input,
                )
                if err is not None:
                    failed_step, error = step.name, f"{step.name} failed: {err}"
                    continue
                if step.review_gate and not approved:
                    reason = self._review_reason(step, state, review, force_review)
                    if reason is not None:
                        status, error = RunStatus.awaiting_review, reason
                        break
        except CircuitOpenError as exc:
            self.store.finish_run(run_id, RunStatus.interrupted, one_line(exc), None)
            raise
        except BaseException:
            self.store.finish_run(run_id, RunStatus.interrupted, "interrupted", None)
            raise
        if failed_step:
            status = RunStatus.failed
        result = self._result(run_id, state, status, error, started)
        self.store.finish_run(run_id, status, error, result.model_dump(mode="json"))
        return result

    @staticmethod
    def _review_reason(
        step: steps.Step, state: steps.RunState, review: ReviewPolicy, force: str | None
    ) -> str | None:
        """Why the gated step's output must wait for a review, or None (also None when the
        step produced nothing to review)."""
        if state.get(step.output) is None:
            return None
        return force or review.needs_review(state.get("analysis"), state.total_rule_retries)

    def _call_step(self, step: steps.Step, state: steps.RunState) -> steps.StepOutput:
        """Run a table step and keep its output in the run state."""
        out = self.program.run_step(step, state)
        state.outputs[step.output] = out.value
        state.rule_retries[step.name] = out.rule_retries
        return out

    def _result(
        self,
        run_id: str,
        state: steps.RunState,
        status: RunStatus,
        error: str | None,
        started: float,
    ) -> AccountResult:
        typed = AccountResult.model_fields
        outputs: dict[str, Any] = {}
        extra: dict[str, Any] = {}
        for step in steps.table():
            value = state.outputs.get(step.output)
            if value is None and step.output not in state.outputs:
                value = step.empty()
            if step.output in typed:
                outputs[step.output] = value if value is not None else step.empty()
            else:
                extra[step.output] = steps.dump(value)
        return AccountResult(
            run_id=run_id,
            account_id=state.account.account_id,
            company_name=state.account.company_name,
            status=status,
            error=error,
            **{k: v for k, v in outputs.items() if v is not None},
            extra=extra,
            model=self.model,
            program_version=self.program_version,
            lm_calls=state.usage.lm_calls,
            cache_hits=state.usage.cache_hits,
            prompt_tokens=state.usage.prompt_tokens,
            completion_tokens=state.usage.completion_tokens,
            cost_usd=state.usage.cost_usd,
            duration_ms=int((time.perf_counter() - started) * 1000),
            suppressed=state.suppressions.among(state.account.contacts),
        )

    def _load_done(
        self,
        records: list[StepRecord],
        state: steps.RunState,
        redo: str | None,
        next_attempt: dict[str, int],
        placeholders: set[str],
    ) -> set[str]:
        """Put the stored outputs of finished steps into the state and return their names;
        note each step's next attempt number so attempts keep counting across resumes, and
        the steps recorded `not_run` (placeholders, not attempts)."""
        done: set[str] = set()
        table = {step.name: step for step in steps.table()}
        for record in records:
            if record.status == StepStatus.not_run:
                placeholders.add(record.step)
                continue
            next_attempt[record.step] = max(next_attempt.get(record.step, 1), record.attempt + 1)
            step = table.get(record.step)
            if step is None or record.status not in _DONE or record.step == redo:
                continue  # a campaign touch, an unfinished step, or one to redo
            done.add(record.step)
            if record.status == StepStatus.skipped:
                continue
            state.outputs[step.output] = step.load(record.output)
            state.rule_retries[step.name] = record.rule_retries
        return done

    # ------------------------------------------------------------------ recording
    def _run_step(
        self,
        run_id: str,
        name: str,
        state: steps.RunState,
        first_attempt: int,
        call: Callable[[steps.RunState], steps.StepOutput],
        record_input: Callable[[steps.RunState], dict[str, Any]],
    ) -> str | None:
        """Run a step under the retry policy, one step record per attempt; returns the error
        sentence when it finally failed.

        Raises CircuitOpenError (or its KeyRefusedError, BudgetExhaustedError) to stop all work:
        no attempt starts once the breaker is open or the budget cannot cover it, and a retry
        sleeping when the breaker opens wakes and stops."""
        attempt, fresh = first_attempt, False
        for n in range(1, self.retry.max_attempts + 1):
            record, exc, truncated = self._gated_attempt(
                run_id, name, state, attempt, call, record_input, fresh
            )
            if exc is None:
                self.store.update_step(record)
                return None
            verdict = classify(exc, truncated)
            record.error_class = verdict.kind.value
            record.error_message = one_line(verdict.message)
            if verdict.refused:  # no account can succeed with this key: stop everything
                self.store.update_step(record)
                self.breaker.check()
            if verdict.kind == ErrorClass.permanent:
                self.store.update_step(record)
                return record.error_message
            opened = self.breaker.failure(record.error_message)
            if n == self.retry.max_attempts or self.breaker.is_open:
                self.store.update_step(record)
                if opened or self.breaker.is_open:
                    self.breaker.check()
                return f"{record.error_message} (after {n} attempts)"
            with self._rng_lock:
                wait = self.retry.delay(n, verdict.retry_after, self._rng)
            record.backoff_ms = int(wait * 1000)
            self.store.update_step(record)
            if self._sleep is None:
                self.breaker.wait(wait)
            else:
                self._sleep(wait)
            self.breaker.check()  # opened while this retry slept: no new request
            attempt += 1
            # an empty or cut-off reply was cached like any other: the retry must not reuse it
            fresh = fresh or isinstance(exc, AdapterParseError)
        return None  # unreachable: the loop returns on its last attempt

    def _gated_attempt(
        self,
        run_id: str,
        name: str,
        state: steps.RunState,
        attempt: int,
        call: Callable[[steps.RunState], steps.StepOutput],
        record_input: Callable[[steps.RunState], dict[str, Any]],
        fresh: bool,
    ) -> tuple[StepRecord, BaseException | None, bool]:
        """One attempt, started only if the budget covers its estimate and the breaker admits
        it; a refused key opens the breaker before the next attempt anywhere can start."""
        reservation = self.budget.reserve(name) if self.budget is not None else None
        cost: float | None = None
        provider_calls = 0
        try:
            with self.breaker.admit():
                record, exc, truncated = self._attempt(
                    run_id, name, state, attempt, call, record_input, fresh
                )
                cost = record.cost_usd
                provider_calls = record.lm_calls - record.cache_hits
                if exc is None:
                    self.breaker.success()
                else:
                    verdict = classify(exc, truncated)
                    if verdict.refused:
                        self.breaker.refuse(one_line(verdict.message))
        finally:
            if reservation is not None and self.budget is not None:
                self.budget.settle(reservation, cost, provider_calls)
        return record, exc, truncated

    def _attempt(
        self,
        run_id: str,
        name: str,
        state: steps.RunState,
        attempt: int,
        call: Callable[[steps.RunState], steps.StepOutput],
        record_input: Callable[[steps.RunState], dict[str, Any]],
        fresh: bool = False,
    ) -> tuple[StepRecord, BaseException | None, bool]:
        record = StepRecord(
            step_id="step_" + uuid.uuid4().hex[:12],
            run_id=run_id,
            account_id=state.account.account_id,
            step=name,
            attempt=attempt,
            status=StepStatus.running,
            started_at=utcnow(),
            input=record_input(state),
            model=self.model,
            program_version=self.program_version,
        )
        self.store.insert_steps([record])
        gathered = state.material
        t0 = time.perf_counter()
        error: BaseException | None = None
        lm = self.lm.copy(cache=False) if fresh else self.lm
        with collect_usage() as usage:
            try:
                with dspy.context(lm=lm, adapter=self.adapter):
                    outcome = call(state)
                record.status = StepStatus.succeeded
                record.output = steps.dump(outcome.value)
                record.rule_retries = outcome.rule_retries
            except steps.Skip as skip:
                record.status = StepStatus.skipped
                record.error_message = str(skip)
            except Exception as exc:
                record.status = StepStatus.failed
                record.error_type = type(exc).__name__
                record.error_message = one_line(exc)
                if isinstance(exc, RuleViolationError):
                    record.rule_retries = exc.rule_retries
                error = exc
        if state.material is not gathered:  # research read pages: they are its input too
            record.input = record_input(state)
        record.ended_at = utcnow()
        record.duration_ms = int((time.perf_counter() - t0) * 1000)
        record.lm_calls = usage.lm_calls
        record.cache_hits = usage.cache_hits
        record.cache_hit = usage.cache_hit
        record.prompt_tokens = usage.prompt_tokens
        record.completion_tokens = usage.completion_tokens
        record.cost_usd = usage.cost_usd
        state.usage.merge(usage)
        return record, error, usage.truncated > 0

    def _record_not_run(self, run_id: str, account: Account, name: str, failed: str) -> None:
        self._record_status(
            run_id, account, name, StepStatus.not_run, f"not run because {failed} failed"
        )

    def _record_skipped(self, run_id: str, account: Account, name: str, why: str) -> None:
        self._record_status(run_id, account, name, StepStatus.skipped, why)

    def _record_status(
        self, run_id: str, account: Account, name: str, status: StepStatus, message: str
    ) -> None:
        self.store.insert_steps(
            [
                StepRecord(
                    step_id="step_" + uuid.uuid4().hex[:12],
                    run_id=run_id,
                    account_id=account.account_id,
                    step=name,
                    attempt=1,
                    status=status,
                    error_message=message,
                    model=self.model,
                    program_version=self.program_version,
                )
            ]
        )
