"""What must be exact in a message is assembled here, not generated: the greeting, the sender's
framing of an SMS or call ("this is Maya from Northwind Data"), the sign-off and the compliance
footer. The model writes only the middle; whatever greeting or signature it adds anyway is cut
before assembly, so a message can never be signed with the recipient's name or greet the
colleague who asked instead of the contact.
"""

from __future__ import annotations

import re
import unicodedata

from accountflow.models import Channel, Contact, SellerProfile
from accountflow.rules import (
    LIMITS,
    SUBJECT_LIMIT,
    casts_reader_as_asker,
    mentions_company,
    mentions_name,
)
from accountflow.text import STOPWORDS, content_stems, overlap, split_sentences

# Honorifics that stay in a greeting ("Hi Dr. Lee,"): academic and medical titles are how
# those people are addressed. Others (Mr, Ms...) are dropped in favour of the first name.
KEPT_TITLES = {"dr": "Dr.", "prof": "Prof.", "professor": "Prof."}
DROPPED_TITLES = {
    "mr",
    "mrs",
    "ms",
    "miss",
    "mx",
    "sir",
    "dame",
    "herr",
    "frau",
    "sr",
    "sra",
    "srta",
    "don",
    "doña",
}
SUFFIXES = {"jr", "sr", "ii", "iii", "iv", "phd", "md", "mba", "esq"}
# Scripts whose names are written family name first (Chinese, Japanese, Korean): the given
# name alone would be the wrong name, so the greeting uses the full name as written.
_FAMILY_FIRST = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af]")


