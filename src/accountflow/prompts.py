"""How domain objects read in a prompt: one rendering shared by the modules, the seed demos and
the judge, so a demo looks exactly like the real inputs it stands for."""

from __future__ import annotations

from collections.abc import Callable

from accountflow.grounding import shingles
from accountflow.models import AccountAnalysis, CompanyProfile, Contact
from accountflow.rules import INTERNAL_RUN


def contact_text(contact: Contact) -> str:
    lines = [f"name: {contact.name or 'Unknown'}"]
    if contact.title:
        lines.append(f"title: {contact.title}")
    return "\n".join(lines)


def profile_text(profile: CompanyProfile) -> str:
    lines = [
        f"summary: {profile.summary}",
        f"industry: {profile.industry}",
        f"size: {profile.size_band}",
    ]
    lines += [f"fact ({f.source.value}): {f.fact}" for f in profile.key_facts]
    lines += [f"recent: {d}" for d in profile.recent_developments]
    return "\n".join(lines)


def analysis_text(
    analysis: AccountAnalysis,
    hide: frozenset[tuple[str, ...]] = frozenset(),
    grounded: Callable[[str], bool] | None = None,
) -> str:
    """What a writer needs from the analysis: the approach, the pain points with their
    evidence and the buying signals found. Not the score: a small model repeats numbers.
    Lines sharing a word run with `hide` (the CRM notes' runs, `rules.internal_runs`) are left
    out, so a writer cannot quote the notes through the analysis either; so are lines that
    `grounded` rejects (a model-written opportunity naming "SaaS" that the account never says
    was copied into an email through every retry)."""
    lines = [f"approach: {analysis.approach}"]
    lines += [
        f"pain point: {p.title}: {p.description} (evidence: {p.evidence})"
        for p in analysis.pain_points
    ]
    lines += [
        f"signal: {c.evidence}"
        for c in analysis.criteria
        if c.kind == "signal" and c.verdict == "present" and c.evidence
    ]
    lines += [f"opportunity: {o}" for o in analysis.opportunities]
    if hide:
        lines = [line for line in lines if not shingles(line, INTERNAL_RUN) & hide]
    if grounded is not None:
        lines = [line for line in lines if grounded(line.split(": ", 1)[-1])]
    return "\n".join(lines)
