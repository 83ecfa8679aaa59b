"""Gold demos for the analysis step: in the step's own output format, with quotes the fit score
accepts, and a fit computed from them that ranks the labeled accounts as the labels do (the
ceiling a model's judgments can reach with the formula)."""

from __future__ import annotations

import dspy
import pytest

from accountflow import fit
from accountflow.datasets import load_split
from accountflow.models import AnalysisDraft
from accountflow.modules import PainPointAnalyst
from accountflow.optimizers.demos import analysis_demo, gold_draft, labeled_demos
from tests.fit_ranking import assert_ranks_like_the_labels


def test_gold_demos_have_the_analysts_fields_and_verifiable_quotes() -> None:
    train = load_split("train")
    signature = PainPointAnalyst().predict.signature
    for example in train:
        demo = analysis_demo(example)
        assert set(demo.keys()) <= set(signature.fields)
        draft = demo["analysis"]
        assert isinstance(draft, AnalysisDraft)
        facts = example["account"].facts_for_prompt()
        for j in draft.judgments:
            if j.verdict == "present":
                assert fit.contains_span(facts, j.quote), (j.criterion, j.quote)
        assert all(fit.contains_span(facts, p.evidence) for p in draft.pain_points)
    demos = labeled_demos("analysis", train, 3, seed=1)
    assert len(demos["analyst.predict"]) == 3


@pytest.mark.parametrize("split", ["train", "dev", "test"])
def test_fit_from_gold_judgments_ranks_accounts_like_the_labels(split: str) -> None:
    def score(example: dspy.Example) -> int:
        account, seller = example["account"], example["seller"]
        facts = account.facts_for_prompt()
        return fit.analyse(account, seller, gold_draft(example), facts, facts).fit_score

    assert_ranks_like_the_labels(split, score, min_distinct=4)
