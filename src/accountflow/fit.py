"""The ICP fit score, computed from criteria instead of guessed by the model.

What the data decides is decided here: the size from `employee_count`, the industry by a
normalised match against the ICP's industries, a disqualifier that names a headcount, and each
signal or disqualifier that has `keywords` (a sentence of the account that shows it, quoted
whole). The model judges only the rest (criteria without keywords, the industry when the account
gives none) and must quote the account text for it; a quote that is not in the text makes the
verdict `unknown`. Keywords exist because the embedded 0.5B model could not judge criteria:
asked for quotes it found none on 8 labeled accounts, asked to tag numbered sentences it tagged
the first ids of the list, asked yes/no per pair it answered the same for every pair. The
formula (README, "Fit score"):

- industry: in the ICP -> `weights.industry` points; unknown -> half; outside -> 0
- size: inside min..max employees -> `weights.size`; unknown, or within a factor of two of
  the range -> half; further out -> 0
- buying signals: each present signal adds its weight (`weights.signal` unless it sets its
  own), at most `weights.signals` together; an account with no free text to judge signals from
  gets a quarter of `weights.signals` (unknown is not absent, but usually is)
- score = 100 x points / (industry + size + signals weights), rounded
- a present disqualifier caps the score at `weights.disqualified_cap` (below 40)
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from typing import Literal

from accountflow.models import (
    PROMPT_FIELDS,
    Account,
    AccountAnalysis,
    AnalysisDraft,
    Criterion,
    CriterionVerdict,
    Judgment,
    PainPoint,
    SellerProfile,
    Verdict,
)
from accountflow.text import (
    content_stems,
    fold,
    overlap,
    split_sentences,
    without_instructions,
)

INDUSTRY = "industry"
_GENERIC_INDUSTRY_WORDS = {
    "and",
    "services",
    "service",
    "products",
    "industry",
    "industries",
    "other",
    "general",
    "solutions",
    "group",
}
_QUOTES = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"'})


def normalise(text: str) -> str:
    """Case, width, quotes and whitespace folded, so a quote matches despite small copying
    differences; words stay as written."""
    text = unicodedata.normalize("NFKC", text).translate(_QUOTES).casefold()
    return " ".join(text.split())


def contains_span(text: str, span: str, min_chars: int = 8) -> bool:
    """`span` occurs in `text` (normalised, trailing punctuation and an ellipsis-joined quote's
    parts each checked); too-short spans prove nothing."""
    haystack = normalise(text)
    parts = [normalise(p).strip(" .,;:!?\"'") for p in re.split(r"\.\.\.|…", span)]
    parts = [p for p in parts if p]
    if not parts or sum(len(p) for p in parts) < min_chars:
        return False
    return all(p in haystack for p in parts)


def _industry_words(name: str) -> set[str]:
    words = re.findall(r"[^\W\d_]+", normalise(name))
    return {w for w in words if len(w) >= 3 and w not in _GENERIC_INDUSTRY_WORDS}


def industry_match(industry: str | None, icp_industries: Iterable[str]) -> bool | None:
    """True when the account's industry names an ICP industry (equal, or sharing a distinctive
    word: "Health insurance" ~ "Insurance"); None when the account gives no industry."""
    if not industry:
        return None
    mine = _industry_words(industry)
    for wanted in icp_industries:
        if normalise(wanted) == normalise(industry) or mine & _industry_words(wanted):
            return True
    return False


def size_points(count: int | None, seller: SellerProfile) -> tuple[str, float, str]:
    """(verdict, share of the size weight, evidence) for a headcount against the ICP range."""
    icp = seller.icp
    lo, hi = icp.min_employees, icp.max_employees
    if lo is None and hi is None:
        return "unknown", 0.5, "the ICP sets no size range"
    if count is None:
        return "unknown", 0.5, "employee_count is not given"
    low, high = lo or 0, hi if hi is not None else 10**12
    shown = f"{count:,} employees vs {low:,}-{high:,}" if hi is not None else f"{count:,}"
    if low <= count <= high:
        return "present", 1.0, shown
    if low / 2 <= count < low or high < count <= high * 2:
        return "absent", 0.5, shown + " (near the range)"
    return "absent", 0.0, shown


_TOKEN_RE = re.compile(r"[^\W_]+")


@functools.lru_cache(maxsize=4096)
def _tokens(sentence: str) -> tuple[str, ...]:
    """Words of a sentence, case folded, hyphenated words split ("double-counted"). Cached:
    every criterion's patterns read the same few sentences of an account."""
    return tuple(_TOKEN_RE.findall(fold(sentence)))


