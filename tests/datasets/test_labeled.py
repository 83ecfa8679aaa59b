"""The labeled datasets: schema, splits, hard cases, loaders and their error messages."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import dspy
import pytest

from accountflow.datasets import (
    BAND_RANGES,
    HARD_CASE_TAGS,
    SPLITS,
    GoldLabels,
    LabeledAccount,
    band_of,
    dataset_hash,
    load_labeled,
    load_split,
    split_path,
)
from accountflow.errors import InputError
from accountflow.io import load_accounts
from accountflow.models import Account, SellerProfile

ROWS = {split: load_labeled(split) for split in SPLITS}
ALL = [row for rows in ROWS.values() for row in rows]
STOP = {"and", "the", "for", "from", "with", "into", "new", "data", "one", "all"}


def _norm(value: str | None) -> str:
    return " ".join((value or "").lower().split())


def test_every_account_loads_through_the_input_reader(tmp_path: Path) -> None:
    for split in SPLITS:
        accounts = tmp_path / f"{split}.jsonl"
        with split_path(split).open(encoding="utf-8") as src, accounts.open("w") as dst:
            for line in src:
                dst.write(json.dumps(json.loads(line)["account"], ensure_ascii=False) + "\n")
        result = load_accounts(accounts)
        assert result.rejected == [], [str(r) for r in result.rejected]
        assert len(result.accounts) == len(ROWS[split])


def test_split_sizes() -> None:
    assert 38 <= len(ROWS["train"]) <= 45
    assert 19 <= len(ROWS["dev"]) <= 25
    assert 19 <= len(ROWS["test"]) <= 25
    assert len(ALL) >= 80


def test_account_ids_unique_across_splits_and_apart_from_demo() -> None:
    ids = [row.account.account_id for row in ALL]
    assert len(ids) == len(set(ids))
    assert not any(i.startswith("acc-") for i in ids)  # demo ids stay distinct


@pytest.mark.parametrize("split", SPLITS)
def test_each_split_has_every_band_and_hard_case(split: str) -> None:
    bands = {row.labels.fit_band for row in ROWS[split]}
    tags = {tag for row in ROWS[split] for tag in row.labels.tags}
    assert bands == set(BAND_RANGES)
    assert set(HARD_CASE_TAGS) <= tags


def test_hard_cases_are_several_each() -> None:
    for tag in HARD_CASE_TAGS:
        assert sum(tag in row.labels.tags for row in ALL) >= 5, tag


def test_variety_of_industries_sizes_and_titles() -> None:
    industries = {row.account.industry for row in ALL if row.account.industry}
    sizes = [row.account.employee_count for row in ALL if row.account.employee_count]
    titles = [c.title or "" for row in ALL for c in row.account.contacts]
    assert len(industries) >= 8
    assert min(sizes) <= 10 and max(sizes) >= 50_000
    assert any(re.search(r"\bChief\b|\bC[EITFO]O\b", t) for t in titles)
    assert any(re.search(r"Engineer|Analyst|Ingenier", t) for t in titles)


def test_inquiries_reference_a_real_contact_for_about_a_third() -> None:
    with_inquiry = [row.account for row in ALL if row.account.inquiry is not None]
    for account in with_inquiry:
        assert account.referrer is not None, account.account_id
    assert 0.25 <= len(with_inquiry) / len(ALL) <= 0.45
    by = {"contact_id": 0, "email": 0}
    for account in with_inquiry:
        by["contact_id" if account.inquiry.contact_id else "email"] += 1
    assert all(by.values())  # both ways of naming who engaged are exercised


def test_labels_follow_the_scale_and_approach_rules() -> None:
    for row in ALL:
        lo, hi = row.labels.fit_range
        assert band_of(lo) == band_of(hi) == row.labels.fit_band
        assert ("poor_fit" in row.labels.tags) == (row.labels.fit_band == "low")
        if row.labels.fit_band == "low" or "sparse" in row.labels.tags:
            assert row.labels.approach == "relationship_building", row.account.account_id


def test_tags_describe_the_data() -> None:
    for row in ALL:
        acc, tags = row.account, row.labels.tags
        filled = {k for k, v in acc.model_dump(exclude_defaults=True).items() if v}
        is_sparse = filled == {"account_id", "company_name", "domain"}
        assert ("sparse" in tags) == is_sparse, acc.account_id
        names = [acc.company_name] + [c.name or "" for c in acc.contacts]
        assert ("non_english" in tags) == any(not n.isascii() for n in names), acc.account_id
        emails = [_norm(c.email) for c in acc.contacts if c.email]
        people = [_norm(c.name) for c in acc.contacts if c.name]
        has_dupes = len(set(emails)) < len(emails) or len(set(people)) < len(people)
        assert ("duplicate_contacts" in tags) == has_dupes, acc.account_id
        if "injection" in tags:
            text = f"{acc.description} {acc.notes}".lower()
            assert "ignore" in text or "disregard" in text


def test_contact_details_are_reserved_for_fiction() -> None:
    """Domains and e-mail addresses use the reserved .example domain, phone numbers the US range
    reserved for fiction (555-0100 to 555-0199): hand edits must not reach real people."""
    for row in ALL:
        acc = row.account
        assert acc.domain is None or acc.domain.endswith(".example"), acc.account_id
        emails = [c.email for c in acc.contacts if c.email]
        if acc.inquiry is not None and acc.inquiry.email:
            emails.append(acc.inquiry.email)
        for email in emails:
            assert email.lower().endswith(".example"), (acc.account_id, email)
        for contact in acc.contacts:
            if contact.phone:
                assert re.fullmatch(r"\+1\d{3}55501\d\d", contact.phone), contact.phone
            if contact.linkedin_url:
                assert contact.linkedin_url.startswith("https://www.linkedin.com/in/")


def test_duplicate_contacts_survive_validation_unchanged() -> None:
    """Account keeps duplicates as given (no merge): cleaning them is the program's job."""
    dupes = [row for row in ALL if "duplicate_contacts" in row.labels.tags]
    for row in dupes:
        raw = row.account.model_dump(mode="json")
        assert len(Account.model_validate(raw).contacts) == len(row.account.contacts)


