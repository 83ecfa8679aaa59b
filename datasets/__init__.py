"""Bundled data: the demo accounts and seller, and the labeled evaluation sets.

The labeled sets (`labeled/{train,dev,test}.jsonl`) are gold answers for the demo seller's ideal
customer profile; evals score programs against them and optimizers train on them. A labeled file
is curated data, so loading it is all-or-nothing: one bad line raises an `InputError` naming the
file and line, because an eval silently run on fewer examples would not be comparable with its
baseline. The JSONL files are the source, edited by hand; `checks.py` (run it as
`python -m accountflow.datasets check`) keeps them valid against the model and the generated
`labeled/schema.json`, and the splits stratified. See `datasets/README.md` for how the data was
made and what each label means.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from accountflow.config import load_seller
from accountflow.errors import InputError
from accountflow.io import _explain
from accountflow.models import Account, Approach

if TYPE_CHECKING:
    import dspy

SPLITS = ("train", "dev", "test")

FitBand = Literal["low", "medium", "high"]
# The analysis signature's scale (signatures/analysis.py): a gold fit_range lies inside its band.
BAND_RANGES: dict[str, tuple[int, int]] = {"low": (0, 39), "medium": (40, 79), "high": (80, 100)}

# Hard cases a program must survive; README.md says what each one means.
Tag = Literal["poor_fit", "sparse", "injection", "non_english", "duplicate_contacts"]
HARD_CASE_TAGS: tuple[str, ...] = get_args(Tag)

# The id of a buying signal or disqualifier of the demo seller's ICP (seller_demo.yaml). The
# model only checks the shape; `checks.py` checks that the seller has the id.
CriterionId = Annotated[str, StringConstraints(min_length=1)]


def path(name: str) -> Path:
    """Filesystem path of a bundled data file, e.g. path("accounts_demo.jsonl")."""
    return Path(str(resources.files(__name__).joinpath(name)))


def band_of(score: float) -> FitBand:
    """The fit band a 0-100 score falls in, on the analysis signature's scale."""
    if score >= BAND_RANGES["high"][0]:
        return "high"
    if score >= BAND_RANGES["medium"][0]:
        return "medium"
    return "low"


class GoldLabels(BaseModel):
    """What a good analysis of the account says, judged against the demo seller's ICP."""

    model_config = ConfigDict(extra="forbid")

    pain_points: list[str] = Field(min_length=2, max_length=4)
    fit_band: FitBand
    fit_range: tuple[int, int]
    approach: Approach
    tags: list[Tag] = Field(default_factory=list)
    # Strings that reach an output only if the model obeyed instructions planted in the account
    # text (a code word, a URL): a deterministic check for injection resistance.
    injection_canaries: list[str] = Field(default_factory=list)
    # The demo seller's ICP criteria that the account's own text and fields show: the ids of the
    # disqualifiers that apply and of the buying signals clearly present. Empty when nothing
    # says (every sparse account), and in files written before these labels existed.
    disqualifiers: list[CriterionId] = Field(default_factory=list)
    signals: list[CriterionId] = Field(default_factory=list)

    @field_validator("pain_points")
    @classmethod
    def _short(cls, value: list[str]) -> list[str]:
        cleaned = [p.strip() for p in value]
        if any(not p or len(p) > 80 for p in cleaned):
            raise ValueError("each pain point must be a short phrase of 1 to 80 characters")
        return cleaned

    @field_validator("tags", "disqualifiers", "signals")
    @classmethod
    def _unique(cls, value: list[str], info: ValidationInfo) -> list[str]:
        repeated = sorted({v for v in value if value.count(v) > 1})
        if repeated:
            raise ValueError(f"{info.field_name} repeat: {', '.join(repeated)}; list each once")
        return value

    @model_validator(mode="after")
    def _range_in_band(self) -> GoldLabels:
        lo, hi = self.fit_range
        band_lo, band_hi = BAND_RANGES[self.fit_band]
        if not band_lo <= lo <= hi <= band_hi:
            raise ValueError(
                f"fit_range {[lo, hi]} must lie inside the {self.fit_band} band "
                f"{band_lo}-{band_hi}, low end first"
            )
        if ("injection" in self.tags) != bool(self.injection_canaries):
            raise ValueError("injection_canaries go with the 'injection' tag, and only with it")
        return self


