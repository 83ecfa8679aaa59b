"""Targets expose only their step's predictors; the runner survives broken examples."""

from __future__ import annotations

from typing import Any

import dspy
import pytest

from accountflow.errors import ConfigError
from accountflow.evals.runner import evaluate
from accountflow.evals.targets import build_target, target_predictor_names, targets
from accountflow.lm import fake_lm
from accountflow.pipeline import AccountPipeline
from tests.evals.helpers import HARBOR, bakery, example, harbor, injected


def test_each_target_exposes_only_its_own_step() -> None:
    assert target_predictor_names("analysis") == ["analyst.predict"]
    assert target_predictor_names("personalization") == [
        "personalizer.email",
        "personalizer.linkedin",
        "personalizer.sms",
        "personalizer.call",
    ]
    everything = {name for name, _ in AccountPipeline().named_predictors()}
    assert set(target_predictor_names("pipeline")) == everything
    for target in targets():  # names map back onto the pipeline's predictors
        assert set(target_predictor_names(target)) <= everything
    with pytest.raises(ConfigError, match="Unknown target"):
        build_target("nope")


def test_target_runs_upstream_steps_with_the_same_program() -> None:
    program = AccountPipeline()
    module = build_target("personalization", program)
    assert module.personalizer is program.personalizer  # tuned in place, maps back
    ex = harbor()
    with dspy.context(lm=fake_lm("targets", cache=False), adapter=dspy.JSONAdapter()):
        pred = module(account=ex.account, seller=ex.seller)
    assert pred.profile is not None and pred.analysis is not None
    assert len(pred.outreach.messages) == 4
    assert "colleague_messages" not in pred.keys()
    copy = module.deepcopy()  # what optimizers do to a student
    assert [n for n, _ in copy.named_predictors()] == target_predictor_names("personalization")


def _breaks_for(company: str) -> Any:
    def responder(request: Any, answer: dict[str, Any]) -> Any:
        if company in (request.messages[-1].text or "") and "profile" in answer:
            return "this is not JSON"
        return None

    return responder


def test_a_broken_example_is_a_scored_failure_and_the_rest_still_run() -> None:
    lm = fake_lm("runner-breaks", responder=_breaks_for("Pebble & Fern"), cache=False)
    examples = [harbor(), bakery(), injected()]
    report = evaluate(None, "analysis", examples, ["fit_band", "pain_point_recall"], 2, lm=lm)
    assert report.n_examples == 3 and report.n_failed == 1
    failed = next(r for r in report.rows if r.status == "error")
    assert failed.example_id == "t-bakery" and "AdapterParseError" in (failed.error or "")
    assert failed.score == 0.0 and all(s.score == 0.0 for s in failed.scores.values())
    assert [r.example_id for r in report.rows] == ["t-harbor", "t-bakery", "t-inject"]
    ok = [r for r in report.rows if r.status == "ok"]
    assert all(r.prediction and r.prediction["analysis"]["fit_score"] >= 0 for r in ok)
    assert report.metric_counts == {"fit_band": 3, "pain_point_recall": 3}
    assert report.lm_calls > 0


def test_parallel_and_serial_runs_agree() -> None:
    examples = [harbor(), bakery(), injected()]
    metrics = {"output_rules": 1.0, "grounding": 2.0, "fit_band": 1.0, "injection": 1.0}
    serial = evaluate(None, "pipeline", examples, metrics, 1, lm=fake_lm("s", cache=False))
    parallel = evaluate(None, "pipeline", examples, metrics, 3, lm=fake_lm("p", cache=False))
    assert serial.metric_means == parallel.metric_means
    assert serial.aggregate == pytest.approx(parallel.aggregate)
    assert serial.metric_counts["injection"] == 1  # only the injected account
    assert serial.weights["grounding"] == 2.0


def test_judge_scores_each_criterion_on_its_own_lm_and_reports_agreement() -> None:
    judge_calls: list[str] = []

    def judge_responder(request: Any, answer: dict[str, Any]) -> Any:
        judge_calls.append("x")
        verdict = {
            "relevance": 5,
            "specificity": 4,
            "tone": 5,
            "clarity": 3,
            "call_to_action": 1,
            "rationale": "specific but no ask",
        }
        return {"verdict": verdict} if "verdict" in answer else None

    judge = fake_lm("judge", responder=judge_responder, cache=False)
    # two accounts that get outreach (a disqualified one, like the bakery, gets none)
    examples = [harbor(), example({**HARBOR, "account_id": "t-harbor-2"})]
    report = evaluate(
        None,
        "personalization",
        examples,
        ["personalization", "judge"],
        1,
        lm=fake_lm("writer", cache=False),
        judge_lm=judge,
    )
    assert len(judge_calls) == 2  # one judged message per example, on the judge's LM
    row = report.rows[0].scores["judge"]
    assert row.details == {
        "relevance": 1.0,
        "specificity": 0.75,
        "tone": 1.0,
        "clarity": 0.5,
        "call_to_action": 0.0,
    }
    assert row.score == pytest.approx(0.65) and "no ask" in row.reason
    assert report.judge_criteria["call_to_action"] == 0.0
    pairs = {(a.criterion, a.metric): a for a in report.judge_agreement}
    assert pairs[("specificity", "personalization")].n == 2
    assert pairs[("specificity", "personalization")].agreement is not None


def test_an_optimizers_compiled_target_module_can_be_evaluated_directly() -> None:
    student = build_target("analysis")
    student.analyst.predict.demos = []  # what an optimizer hands back: a TargetModule
    report = evaluate(
        student, "analysis", [harbor()], ["fit_band"], lm=fake_lm("student", cache=False)
    )
    assert report.n_failed == 0 and report.metric_counts == {"fit_band": 1}
    with pytest.raises(ConfigError, match="not personalization"):
        evaluate(student, "personalization", [harbor()], ["grounding"])


def test_a_disqualified_account_without_outreach_is_not_scored_as_a_writing_failure() -> None:
    """The bakery (12 employees) is disqualified, so no outreach is written: the message
    metrics say n/a with the reason; a plan missing for no reason still scores 0."""
    report = evaluate(
        None,
        "personalization",
        [bakery(), harbor()],
        ["output_rules", "personalization"],
        lm=fake_lm("writer", cache=False),
    )
    bakery_row, harbor_row = report.rows
    for metric in ("output_rules", "personalization"):
        score = bakery_row.scores[metric]
        assert not score.applicable and "disqualified (too_small" in score.reason
        assert harbor_row.scores[metric].applicable
    assert report.metric_counts == {"output_rules": 1, "personalization": 1}

    from accountflow.evals.metrics import METRICS

    broken = dspy.Prediction(outreach=None)
    assert METRICS["output_rules"](bakery(), broken).score == 0.0
    assert METRICS["personalization"](bakery(), broken).score == 0.0
