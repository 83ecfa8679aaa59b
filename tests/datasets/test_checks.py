"""The labeled JSONL files are the source: the schema, per-line validation and the strata."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from typer.testing import CliRunner

from accountflow.datasets import (
    SPLITS,
    LabeledAccount,
    checks,
    load_labeled,
    path,
    split_path,
)
from accountflow.datasets.__main__ import app
from accountflow.datasets.checks import (
    SCHEMA_FILE,
    STRATA_TOLERANCE,
    check_labeled,
    committed_schema,
    criteria_problems,
    file_problems,
    labeled_schema,
    schema_problem,
    schema_validator,
    strata_of,
    stratification_problems,
    write_schema,
)
from accountflow.errors import InputError
from accountflow.models import ICP as SellerICP
from accountflow.models import Criterion

ROWS = {split: load_labeled(split) for split in SPLITS}
ICP = ["Logistics & transportation", "Healthcare", "Insurance"]


def _raw_lines(split: str) -> list[dict[str, Any]]:
    text = split_path(split).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# ------------------------------------------------------------------------------------ schema


def test_committed_schema_equals_the_generated_one() -> None:
    assert committed_schema() == labeled_schema(), (
        f"{SCHEMA_FILE} is stale: run `python -m accountflow.datasets schema` and commit it"
    )
    Draft202012Validator.check_schema(committed_schema())


def test_the_schema_ships_next_to_the_data() -> None:
    assert path(SCHEMA_FILE).is_file()
    assert "labeled/schema.json" in (Path(__file__).parents[2] / "pyproject.toml").read_text()


def test_write_schema_and_the_command_write_the_generated_schema(tmp_path: Path) -> None:
    out = write_schema(tmp_path / "a.json")
    assert json.loads(out.read_text(encoding="utf-8")) == labeled_schema()
    result = CliRunner().invoke(app, ["schema", "--out", str(tmp_path / "b.json")])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "b.json").read_text(encoding="utf-8") == out.read_text(encoding="utf-8")


@pytest.mark.parametrize("split", SPLITS)
def test_every_line_validates_against_the_model_and_the_schema(split: str) -> None:
    validator = Draft202012Validator(committed_schema())
    lines = _raw_lines(split)
    assert len(lines) == len(ROWS[split])
    for line_no, obj in enumerate(lines, start=1):
        LabeledAccount.model_validate(obj)
        errors = [e.message for e in validator.iter_errors(obj)]
        assert errors == [], (split, line_no, errors)


def _drop_fit_band(r: dict[str, Any]) -> dict[str, Any]:
    labels = {k: v for k, v in r["labels"].items() if k != "fit_band"}
    return {**r, "labels": labels}


BAD_RECORDS: list[tuple[str, Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("missing label", _drop_fit_band, "labels.fit_band"),
    (
        "wrong type",
        lambda r: {**r, "labels": {**r["labels"], "fit_range": ["high", 90]}},
        "labels.fit_range.0",
    ),
    (
        "wrong type",
        lambda r: {**r, "account": {**r["account"], "contacts": {"name": "Ann"}}},
        "account.contacts",
    ),
    (
        "unknown field",
        lambda r: {**r, "labels": {**r["labels"], "confidence": 0.9}},
        "labels.confidence",
    ),
    ("unknown field", lambda r: {**r, "split": "train"}, "split"),
]


@pytest.mark.parametrize(("case", "mutate", "field"), BAD_RECORDS)
def test_a_known_bad_record_fails_naming_line_and_field(
    tmp_path: Path, case: str, mutate: Callable[[dict[str, Any]], dict[str, Any]], field: str
) -> None:
    good = _raw_lines("train")
    bad = mutate(good[1])
    file = tmp_path / "gold.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in [good[0], bad, good[2]]), "utf-8")
    # the JSON schema alone rejects it, at that field
    schema_says = schema_problem(bad, "here", schema_validator())
    assert schema_says is not None and f"'{field}'" in schema_says, (case, schema_says)
    # the model rejects it too: the loader and the check name the file, the line and the field
    with pytest.raises(InputError) as info:
        load_labeled(str(file))
    assert f"{file} line 2" in str(info.value) and field.rsplit(".", 1)[0] in str(info.value)
    problems = file_problems(file)
    assert len(problems) == 1, problems
    assert f"{file} line 2" in problems[0] and field.rsplit(".", 1)[0] in problems[0]


def test_a_line_only_the_schema_rejects_is_reported(tmp_path: Path) -> None:
    """The model coerces "1,200" to 1200 (it reads CRM exports); the schema, which is what tools
    outside Python see, wants the clean integer, so a curated file must hold that."""
    good = _raw_lines("train")
    loose = {**good[0], "account": {**good[0]["account"], "employee_count": "1,200"}}
    LabeledAccount.model_validate(loose)
    file = tmp_path / "gold.jsonl"
    file.write_text(json.dumps(loose) + "\n", "utf-8")
    [problem] = file_problems(file)
    assert f"{file} line 1: field 'account.employee_count'" in problem
    assert "(JSON schema)" in problem


def test_file_problems_lists_every_bad_line_and_repeated_ids(tmp_path: Path) -> None:
    good = _raw_lines("dev")
    rows = [good[0], _drop_fit_band(good[1]), good[2], {**good[3], "x": 1}, good[0]]
    file = tmp_path / "gold.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in rows), "utf-8")
    problems = file_problems(file)
    assert [p.split(":")[0] for p in problems] == [f"{file} line {n}" for n in (2, 4, 5)]
    assert "repeats line 1" in problems[2]


def test_the_bundled_data_passes_every_check() -> None:
    assert check_labeled() == []
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 0, result.output
    assert "labeled data ok" in result.output


def test_the_check_command_reports_a_stale_schema_and_a_bad_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stale = {**labeled_schema(), "title": "Old"}
    monkeypatch.setattr(checks, "committed_schema", lambda: stale)
    bad = tmp_path / "dev.jsonl"
    bad.write_text(json.dumps(_drop_fit_band(_raw_lines("dev")[0])) + "\n", "utf-8")
    real = checks.split_path
    monkeypatch.setattr(checks, "split_path", lambda s: bad if s == "dev" else real(s))
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    assert "python -m accountflow.datasets schema" in result.output
    assert f"{bad} line 1: required field 'labels.fit_band' is missing" in result.output
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------- criterion labels


def _raw_line(account_id: str) -> dict[str, Any]:
    return next(
        r for split in SPLITS for r in _raw_lines(split) if r["account"]["account_id"] == account_id
    )


def _labels(r: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**r, "labels": {**r["labels"], **changes}}


# Each line is valid to the model and the schema; only the check against the seller's ICP can
# say what is wrong with it. lab-003: 45 employees, low; lab-012: 50,000, low;
# lab-033: sparse (no headcount), low; lab-001: 820, high.
BAD_CRITERIA: list[tuple[str, Callable[[], dict[str, Any]], str]] = [
    (
        "unknown disqualifier id",
        lambda: _labels(_raw_line("lab-012"), disqualifiers=["has_observability", "too_big"]),
        "labels.disqualifiers has 'too_big', which the seller's ICP does not define",
    ),
    (
        "unknown signal id",
        lambda: _labels(_raw_line("lab-001"), signals=["data_incident", "hiring"]),
        "labels.signals has 'hiring', which the seller's ICP does not define",
    ),
    (
        "a disqualifier id used as a signal",
        lambda: _labels(_raw_line("lab-001"), signals=["no_warehouse"]),
        "labels.signals has 'no_warehouse'",
    ),
    (
        "disqualified but not low",
        lambda: _labels(_raw_line("lab-001"), disqualifiers=["has_observability"]),
        "labels.disqualifiers lists has_observability but fit_band is 'high'",
    ),
    (
        "too_small missing under 50 employees",
        lambda: _labels(_raw_line("lab-003"), disqualifiers=["no_data_staff"]),
        "employee_count is 45, at most 49, so labels.disqualifiers must list 'too_small'",
    ),
    (
        "too_small on a large account",
        lambda: _labels(_raw_line("lab-012"), disqualifiers=["too_small", "has_observability"]),
        "lists 'too_small' but employee_count is 50000, more than 49",
    ),
    (
        "too_small with no headcount",
        lambda: _labels(_raw_line("lab-033"), disqualifiers=["too_small"]),
        "lists 'too_small' but employee_count is unknown",
    ),
]


@pytest.mark.parametrize(("case", "make", "needle"), BAD_CRITERIA)
def test_a_criterion_label_that_breaks_the_icp_is_reported(
    tmp_path: Path, case: str, make: Callable[[], dict[str, Any]], needle: str
) -> None:
    good, bad = _raw_lines("dev"), make()
    LabeledAccount.model_validate(bad)  # the model and the schema accept the line ...
    assert schema_problem(bad, "here", schema_validator()) is None
    file = tmp_path / "gold.jsonl"
    file.write_text("".join(json.dumps(r) + "\n" for r in [good[0], bad, good[2]]), "utf-8")
    assert len(load_labeled(str(file))) == 3
    problems = file_problems(file)  # ... the check against the demo seller's ICP does not
    assert len(problems) == 1, (case, problems)
    assert problems[0].startswith(f"{file} line 2: ") and needle in problems[0], (case, problems)
    # the same words as criteria_problems on the row itself
    row = LabeledAccount.model_validate(bad)
    assert [p.split(": ", 1)[1] for p in criteria_problems(row, "x")] == [
        problems[0].split(": ", 1)[1]
    ]


def test_the_check_command_fails_on_a_bad_criterion_label(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dev = _raw_lines("dev")
    dev[0] = _labels(dev[0], signals=["typo"])
    bad = tmp_path / "dev.jsonl"
    bad.write_text("".join(json.dumps(r) + "\n" for r in dev), "utf-8")
    real = checks.split_path
    monkeypatch.setattr(checks, "split_path", lambda s: bad if s == "dev" else real(s))
    result = CliRunner().invoke(app, ["check"])
    assert result.exit_code == 1
    assert f"{bad} line 1: labels.signals has 'typo'" in result.output


def test_criteria_are_checked_against_the_icp_given() -> None:
    """The size rule follows the disqualifier's max_employees; the ids, the ICP's own."""
    row = LabeledAccount.model_validate(_raw_line("lab-013"))  # 140 employees, medium, no dq
    small = SellerICP(
        disqualifiers=[Criterion(id="tiny", text="Under 200 staff", max_employees=199)],
        buying_signals=[Criterion(id="pipeline_tools", text="dbt")],
    )
    assert criteria_problems(row, "x", small) == [
        "x: employee_count is 140, at most 199, so labels.disqualifiers must list 'tiny'; add it."
    ]
    assert criteria_problems(row, "x", SellerICP()) == [
        "x: labels.signals has 'pipeline_tools', which the seller's ICP does not define "
        "(its signals: none); fix the id."
    ]


def test_the_real_files_pass_the_criterion_checks() -> None:
    for split, rows in ROWS.items():
        for row in rows:
            assert criteria_problems(row, split) == [], row.account.account_id
        assert file_problems(split_path(split)) == []


# ------------------------------------------------------------------------------------ strata


def test_strata_of_an_account() -> None:
    row = next(r for r in ROWS["train"] if "sparse" in r.labels.tags)
    assert strata_of(row, ICP) == {
        f"fit_band={row.labels.fit_band}",
        "approach=relationship_building",
        "tag=sparse",
        "industry=unknown",
    }
    row = next(r for r in ROWS["train"] if r.account.industry == "Healthcare")
    assert "industry=icp" in strata_of(row, ICP)
    assert "industry=other" in strata_of(row, ["Insurance"])


def test_every_split_is_stratified() -> None:
    assert stratification_problems(ROWS) == []


def test_a_split_missing_a_stratum_is_rejected() -> None:
    moved = [r for r in ROWS["dev"] if "injection" in r.labels.tags]
    assert moved
    skewed = {
        "train": ROWS["train"] + moved,
        "dev": [r for r in ROWS["dev"] if r not in moved],
        "test": ROWS["test"],
    }
    problems = stratification_problems(skewed)
    assert any(p.startswith("Split dev has no tag=injection account") for p in problems), problems


def test_a_skewed_share_is_rejected_although_every_stratum_is_present() -> None:
    """Four high-fit test accounts traded for four low-fit train accounts: every band is still
    in every split, but test's mix (4 high of 20) no longer resembles the whole set's (40%)."""
    high = [r for r in ROWS["test"] if r.labels.fit_band == "high"][:4]
    low = [r for r in ROWS["train"] if r.labels.fit_band == "low"][:4]
    skewed = {
        "train": [r for r in ROWS["train"] if r not in low] + high,
        "dev": ROWS["dev"],
        "test": [r for r in ROWS["test"] if r not in high] + low,
    }
    problems = stratification_problems(skewed)
    assert not any(" has no " in p for p in problems), problems
    assert any(
        p.startswith("Split test has 4 fit_band=high accounts of 20 (20%)") for p in problems
    )
    assert any(p.startswith("Split test has 11 fit_band=low accounts of 20") for p in problems)
    # the same data passes once the tolerance allows the skew: the share rule rejected it
    assert stratification_problems(skewed, tolerance=0.5) == []


def test_the_tolerance_is_two_accounts_of_the_smallest_split() -> None:
    smallest = min(len(rows) for rows in ROWS.values())
    assert STRATA_TOLERANCE == pytest.approx(2 / smallest)
