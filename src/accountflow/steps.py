"""The table of steps: each step of the pipeline defined once.

A `Step` says which `dspy.Module` runs it (and under which attribute of `AccountPipeline`), which
run-state values it reads, what it produces, when it has nothing to do, what its step record
stores as input, how its stored output is read back on resume, which output columns it fills,
and how many LM calls it costs. `AccountPipeline`, the orchestrator (run, resume, skip), eval
and optimizer targets, call estimates, batch outputs and campaign touches all iterate this
table, so what evals and optimizers score is what `score` runs, and adding a step is one entry
here plus its module and signature.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dspy

from accountflow.lm.usage import Usage
from accountflow.models import (
    Account,
    AccountAnalysis,
    Channel,
    ColleagueMessage,
    CompanyProfile,
    OutreachPlan,
    ResearchMaterial,
    SellerProfile,
)
from accountflow.modules import ColleagueReferrer, PainPointAnalyst, Personalizer, Researcher
from accountflow.suppress import SuppressionSet


class Skip(Exception):
    """A step that has nothing to do for this account; the reason is recorded."""


@dataclass
class RunState:
    """What one account's run knows so far: its inputs and each finished step's output, keyed by
    the step's `output` name. A reviewer's `note` reaches the writing steps as feedback;
    `suppressions` (the suppression list when the run started) keeps the writing steps away
    from contacts who opted out."""

    account: Account
    seller: SellerProfile
    note: str | None = None
    suppressions: SuppressionSet = field(default_factory=SuppressionSet)
    outputs: dict[str, Any] = field(default_factory=dict)
    rule_retries: dict[str, int] = field(default_factory=dict)
    usage: Usage = field(default_factory=Usage)  # every LM call of the run so far
    # research sources beyond the account row (`accountflow.sources.Gatherer`): called by the
    # research step, whose record keeps what it returned (`material`)
    gather: Callable[[Account], ResearchMaterial] | None = None
    material: ResearchMaterial | None = None
    # a reviewer's "regenerate this message": the draft being rewritten and the one channel to
    # write again (the other messages are kept as they are)
    previous: OutreachPlan | None = None
    redo_channel: Channel | None = None

    def get(self, name: str) -> Any:
        return self.outputs.get(name)

    def require(self, name: str) -> Any:
        """An upstream output a step cannot run without (the table orders steps so it exists)."""
        value = self.outputs.get(name)
        if value is None:
            raise RuntimeError(f"run state has no {name!r}: a step ran before the one making it")
        return value

    @property
    def total_rule_retries(self) -> int:
        return sum(self.rule_retries.values())


@dataclass
class StepOutput:
    """What a step's module produced, and how many rule-feedback retries it took."""

    value: Any
    rule_retries: int = 0


@dataclass(frozen=True)
class ProgramOptions:
    """Construction options every step module receives."""

    max_rule_retries: int = 2
    seed_demos: bool = True


def _no_skip(state: RunState) -> str | None:
    return None


def _no_columns(value: Any) -> dict[str, Any]:
    return {}


def dump(value: Any) -> Any:
    """A step output as JSON-ready data (pydantic models, lists of them, plain values)."""
    if value is None:
        return None
    if isinstance(value, list):
        return [dump(v) for v in value]
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return value


@dataclass(frozen=True)
class Step:
    """One step of the pipeline. See the module docstring for what each field drives."""

    name: str
    attr: str  # attribute of AccountPipeline holding the module (optimizers see these names)
    build: Callable[[ProgramOptions], dspy.Module]
    output: str  # run-state key (and AccountResult field, where it has one) it fills
    run: Callable[[Any, RunState], StepOutput]
    load: Callable[[Any], Any]  # stored JSON output -> value
    reads: tuple[str, ...] = ()  # run-state outputs of other steps it needs
    skip: Callable[[RunState], str | None] = _no_skip
    record_input: Callable[[RunState], dict[str, Any]] = lambda state: {}
    empty: Callable[[], Any] = lambda: None  # the output when skipped
    columns: tuple[str, ...] = ()  # batch output columns it fills, in order
    flatten: Callable[[Any], dict[str, Any]] = _no_columns
    calls: int = 1  # uncached LM calls per account before rule retries (estimates)
    review_gate: bool = False  # a run may stop after this step for a human review


# ---------------------------------------------------------------------------- research
def _research(module: Researcher, state: RunState) -> StepOutput:
    if state.gather is not None and state.material is None:
        state.material = state.gather(state.account)  # never raises for a page: see notes
    return StepOutput(module(account=state.account, material=state.material).profile)