def _alternative_at(tokens: tuple[str, ...], alternative: str) -> bool:
    """One alternative of a keyword group: a word, a prefix ("migrat*") or a phrase of them."""
    parts = alternative.split()
    for i in range(len(tokens) - len(parts) + 1):
        if all(
            tokens[i + k].startswith(p[:-1]) if p.endswith("*") else tokens[i + k] == p
            for k, p in enumerate(parts)
        ):
            return True
    return False


def keyword_hit(pattern: str, sentence: str) -> bool:
    """`sentence` has a word of every " + " group of `pattern` (alternatives split on "|")."""
    tokens = _tokens(sentence)
    return all(
        any(_alternative_at(tokens, fold(a.strip())) for a in group.split("|"))
        for group in pattern.split("+")
    )


def account_sentences(account: Account) -> list[str]:
    """The account's free text (description, CRM notes) as verbatim sentences: what signals
    and disqualifiers are judged from and what a verdict quotes."""
    out: list[str] = []
    for text in (account.description, account.notes):
        if text:
            out += split_sentences(without_instructions(text))
    return out


def keyword_quote(criterion: Criterion, sentences: Iterable[str]) -> str | None:
    """The first sentence that shows `criterion` by its keywords, or None."""
    for sentence in sentences:
        if any(keyword_hit(p, sentence) for p in criterion.keywords):
            return sentence
    return None


def model_criteria(seller: SellerProfile) -> list[tuple[str, str]]:
    """(id, text) of the criteria the model judges, in prompt order: those without keywords
    (code decides the rest). The list is the same for every account of a seller (a stable
    prompt prefix); where the data decides (a given industry, a known headcount) `analyse`
    ignores the model's verdict."""
    icp = seller.icp
    out: list[tuple[str, str]] = []
    if icp.industries:
        out.append((INDUSTRY, "the company works in one of: " + "; ".join(icp.industries)))
    out += [(c.id, c.text) for c in icp.buying_signals if not c.keywords]
    out += [(c.id, f"(disqualifier) {c.text}") for c in icp.disqualifiers if not c.keywords]
    return out


def criterion_verdict(
    c: Criterion, verdicts: dict[str, tuple[Verdict, str]], sentences: list[str]
) -> tuple[Verdict, str, Literal["code", "model"]]:
    """(verdict, evidence, decided_by) of a signal or disqualifier: by its keywords in code
    when it has any (a sentence that shows it, else absent), else the model's verified one."""
    if c.keywords:
        quote = keyword_quote(c, sentences)
        return ("present", quote, "code") if quote else ("absent", "", "code")
    verdict, quote = verdicts.get(c.id, ("unknown", ""))
    return verdict, quote, "model"


def criteria_text(seller: SellerProfile) -> str:
    return "\n".join(f"{cid}: {text}" for cid, text in model_criteria(seller))


def _has_free_text(account: Account) -> bool:
    return bool((account.description or "").strip() or (account.notes or "").strip())


def judged(
    judgments: Iterable[Judgment], allowed: set[str], evidence: str
) -> dict[str, tuple[Verdict, str]]:
    """criterion id -> (verdict, verified quote). A present verdict needs a quote found in the
    evidence, else it is unknown; the first judgment of a criterion wins."""
    out: dict[str, tuple[Verdict, str]] = {}
    for j in judgments:
        cid = j.criterion.strip()
        if cid not in allowed or cid in out:
            continue
        verdict = j.verdict
        quote = j.quote.strip()
        if verdict == "present" and not contains_span(evidence, quote):
            verdict, quote = "unknown", ""
        out[cid] = (verdict, quote if verdict == "present" else "")
    return out


EVIDENCE_MIN_WORDS = 2
# the labels of the account's prompt lines and the fit's own criterion names, which the 0.5B
# model wrote as pain point titles ("Industry")
FIELD_LABELS = frozenset(
    f.replace("_", " ") for f in ("company_name", *PROMPT_FIELDS, INDUSTRY, "size")
)


def verified_pain_points(
    pains: Iterable[PainPoint], evidence: str, seller: SellerProfile
) -> list[PainPoint]:
    """Pain points of the account, not the seller's pitch: each with evidence of at least
    EVIDENCE_MIN_WORDS content words found in the account text or research facts, not a
    restated value proposition, no two on one quote."""
    pitches = [content_stems(v) for v in seller.value_propositions]
    labels = FIELD_LABELS | {
        normalise(c.id.replace("_", " "))
        for c in (*seller.icp.buying_signals, *seller.icp.disqualifiers)
    }
    seen: set[str] = set()
    out: list[PainPoint] = []
    for p in pains:
        # a one-word quote proves nothing: "industry", a field's label in the account text,
        # carried acc-004's "Industry" pain point (the ICP's industry list as its
        # description) into the writers' prompt
        if len(content_stems(p.evidence)) < EVIDENCE_MIN_WORDS:
            continue
        if normalise(p.title).strip(" .:") in labels:  # "Industry": a field, not a problem
            continue
        if not contains_span(evidence, p.evidence):
            continue
        key = normalise(p.evidence)
        if key in seen:
            continue
        stems = content_stems(f"{p.title} {p.description}")
        if any(overlap(stems, pitch) >= 0.5 for pitch in pitches):
            continue
        seen.add(key)
        out.append(p)
    return out


