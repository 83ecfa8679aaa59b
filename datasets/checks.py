"""The checks the labeled files must pass, now that the JSONL files are the source.

The files are edited by hand, so four things guard them: the JSON schema generated from
`LabeledAccount` (committed as `labeled/schema.json` for editors and tools outside Python, and
checked to match the model), the model itself (which also checks what a JSON schema cannot
express: a fit range inside its band, canaries planted in the text, e-mail and domain formats),
the criterion labels against the demo seller's ICP (ids it defines, a disqualified account in
the low band, `too_small` exactly as the headcount says), and the strata, which keep every split
a fair sample of the whole set. Run them all with
`python -m accountflow.datasets check`; regenerate the schema with
`python -m accountflow.datasets schema`.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError as SchemaError
from jsonschema.exceptions import best_match

from accountflow.config import load_seller
from accountflow.datasets import (
    SPLITS,
    LabeledAccount,
    load_labeled,
    parse_labeled_line,
    path,
    split_path,
)
from accountflow.errors import InputError
from accountflow.models import ICP

SCHEMA_FILE = "labeled/schema.json"
SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"

# How far a split's share of a stratum may stray from its share over all splits. The smallest
# split has 20 accounts, so one account is 5 points; integer counts alone cost up to half an
# account (25 low-band accounts over 40/20/20 would be 12.5/6.25/6.25), and each account sits
# in five or six strata at once, so balancing them all by hand leaves about one more account of
# slack. 10 points is two accounts of a 20-account split (four of the 40-account train split):
# more than that and the split's mean weighs that kind of account visibly more or less than the
# whole set does. The bundled splits stray at most 6.25 points.
STRATA_TOLERANCE = 0.10

_VALUE_CHARS = 80  # a schema message quotes the bad value, and a description can be pages long


def labeled_schema() -> dict[str, Any]:
    """The JSON schema of one labeled line, generated from `LabeledAccount`."""
    return {
        "$schema": SCHEMA_DIALECT,
        "$comment": (
            "Generated from accountflow.datasets.LabeledAccount by "
            "`python -m accountflow.datasets schema`; do not edit by hand. The model also checks "
            "what this schema cannot: fit_range inside its fit_band, injection_canaries planted "
            "in the description or notes, e-mail and domain formats; and the check holds "
            "disqualifiers and signals to the demo seller's ICP (ids it defines, a disqualified "
            "account in the low band, too_small exactly below 50 known employees). Run "
            "`python -m accountflow.datasets check` for every check."
        ),
        **LabeledAccount.model_json_schema(),
    }


def schema_text() -> str:
    """`labeled_schema()` as the committed file spells it (stable key order, final newline)."""
    return json.dumps(labeled_schema(), indent=2, ensure_ascii=False) + "\n"


def write_schema(target: Path | None = None) -> Path:
    """Write the generated schema (by default over the bundled `labeled/schema.json`)."""
    out = target if target is not None else path(SCHEMA_FILE)
    out.write_text(schema_text(), encoding="utf-8")
    return out


def committed_schema() -> dict[str, Any]:
    """The bundled `labeled/schema.json` as parsed JSON."""
    loaded: dict[str, Any] = json.loads(path(SCHEMA_FILE).read_text(encoding="utf-8"))
    return loaded


def schema_validator() -> Draft202012Validator:
    """A validator for one labeled line against the generated schema."""
    return Draft202012Validator(
        labeled_schema(), format_checker=Draft202012Validator.FORMAT_CHECKER
    )


def _field(error: SchemaError) -> str:
    """The dotted field an error is about: for a missing or an unknown key, that key itself."""
    parts = [str(p) for p in error.absolute_path]
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        parts += [k for k in error.validator_value if k not in instance][:1]
    elif error.validator == "additionalProperties" and isinstance(instance, dict):
        known = error.schema.get("properties", {}) if isinstance(error.schema, dict) else {}
        parts += [k for k in instance if k not in known][:1]
    return ".".join(parts)


def _message(error: SchemaError) -> str:
    """jsonschema's message, with a long quoted value cut short and `anyOf` made specific."""
    shown = repr(error.instance)
    short = shown if len(shown) <= _VALUE_CHARS else shown[: _VALUE_CHARS - 3] + "..."
    options = error.validator_value if error.validator in ("anyOf", "oneOf") else None
    types = [o.get("type") for o in options or [] if isinstance(o, dict)]
    if options and all(isinstance(t, str) for t in types):  # e.g. Optional[str]: string or null
        return f"{short} is not of type {' or '.join(repr(t) for t in types)}"
    return " ".join(error.message.replace(shown, short).split())


