"""The orchestrator: runs research -> analysis -> personalization -> colleague references for one
account, recording every step attempt in the store.

This is the one seam where pipeline code meets the database: modules never see the store, and
LM usage reaches the step record through `collect_usage`, not through arguments. It owns the
order of steps, their retries (policy in `resilience.py`), resume and the review gate.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dspy
from dspy.utils.exceptions import AdapterParseError

from accountflow.adapter import JSONAdapter
from accountflow.errors import AccountflowError
from accountflow.lm.usage import Usage, collect_usage, model_ref
from accountflow.models import (
    Account,
    AccountAnalysis,
    AccountResult,
    ColleagueMessage,
    CompanyProfile,
    OutreachPlan,
    RunStatus,
    SellerProfile,
    StepStatus,
)
from accountflow.modules import AccountPipeline, ColleagueReferrer, program_version
from accountflow.resilience import (
    CircuitBreaker,
    CircuitOpenError,
    ErrorClass,
    RetryPolicy,
    classify,
)
from accountflow.store import Store
from accountflow.store.db import utcnow
from accountflow.store.records import StepRecord

STEPS: tuple[str, ...] = ("research", "analysis", "personalization", "colleague")
_SECRET_RE = re.compile(r"\b(sk|pk|rk|xox[abp])-[A-Za-z0-9_\-]{8,}")
_DONE = {StepStatus.succeeded, StepStatus.skipped}


def redact(text: str) -> str:
    """Remove anything that looks like a credential before it is stored or printed."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and re.search(r"KEY|TOKEN|SECRET|PASSWORD", name):
            text = text.replace(value, "***")
    return _SECRET_RE.sub("***", text)


def one_line(exc: BaseException | str) -> str:
    text = str(exc).strip()
    text = text.splitlines()[0] if text else type(exc).__name__
    return redact(text)[:500]