def analyse(
    account: Account,
    seller: SellerProfile,
    draft: AnalysisDraft,
    account_text: str,
    evidence: str,
) -> AccountAnalysis:
    """The analysis from the model's draft: verdicts whose quotes are in `account_text`, pain
    points whose evidence is in `evidence` (the account text plus research facts), the computed
    score with a rationale naming what decided it, a confidence from how much was known."""
    icp, w = seller.icp, seller.icp.weights
    asked = dict(model_criteria(seller))
    verdicts = judged(draft.judgments, set(asked), account_text)
    criteria: list[CriterionVerdict] = []
    reasons: list[str] = []

    # industry
    match = industry_match(account.industry, icp.industries) if icp.industries else None
    if match is not None:
        verdict, share, by, ev = (
            ("present" if match else "absent"),
            float(match),
            "code",
            (account.industry or ""),
        )
    else:
        verdict, ev = verdicts.get(INDUSTRY, ("unknown", ""))
        share, by = {"present": 1.0, "absent": 0.0}.get(verdict, 0.5), "model"
    points = w.industry * share
    criteria.append(
        CriterionVerdict(
            criterion=INDUSTRY,
            kind="industry",
            verdict=verdict,
            evidence=ev,
            decided_by=by,
            points=points,
        )
    )
    reasons.append(f"industry {verdict} (+{points:g})")

    # size
    size_verdict, share, ev = size_points(account.employee_count, seller)
    points = w.size * share
    criteria.append(
        CriterionVerdict(
            criterion="size",
            kind="size",
            verdict=size_verdict,
            evidence=ev,
            decided_by="code",
            points=points,
        )
    )
    reasons.append(f"size {ev} (+{points:g})")

    # buying signals
    sentences = account_sentences(account)
    signal_points = 0.0
    present: list[str] = []
    for c in icp.buying_signals:
        verdict, quote, by = criterion_verdict(c, verdicts, sentences)
        add = (c.weight if c.weight is not None else w.signal) if verdict == "present" else 0.0
        signal_points += add
        if verdict == "present":
            present.append(c.id)
        criteria.append(
            CriterionVerdict(
                criterion=c.id,
                kind="signal",
                verdict=verdict,
                evidence=quote,
                decided_by=by,
                points=add,
            )
        )
    if not _has_free_text(account) and not present:
        signal_points = w.signals / 4
        reasons.append(f"no text to judge buying signals from (+{signal_points:g})")
    else:
        signal_points = min(signal_points, w.signals)
        reasons.append(
            f"signals {', '.join(present)} (+{signal_points:g})"
            if present
            else "no buying signal found (+0)"
        )

    # disqualifiers
    disqualified: list[str] = []
    for c in icp.disqualifiers:
        if c.max_employees is not None and account.employee_count is not None:
            hit = account.employee_count <= c.max_employees
            verdict, ev, by = (
                ("present" if hit else "absent"),
                f"{account.employee_count:,} employees",
                "code",
            )
        else:
            verdict, ev, by = criterion_verdict(c, verdicts, sentences)
        if verdict == "present":
            disqualified.append(c.id)
        criteria.append(
            CriterionVerdict(
                criterion=c.id,
                kind="disqualifier",
                verdict=verdict,
                evidence=ev,
                decided_by=by,
            )
        )

    total = w.industry + w.size + w.signals
    raw = sum(c.points for c in criteria if c.kind in ("industry", "size")) + signal_points
    score = round(100 * raw / total) if total else 0
    if disqualified:
        score = min(score, w.disqualified_cap)
        reasons.append(f"disqualified: {', '.join(disqualified)} (capped at {w.disqualified_cap})")
    known = sum(c.verdict != "unknown" for c in criteria)
    confidence = round(known / len(criteria), 2) if criteria else 0.0
    approach = draft.approach
    pains = verified_pain_points(draft.pain_points, evidence, seller)
    if score < 40 or (not pains and approach == "pain_point_focused"):
        approach = "relationship_building"
    return AccountAnalysis(
        pain_points=pains,
        opportunities=list(draft.opportunities),
        fit_score=score,
        fit_rationale=f"{score}: " + "; ".join(reasons),
        approach=approach,
        confidence=confidence,
        criteria=criteria,
    )
