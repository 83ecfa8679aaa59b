"""Output rules checked after each generation: lengths, placeholders, names.

A broken rule is fed back to the model (see `modules.py`); the messages here are written for the
model to read, and name the rule so a failed step says which one it broke.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from accountflow.grounding import demo_overlap, shingles, ungrounded
from accountflow.models import Channel, ColleagueMessage, OutreachMessage, OutreachPlan
from accountflow.text import split_sentences

LIMITS: dict[Channel, int] = {Channel.sms: 160, Channel.linkedin: 300}
SUBJECT_LIMIT = 80
HONORIFICS = {
    "dr",
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "prof",
    "sir",
    "dame",
    "herr",
    "frau",
    "sr",
    "sra",
    "jr",
    "phd",
    "md",
    "ii",
    "iii",
}
LEGAL_SUFFIXES = {
    "inc",
    "llc",
    "ltd",
    "gmbh",
    "corp",
    "corporation",
    "co",
    "plc",
    "sa",
    "ag",
    "bv",
    "srl",
    "limited",
    "company",
    "group",
}
_PLACEHOLDER_RES = [
    re.compile(r"\{\{[^}]*\}\}"),  # {{first_name}}
    re.compile(r"\{[A-Za-z_][\w ]{0,40}\}"),  # {company}
    re.compile(r"\[[^\]\n]{1,60}\]"),  # [Name], [specific value proposition]
    re.compile(r"<[A-Za-z_][\w ]{0,40}>"),  # <company>
]


_NO_SPACES = re.compile(r"[\u0e00-\u0e7f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def name_parts(name: str) -> list[str]:
    """The parts of a person's name that count as addressing them (honorifics aside)."""
    parts = re.split(r"[\s,]+", _fold(name))
    parts = [p.strip(".'\u2019") for p in parts]
    parts = [p for p in parts if p and p not in HONORIFICS]
    # Names written without spaces (e.g. Chinese, Japanese) count as a whole and by first char
    return [p for p in parts if len(p) >= 2 or not p.isascii()]


def mentions_name(text: str, name: str) -> bool:
    folded = _fold(text)
    for part in name_parts(name):
        if _NO_SPACES.search(part):  # CJK, kana, Hangul, Thai: names run into other text
            if part in folded:
                return True
        elif re.search(rf"(?<!\w){re.escape(part)}(?!\w)", folded):
            return True
    return False


def name_position(text: str, name: str) -> int | None:
    """Where the first part of `name` appears in `text` (None if nowhere): who comes first in a
    greeting is who it greets."""
    folded = _fold(text)
    found = []
    for part in name_parts(name):
        if _NO_SPACES.search(part):
            at = folded.find(part)
            if at >= 0:
                found.append(at)
        elif m := re.search(rf"(?<!\w){re.escape(part)}(?!\w)", folded):
            found.append(m.start())
    return min(found) if found else None


def company_forms(company: str) -> list[str]:
    """The company's name, and the same without a trailing legal suffix (Inc., GmbH...)."""
    words = company.split()
    forms = [company]
    while len(words) > 1 and _fold(words[-1]).strip(".,") in LEGAL_SUFFIXES:
        words = words[:-1]
        forms.append(" ".join(words).rstrip(","))
    return forms


def mentions_company(text: str, company: str) -> bool:
    folded = _fold(text)
    return any(_fold(form) in folded for form in company_forms(company))


def opening(text: str) -> str:
    """The greeting: the first non-empty line, or the first sentence of a one-line message."""
    line = next((ln for ln in text.strip().splitlines() if ln.strip()), "")
    return re.split(r"(?<=[.!?])\s", line, maxsplit=1)[0][:160]


def first_name(name: str) -> str:
    parts = name_parts(name)
    words = [w for w in name.split() if w.strip(".").lower() not in HONORIFICS]
    return words[0] if words else (parts[0] if parts else name)


def placeholders(text: str, exempt: str = "") -> list[str]:
    """Unfilled template slots; text that comes from the account itself (`exempt`: a company
    called "<Acme>") is never one."""
    found: list[str] = []
    for pattern in _PLACEHOLDER_RES:
        found.extend(m for m in pattern.findall(text) if not (exempt and m in exempt))
    return found