def input_hash(account_data: dict[str, Any]) -> str:
    """Identity of an account's input: a batch re-run skips an account only if this matches."""
    blob = json.dumps(account_data, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


class Skip(Exception):
    """A step that has nothing to do for this account; the reason is recorded."""


class ReviewPolicy:
    """When a run stops after personalization for a human to look at the outreach."""

    def __init__(self, mode: str = "never", min_confidence: float = 0.5, min_fit: int = 0):
        self.mode, self.min_confidence, self.min_fit = mode, min_confidence, min_fit

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


@dataclass
class _RunState:
    account: Account
    profile: CompanyProfile | None = None
    analysis: AccountAnalysis | None = None
    outreach: OutreachPlan | None = None
    colleague_messages: list[ColleagueMessage] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    rule_retries: int = 0
    note: str | None = None  # a reviewer's note, given to personalization as feedback
    next_attempt: dict[str, int] = field(default_factory=dict)  # per step, across resumes


@dataclass
class _StepOutcome:
    output: Any
    rule_retries: int = 0


class Orchestrator:
    """Runs accounts through the pipeline one step at a time and records each attempt.

    Thread-safe: batch workers share one orchestrator (and so one breaker and one store)."""

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
        sleep: Callable[[float], None] = time.sleep,
        seed: int | None = None,
    ) -> None:
        self.store = store
        self.lm = lm
        self.seller = seller
        self.program = program or AccountPipeline()
        self.source = source
        self.batch = batch
        self.retry = retry or RetryPolicy()
        self.review = review or ReviewPolicy()
        self.breaker = CircuitBreaker(self.retry.breaker_threshold)
        self.model = model_ref(lm).format()
        self.program_version = program_version(self.program)
        self.adapter = JSONAdapter()
        self._sleep = sleep
        self._rng = random.Random(seed)
        self._rng_lock = threading.Lock()
        self._steps: dict[str, Callable[[_RunState], _StepOutcome]] = {
            "research": self._research,
            "analysis": self._analysis,
            "personalization": self._personalization,
            "colleague": self._colleague,
        }

    # ------------------------------------------------------------------ public
    def run(self, account: Account) -> AccountResult:
        """Run one account end to end; a failed step fails the run, later steps are not run.

        Raises CircuitOpenError (the run left `interrupted`, resumable) when the provider keeps
        failing across accounts."""
        self.breaker.check()
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
            input_hash(data),
        )
        return self._execute(run_id, _RunState(account=account), set())

    def run_many(self, accounts: Iterable[Account]) -> Iterator[AccountResult]:
        for account in accounts:
            yield self.run(account)

    def resume(self, run_id: str) -> AccountResult:
        """Re-run only the steps of a run that did not succeed, feeding them the stored outputs
        of those that did; a succeeded step is never called again."""
        run = self.store.get_run(run_id)
        status = RunStatus(run["status"])
        if status == RunStatus.awaiting_review:
            raise AccountflowError(
                f"Run {run['run_id']} is awaiting review; approve or reject it with "
                "`accountflow review approve|reject`."
            )
        if status == RunStatus.running and run.get("pid") == os.getpid():
            raise AccountflowError(f"Run {run['run_id']} is still running in this process.")
        return self.continue_run(run["run_id"])

    def continue_run(
        self,
        run_id: str,
        note: str | None = None,
        redo: str | None = None,
        approved: bool = False,
    ) -> AccountResult:
        """Continue a stored run. `redo` supersedes that step's output and runs it again (a
        reviewer's regenerate, with `note` as feedback); `approved` passes the review gate."""
        self.breaker.check()
        run = self.store.get_run(run_id)
        state = _RunState(account=Account.model_validate(run["input"]), note=note)
        done = self._load_done(run_id, state, redo)
        if redo is not None:
            self.store.supersede_step(run_id, redo)
        self.store.set_run_status(run_id, RunStatus.running)
        force = "regenerated on a reviewer's request" if redo == "personalization" else None
        return self._execute(run_id, state, done, approved=approved, force_review=force)

    # ------------------------------------------------------------------ core
    def _execute(
        self,
        run_id: str,
        state: _RunState,
        done: set[str],
        approved: bool = False,
        force_review: str | None = None,
    ) -> AccountResult:
        started = time.perf_counter()
        error: str | None = None
        failed_step: str | None = None
        status = RunStatus.succeeded
        try:
            for name in STEPS:
                if name in done:
                    continue
                if failed_step is not None:
                    self._record_not_run(run_id, state.account, name, failed_step)
                    continue
                err = self._run_step(run_id, name, state, state.next_attempt.get(name, 1))
                if err is not None:
                    failed_step, error = name, f"{name} failed: {err}"
                    continue
                if name == "personalization" and not approved:
                    reason = force_review or self.review.needs_review(
                        state.analysis, state.rule_retries
                    )
                    if reason is not None and state.outreach is not None:
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

    def _result(
        self,
        run_id: str,
        state: _RunState,
        status: RunStatus,
        error: str | None,
        started: float,
    ) -> AccountResult:
        return AccountResult(
            run_id=run_id,
            account_id=state.account.account_id,
            company_name=state.account.company_name,
            status=status,
            error=error,
            profile=state.profile,
            analysis=state.analysis,
            outreach=state.outreach,
            colleague_messages=state.colleague_messages,
            model=self.model,
            program_version=self.program_version,
            lm_calls=state.usage.lm_calls,
            cache_hits=state.usage.cache_hits,
            prompt_tokens=state.usage.prompt_tokens,
            completion_tokens=state.usage.completion_tokens,
            cost_usd=state.usage.cost_usd,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )

    def _load_done(self, run_id: str, state: _RunState, redo: str | None) -> set[str]:
        """Put the stored outputs of finished steps into the state and return their names;
        note each step's next attempt number so attempts keep counting across resumes."""
        done: set[str] = set()
        for record in self.store.get_steps(run_id):
            state.next_attempt[record.step] = max(
                state.next_attempt.get(record.step, 1), record.attempt + 1
            )
            if record.status not in _DONE or record.step == redo:
                continue
            done.add(record.step)
            if record.status == StepStatus.skipped:
                continue
            out = record.output
            if record.step == "research":
                state.profile = CompanyProfile.model_validate(out)
            elif record.step == "analysis":
                state.analysis = AccountAnalysis.model_validate(out)
            elif record.step == "personalization":
                state.outreach = OutreachPlan.model_validate(out) if out else None
                state.rule_retries = record.rule_retries
            elif record.step == "colleague":
                state.colleague_messages = [ColleagueMessage.model_validate(m) for m in out or []]
        return done

    # ------------------------------------------------------------------ recording
    def _run_step(self, run_id: str, name: str, state: _RunState, first_attempt: int) -> str | None:
        """Run a step under the retry policy, one step record per attempt; returns the error
        sentence when it finally failed."""
        attempt, fresh = first_attempt, False
        for n in range(1, self.retry.max_attempts + 1):
            record, exc, truncated = self._attempt(run_id, name, state, attempt, fresh)
            if exc is None:
                self.breaker.success()
                self.store.update_step(record)
                return None
            verdict = classify(exc, truncated)
            record.error_class = verdict.kind.value
            record.error_message = one_line(verdict.message)
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
            self._sleep(wait)
            attempt += 1
            # an empty or cut-off reply was cached like any other: the retry must not reuse it
            fresh = fresh or isinstance(exc, AdapterParseError)
        return None  # unreachable: the loop returns on its last attempt

    def _attempt(
        self, run_id: str, name: str, state: _RunState, attempt: int, fresh: bool = False
    ) -> tuple[StepRecord, BaseException | None, bool]:
        record = StepRecord(
            step_id="step_" + uuid.uuid4().hex[:12],
            run_id=run_id,
            account_id=state.account.account_id,
            step=name,
            attempt=attempt,
            status=StepStatus.running,
            started_at=utcnow(),
            input=self._step_input(name, state),
            model=self.model,
            program_version=self.program_version,
        )
        self.store.insert_steps([record])
        t0 = time.perf_counter()
        error: BaseException | None = None
        lm = self.lm.copy(cache=False) if fresh else self.lm
        with collect_usage() as usage:
            try:
                with dspy.context(lm=lm, adapter=self.adapter):
                    outcome = self._steps[name](state)
                record.status = StepStatus.succeeded
                record.output = _dump(outcome.output)
                record.rule_retries = outcome.rule_retries
            except Skip as skip:
                record.status = StepStatus.skipped
                record.error_message = str(skip)
            except Exception as exc:
                record.status = StepStatus.failed
                record.error_type = type(exc).__name__
                record.error_message = one_line(exc)
                error = exc
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
        self.store.insert_steps(
            [
                StepRecord(
                    step_id="step_" + uuid.uuid4().hex[:12],
                    run_id=run_id,
                    account_id=account.account_id,
                    step=name,
                    attempt=1,
                    status=StepStatus.not_run,
                    error_message=f"not run because {failed} failed",
                    model=self.model,
                    program_version=self.program_version,
                )
            ]
        )

    def _step_input(self, name: str, state: _RunState) -> dict[str, Any]:
        account = state.account
        if name == "research":
            return {"account": account.model_dump(mode="json", exclude={"contacts", "inquiry"})}
        if name == "analysis":
            return {"profile": _dump(state.profile), "seller": self.seller.company}
        if name == "personalization":
            contact = account.primary_contact
            data = {
                "contact": contact.model_dump(mode="json") if contact else None,
                "analysis": _dump(state.analysis),
                "seller": self.seller.company,
            }
            if state.note:
                data["reviewer_note"] = state.note
            return data
        return {
            "inquiry": account.inquiry.model_dump(mode="json") if account.inquiry else None,
            "targets": [c.contact_id or c.name for c in ColleagueReferrer.targets(account)],
        }

    # ------------------------------------------------------------------ steps
    def _research(self, state: _RunState) -> _StepOutcome:
        state.profile = self.program.researcher(account=state.account).profile
        return _StepOutcome(state.profile)

    def _analysis(self, state: _RunState) -> _StepOutcome:
        assert state.profile is not None
        state.analysis = self.program.analyst(
            account=state.account, profile=state.profile, seller=self.seller
        ).analysis
        return _StepOutcome(state.analysis)

    def _personalization(self, state: _RunState) -> _StepOutcome:
        assert state.analysis is not None
        contact = state.account.primary_contact
        if contact is None:
            raise Skip("the account has no contacts to write to")
        pred = self.program.personalizer(
            account=state.account,
            contact=contact,
            analysis=state.analysis,
            seller=self.seller,
            note=state.note,
        )
        state.outreach = pred.plan
        state.rule_retries = pred.rule_retries
        return _StepOutcome(pred.plan, pred.rule_retries)

    def _colleague(self, state: _RunState) -> _StepOutcome:
        account = state.account
        if account.inquiry is None:
            raise Skip("no engagement at this account (no inquiry), so no colleague to cite")
        if account.referrer is None:
            raise Skip("the inquiry's contact is not among the account's contacts")
        if not ColleagueReferrer.targets(account):
            raise Skip("no other non-primary contacts to write to")
        pred = self.program.referrer(account=account, seller=self.seller)
        state.colleague_messages = pred.messages
        return _StepOutcome(pred.messages, pred.rule_retries)


def _dump(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [_dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value
