"""Gold demos from labeled data, for the labeled-fewshot recipe.

DSPy's `LabeledFewShot` copies training examples into every predictor as demos, but a demo is
shown to the model only if it has the predictor's own input and output fields; our examples are
`(account, seller, labels)`, which match no predictor, so plain `LabeledFewShot` would store
demos that every prompt silently drops. Instead we translate the labels into the one step they
describe, the analysis: inputs as the analyst sees them, and an `analysis` answer whose pain
points, fit score and approach are the gold ones. Fields the labels do not grade are filled
plainly and deterministically (evidence quotes the account line that best matches the pain
point; severity is a neutral 3). The research profile is not labeled, so these demos leave the
`profile` input out (DSPy shows them as "some input or output fields are not supplied").
"""

from __future__ import annotations

import random
from typing import Any

import dspy

from accountflow.errors import ConfigError
from accountflow.models import Account, AccountAnalysis, PainPoint, SellerProfile

# Targets whose visible predictors the labels can teach, and which predictor gets the demos.
LABELED_PREDICTORS: dict[str, str] = {"analysis": "analyst.predict", "pipeline": "analyst.predict"}


def _gold(example: dspy.Example) -> Any:
    return example.get("gold") or example["labels"]


def _evidence(account: Account, pain_point: str) -> str:
    """The account line sharing the most words with the pain point (the account is the only
    ground truth a demo may quote)."""
    lines = [
        line.split(":", 1)[1].strip()
        for line in account.facts_for_prompt().splitlines()
        if ":" in line and not line.startswith("company_name")
    ]
    words = {w for w in pain_point.lower().split() if len(w) > 3}
    best = max(lines, key=lambda line: len(words & set(line.lower().split())), default="")
    sentence = best.split(". ")[0].strip()
    return sentence[:200] or f"{account.company_name}'s own account data"


def gold_analysis(example: dspy.Example) -> AccountAnalysis:
    """The analysis the gold labels describe, as the analyst step would answer it."""
    account: Account = example["account"]
    gold = _gold(example)
    lo, hi = gold.fit_range
    facts = [
        f"industry {account.industry}" if account.industry else "",
        f"{account.employee_count} employees" if account.employee_count else "",
    ]
    rationale = f"{gold.fit_band.capitalize()} fit for the ideal customer profile"
    known = [f for f in facts if f]
    rationale += f" ({', '.join(known)})." if known else "."
    return AccountAnalysis(
        pain_points=[
            PainPoint(
                title=p,
                description=f"{account.company_name} likely struggles with {p}.",
                evidence=_evidence(account, p),
                severity=3,
            )
            for p in gold.pain_points
        ],
        opportunities=[],
        fit_score=(lo + hi) // 2,
        fit_rationale=rationale,
        approach=gold.approach,
        confidence=0.4 if "sparse" in gold.tags else 0.8,
    )


def analysis_demo(example: dspy.Example) -> dspy.Example:
    account: Account = example["account"]
    seller: SellerProfile = example["seller"]
    return dspy.Example(
        account=account.facts_for_prompt(),
        seller=seller.for_prompt(),
        analysis=gold_analysis(example),
    ).with_inputs("account", "seller")


def labeled_demos(
    target: str, trainset: list[dspy.Example], k: int, seed: int
) -> dict[str, list[dspy.Example]]:
    """Predictor name -> up to `k` gold demos sampled (with `seed`) from `trainset`."""
    if target not in LABELED_PREDICTORS:
        raise ConfigError(
            f"labeled-fewshot needs gold answers for the {target} step, and the labeled data "
            "has them only for analysis: use --optimizer bootstrap (or another family) for "
            f"{target}, or optimize the analysis target."
        )
    if k < 1:
        raise ConfigError(f"labeled-fewshot needs k >= 1, got {k}.")
    chosen = random.Random(seed).sample(trainset, min(k, len(trainset)))
    return {LABELED_PREDICTORS[target]: [analysis_demo(ex) for ex in chosen]}