def test_pain_points_are_grounded_in_the_account_text() -> None:
    """Each gold pain point of a non-sparse account shares a content word with its data."""

    def stems(text: str) -> set[str]:
        words = re.findall(r"[a-z0-9]+", text.lower())
        return {w[:5] for w in words if len(w) >= 3 and w not in STOP}

    for row in ALL:
        if "sparse" in row.labels.tags:  # only a name: its pain points are hypotheses
            continue
        acc = row.account
        text = stems(
            " ".join(
                filter(
                    None, [acc.description, acc.notes, acc.inquiry.message if acc.inquiry else None]
                )
            )
        )
        for pain in row.labels.pain_points:
            assert stems(pain) & text, (acc.account_id, pain)


def test_load_split_returns_examples_with_the_input_keys() -> None:
    examples = load_split("dev")
    assert len(examples) == len(ROWS["dev"])
    for example in examples:
        assert isinstance(example, dspy.Example)
        assert set(example.inputs().keys()) == {"account", "seller"}
        assert isinstance(example.account, Account)
        assert isinstance(example.seller, SellerProfile)
        assert isinstance(example["labels"], GoldLabels)
        assert example.gold is example["labels"]
        assert "labels" not in example.inputs()
    assert examples[0].seller.company == "Northwind Data"


def test_load_split_limit_keeps_file_order() -> None:
    first = load_split("test", limit=3)
    assert [e.account.account_id for e in first] == [r.account.account_id for r in ROWS["test"][:3]]
    with pytest.raises(InputError, match="at least 1"):
        load_split("test", limit=0)


