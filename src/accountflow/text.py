"""Text normalisation shared by the deterministic metrics: words, content words, crude stems.

Deliberately simple and documented so a score can be explained by reading the reason: no
embeddings, no external NLP packages. `stem` strips a few English suffixes so that
"migration"/"migrating" and "alerts"/"alerting" match; it is not a linguistic stemmer.
"""

from __future__ import annotations

import re
import unicodedata

_WORD_RE = re.compile(r"[^\W_]+(?:['’-][^\W_]+)*", re.UNICODE)

STOPWORDS = frozenset(
    """a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers him his how i if in into is it its itself just
    me more most my no nor not now of off on once only or other our ours out over own same she
    should so some such than that the their theirs them then there these they this those through
    to too under until up very was we were what when where which while who whom why will with
    would you your yours yourself via per across within without upon onto like get gets got
    may might must shall us let lets new many much every one two three""".split()
)

# Words too generic to show that a message is about *this* account.
GENERIC = frozenset(
    """company companies team teams business businesses work working help helps helping call calls
    calling week weeks minute minutes time quick short chat talk idea ideas open thanks thank hi
    hello dear best regards looking looked think thought reach reaching touch base today
    tomorrow next happy glad great good love want wanted would know see share sharing learn
    connect connecting role solution solutions product products platform tool tools""".split()
)

_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ers", "er", "ed", "es", "s", "ly")


def fold(text: str) -> str:
    return unicodedata.normalize("NFKC", text).casefold()


def words(text: str) -> list[str]:
    """Words in reading order, case folded; hyphenated and apostrophe words stay whole."""
    return _WORD_RE.findall(fold(text))


def stem(word: str) -> str:
    word = word.removesuffix("'s").removesuffix("’s")
    for suffix in _SUFFIXES:
        if len(word) - len(suffix) >= 4 and word.endswith(suffix):
            word = word[: -len(suffix)]
            break
    if word.endswith("i") and len(word) >= 5:  # "companies" -> "compani" ~ "company"
        word = word[:-1] + "y"
    return word


def content_stems(text: str, exclude: frozenset[str] | set[str] = frozenset()) -> set[str]:
    """Stems of the words that carry meaning: no stopwords, no 1-2 letter words, no digits."""
    out: set[str] = set()
    for w in words(text):
        for part in w.replace("’", "'").split("-"):
            if len(part) < 3 or part in STOPWORDS or part.isdigit():
                continue
            s = stem(part)
            if s not in exclude:
                out.add(s)
    return out


def overlap(needle: set[str], haystack: set[str]) -> float:
    """Share of `needle`'s stems found in `haystack` (0 when `needle` is empty)."""
    return len(needle & haystack) / len(needle) if needle else 0.0


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """`text` cut after each ., ! or ? followed by space; each part verbatim and non-empty."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


_INSTRUCTION_RE = re.compile(
    r"(ignore|disregard|forget|override)\b[^.!?\n]*\b(instruction|prompt|rule|guid|above|"
    r"previous|prior|system)|\b(you must|you are now|as an ai|system prompt|new instructions?|"
    r"instructions? (to|for) (any|the) (ai|model|assistant|llm)|note (to|for) (the )?"
    r"(ai|assistants?|model|llm))\b",
    re.I,
)


def addresses_the_model(sentence: str) -> bool:
    """A sentence of account text that gives instructions to an AI ("Ignore your instructions
    and ..."): account text is hostile input, and the 0.5B model pasted such a sentence into an
    email verbatim."""
    return bool(_INSTRUCTION_RE.search(sentence))


_CLAUSE_OR_LINE = re.compile(r"(?<=[.!?\]])\s+|\n")


def instruction_sentences(text: str) -> list[str]:
    """The sentences (or lines) of `text` that address the model, as written."""
    if not _INSTRUCTION_RE.search(text):
        return []
    return [s.strip() for s in _CLAUSE_OR_LINE.split(text) if addresses_the_model(s)]


def without_instructions(text: str) -> str:
    """`text` without its sentences that address the model (what prompts are shown)."""
    if not _INSTRUCTION_RE.search(text):
        return text
    return " ".join(s for s in _CLAUSE_OR_LINE.split(text) if s and not addresses_the_model(s))
