"""Gold demos from labeled data, for the labeled-fewshot recipe.

DSPy's `LabeledFewShot` copies training examples into every predictor as demos, but a demo is
shown to the model only if it has the predictor's own input and output fields; our examples are
`(account, seller, labels)`, which match no predictor, so plain `LabeledFewShot` would store
demos that every prompt silently drops. Instead we translate the labels into the one step they
describe, the analysis: inputs as the analyst sees them, and an `analysis` answer whose pain
points, criterion judgments and approach are the gold ones (the fit score is computed from the
judgments, as at run time). Fields the labels do not grade are filled
plainly and deterministically (evidence quotes the account line that best matches the pain
point; severity is a neutral 3); the criterion judgments come from the gold signal and
disqualifier labels, each quoting the account sentence that shows it. The research profile is
not labeled, so these demos leave the `profile` input out (DSPy shows them as "some input or
output fields are not supplied").
"""

from __future__ import annotations

import random
from typing import Any

import dspy

from accountflow import fit
from accountflow.errors import ConfigError
from accountflow.models import Account, AnalysisDraft, Judgment, PainPoint, SellerProfile
from accountflow.text import content_stems, split_sentences

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


def _sentences(account: Account) -> list[str]:
    """The account's own text cut into sentences, each verbatim: what a judgment may quote."""
    out: list[str] = []
    for line in account.facts_for_prompt().splitlines():
        if ":" not in line or line.startswith("company_name"):
            continue
        value = line.split(":", 1)[1].strip()
        out += split_sentences(value)
    return out


def _quote(account: Account, text: str) -> str:
    """The account sentence sharing the most content words with a criterion's text, or ""
    when none shares any (a gold label with nothing to quote is judged "unknown")."""
    wanted = content_stems(text)
    best, score = "", 0
    for sentence in _sentences(account):
        shared = len(wanted & content_stems(sentence))
        if shared > score:
            best, score = sentence, shared
    return best[:200].rsplit(" ", 1)[0] if len(best) > 200 else best


def gold_draft(example: dspy.Example) -> AnalysisDraft:
    """What the analyst should write for a labeled account, in the analysis step's own output
    format: a judgment per criterion (the gold signals and disqualifiers present with a quote
    from the account; the industry from the data; the rest unknown), the gold pain points with
    evidence quoted from the account, and the gold approach. Every quote is checked with the
    same `contains_span` the fit score applies, so a demo never shows an unverifiable quote."""
    account: Account = example["account"]
    seller: SellerProfile = example["seller"]
    gold = _gold(example)
    facts = account.facts_for_prompt()
    present = set(gold.signals) | set(gold.disqualifiers)
    judgments: list[Judgment] = []
    for cid, text in fit.model_criteria(seller):
        verdict: str = "unknown"
        quote = ""
        if cid == fit.INDUSTRY:
            match = fit.industry_match(account.industry, seller.icp.industries)
            if match is not None:
                verdict = "present" if match else "absent"
                quote = account.industry or "" if match else ""
        elif cid in present:
            quote = _quote(account, text)
            verdict = "present" if fit.contains_span(facts, quote) else "unknown"
            quote = quote if verdict == "present" else ""
        judgments.append(Judgment(criterion=cid, quote=quote, verdict=verdict))
    pains = [
        PainPoint(
            title=p,
            description=f"{account.company_name} has {p}.",
            evidence=_evidence(account, p),
            severity=3,
        )
        for p in gold.pain_points[:3]
    ]
    return AnalysisDraft(
        judgments=judgments,
        pain_points=[p for p in pains if fit.contains_span(facts, p.evidence)],
        opportunities=[],
        approach=gold.approach,
    )


def analysis_demo(example: dspy.Example) -> dspy.Example:
    """A demo with the analyst's inputs as `PainPointAnalyst` formats them. The research
    profile is not labeled, so it is left out (DSPy marks it as not supplied)."""
    account: Account = example["account"]
    seller: SellerProfile = example["seller"]
    return dspy.Example(
        seller=seller.for_prompt(),
        criteria=fit.criteria_text(seller),
        account=account.facts_for_prompt(),
        analysis=gold_draft(example),
    ).with_inputs("seller", "criteria", "account")


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