def test_dataset_hash_is_the_file_sha256_prefix_and_stable(tmp_path: Path) -> None:
    for split in SPLITS:
        expected = hashlib.sha256(split_path(split).read_bytes()).hexdigest()[:12]
        assert dataset_hash(split) == expected == dataset_hash(split)
    assert len({dataset_hash(s) for s in SPLITS}) == len(SPLITS)
    copy = tmp_path / "copy.jsonl"
    shutil.copy(split_path("dev"), copy)
    assert dataset_hash(str(copy)) == dataset_hash("dev")
    copy.write_text(copy.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    assert dataset_hash(str(copy)) != dataset_hash("dev")


def test_unknown_split_is_a_user_error() -> None:
    with pytest.raises(InputError, match="Unknown dataset split 'validation'"):
        load_labeled("validation")
    with pytest.raises(InputError, match="does not exist"):
        dataset_hash("/nowhere/gold.jsonl")


def _lines() -> list[dict]:
    return [json.loads(line) for line in split_path("train").read_text("utf-8").splitlines()]


def _write(tmp_path: Path, rows: list[object]) -> Path:
    out = tmp_path / "gold.jsonl"
    out.write_text(
        "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows), "utf-8"
    )
    return out


def test_a_custom_file_of_the_same_shape_loads(tmp_path: Path) -> None:
    rows = _lines()[:3]
    assert [r.account.account_id for r in load_labeled(str(_write(tmp_path, rows)))] == [
        r["account"]["account_id"] for r in rows
    ]


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda r: "{not json", "not valid JSON"),
        (lambda r: [r], "must be a JSON object"),
        (lambda r: {**r, "account": {**r["account"], "revenue": 5}}, "account.revenue"),
        (lambda r: {**r, "labels": {**r["labels"], "fit_band": "great"}}, "labels.fit_band"),
        (lambda r: {**r, "labels": {**r["labels"], "fit_range": [10, 95]}}, "inside the"),
        (lambda r: {**r, "labels": {**r["labels"], "pain_points": ["one"]}}, "pain_points"),
        (lambda r: {**r, "labels": {**r["labels"], "tags": ["typo"]}}, "labels.tags"),
        (
            lambda r: {**r, "labels": {**r["labels"], "signals": ["merger", "merger"]}},
            "signals repeat: merger",
        ),
        (
            lambda r: {**r, "labels": {**r["labels"], "disqualifiers": ["too_small", ""]}},
            "labels.disqualifiers.1",
        ),
        (lambda r: {**r, "labels": {**r["labels"], "signals": [3]}}, "labels.signals.0"),
        (lambda r: {**r, "labels": {**r["labels"], "signals": "merger"}}, "labels.signals"),
        (
            lambda r: {
                "account": {**r["account"], "contacts": [{"email": "nope"}]},
                "labels": r["labels"],
            },
            "malformed email",
        ),
    ],
)
def test_a_malformed_line_names_file_and_line(tmp_path: Path, mutate, needle: str) -> None:
    good = _lines()
    path = _write(tmp_path, [good[0], mutate(good[1]), good[2]])
    with pytest.raises(InputError) as info:
        load_labeled(str(path))
    message = str(info.value)
    assert f"{path} line 2" in message and needle in message
    assert "\n" not in message


def test_a_repeated_account_id_names_both_lines(tmp_path: Path) -> None:
    good = _lines()
    path = _write(tmp_path, [good[0], good[1], good[0]])
    with pytest.raises(InputError, match=r"line 3: account_id 'lab-001' repeats line 1"):
        load_labeled(str(path))


def test_an_empty_file_is_an_error(tmp_path: Path) -> None:
    path = _write(tmp_path, [""])
    with pytest.raises(InputError, match="has no accounts"):
        load_labeled(str(path))


def test_injection_canaries_must_be_planted_in_the_account() -> None:
    row = next(r for r in ALL if "injection" in r.labels.tags)
    data = row.model_dump(mode="json")
    data["labels"]["injection_canaries"] = ["NOT-IN-THE-TEXT"]
    with pytest.raises(ValueError, match="not in the description or notes"):
        LabeledAccount.model_validate(data)
    data["labels"]["tags"] = [t for t in data["labels"]["tags"] if t != "injection"]
    with pytest.raises(ValueError, match="injection_canaries go with"):
        LabeledAccount.model_validate(data)


def test_a_line_without_criterion_labels_still_loads(tmp_path: Path) -> None:
    """Files written before disqualifiers and signals existed load, with both empty."""
    old = []
    for r in _lines()[:3]:
        labels = {k: v for k, v in r["labels"].items() if k not in ("disqualifiers", "signals")}
        old.append({**r, "labels": labels})
    rows = load_labeled(str(_write(tmp_path, old)))
    assert [(r.labels.disqualifiers, r.labels.signals) for r in rows] == [([], [])] * 3


def test_criterion_labels_follow_the_rules() -> None:
    """Every line carries both keys; a sparse account has nothing to judge; a disqualified
    account is low (checks.py also holds the ids and too_small to the seller); and most
    low-band accounts have a disqualifier to show for it."""
    for split in SPLITS:
        for line in split_path(split).read_text("utf-8").splitlines():
            keys = list(json.loads(line)["labels"])
            assert keys[-2:] == ["disqualifiers", "signals"], keys
    for row in ALL:
        labels = row.labels
        if "sparse" in labels.tags:
            assert labels.disqualifiers == labels.signals == [], row.account.account_id
        if labels.disqualifiers:
            assert labels.fit_band == "low", row.account.account_id
    low = [row for row in ALL if row.labels.fit_band == "low"]
    described = [row for row in low if "sparse" not in row.labels.tags]
    assert sum(bool(row.labels.disqualifiers) for row in described) >= len(described) - 1
    high = [row for row in ALL if row.labels.fit_band == "high"]
    assert all(row.labels.signals for row in high)  # the band's rules ask for a signal


def test_band_of_matches_the_signature_scale() -> None:
    assert [band_of(s) for s in (0, 39, 40, 79, 80, 100)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
