"""One check for "this way of scoring ranks a labeled split like its gold fit ranges", shared
by the gold-judgment ceiling test and the demo seller's keyword test."""

from __future__ import annotations

from collections.abc import Callable

import dspy

from accountflow.datasets import band_of, load_split
from accountflow.evals.scores import spearman


def assert_ranks_like_the_labels(
    split: str, score: Callable[[dspy.Example], int], min_distinct: int
) -> None:
    fits, mids, exact = [], [], 0
    for example in load_split(split):
        gold, fit_score = example.gold, score(example)
        fits.append(float(fit_score))
        mids.append(sum(gold.fit_range) / 2)
        exact += band_of(fit_score) == gold.fit_band
        if gold.disqualifiers:
            assert fit_score < 40, example["account"].account_id
    rho = spearman(fits, mids)
    assert rho is not None and rho >= 0.85, rho
    assert exact / len(fits) >= 0.85
    assert len(set(fits)) >= min_distinct