def _research_input(state: RunState) -> dict[str, Any]:
    """The account row and, with web or docs sources, every text the model read (URL, title,
    text) and the pages refused or failed, like any step input."""
    data: dict[str, Any] = {
        "account": state.account.model_dump(mode="json", exclude={"contacts", "inquiry"})
    }
    if state.material is not None:
        data["sources"] = state.material.model_dump(mode="json")
    return data


def _research_columns(profile: CompanyProfile | None) -> dict[str, Any]:
    if profile is None:
        return {"research_sources": None}
    urls = list(dict.fromkeys(f.url for f in profile.key_facts if f.url))
    return {"research_sources": json.dumps(urls) if urls else None}


# ---------------------------------------------------------------------------- analysis
def _analysis(module: PainPointAnalyst, state: RunState) -> StepOutput:
    profile = state.require("profile")
    return StepOutput(module(account=state.account, profile=profile, seller=state.seller).analysis)


def criteria_cell(analysis: AccountAnalysis) -> str | None:
    """The per-criterion verdicts in one readable cell: `id: verdict`, with the verified quote
    of what the model found present (`warehouse_migration: present "moved to Snowflake"`)."""
    parts = []
    for c in analysis.criteria:
        quote = f' "{c.evidence}"' if c.decided_by == "model" and c.verdict == "present" else ""
        parts.append(f"{c.criterion}: {c.verdict}{quote}")
    return "; ".join(parts) or None


def _analysis_columns(analysis: AccountAnalysis | None) -> dict[str, Any]:
    pains = sorted(analysis.pain_points, key=lambda p: -p.severity)[:3] if analysis else []
    return {
        "fit_score": analysis.fit_score if analysis else None,
        "fit_rationale": analysis.fit_rationale if analysis else None,
        "fit_criteria": criteria_cell(analysis) if analysis else None,
        "top_pain_points": "; ".join(p.title for p in pains) or None,
        "approach": analysis.approach if analysis else None,
    }


# ---------------------------------------------------------------------------- personalization
def _disqualified(state: RunState) -> str | None:
    """Why no outreach is written for an account the seller's ICP rules out: a rep does not
    send to an account with a disqualifier present, and it saves the writing steps' LM calls.
    The analysis is read when the run has one (a colleague-only eval target has none)."""
    analysis: AccountAnalysis | None = state.get("analysis")
    if analysis is None:
        return None
    if not analysis.disqualified:
        return None
    return (
        f"the account is disqualified ({', '.join(analysis.disqualified)}): no outreach is written"
    )


def _personalization_skip(state: RunState) -> str | None:
    contact = state.account.primary_contact
    if contact is None:
        return "the account has no contacts to write to"
    disqualified = _disqualified(state)
    if disqualified:
        return disqualified
    entry = state.suppressions.contact(contact)
    if entry is not None:
        return f"the contact {contact.email} is suppressed: {entry.describe()}"
    return None


def _personalization(module: Personalizer, state: RunState) -> StepOutput:
    contact = state.account.primary_contact
    assert contact is not None  # the skip rule ran first
    previous, channel = state.previous, state.redo_channel
    if previous is not None and channel is not None and previous.message(channel) is not None:
        message, retries = module.write(
            channel,
            state.account,
            contact,
            state.require("analysis"),
            state.seller,
            note=state.note,
        )
        messages = [message if m.channel == channel else m for m in previous.messages]
        return StepOutput(previous.model_copy(update={"messages": messages}), retries)
    pred = module(
        account=state.account,
        contact=contact,
        analysis=state.require("analysis"),
        seller=state.seller,
        note=state.note,
    )
    return StepOutput(pred.plan, pred.rule_retries)


def _personalization_input(state: RunState) -> dict[str, Any]:
    contact = state.account.primary_contact
    data: dict[str, Any] = {
        "contact": contact.model_dump(mode="json") if contact else None,
        "analysis": dump(state.get("analysis")),
        "seller": state.seller.company,
    }
    if state.note:
        data["reviewer_note"] = state.note
    if state.redo_channel is not None and state.previous is not None:
        data["regenerated_channel"] = state.redo_channel.value
    return data


def _outreach_columns(plan: OutreachPlan | None) -> dict[str, Any]:
    def body(channel: Channel) -> str | None:
        message = plan.message(channel) if plan else None
        return message.body if message else None

    email = plan.message(Channel.email) if plan else None
    return {
        "email_subject": email.subject if email else None,
        "email_body": email.body if email else None,
        "linkedin_note": body(Channel.linkedin),
        "sms": body(Channel.sms),
        "call_opener": body(Channel.call),
    }


