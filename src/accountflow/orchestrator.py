"""The orchestrator: runs research -> analysis -> personalization -> colleague references for one
account, recording every step attempt in the store.

This is the one seam where pipeline code meets the database: modules never see the store, and
LM usage reaches the step record through `collect_usage`, not through arguments.
"""

from __future__ import annotations

import os
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import dspy

from accountflow.lm.usage import Usage, collect_usage
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
from accountflow.store import Store
from accountflow.store.db import utcnow
from accountflow.store.records import StepRecord

STEPS: tuple[str, ...] = ("research", "analysis", "personalization", "colleague")
_SECRET_RE = re.compile(r"\b(sk|pk|rk|xox[abp])-[A-Za-z0-9_\-]{8,}")


def redact(text: str) -> str:
    """Remove anything that looks like a credential before it is stored or printed."""
    for name, value in os.environ.items():
        if value and len(value) >= 8 and re.search(r"KEY|TOKEN|SECRET|PASSWORD", name):
            text = text.replace(value, "***")
    return _SECRET_RE.sub("***", text)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return redact(text)[:500]


class Skip(Exception):
    """A step that has nothing to do for this account; the reason is recorded."""


@dataclass
class _RunState:
    account: Account
    profile: CompanyProfile | None = None
    analysis: AccountAnalysis | None = None
    outreach: OutreachPlan | None = None
    colleague_messages: list[ColleagueMessage] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)


@dataclass
class _StepOutcome:
    output: Any
    rule_retries: int = 0


class Orchestrator:
    """Runs accounts through the pipeline one step at a time and records each attempt."""

    def __init__(
        self,
        store: Store,
        lm: dspy.LM,
        seller: SellerProfile,
        program: AccountPipeline | None = None,
        source: str | None = None,
    ) -> None:
        self.store = store
        self.lm = lm
        self.seller = seller
        self.program = program or AccountPipeline()
        self.source = source
        self.model = str(lm.model)
        self.program_version = program_version(self.program)
        self.adapter = dspy.JSONAdapter()
        self._steps: dict[str, Callable[[_RunState], _StepOutcome]] = {
            "research": self._research,
            "analysis": self._analysis,
            "personalization": self._personalization,
            "colleague": self._colleague,
        }

    # ------------------------------------------------------------------ public
    def run(self, account: Account) -> AccountResult:
        """Run one account end to end; a failed step fails the run, later steps are not run."""
        run_id = "run_" + uuid.uuid4().hex[:12]
        started = time.perf_counter()
        self.store.create_run(
            run_id, account.account_id, account.company_name, self.model,
            self.program_version, self.source, account.model_dump(mode="json"),
        )
        state = _RunState(account=account)
        error: str | None = None
        failed_step: str | None = None
        try:
            for name in STEPS:
                if failed_step is not None:
                    self._record_not_run(run_id, account, name, failed_step)
                    continue
                err = self._run_step(run_id, name, state)
                if err is not None:
                    failed_step, error = name, f"{name} failed: {err}"
        except BaseException:
            self.store.finish_run(run_id, RunStatus.interrupted, "interrupted", None)
            raise
        status = RunStatus.failed if failed_step else RunStatus.succeeded
        result = AccountResult(
            run_id=run_id,
            account_id=account.account_id,
            company_name=account.company_name,
            status=status,
            error=error,
            profile=state.profile,
            analysis=state.analysis,
            outreach=state.outreach,
            colleague_messages=state.colleague_messages,
            model=self.model,
            program_version=self.program_version,
            lm_calls=state.usage.lm_calls,
            prompt_tokens=state.usage.prompt_tokens,
            completion_tokens=state.usage.completion_tokens,
            cost_usd=state.usage.cost_usd,
            duration_ms=int((time.perf_counter() - started) * 1000),
        )
        self.store.finish_run(run_id, status, error, result.model_dump(mode="json"))
        return result

    def run_many(self, accounts: Iterable[Account]) -> Iterator[AccountResult]:
        for account in accounts:
            yield self.run(account)

    # ------------------------------------------------------------------ recording
    def _run_step(self, run_id: str, name: str, state: _RunState) -> str | None:
        """Run and record one step attempt; returns the error sentence when it failed."""
        record = StepRecord(
            step_id="step_" + uuid.uuid4().hex[:12],
            run_id=run_id,
            account_id=state.account.account_id,
            step=name,
            attempt=1,
            status=StepStatus.running,
            started_at=utcnow(),
            input=self._step_input(name, state),
            model=self.model,
            program_version=self.program_version,
        )
        self.store.insert_steps([record])
        t0 = time.perf_counter()
        error: str | None = None
        with collect_usage() as usage:
            try:
                with dspy.context(lm=self.lm, adapter=self.adapter):
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
                error = record.error_message
        record.ended_at = utcnow()
        record.duration_ms = int((time.perf_counter() - t0) * 1000)
        record.lm_calls = usage.lm_calls
        record.cache_hits = usage.cache_hits
        record.cache_hit = usage.cache_hit
        record.prompt_tokens = usage.prompt_tokens
        record.completion_tokens = usage.completion_tokens
        record.cost_usd = usage.cost_usd
        state.usage.merge(usage)
        self.store.update_step(record)
        return error

    def _record_not_run(self, run_id: str, account: Account, name: str, failed: str) -> None:
        self.store.insert_steps([StepRecord(
            step_id="step_" + uuid.uuid4().hex[:12],
            run_id=run_id,
            account_id=account.account_id,
            step=name,
            attempt=1,
            status=StepStatus.not_run,
            error_message=f"not run because {failed} failed",
            model=self.model,
            program_version=self.program_version,
        )])

    def _step_input(self, name: str, state: _RunState) -> dict[str, Any]:
        account = state.account
        if name == "research":
            return {"account": account.model_dump(mode="json", exclude={"contacts", "inquiry"})}
        if name == "analysis":
            return {"profile": _dump(state.profile), "seller": self.seller.company}
        if name == "personalization":
            contact = account.primary_contact
            return {
                "contact": contact.model_dump(mode="json") if contact else None,
                "analysis": _dump(state.analysis),
                "seller": self.seller.company,
            }
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
            account=state.account, contact=contact, analysis=state.analysis, seller=self.seller
        )
        state.outreach = pred.plan
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