def schema_problem(obj: object, where: str, validator: Draft202012Validator) -> str | None:
    """The most relevant way `obj` breaks the JSON schema, naming `where` and the field."""
    error = best_match(validator.iter_errors(obj))
    if error is None:
        return None
    field = _field(error)
    if error.validator == "required":
        reason = f"required field '{field}' is missing"
    elif error.validator == "additionalProperties":
        reason = f"unknown field '{field}'; remove it or check its spelling"
    else:
        reason = f"field '{field}': {_message(error)}" if field else _message(error)
    return f"{where}: {reason} (JSON schema)."


def criteria_problems(row: LabeledAccount, where: str, icp: ICP | None = None) -> list[str]:
    """How a line's criterion labels break the ICP they were written against (by default the
    demo seller's), or [] when they hold: every disqualifier and signal id is one the ICP
    defines; an account with a disqualifier is in the low band (a disqualifier caps the fit
    below 40); and a disqualifier decided from the headcount (`max_employees`, i.e. too_small)
    is listed exactly when employee_count is known and at most that number."""
    if icp is None:
        icp = load_seller().icp
    labels, count = row.labels, row.account.employee_count
    problems: list[str] = []
    for field, criteria in (
        ("disqualifiers", icp.disqualifiers),
        ("signals", icp.buying_signals),
    ):
        known = [c.id for c in criteria]
        for unknown in (i for i in getattr(labels, field) if i not in known):
            problems.append(
                f"{where}: labels.{field} has {unknown!r}, which the seller's ICP does not define "
                f"(its {field}: {', '.join(known) or 'none'}); fix the id."
            )
    if labels.disqualifiers and labels.fit_band != "low":
        problems.append(
            f"{where}: labels.disqualifiers lists {', '.join(labels.disqualifiers)} but fit_band "
            f"is {labels.fit_band!r}; a disqualifier puts the account in the low band (below "
            "40), so lower the band and range or drop the disqualifier."
        )
    for criterion in icp.disqualifiers:
        limit = criterion.max_employees
        if limit is None:
            continue
        listed = criterion.id in labels.disqualifiers
        if count is not None and count <= limit and not listed:
            problems.append(
                f"{where}: employee_count is {count}, at most {limit}, so labels.disqualifiers "
                f"must list {criterion.id!r}; add it."
            )
        elif listed and (count is None or count > limit):
            headcount = "unknown" if count is None else f"{count}, more than {limit}"
            problems.append(
                f"{where}: labels.disqualifiers lists {criterion.id!r} but employee_count is "
                f"{headcount}; it is decided from the headcount, so remove it."
            )
    return problems


def file_problems(
    file: Path, validator: Draft202012Validator | None = None, icp: ICP | None = None
) -> list[str]:
    """Every bad line of a labeled file, not just the first: the model's complaint if it has
    one, else the schema's, then how its criterion labels break the ICP (`criteria_problems`,
    by default against the demo seller). Only the schema rejects a form the model tolerates in
    CRM exports (a count written "1,200") but which tools reading the curated files should not
    see."""
    validator = validator or schema_validator()
    if icp is None:
        icp = load_seller().icp
    problems: list[str] = []
    seen: dict[str, int] = {}
    with file.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            where = f"{file} line {line_no}"
            try:
                row = parse_labeled_line(raw, where)
            except InputError as exc:
                problems.append(str(exc))
                continue
            problem = schema_problem(json.loads(raw), where, validator)
            if problem:
                problems.append(problem)
            problems += criteria_problems(row, where, icp)
            account_id = row.account.account_id
            if account_id in seen:
                problems.append(
                    f"{where}: account_id {account_id!r} repeats line {seen[account_id]}; "
                    "give each account its own id."
                )
            seen.setdefault(account_id, line_no)
    if not seen and not problems:
        problems.append(f"Labeled file {file} has no accounts; add at least one line.")
    return problems


