"""The LLM judge: a DSPy module scoring one message against a written rubric.

It scores the email of an outreach plan (the richest message; one call per example keeps a
judged eval affordable on a local model), or the first colleague reference when the target
only writes those. Each criterion's 1-5 score maps to 0-1 as (s - 1) / 4; the metric is their
mean, with the per-criterion scores in `details` and the judge's rationale as the reason.

The judge runs on its own LM (`--judge-lm`), set per eval with `use_judge_lm`; without one it
uses the LM in DSPy's context. Where the rubric overlaps a deterministic metric (specificity vs
`personalization`, clarity vs `output_rules`) the runner reports how often the two agree.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import dspy

from accountflow.evals.scores import Agreement, ExampleResult, MetricScore, pearson
from accountflow.models import Channel, ColleagueMessage, OutreachPlan
from accountflow.prompts import contact_text
from accountflow.signatures.judge import JudgeOutreach, JudgeVerdict

CRITERIA: tuple[str, ...] = ("relevance", "specificity", "tone", "clarity", "call_to_action")
# judge criterion -> the deterministic metric that checks an overlapping property
AGREEMENT_PAIRS: tuple[tuple[str, str], ...] = (
    ("specificity", "personalization"),
    ("clarity", "output_rules"),
    ("overall", "personalization"),
)

_judge_lm: contextvars.ContextVar[dspy.LM | None] = contextvars.ContextVar(
    "accountflow_judge_lm", default=None
)


@contextmanager
def use_judge_lm(lm: dspy.LM | None) -> Iterator[None]:
    """Make `lm` the judge's LM inside the block (this context and tasks copied from it)."""
    token = _judge_lm.set(lm)
    try:
        yield
    finally:
        _judge_lm.reset(token)


class Judge(dspy.Module):
    def __init__(self) -> None:
        super().__init__()
        self.rate = dspy.Predict(JudgeOutreach)

    def forward(
        self, account: str, contact: str, seller: str, channel: str, message: str
    ) -> dspy.Prediction:
        verdict: JudgeVerdict = self.rate(
            account=account, contact=contact, seller=seller, channel=channel, message=message
        ).verdict
        return dspy.Prediction(verdict=verdict)


def normalise(verdict: JudgeVerdict) -> dict[str, float]:
    return {c: (getattr(verdict, c) - 1) / 4 for c in CRITERIA}


def _message(prediction: dspy.Prediction) -> tuple[str, str, str] | None:
    """(channel, recipient name, text) of the message to judge, if the prediction has one."""
    keys = prediction.keys()
    plan: OutreachPlan | None = prediction.get("outreach") if "outreach" in keys else None
    if plan is not None and plan.messages:
        m = plan.message(Channel.email) or plan.messages[0]
        text = f"Subject: {m.subject}\n\n{m.body}" if m.subject else m.body
        return m.channel.value, plan.contact_name, text
    colleague: list[ColleagueMessage] = (
        prediction.get("colleague_messages") or [] if "colleague_messages" in keys else []
    )
    if colleague:
        c = colleague[0]
        return "colleague email", c.target_name, f"Subject: {c.subject}\n\n{c.body}"
    return None


def judge_prediction(example: dspy.Example, prediction: dspy.Prediction) -> MetricScore:
    """The `judge` metric: the rubric mean of one message, per-criterion scores in details."""
    found = _message(prediction)
    if found is None:
        return MetricScore.na("no message to judge")
    channel, name, text = found
    account = example.account
    contact = next((c for c in account.contacts if c.name == name), None)
    lm = _judge_lm.get() or dspy.settings.lm
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        verdict = Judge()(
            account=account.facts_for_prompt(),
            contact=contact_text(contact) if contact is not None else f"name: {name}",
            seller=example.seller.for_prompt(),
            channel=channel,
            message=text,
        ).verdict
    details = normalise(verdict)
    score = sum(details.values()) / len(details)
    marks = ", ".join(f"{c} {getattr(verdict, c)}/5" for c in CRITERIA)
    return MetricScore(
        score=score, reason=f"{marks}. {verdict.rationale.strip()[:300]}", details=details
    )


def criteria_means(rows: Sequence[ExampleResult]) -> dict[str, float]:
    """Mean 0-1 score per rubric criterion over the judged examples."""
    judged = [
        r.scores["judge"].details for r in rows if "judge" in r.scores and r.scores["judge"].details
    ]
    if not judged:
        return {}
    return {c: sum(d[c] for d in judged) / len(judged) for c in CRITERIA}


def agreement(rows: Sequence[ExampleResult]) -> list[Agreement]:
    """Judge vs deterministic metric, per overlapping pair: pass/fail agreement (both >= 0.5
    or both below) and Pearson correlation, over examples where both scored."""
    out: list[Agreement] = []
    for criterion, metric in AGREEMENT_PAIRS:
        pairs: list[tuple[float, float]] = []
        for r in rows:
            j, d = r.scores.get("judge"), r.scores.get(metric)
            if j is None or d is None or not j.details or not d.applicable:
                continue
            value = j.score if criterion == "overall" else j.details[criterion]
            pairs.append((value, d.score))
        if not any(r.scores.get("judge") for r in rows) or metric not in rows[0].scores:
            continue
        agree = [(a >= 0.5) == (b >= 0.5) for a, b in pairs]
        out.append(
            Agreement(
                criterion=criterion,
                metric=metric,
                n=len(pairs),
                agreement=sum(agree) / len(agree) if agree else None,
                correlation=pearson([a for a, _ in pairs], [b for _, b in pairs]),
            )
        )
    return out