def _bare(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold().strip(".,")


def greeting_name(contact: Contact) -> str:
    """How to address the contact: their `greeting_name` if the data gives one, else the first
    name (honorifics such as Mr/Ms dropped, Dr/Prof kept with the family name, suffixes
    dropped), the full name for family-name-first scripts, "there" when the name is unknown."""
    if contact.greeting_name:
        return contact.greeting_name
    name = " ".join((contact.name or "").split())
    if not name:
        return "there"
    if _FAMILY_FIRST.search(name):
        return name
    words = [w for w in name.replace(",", " ").split() if _bare(w) not in SUFFIXES]
    if not words:
        return name
    head = _bare(words[0])
    if head in KEPT_TITLES and len(words) > 1:
        return f"{KEPT_TITLES[head]} {words[-1]}"
    rest = [w for w in words if _bare(w) not in DROPPED_TITLES and _bare(w) not in KEPT_TITLES]
    if head in DROPPED_TITLES and len(rest) == 1:
        return f"{words[0].rstrip('.').capitalize()}. {rest[0]}"  # "Ms. Tanaka": no first name
    return rest[0] if rest else words[-1]


def sender_first(seller: SellerProfile) -> str:
    return seller.sender_name.split()[0] if seller.sender_name.split() else seller.sender_name


def greeting(contact: Contact) -> str:
    return f"Hi {greeting_name(contact)},"


def signature(seller: SellerProfile) -> str:
    """The sign-off block of an email: name, title, company (what a rep's signature has)."""
    lines = [seller.sender_name]
    if seller.sender_title:
        lines.append(seller.sender_title)
    lines.append(seller.company)
    return "\n".join(lines)


def introduction(channel: Channel, seller: SellerProfile) -> str:
    """Who is writing or calling, said after the greeting where the channel has no signature:
    "this is Maya from Northwind Data" cannot be misread as the contact working for the seller."""
    if channel == Channel.sms:
        return f"this is {sender_first(seller)} from {seller.company}."
    if channel == Channel.call:
        return f"this is {seller.sender_name} from {seller.company}."
    return ""


def frame_length(channel: Channel, contact: Contact, seller: SellerProfile) -> int:
    """Characters the assembled frame adds around the model's text (for length limits)."""
    return len(assemble(channel, contact, seller, "")) + 1


def assemble(channel: Channel, contact: Contact, seller: SellerProfile, core: str) -> str:
    """The whole message around the model's `core` text (the footer is added after the rules
    pass, by `modules.append_footer`, as it was before)."""
    hello = greeting(contact)
    core = core.strip()
    if channel in (Channel.sms, Channel.call):
        return f"{hello} {introduction(channel, seller)} {core}".rstrip()
    if channel == Channel.linkedin:  # the note goes on after "Hi Ann," in one sentence
        return f"{hello} {_after_comma(core)} - {sender_first(seller)}".rstrip()
    return f"{hello}\n\n{core}\n\nBest,\n{signature(seller)}"


def _after_comma(core: str) -> str:
    """`core` continuing a sentence: "Hi Ann, after the move..." (a common first word in lower
    case; "I" and names stay as written)."""
    first = core.split(" ", 1)[0]
    if first[:1].isupper() and first[1:].islower() and first.lower() in STOPWORDS:
        return core[:1].lower() + core[1:]
    return core


_GREETING_RE = re.compile(
    r"^\s*(hi|hello|hey|dear|greetings|good (morning|afternoon|evening))\b"
    r"[^\n,!:.]{0,60}[,!:.]?\s*",
    re.I,
)
_SIGNOFF_WORDS = {
    "best",
    "regards",
    "best regards",
    "kind regards",
    "warm regards",
    "thanks",
    "thank you",
    "cheers",
    "sincerely",
    "all the best",
    "talk soon",
}


def _intro_re(seller: SellerProfile) -> re.Pattern[str]:
    names = "|".join(
        re.escape(n) for n in sorted({seller.sender_name, sender_first(seller)}, key=len)[::-1]
    )
    return re.compile(
        rf"^\s*(it'?s|this is|i'?m|i am|my name is)\s+({names})\b[^.!?\n]*[.!?]?\s*", re.I
    )


def core_text(text: str, contact: Contact, seller: SellerProfile) -> str:
    """The model's text with any greeting, self-introduction and sign-off it wrote cut away,
    so that assembly adds exactly one of each, and any sentence written twice kept once."""
    text = text.strip()
    text = _GREETING_RE.sub("", text, count=1)
    text = _intro_re(seller).sub("", text, count=1)
    lines = text.rstrip().splitlines()
    known = {
        _bare(n)
        for n in (
            seller.sender_name,
            sender_first(seller),
            seller.sender_title,
            seller.company,
            contact.name or "",
            greeting_name(contact),
        )
        if n
    }
    while lines:
        last = lines[-1].strip().rstrip(",.!").strip()
        bare = _bare(last.lstrip("-–— "))
        if (
            not last
            or bare in _SIGNOFF_WORDS
            or bare in known
            or (len(last.split()) <= 6 and any(bare.startswith(w + " ") for w in _SIGNOFF_WORDS))
        ):
            lines.pop()
            continue
        break
    text = _without_repeats("\n".join(lines).strip())
    return text[:1].upper() + text[1:] if text else text


NEAR_REPEAT = 0.8  # share of a sentence's content words already said by an earlier one


def _without_repeats(text: str) -> str:
    """A sentence the model wrote twice, kept once: word for word (lab-043's email stated the
    same rule in its first and third sentence) or nearly (at least NEAR_REPEAT of its content
    words, three or more, already in one earlier sentence: "Harborline moved to Snowflake in
    Q2." after "Harborline Freight moved its data to Snowflake in Q2 2026.")."""
    sentences = split_sentences(text)
    kept: list[str] = []
    seen: set[str] = set()
    said: list[set[str]] = []
    for sentence in sentences:
        stems = content_stems(sentence)
        key = " ".join(sentence.casefold().split())
        near = len(stems) >= 3 and any(overlap(stems, earlier) >= NEAR_REPEAT for earlier in said)
        if key in seen or near:
            continue
        seen.add(key)
        kept.append(sentence)
        said.append(stems)
    return text if len(kept) == len(sentences) else " ".join(kept)


_CLAUSE_END = re.compile(r"[,;]\s+|\s+[-–—]\s+")


def fit_length(channel: Channel, contact: Contact, seller: SellerProfile, core: str) -> str:
    """`core` cut back to the whole sentences that fit the channel's limit once assembled.

    Small models overrun an SMS or LinkedIn limit by a sentence far more often than they obey
    the retry's "shorten it"; a whole-sentence (or whole-clause) cut keeps what they wrote
    readable. What cannot be cut so is left for the rule check (and `Personalizer.write`'s
    fallback to an earlier message's sentence)."""
    limit = LIMITS.get(channel)
    if limit is None or len(assemble(channel, contact, seller, core)) <= limit:
        return core
    kept: list[str] = []
    sentences = split_sentences(core)
    for sentence in sentences:
        if len(assemble(channel, contact, seller, " ".join([*kept, sentence]))) > limit:
            break
        kept.append(sentence)
    if kept:
        return " ".join(kept)
    # one run-on sentence: keep its longest head that ends at a clause boundary (comma,
    # semicolon, dash) and fits, with the sentence's own end mark; a head under five words
    # says too little, so that case goes to the rule and its feedback
    first = sentences[0]
    mark = "?" if first.rstrip().endswith("?") else "."
    for cut in reversed([m.start() for m in _CLAUSE_END.finditer(first)]):
        head = first[:cut].rstrip(" ,;:-–—") + mark
        if len(head.split()) >= 5 and len(assemble(channel, contact, seller, head)) <= limit:
            return head
    return core


def with_ask(channel: Channel, contact: Contact, seller: SellerProfile, core: str) -> str:
    """An email, LinkedIn note or SMS that asks nothing ends with the seller's
    `call_to_action` (`sms_call_to_action` for an SMS), when it fits, if need be after dropping
    its last sentences (one of five words or more always stays): the 0.5B model's emails
    restated the account's facts and stopped, and a message with no ask gets no reply. A call
    opener ends with its own question."""
    ask = seller.sms_call_to_action if channel == Channel.sms else seller.call_to_action
    if channel == Channel.call or not core or not ask:
        return core
    if any(s.rstrip().endswith("?") for s in split_sentences(core)):
        return core
    limit = LIMITS.get(channel)
    sentences = split_sentences(core)
    # no room for the ask: drop the last sentences while at least one of five words or more
    # stays (an SMS or note that asks nothing gets no reply; a shorter one still says why)
    for keep in range(len(sentences), 0, -1):
        head = " ".join(sentences[:keep]) if keep < len(sentences) else core.rstrip()
        if keep < len(sentences) and len(head.split()) < 5:
            break
        asked = f"{head} {ask}"
        if limit is None or len(assemble(channel, contact, seller, asked)) <= limit:
            return asked
    return core


def offer_sentence(seller: SellerProfile, topic: str) -> str:
    """The seller's value proposition closest to `topic` (most shared content words; the first
    on a tie), as one sentence naming the product."""
    wanted = content_stems(topic)
    best = max(
        seller.value_propositions,
        key=lambda vp: len(wanted & content_stems(vp)),
    )
    text = best.strip().rstrip(".")
    return f"{seller.product}: {text[:1].lower() + text[1:]}."


def with_offer(channel: Channel, seller: SellerProfile, core: str, topic: str = "") -> str:
    """An email that says nothing about what the seller offers gets the value proposition
    closest to the account's problem (`topic`, e.g. the analysis' pain points), before its
    closing question: the 0.5B model's emails restated the account's own facts back to it and
    asked for a call, with no reason to take one. "Says something" = names the product or
    has half the content words of one value proposition: "data", "quality" and "reporting"
    in acc-002's email are the account's words, not an offer)."""
    if channel != Channel.email or not core or not seller.value_propositions:
        return core
    if seller.product and seller.product.casefold() in core.casefold():
        return core
    have = content_stems(core)
    if any(overlap(content_stems(vp), have) >= 0.5 for vp in seller.value_propositions):
        return core
    offer = offer_sentence(seller, f"{topic} {core}")
    sentences = split_sentences(core)
    if len(sentences) > 1 and sentences[-1].rstrip().endswith("?"):
        return " ".join([*sentences[:-1], offer, sentences[-1]])
    return f"{core.rstrip()} {offer}"


_CALLING_ABOUT = re.compile(r"^\s*(i'?m|i am)\s+calling\s+(about|regarding)\s+", re.I)


def about(company: str) -> str:
    """The lead that names the company in a short message the model left it out of."""
    return f"About {company}:"


def only_the_ask(channel: Channel, core: str, company: str, seller: SellerProfile) -> bool:
    """A short message whose own text is nothing but the ask ("About Harborline Freight: Would
    a 20-minute call next week be useful?", the README command's SMS): it tells the contact
    nothing about why we write. The company prefix added in code does not count as content."""
    if channel not in (Channel.sms, Channel.linkedin):
        return False
    text = core.removeprefix(about(company)).strip()
    asks = [content_stems(seller.call_to_action), content_stems(seller.sms_call_to_action)]
    for sentence in split_sentences(text):
        stems = content_stems(sentence)
        if any(ask and overlap(ask, stems) >= 0.5 for ask in asks):
            continue
        if len(sentence.split()) >= 5:
            return False
    return True


def fit_subject(subject: str, limit: int = SUBJECT_LIMIT) -> str:
    """An email subject over the limit cut back to its last whole word that fits (lab-061's
    81-character subject failed the account after every retry); words are never cut."""
    if len(subject) <= limit:
        return subject
    head = subject[: limit + 1].rsplit(" ", 1)[0].rstrip(" ,;:-\u2013\u2014")
    return head if head else subject[:limit]


def with_company(channel: Channel, core: str, company: str) -> str:
    """An SMS, LinkedIn note or call opener that does not name the company gets it named in
    code ("About Crestmed Health Partners: ..."; "I'm calling about ..."): the small model
    leaves it out of a short message far more often than a retry's feedback fixes (lab-065's
    note never named 杭州云帆电子商务有限公司), and without it the contact cannot tell what the
    message is about."""
    short = (Channel.sms, Channel.call, Channel.linkedin)
    if channel not in short or not core or mentions_company(core, company):
        return core
    if channel == Channel.call:
        # the model's own "I'm calling about the BigQuery trial." becomes "I'm calling about
        # <company>: the BigQuery trial." (two "I'm calling about" in a row read as a glitch)
        rest = _CALLING_ABOUT.sub("", core, count=1)
        if rest != core and rest:
            return f"I'm calling about {company}: {rest}"
        return f"I'm calling about {company}. {core}"
    return f"{about(company)} {core}"


def with_referrer(core: str, referrer: Contact, topic: str, target: Contact | None = None) -> str:
    """A colleague reference that does not name the colleague who asked gets the fact stated
    in code, from the data ("Your colleague Priya Natarajan, Director of Data, asked us about
    freshness alerts."): it is the one sentence that must be exact, and the small model often
    leaves it out however often the feedback asks. Sentences that cast the reader (`target`) as
    the one who asked are dropped first: the 0.5B model wrote one to every reader, through
    every retry."""
    name = referrer.name or ""
    if target is not None and target.name and name:
        sentences = split_sentences(core)
        kept = [s for s in sentences if not casts_reader_as_asker(s, target.name, name)]
        if len(kept) != len(sentences):
            core = " ".join(kept)
    if not core or not name or mentions_name(core, name):
        return core
    title = f", {referrer.title}," if referrer.title else ""
    return f"Your colleague {name}{title} asked us about {topic.rstrip('.')}. {core}"