def strata_of(row: LabeledAccount, icp_industries: Collection[str]) -> set[str]:
    """The strata one account counts in: its fit band, approach, hard-case tags, whether it has
    an inquiry, and whether its industry is in the ICP, outside it, or unknown."""
    labels, account = row.labels, row.account
    found = {f"fit_band={labels.fit_band}", f"approach={labels.approach}"}
    found |= {f"tag={tag}" for tag in labels.tags}
    if account.inquiry is not None:
        found.add("inquiry")
    icp = {i.casefold() for i in icp_industries}
    if account.industry is None:
        found.add("industry=unknown")
    else:
        found.add("industry=icp" if account.industry.casefold() in icp else "industry=other")
    return found


def stratification_problems(
    splits: Mapping[str, Sequence[LabeledAccount]],
    tolerance: float = STRATA_TOLERANCE,
    icp_industries: Collection[str] | None = None,
) -> list[str]:
    """Why the splits are not stratified, or [] when they are.

    Stratified means: every stratum (`strata_of`) found anywhere appears in every split, and
    each split's share of it is within `tolerance` of its share over all splits together.
    `icp_industries` defaults to the demo seller's, the ICP the labels were written against."""
    if icp_industries is None:
        icp_industries = load_seller().icp.industries
    pooled = [row for rows in splits.values() for row in rows]
    if not pooled:
        return ["There are no labeled accounts to split; add some."]
    total = Counter(s for row in pooled for s in strata_of(row, icp_industries))
    problems: list[str] = []
    for split, rows in splits.items():
        if not rows:
            problems.append(f"Split {split} has no accounts; move some into it.")
            continue
        counts = Counter(s for row in rows for s in strata_of(row, icp_industries))
        for stratum, n_all in sorted(total.items()):
            n, share, overall = counts[stratum], counts[stratum] / len(rows), n_all / len(pooled)
            if n == 0:
                problems.append(
                    f"Split {split} has no {stratum} account ({n_all} in all splits); "
                    "move one there from another split."
                )
            elif abs(share - overall) > tolerance + 1e-9:  # exactly at the limit passes
                problems.append(
                    f"Split {split} has {n} {stratum} accounts of {len(rows)} ({share:.0%}) "
                    f"against {overall:.0%} over all splits, more than {tolerance * 100:.0f} "
                    "points apart; move accounts between splits to bring them closer."
                )
    return problems


def check_labeled() -> list[str]:
    """Every check of the bundled splits: the schema file is current, every line passes the
    model and the schema, its criterion labels hold against the demo seller's ICP, account ids
    are unique across splits, and the splits are stratified. Returns the problems, [] when the
    data is fine."""
    problems: list[str] = []
    schema_file = path(SCHEMA_FILE)
    if not schema_file.is_file() or committed_schema() != labeled_schema():
        problems.append(
            f"{schema_file} does not match LabeledAccount; regenerate it with "
            "`python -m accountflow.datasets schema` and commit it."
        )
    validator = schema_validator()
    icp = load_seller().icp
    for split in SPLITS:
        problems += file_problems(split_path(split), validator, icp)
    if problems:  # the rest needs every split to load
        return problems
    rows = {split: load_labeled(split) for split in SPLITS}
    first_split: dict[str, str] = {}
    for split, split_rows in rows.items():
        for row in split_rows:
            account_id = row.account.account_id
            if account_id in first_split:
                problems.append(
                    f"Account {account_id!r} is in both {first_split[account_id]} and {split}; "
                    "keep each account in one split."
                )
            first_split.setdefault(account_id, split)
    return problems + stratification_problems(rows)


__all__ = [
    "SCHEMA_FILE",
    "STRATA_TOLERANCE",
    "check_labeled",
    "committed_schema",
    "criteria_problems",
    "file_problems",
    "labeled_schema",
    "schema_problem",
    "schema_text",
    "schema_validator",
    "strata_of",
    "stratification_problems",
    "write_schema",
]