class LabeledAccount(BaseModel):
    """One line of a labeled file: a valid `Account` and its gold labels."""

    model_config = ConfigDict(extra="forbid")

    account: Account
    labels: GoldLabels

    @model_validator(mode="after")
    def _canaries_planted(self) -> LabeledAccount:
        text = f"{self.account.description or ''}\n{self.account.notes or ''}"
        missing = [c for c in self.labels.injection_canaries if c not in text]
        if missing:
            raise ValueError(f"injection canary {missing[0]!r} is not in the description or notes")
        return self


def split_path(split: str) -> Path:
    """The file behind a split name; a path to a .jsonl file of the same shape also works."""
    if split in SPLITS:
        return path(f"labeled/{split}.jsonl")
    candidate = Path(split)
    if candidate.suffix == ".jsonl":
        if not candidate.is_file():
            raise InputError(f"Labeled file {candidate} does not exist; check the path.")
        return candidate
    raise InputError(
        f"Unknown dataset split {split!r}; use one of {', '.join(SPLITS)} or a .jsonl path."
    )


def parse_labeled_line(raw: bytes, where: str) -> LabeledAccount:
    """One line of a labeled file as a `LabeledAccount`; a bad line raises `InputError` naming
    `where` (file and line) and the field, so `load_labeled` and the dataset check say the same."""
    try:
        obj = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(f"{where} is not valid UTF-8; save the file as UTF-8.") from None
    except json.JSONDecodeError as exc:
        raise InputError(
            f"{where} is not valid JSON ({exc.msg} at column {exc.colno}); fix that line."
        ) from None
    if not isinstance(obj, dict):
        raise InputError(f"{where} must be a JSON object with 'account' and 'labels'.")
    try:
        return LabeledAccount.model_validate(obj)
    except ValidationError as exc:
        _, reason = _explain(exc)
        todo = "" if ";" in reason else "; fix that line"
        raise InputError(f"{where}: {reason}{todo}.") from None


def load_labeled(split: str) -> list[LabeledAccount]:
    """Every line of a split, schema-checked; the first bad line raises naming file and line."""
    file = split_path(split)
    rows: list[LabeledAccount] = []
    seen: dict[str, int] = {}
    with file.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{file} line {line_no}"
            row = parse_labeled_line(raw, where)
            account_id = row.account.account_id
            if account_id in seen:
                raise InputError(
                    f"{where}: account_id {account_id!r} repeats line {seen[account_id]}; "
                    "give each account its own id."
                )
            seen[account_id] = line_no
            rows.append(row)
    if not rows:
        raise InputError(f"Labeled file {file} has no accounts; add at least one line.")
    return rows


def load_split(split: str, limit: int | None = None) -> list[dspy.Example]:
    """A split as `dspy.Example`s with inputs `account` and `seller` (the demo seller) and the
    gold `labels`; `limit` keeps the first N, in file order, so small runs are reproducible.

    Read the labels as `example["labels"]` or `example.gold` (the same object):
    `example.labels` is `dspy.Example.labels()`, a method, which shadows the key."""
    import dspy  # lazy: ~1.5 s, and listing or checking the data does not need it

    if limit is not None and limit < 1:
        raise InputError(f"The example limit must be at least 1, got {limit}.")
    rows = load_labeled(split)[:limit]
    seller = load_seller()
    return [
        dspy.Example(
            account=row.account, seller=seller, labels=row.labels, gold=row.labels
        ).with_inputs("account", "seller")
        for row in rows
    ]


def dataset_hash(split: str) -> str:
    """First 12 hex chars of the split file's sha256: names exactly which data an eval used."""
    return hashlib.sha256(split_path(split).read_bytes()).hexdigest()[:12]


__all__ = [
    "BAND_RANGES",
    "HARD_CASE_TAGS",
    "SPLITS",
    "CriterionId",
    "FitBand",
    "GoldLabels",
    "LabeledAccount",
    "Tag",
    "band_of",
    "dataset_hash",
    "load_labeled",
    "load_split",
    "parse_labeled_line",
    "path",
    "split_path",
]
