"""Grounding: are the names and numbers in a message backed by the data the writer was given?

A deterministic approximation of "every claim comes from the account data", checkable without
a model:

- the *evidence* is the account's own fields, its contacts (names, titles), its inquiry, the
  seller's own vocabulary (company, product, sender, value propositions, footer; not its
  description or ICP), and the research step's key facts not tagged `model_knowledge`;
- a *claim* is a number or a capitalised word in the message (names of people, companies,
  products, places, tools, acronyms). Capitalised words at the start of a sentence are skipped
  (we cannot tell "Snowflake" from "Would" there), as are greetings, weekdays and a few
  generic words (not months: "since the Snowflake migration in March" was a demo's date carried
  over); numbers followed by a time unit ("a 15-minute call") are scheduling, not
  claims about the account;
- a claim is grounded when the same word (case-insensitive, possessive stripped) or the same
  number (thousands separators ignored) occurs in the evidence.

Watched names (data tools and clouds, the warehouses the seller's description lists, the names in
the demos) are claims wherever they stand, sentence starts included: "BigQuery" in a message to
an account on Databricks is a copied demo fact even though the seller's profile names BigQuery.

The output rules (`rules.content_problems`, fed back to the model) and the `grounding` metric
both use this module. The score is grounded claims / claims (1.0 when a message makes no such
claims); the reason names the invented ones. Paraphrased inventions slip through: the LLM judge
covers what this cannot.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from accountflow.models import Account, CompanyProfile, FactSource, SellerProfile
from accountflow.text import GENERIC, STOPWORDS, fold, words

_NUMBER_RE = re.compile(r"(?<![\w.])\d[\d,]*(?:\.\d+)?")
_TIME_UNIT_RE = re.compile(
    r"\s*(?:-|\s)?\s*(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|weeks?)\b", re.I
)
_CAP_RE = re.compile(r"(?<![\w'’@./-])([^\W\d_][\w'’&-]*)", re.UNICODE)
_SENTENCE_END = '.!?:;\n"“(—–-•*'
ALWAYS_OK = frozenset(
    """i hi hello hey dear thanks thank best regards cheers p.s ps ok okay monday tuesday
    wednesday thursday friday saturday sunday linkedin sms email e-mail re fwd yes no stop
    reply am pm""".split()
)


def seller_vocabulary(seller: SellerProfile) -> str:
    """What a message may say about the seller: its name, product, sender, value propositions
    and its call to action. Not its description or ICP: "Snowflake, BigQuery, Databricks" there are
    warehouses the seller connects to, not facts about the account."""
    return "\n".join(
        [
            seller.company,
            seller.product,
            seller.sender_name,
            seller.sender_title,
            *seller.value_propositions,
            seller.compliance_footer,
            seller.call_to_action,
            seller.sms_call_to_action,
        ]
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
        parts.append(seller_vocabulary(seller))
    if profile is not None:
        parts += [f.fact for f in profile.key_facts if f.source != FactSource.model_knowledge]
    return "\n".join(p for p in parts if p)


# Names a small model likes to drop into outreach whether or not the account uses them: data
# tools, clouds, warehouses. Checked anywhere in a message (also at a sentence start, where the
# capitalised-word check cannot tell a name from an ordinary first word).
KNOWN_NAMES = frozenset(
    """snowflake bigquery databricks redshift teradata oracle postgres postgresql mysql
    sql server synapse fabric dbt airflow fivetran stitch airbyte dagster prefect looker tableau
    power bi sisense metabase mode hex kafka spark hadoop s3 gcs azure aws gcp salesforce
    hubspot sap netsuite workday epic cerner shopify slack pagerduty jira monte carlo
    bigeye datadog""".split()
)
LOWERCASE_NAMES = frozenset({"dbt"})  # tools written in lower case: a claim in any case


def watched_names(seller: SellerProfile | None, demo_texts: Iterable[str] = ()) -> set[str]:
    """Names that are a claim wherever they appear: the known tool names, every capitalised
    word of the seller's description and ICP (the warehouses it lists), and the names in the
    demos a program shows the model (the demo company, its people, its tools)."""
    names = set(KNOWN_NAMES)
    texts = list(demo_texts)
    if seller is not None:
        texts += [seller.description, *(c.text for c in seller.icp.buying_signals)]
        texts += [c.text for c in seller.icp.disqualifiers]
    for text in texts:
        for word in capitalised(text):
            key = _key(word)
            common = key in ALWAYS_OK or key in STOPWORDS or key in GENERIC
            if key and not common and not key.startswith("i'"):
                names.add(key)
    if seller is not None:
        for allowed in words(seller_vocabulary(seller)):
            names.discard(_key(allowed))
    return names


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
        before = text[: m.start()].rstrip(" \t")  # a line break starts a sentence too
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
        # I'm, I'd, I'll, I've; a stopword is no name ("Hi Ann, After the move" is not a claim)
        if not key or key in ALWAYS_OK or key in STOPWORDS or key.startswith("i'"):
            continue
        claims += 1
        parts = [p for p in re.split(r"[-'’&]", key) if p]
        if key not in evidence_words and not all(p in evidence_words for p in parts):
            invented.append(word)
    return claims, invented


_RAW_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)


def ungrounded(message: str, evidence: str, watched: Iterable[str] = ()) -> list[str]:
    """The names and numbers of `message` that the evidence does not back: the capitalised
    words and numbers of `invented_claims`, plus any watched name (see `watched_names`) that
    appears anywhere in the message, also at a sentence start, but nowhere in the evidence.
    A watched name counts when written capitalised ("Epic", not "an epic"), or in any case for
    the tools written in lower case (dbt)."""
    _, invented = invented_claims(message, evidence)
    watched = set(watched)
    evidence_words = {_key(w) for w in words(evidence)}
    seen = {_key(i) for i in invented}
    for raw in _RAW_WORD_RE.findall(message):
        key = _key(raw)
        if key in seen or key not in watched or key in evidence_words:
            continue
        if raw[0].isupper() or key in LOWERCASE_NAMES:
            invented.append(raw)
            seen.add(key)
    return list(dict.fromkeys(invented))


SHINGLE = 8


_SENTENCES = re.compile(r"(?<=[.!?;:])\s+|\n+")


def shingles(text: str, size: int = SHINGLE) -> set[tuple[str, ...]]:
    """The `size`-word runs inside each sentence: a run across a sentence boundary would make a
    short stock closing ("Happy to connect.") after a quoted fact look like a copied demo."""
    out: set[tuple[str, ...]] = set()
    for sentence in _SENTENCES.split(text):
        w = words(sentence)
        out |= {tuple(w[i : i + size]) for i in range(len(w) - size + 1)}
    return out


def demo_overlap(
    message: str, demo_texts: Iterable[str], size: int = SHINGLE, allowed: str = ""
) -> float:
    """Share of the message's 8-word runs that also occur in a demo: a copied demo, with the
    company name swapped, scores high; an original message scores 0. Runs that also occur in
    `allowed` (the account and seller text the message may quote, as the demo did) are not
    copies of the demo."""
    mine = shingles(message, size)
    if allowed:
        mine -= shingles(allowed, size)
    if not mine:
        return 0.0
    theirs: set[tuple[str, ...]] = set()
    for text in demo_texts:
        theirs |= shingles(text, size)
    return len(mine & theirs) / len(mine)


def grounding_score(
    messages: Iterable[str], evidence: str, watched: Iterable[str] = ()
) -> tuple[float, int, list[str]]:
    """(score, claims, invented claims) over several messages checked against one evidence."""
    total = 0
    invented: list[str] = []
    watched = set(watched)
    for message in messages:
        claims, _ = invented_claims(message, evidence)
        bad = ungrounded(message, evidence, watched)
        total += max(claims, len(bad))
        invented += bad
    score = 1.0 if total == 0 else (total - len(invented)) / total
    return score, total, invented
