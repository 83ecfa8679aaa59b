"""Grounding: are the names and numbers in a message backed by the data the writer was given?

A deterministic approximation of "every claim comes from the account data", checkable without
a model:

- the *evidence* is the account's own fields, its contacts (names, titles), its inquiry, the
  seller profile (product, sender, value propositions, footer), and the research step's key
  facts tagged `account_data` (facts tagged `model_knowledge` are not evidence);
- a *claim* is a number or a capitalised word in the message (names of people, companies,
  products, places, tools, acronyms). Capitalised words at the start of a sentence are skipped
  (we cannot tell "Snowflake" from "Would" there), as are greetings, weekdays, months and a few
  generic words; numbers followed by a time unit ("a 15-minute call") are scheduling, not
  claims about the account;
- a claim is grounded when the same word (case-insensitive, possessive stripped) or the same
  number (thousands separators ignored) occurs in the evidence.

The score is grounded claims / claims (1.0 when a message makes no such claims); the reason
names the invented ones. Paraphrased or sentence-initial inventions slip through: the LLM judge
covers what this cannot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from accountflow.evals.text import fold, words
from accountflow.models import Account, CompanyProfile, FactSource, SellerProfile

_NUMBER_RE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_TIME_UNIT_RE = re.compile(
    r"\s*(?:-|\s)?\s*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)\b", re.I
)
_CAP_RE = re.compile(r"(?<![\w'’@./-])([^\W\d_][\w'’&-]*)", re.UNICODE)
_SENTENCE_END = '.!?:;\n"“(—–-•*'
ALWAYS_OK = frozenset(
    """i hi hello hey dear thanks thank best regards cheers p.s ps ok okay monday tuesday
    wednesday thursday friday saturday sunday january february march april may june july
    august september october november december linkedin sms email e-mail re fwd yes no stop
    reply am pm""".split()
)


def evidence_text(
    account: Account, seller: SellerProfile | None, profile: CompanyProfile | None = None
) -> str:
    """All text a message may draw names and numbers from (see the module docstring)."""
    parts = [account.facts_for_prompt()]
    for contact in account.contacts:
        parts += [contact.name or "", contact.title or "", contact.email or ""]
    if account.inquiry is not None:
        parts += [account.inquiry.topic, account.inquiry.message or ""]
    if seller is not None:
        parts += [seller.for_prompt(), seller.compliance_footer, seller.sender_title]
    if profile is not None:
        parts += [f.fact for f in profile.key_facts if f.source == FactSource.account_data]
    return "\n".join(p for p in parts if p)


def _number(token: str) -> str:
    value = token.replace(",", "")
    return value.rstrip("0").rstrip(".") if "." in value else value


def numbers(text: str, skip_time: bool = False) -> list[str]:
    found = []
    for m in _NUMBER_RE.finditer(text):
        if skip_time and _TIME_UNIT_RE.match(text, m.end()):
            continue
        found.append(_number(m.group()))
    return found


def capitalised(text: str) -> list[str]:
    """Capitalised words that are not at the start of a sentence or line."""
    found = []
    for m in _CAP_RE.finditer(text):
        word = m.group(1)
        if not word[0].isupper():
            continue
        before = text[: m.start()].rstrip()
        if not before or before[-1] in _SENTENCE_END:
            continue
        found.append(word)
    return found


def _key(word: str) -> str:
    w = fold(word).replace("’", "'")
    return w.removesuffix("'s").strip("'-&")


def invented_claims(message: str, evidence: str) -> tuple[int, list[str]]:
    """(number of claims, the claims not found in the evidence) for one message."""
    evidence_words = {_key(w) for w in words(evidence)}
    evidence_words |= {_key(part) for w in words(evidence) for part in re.split(r"[-'’]", w)}
    evidence_numbers = set(numbers(evidence))
    claims = 0
    invented: list[str] = []
    for num in numbers(message, skip_time=True):
        claims += 1
        if num not in evidence_numbers:
            invented.append(num)
    for word in capitalised(message):
        key = _key(word)
        if not key or key in ALWAYS_OK or key.startswith("i'"):  # I'm, I'd, I'll, I've
            continue
        claims += 1
        parts = [p for p in re.split(r"[-'’&]", key) if p]
        if key not in evidence_words and not all(p in evidence_words for p in parts):
            invented.append(word)
    return claims, invented


def grounding_score(messages: Iterable[str], evidence: str) -> tuple[float, int, list[str]]:
    """(score, claims, invented claims) over several messages checked against one evidence."""
    total = 0
    invented: list[str] = []
    for message in messages:
        claims, bad = invented_claims(message, evidence)
        total += claims
        invented += bad
    score = 1.0 if total == 0 else (total - len(invented)) / total
    return score, total, invented