DEMO_OVERLAP_LIMIT = 0.10
INTERNAL_RUN = 5  # words in a row copied from the CRM notes that make a message quote them


@dataclass(frozen=True)
class RuleContext:
    """What the content rules check a message against: the evidence its claims must come
    from, the names that count as claims anywhere (`grounding.watched_names`), the demo texts
    it must not copy, and the account's own text (never flagged as a placeholder)."""

    evidence: str = ""
    watched: frozenset[str] = frozenset()
    demos: tuple[str, ...] = ()
    account_text: str = ""
    footer: str = field(default="")
    # word runs of the account's CRM notes that its public fields do not also have: context for
    # the seller ("CTO is the economic buyer"), never text for the contact
    internal_runs: frozenset[tuple[str, ...]] = frozenset()


# The seller's working vocabulary (analysis labels, ICP terms): a message that says "a
# relationship-building approach" or "your pain points" shows the reader the sales playbook.
_JARGON_RE = re.compile(
    r"\b(relationship[- _]building|(?:pain[- _]points?|opportunity)[- _]focused|pain[- _]points?"
    r"|ICP|ideal customer profile|fit score|buying signals?|disqualif\w*)\b",
    re.IGNORECASE,
)


def internal_jargon(text: str) -> list[str]:
    """Sales-internal words in a message, as written (each once)."""
    return list(dict.fromkeys(m.group(0) for m in _JARGON_RE.finditer(text)))


def internal_runs(notes: str | None, public: str) -> frozenset[tuple[str, ...]]:
    """The INTERNAL_RUN-word runs of `notes` that `public` (the account's own fields) lacks."""
    if not notes:
        return frozenset()
    return frozenset(shingles(notes, INTERNAL_RUN) - shingles(public, INTERNAL_RUN))


def content_problems(label: str, text: str, context: RuleContext) -> list[str]:
    """Grounding and demo-copy violations of one message, as feedback the model can act on."""
    problems: list[str] = []
    if context.footer:
        text = text.replace(context.footer, "")
    if context.evidence:
        invented = ungrounded(text, context.evidence, context.watched)
        if invented:
            problems.append(
                f"{label}: mentions {', '.join(invented[:5])}, which the account data does not; "
                "write only about what `account` and `analysis` say"
            )
    if context.internal_runs and shingles(text, INTERNAL_RUN) & context.internal_runs:
        problems.append(
            f"{label}: quotes the account's internal notes; write to the contact about their "
            "company, never what the seller's notes say about them"
        )
    if context.demos:
        share = demo_overlap(text, context.demos, allowed=context.evidence)
        if share > DEMO_OVERLAP_LIMIT:
            problems.append(
                f"{label}: copies the example message ({share:.0%} of its 8-word runs); "
                "write your own sentences about this company"
            )
    return problems


def grounded_sentences(text: str, context: RuleContext) -> str:
    """`text` without the sentences that name something the evidence does not back or that
    copy a demo: after the rule retries, the 0.5B model still wrote the seed demo's "BigQuery"
    into one sentence of an otherwise sound email (a demo account failed on it), and the
    other sentences say only what the account says. "" when nothing is left."""
    kept = []
    for sentence in split_sentences(text):
        if context.evidence and ungrounded(sentence, context.evidence, context.watched):
            continue
        if context.demos and demo_overlap(sentence, context.demos, allowed=context.evidence) > 0.5:
            continue
        kept.append(sentence)
    return " ".join(kept)


def _message_rules(
    label: str,
    subject: str | None,
    body: str,
    contact_name: str,
    company: str,
    context: RuleContext | None = None,
) -> list[str]:
    problems: list[str] = []
    text = f"{subject or ''}\n{body}"
    exempt = context.account_text if context else ""
    for found in placeholders(text, exempt)[:3]:
        problems.append(f"{label}: unfilled placeholder {found!r}; write the real text instead")
    if contact_name and not mentions_name(body, contact_name):
        problems.append(f"{label}: does not address the contact by name ({contact_name})")
    elif contact_name and not mentions_name(opening(body), contact_name):
        problems.append(
            f"{label}: the first line must greet the contact ({contact_name}), "
            f"e.g. 'Hi {first_name(contact_name)},'"
        )
    if not mentions_company(text, company):
        problems.append(f"{label}: does not name the company ({company})")
    jargon = [j for j in internal_jargon(text) if j.casefold() not in exempt.casefold()]
    if jargon:
        problems.append(
            f"{label}: uses the seller's internal words ({', '.join(jargon[:3])}); "
            "write to the contact in plain words about their company"
        )
    if subject is not None and len(subject) > SUBJECT_LIMIT:
        problems.append(
            f"{label}: subject is {len(subject)} characters, the limit is {SUBJECT_LIMIT}"
        )
    if context is not None:
        problems += content_problems(label, text, context)
    return problems