# ---------------------------------------------------------------------------- colleague
def _reachable(state: RunState) -> Account:
    """The account without the suppressed contacts the colleague step could write to (the
    primary and the one who engaged stay: they are never written to by this step)."""
    account = state.account
    if not state.suppressions:
        return account
    keep = [c for c in account.contacts if c.is_primary or c is account.referrer]
    kept = [c for c in account.contacts if c in keep or state.suppressions.contact(c) is None]
    return account.model_copy(update={"contacts": kept})


def _colleague_skip(state: RunState) -> str | None:
    account = state.account
    disqualified = _disqualified(state)
    if disqualified:
        return disqualified
    if account.inquiry is None:
        return "no engagement at this account (no inquiry), so no colleague to cite"
    if account.referrer is None:
        return "the inquiry's contact is not among the account's contacts"
    entry = state.suppressions.contact(account.referrer)
    if entry is not None:
        return f"the contact who engaged is suppressed, so not cited: {entry.describe()}"
    if not ColleagueReferrer.targets(account):
        return "no other non-primary contacts to write to"
    if not ColleagueReferrer.targets(_reachable(state)):
        return "every colleague to write to is suppressed"
    return None


def _colleague(module: ColleagueReferrer, state: RunState) -> StepOutput:
    pred = module(account=_reachable(state), seller=state.seller, note=state.note)
    return StepOutput(pred.messages, pred.rule_retries)


def _colleague_input(state: RunState) -> dict[str, Any]:
    account = state.account
    return {
        "inquiry": account.inquiry.model_dump(mode="json") if account.inquiry else None,
        "targets": [c.contact_id or c.name for c in ColleagueReferrer.targets(_reachable(state))],
    }


def _colleague_columns(messages: list[ColleagueMessage] | None) -> dict[str, Any]:
    text = (
        json.dumps([m.model_dump(mode="json") for m in messages], ensure_ascii=False)
        if messages
        else None
    )
    return {"colleague_messages": text}


# ---------------------------------------------------------------------------- the table
STEPS: tuple[Step, ...] = (
    Step(
        name="research",
        attr="researcher",
        build=lambda o: Researcher(),
        output="profile",
        run=_research,
        load=CompanyProfile.model_validate,
        record_input=_research_input,
        columns=("research_sources",),
        flatten=_research_columns,
        calls=1,
    ),
    Step(
        name="analysis",
        attr="analyst",
        build=lambda o: PainPointAnalyst(),
        output="analysis",
        reads=("profile",),
        run=_analysis,
        load=AccountAnalysis.model_validate,
        record_input=lambda s: {"profile": dump(s.get("profile")), "seller": s.seller.company},
        columns=("fit_score", "fit_rationale", "fit_criteria", "top_pain_points", "approach"),
        flatten=_analysis_columns,
        calls=1,
    ),
    Step(
        name="personalization",
        attr="personalizer",
        build=lambda o: Personalizer(o.max_rule_retries, o.seed_demos),
        output="outreach",
        reads=("analysis",),
        run=_personalization,
        load=lambda data: OutreachPlan.model_validate(data) if data else None,
        skip=_personalization_skip,
        record_input=_personalization_input,
        columns=("email_subject", "email_body", "linkedin_note", "sms", "call_opener"),
        flatten=_outreach_columns,
        calls=len(Channel),
        review_gate=True,
    ),
    Step(
        name="colleague",
        attr="referrer",
        build=lambda o: ColleagueReferrer(o.max_rule_retries, o.seed_demos),
        output="colleague_messages",
        run=_colleague,
        load=lambda data: [ColleagueMessage.model_validate(m) for m in data or []],
        skip=_colleague_skip,
        record_input=_colleague_input,
        empty=list,
        columns=("colleague_messages",),
        flatten=_colleague_columns,
        calls=2,  # about two reference emails per account with engagement
    ),
)


def table() -> tuple[Step, ...]:
    """The steps in run order. Read at call time, so a test (or plugin) that extends `STEPS`
    is seen by every consumer."""
    return STEPS


def names() -> tuple[str, ...]:
    return tuple(step.name for step in table())


def get(name: str) -> Step:
    for step in table():
        if step.name == name:
            return step
    raise KeyError(f"unknown step {name!r}; steps are: {', '.join(names())}")


def producer(output: str) -> Step:
    """The step whose output is `output`."""
    for step in table():
        if step.output == output:
            return step
    raise KeyError(f"no step produces {output!r}")


def closure(name: str) -> tuple[Step, ...]:
    """`name` and every step it depends on (through `reads`), in run order."""
    needed: set[str] = set()
    pending = [name]
    while pending:
        step = get(pending.pop())
        if step.name in needed:
            continue
        needed.add(step.name)
        pending.extend(producer(r).name for r in step.reads)
    return tuple(s for s in table() if s.name in needed)


def output_columns() -> list[str]:
    """Every step's batch output columns, in step order."""
    return [c for step in table() for c in step.columns]
