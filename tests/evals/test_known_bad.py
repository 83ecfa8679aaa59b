"""The metrics must see what a reader sees: each known-bad message (the ones the embedded model
really wrote, quoted in issue 13) is flagged by the metric that covers it, and the good
assembled message passes them all. A metric that passed these would be measuring nothing."""

from __future__ import annotations

import json

import dspy
import pytest

from accountflow.compose import assemble
from accountflow.config import load_seller
from accountflow.datasets import load_labeled, path
from accountflow.evals.metrics import METRICS
from accountflow.evals.runner import ranking
from accountflow.evals.scores import ExampleResult, MetricScore
from accountflow.io import load_accounts
from accountflow.models import (
    AccountAnalysis,
    Channel,
    OutreachMessage,
    OutreachPlan,
)
from accountflow.seed_demos import MESSAGES
from tests.evals.helpers import analysis

SELLER = load_seller()
DEMO = {a.account_id: a for a in load_accounts(path("accounts_demo.jsonl")).accounts}


def _example(account_id: str) -> dspy.Example:
    return dspy.Example(account=DEMO[account_id], seller=SELLER).with_inputs("account", "seller")


def _plan(
    account_id: str, channel: Channel, body: str, subject: str | None = None
) -> dspy.Prediction:
    """A plan whose `channel` message is `body` and whose other messages are good ones."""
    account = DEMO[account_id]
    contact = account.primary_contact
    assert contact is not None
    good = f"Is {account.company_name} watching its data closely enough?"
    messages = []
    for c in Channel:
        if c == channel:
            messages.append(
                OutreachMessage(
                    channel=c, subject=subject or ("Hi" if c == Channel.email else None), body=body
                )
            )
        else:
            text = assemble(c, contact, SELLER, good)
            messages.append(
                OutreachMessage(
                    channel=c, subject="A quick idea" if c == Channel.email else None, body=text
                )
            )
    return dspy.Prediction(outreach=OutreachPlan(messages=messages))


def _flagged(metric: str, example: dspy.Example, pred: dspy.Prediction) -> MetricScore:
    score = METRICS[metric](example, pred)
    assert score.applicable, score.reason
    return score


KNOWN_BAD = [
    # (metric, account, channel, body): quoted from the embedded model's real outputs
    (
        "signer",
        "acc-001",
        Channel.email,
        "Hi Marcus,\n\nHarborline Freight moved to Snowflake. Beacon helps.\n\nBest,\nMarcus Reed\nNorthwind Data",  # noqa: E501
    ),
    (
        "grounding",
        "acc-002",
        Channel.sms,
        "Hi Elaine, this is Maya from Northwind Data. Any stale data at Crestmed Health Partners "
        "since the BigQuery move?",
    ),
    (
        "demo_copy",
        "acc-003",
        Channel.linkedin,
        "Hi José, "
        + MESSAGES[Channel.linkedin].replace("Lakeshore Dental Partners", "Lumenpay")
        + " - Maya",
    ),
    (
        "sender_clarity",
        "acc-001",
        Channel.sms,
        "Hi Marcus Reed from Northwind Data, any stale ETA dashboards at Harborline Freight?",
    ),
    (
        "sender_clarity",
        "acc-001",
        Channel.call,
        "Hi Marcus Reed from Northwind Data. I'm calling about Harborline Freight's Snowflake move.",  # noqa: E501
    ),
    (
        "output_rules",
        "acc-001",
        Channel.email,
        "Hi Marcus,\n\nWith a relationship-building approach, Harborline Freight can address "
        "its pain points.\n\nBest,\nMaya Chen\nAccount Executive, Mid-Market\nNorthwind Data",
    ),
    (
        "greeting",
        "acc-001",
        Channel.email,
        "Hi Marcus Reed,\n\nHarborline Freight moved to Snowflake.\n\nBest,\nMaya Chen\n"
        "Account Executive, Mid-Market\nNorthwind Data",
    ),
]


@pytest.mark.parametrize(("metric", "account_id", "channel", "body"), KNOWN_BAD)
def test_each_known_bad_message_is_flagged(
    metric: str, account_id: str, channel: Channel, body: str
) -> None:
    score = _flagged(metric, _example(account_id), _plan(account_id, channel, body))
    assert score.score < 1.0, score.reason


def test_an_assembled_message_passes_every_reader_metric() -> None:
    account = DEMO["acc-001"]
    contact = account.primary_contact
    assert contact is not None
    core = "Harborline Freight moved its shipment data to Snowflake in Q2 2026. Would a short call help?"  # noqa: E501
    messages = [
        OutreachMessage(
            channel=c,
            subject="A quick idea" if c == Channel.email else None,
            body=assemble(c, contact, SELLER, core),
        )
        for c in Channel
    ]
    pred = dspy.Prediction(outreach=OutreachPlan(messages=messages))
    for metric in ("greeting", "signer", "sender_clarity", "demo_copy", "grounding"):
        score = _flagged(metric, _example("acc-001"), pred)
        assert score.score == 1.0, (metric, score.reason)


def test_pitch_restated_as_pain_points_and_copied_evidence_are_flagged() -> None:
    ex = _example("acc-001")
    restated = analysis(
        fit=80,
        pains=[
            (
                "Setup in under a day",
                "Automated monitors with no hand-written tests; setup in under a day",
                "Beacon is easy",
            ),
            (
                "Column-level lineage from source to dashboard",
                "Column-level lineage from source to dashboard",
                "Beacon is easy",
            ),
        ],
    )
    score = _flagged("evidence_spans", ex, dspy.Prediction(analysis=restated))
    assert score.score == 0.0, score.reason


def test_a_fit_score_that_never_moves_does_not_rank() -> None:
    rows = []
    for i, (fit, band) in enumerate([(80, "high"), (80, "low"), (80, "medium"), (80, "low")]):
        gold_mid = {"high": 90.0, "medium": 60.0, "low": 15.0}[band]
        rows.append(
            ExampleResult(
                index=i,
                example_id=f"e{i}",
                status="ok",
                score=0.5,
                scores={
                    "fit_band": MetricScore(
                        score=0.5,
                        reason="",
                        details={"fit": fit, "gold_mid": gold_mid, "exact": float(band == "high")},
                    )
                },
            )
        )
    figures = ranking(rows)
    assert figures["fit_spearman"] is None  # a constant score has no rank correlation
    assert figures["band_accuracy"] == 0.25 and figures["distinct_fit_scores"] == 1
    moving = [r.model_copy(deep=True) for r in rows]
    for r, fit in zip(moving, (95, 10, 60, 20), strict=True):
        r.scores["fit_band"].details["fit"] = fit
    assert (ranking(moving)["fit_spearman"] or 0) > 0.9


def test_disqualifier_recall_reads_the_gold_labels() -> None:
    rows = [r for split in ("dev", "test") for r in load_labeled(split)]
    row = next(r for r in rows if r.labels.disqualifiers)
    ex = dspy.Example(account=row.account, seller=SELLER, labels=row.labels).with_inputs("account")
    missed = AccountAnalysis(
        fit_score=70, fit_rationale="r", approach="pain_point_focused", confidence=1
    )
    assert _flagged("disqualifier_recall", ex, dspy.Prediction(analysis=missed)).score == 0.0
    assert json.dumps(row.labels.disqualifiers)