def check_message(
    message: OutreachMessage,
    contact_name: str,
    company: str,
    context: RuleContext | None = None,
) -> list[str]:
    """Every broken rule of one channel's message, as sentences the model can act on."""
    problems: list[str] = []
    label = message.channel.value
    limit = LIMITS.get(message.channel)
    if not message.body.strip():
        problems.append(f"{label}: the message is empty")
    if limit is not None and len(message.body) > limit:
        problems.append(f"{label}: {len(message.body)} characters, the limit is {limit}")
    if message.channel == Channel.email and not (message.subject or "").strip():
        problems.append("email: the subject is empty")
    subject = message.subject if message.channel == Channel.email else None
    problems += _message_rules(label, subject, message.body, contact_name, company, context)
    return problems


def check_outreach(
    plan: OutreachPlan, contact_name: str, company: str, context: RuleContext | None = None
) -> list[str]:
    """Every broken rule of an outreach plan: one message per channel, each within its rules."""
    problems: list[str] = []
    seen = [m.channel for m in plan.messages]
    for channel in Channel:
        if channel not in seen:
            problems.append(f"missing the {channel.value} message; write one per channel")
    for channel in {c for c in seen if seen.count(c) > 1}:
        problems.append(f"more than one {channel.value} message; write exactly one per channel")
    for message in plan.messages:
        problems += check_message(message, contact_name, company, context)
    return problems


def casts_reader_as_asker(text: str, target_name: str, referring_name: str) -> bool:
    """`text` names the reader as the colleague who asked ("Your colleague Sunita Pillai asked
    you", a subject "Sunita Pillai asked about ..." or "Sunita asked ..."): the 0.5B model wrote
    both to Sunita. The first name alone counts only before "asked" and not when the one who
    asked shares it."""
    target = _fold(target_name).strip()
    if len(name_parts(target_name)) < 2 or target == _fold(referring_name).strip():
        return False
    name = re.escape(target)
    pattern = (
        rf"colleagues?,?\s+{name}(?!\w)|(?<!\w){name}(,[^,.]{{0,60}},)?\s+(asked|reached|wanted)"
    )
    if re.search(pattern, _fold(text)):
        return True
    # "Harriet asked us about ..." to Harriet: the first name alone, unless the one who asked
    # shares it
    first, asker = name_parts(target_name)[0], name_parts(referring_name)
    if asker and first == asker[0]:
        return False
    return bool(re.search(rf"(?<!\w){re.escape(first)}\s+(asked|reached|wanted)", _fold(text)))


def check_colleague(
    message: ColleagueMessage, company: str, context: RuleContext | None = None
) -> list[str]:
    problems = _message_rules(
        "colleague email", message.subject, message.body, message.target_name, company, context
    )
    if not mentions_name(message.body, message.referring_name):
        problems.append(
            f"colleague email: does not name the colleague who asked ({message.referring_name})"
        )
    if any(
        casts_reader_as_asker(t, message.target_name, message.referring_name)
        for t in (message.subject or "", message.body)
    ):
        problems.append(
            f"colleague email: it says {message.target_name} asked or calls them a colleague; "
            f"{message.target_name} is the reader and {message.referring_name} asked us"
        )
    greeting = opening(message.body)
    target_at = name_position(greeting, message.target_name)
    referrer_at = name_position(greeting, message.referring_name)
    distinct = set(name_parts(message.referring_name)) - set(name_parts(message.target_name))
    if distinct and referrer_at is not None and (target_at is None or referrer_at < target_at):
        problems.append(
            f"colleague email: it greets {message.referring_name}, who asked us; write to "
            f"{message.target_name} and mention {message.referring_name} as their colleague"
        )
    return problems
