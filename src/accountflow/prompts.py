"""How domain objects read in a prompt: one rendering shared by the modules, the seed demos and
the judge, so a demo looks exactly like the real inputs it stands for."""

from __future__ import annotations

from collections.abc import Callable

from accountflow.models import AccountAnalysis, CompanyProfile, Contact, ResearchMaterial
from accountflow.text import without_instructions

# What the research prompt carries of the pages and documents: the embedded model's context
# and time per call bound it (about 1,000 tokens of source text).
SOURCE_CHARS_PER_TEXT = 1200
SOURCE_CHARS_TOTAL = 3600


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


def sources_text(material: ResearchMaterial | None) -> str:
    """Pages and documents as the research step reads them: `[n] URL`, then the text (cut at a
    word), each text and the whole bounded. Data, never instructions: the signature says so
    and nothing here is phrased as one."""
    if material is None or not material.texts:
        return "none"
    out: list[str] = []
    left = SOURCE_CHARS_TOTAL
    for n, item in enumerate(material.texts, 1):
        if left <= 200:
            break
        # a heading or list item ends where its line ends: without a stop, "Revenue reporting
        # you can trust" ran into the next sentence and the model copied both as one fact
        lines = [" ".join(line.split()) for line in item.text.splitlines() if line.strip()]
        text = " ".join(line if line[-1] in ".!?:;" else f"{line}." for line in lines)
        text = without_instructions(text)  # planted "ignore your instructions" sentences
        room = min(SOURCE_CHARS_PER_TEXT, left)
        if len(text) > room:
            text = text[:room].rsplit(" ", 1)[0] + " ..."
        out.append(f"[{n}] {item.url}\n{text}")
        left -= len(text)
    return "\n\n".join(out)


# The approach as an instruction, not its label: writers copied "relationship-building approach"
# into messages when the label itself was in the prompt.
ANGLES: dict[str, str] = {
    "pain_point_focused": "open with the problem their own text describes",
    "opportunity_focused": "open with what they are building or changing now",
    "relationship_building": "a short, friendly introduction; claim no problem they did not state",
}


def analysis_text(analysis: AccountAnalysis, keep: Callable[[str], bool] | None = None) -> str:
    """What a writer needs from the analysis: the approach, the pain points with their
    evidence and the buying signals found. Not the score: a small model repeats numbers.
    `keep` sees each line's content (after its "pain point: " label) and drops what a writer
    must not see (`modules.writer_analysis`)."""
    lines = [f"angle: {ANGLES[analysis.approach]}"]
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
    lines += [f"fact: {f.fact}" for f in analysis.facts]
    if keep is not None:
        lines = [line for line in lines if keep(line.split(": ", 1)[-1])]
    return "\n".join(lines)
