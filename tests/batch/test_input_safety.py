"""Inputs are never destroyed and never half-read (issue 12, items 3, 4 and 13), through the CLI:
an output that is an input is refused before anything is written; a file that fails its checks
leaves an existing output alone; one oversize CSV field rejects its row only; an empty or
header-only file is the same one-line error (exit 2) for `score`, `run` and `campaign start`."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import duckdb
import pytest

from tests.cli_runner import run_cli

ACCOUNTS = (
    "account_id,company_name,domain,notes\na1,Acme,acme.example,ok\na2,Beta,beta.example,ok\n"
)
CONTACTS = "account_id,name,email\na1,Ann Lee,ann@acme.example\n"

Cli = tuple[pytest.CaptureFixture[str], pytest.MonkeyPatch]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> Cli:
    return capsys, monkeypatch


def _run(cli: Cli, *args: str) -> tuple[int, str, str]:
    return run_cli([*args, "--lm", "fake"], *cli)


def _one_line_error(code: int, err: str, *words: str) -> None:
    assert code == 2, err
    assert err.startswith("error:") and len(err.strip().splitlines()) == 1, err
    for word in words:
        assert word in err, (word, err)


def _batches(home: Path) -> list[tuple[str, str]]:
    db = home / "accountflow.duckdb"
    if not db.exists():
        return []
    con = duckdb.connect(str(db), read_only=True)
    try:
        return [
            (str(r[0]), str(r[1]))
            for r in con.execute("SELECT name, status FROM batches").fetchall()
        ]
    finally:
        con.close()


# ---------------------------------------------------------------- item 3: --out is an input


def test_out_that_is_the_input_is_refused_and_the_input_kept(
    tmp_path: Path, home: Path, cli: Cli
) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(CONTACTS)
    link = tmp_path / "link.csv"
    link.symlink_to(accounts)
    hard = tmp_path / "hard.csv"
    os.link(contacts, hard)
    sub = tmp_path / "sub"
    sub.mkdir()
    for out, contacts_arg in (
        (accounts, None),  # the same path
        (sub / ".." / "accounts.csv", None),  # the same file by another spelling
        (link, None),  # a symlink to the input
        (contacts, contacts),  # the contacts file
        (hard, contacts),  # a hard link to the contacts file (same inode)
    ):
        extra = ["--contacts", str(contacts_arg)] if contacts_arg else []
        code, _, err = _run(cli, "score", str(accounts), "--out", str(out), *extra)
        _one_line_error(code, err, "input", "--out")
        assert accounts.read_text() == ACCOUNTS and contacts.read_text() == CONTACTS
    assert _batches(home) == []  # refused before the batch was recorded


def test_out_whose_rejected_file_is_the_input_is_refused(tmp_path: Path, cli: Cli) -> None:
    accounts = tmp_path / "scored.rejected.csv"  # `--out scored.csv` would replace it
    accounts.write_text(ACCOUNTS)
    code, _, err = _run(cli, "score", str(accounts), "--out", str(tmp_path / "scored.csv"))
    _one_line_error(code, err, "scored.rejected.csv")
    assert accounts.read_text() == ACCOUNTS
    assert not (tmp_path / "scored.csv").exists()


@pytest.mark.parametrize(
    ("accounts_text", "contacts_text", "words"),
    [
        ("company_name,domain\nAcme,acme.example\n", None, ("account_id",)),  # no id column
        (ACCOUNTS, "name,email\nAnn,ann@acme.example\n", ("account_id",)),  # contacts: no id
        ("account_id,company_name,account_id\na1,Acme,a2\n", None, ("twice",)),  # duplicate
        ("account_id,company_name\n", None, ("no account rows",)),  # header only
    ],
)
def test_input_error_leaves_an_existing_output_untouched(
    tmp_path: Path,
    home: Path,
    cli: Cli,
    accounts_text: str,
    contacts_text: str | None,
    words: tuple[str, ...],
) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(accounts_text)
    extra: list[str] = []
    if contacts_text is not None:
        (tmp_path / "contacts.csv").write_text(contacts_text)
        extra = ["--contacts", str(tmp_path / "contacts.csv")]
    out = tmp_path / "scored.csv"
    out.write_text("precious earlier results\n")
    rejected = tmp_path / "scored.rejected.csv"
    rejected.write_text("earlier rejections\n")
    code, _, err = _run(cli, "score", str(accounts), "--out", str(out), *extra)
    _one_line_error(code, err, *words)
    assert out.read_text() == "precious earlier results\n"
    assert rejected.read_text() == "earlier rejections\n"
    assert _batches(home) == []  # no batch left `running` by a file that never started


# ---------------------------------------------------------------- item 4: oversize CSV field


def _big_field_file(tmp_path: Path) -> Path:
    path = tmp_path / "big.csv"
    path.write_text(
        "account_id,company_name,notes\n"
        "a1,Acme,ok\n"
        "a2,Huge Co," + "x" * 140_000 + "\n"  # over csv.field_size_limit() (131,072)
        "a3,Gamma,ok\n"
        'a4,Delta,"' + "y" * 140_000 + '\nstill the same field"\n'  # lines 5-6, quoted
        "a5,Epsilon,ok\n"
    )
    return path


def test_score_rejects_an_oversize_csv_field_and_scores_the_rest(
    tmp_path: Path, home: Path, cli: Cli
) -> None:
    out = tmp_path / "scored.csv"
    code, _, err = _run(cli, "score", str(_big_field_file(tmp_path)), "--out", str(out))
    assert code == 1 and "Traceback" not in err, err
    with out.open(newline="") as fh:
        scored = {row["account_id"]: row["status"] for row in csv.DictReader(fh)}
    assert scored == {"a1": "succeeded", "a3": "succeeded", "a5": "succeeded"}
    with (tmp_path / "scored.rejected.csv").open(newline="") as fh:
        rejected = [(r["row"], r["account_id"], r["field"]) for r in csv.DictReader(fh)]
    assert rejected == [("3", "a2", "notes"), ("5", "a4", "notes")]
    assert [status for _, status in _batches(home)] == ["completed"]


def test_oversize_contacts_field_rejects_that_contact_only(tmp_path: Path, cli: Cli) -> None:
    accounts = tmp_path / "accounts.csv"
    accounts.write_text(ACCOUNTS)
    contacts = tmp_path / "contacts.csv"
    contacts.write_text(
        "account_id,name,email,title\n"
        "a1,Ann Lee,ann@acme.example,CTO\n"
        "a1,Long Title,long@acme.example," + "t" * 140_000 + "\n"
        "a2,Bo Chan,bo@beta.example,CFO\n"
    )
    code, out, err = _run(cli, "run", str(accounts), "--contacts", str(contacts), "--json")
    assert code == 1, err
    report = json.loads(out)
    assert [r["status"] for r in report["results"]] == ["succeeded", "succeeded"]
    assert [(r["row"], r["field"]) for r in report["rejected"]] == [(3, "title")]


def test_run_and_campaign_start_reject_an_oversize_csv_field(tmp_path: Path, cli: Cli) -> None:
    big = _big_field_file(tmp_path)
    for command in (["run"], ["campaign", "start"]):
        code, out, err = _run(cli, *command, str(big), "--json")
        assert code == 1 and "Traceback" not in err, (command, err)
        report = json.loads(out)
        assert [r["account_id"] for r in report["results"]] == ["a1", "a3", "a5"]
        assert [(r["row"], r["field"]) for r in report["rejected"]] == [(3, "notes"), (5, "notes")]


# ---------------------------------------------------------------- item 13: empty input


@pytest.mark.parametrize(
    ("name", "text"),
    [("header.csv", "account_id,company_name\n"), ("blank.jsonl", "\n  \n")],
)
def test_an_input_without_account_rows_is_exit_2_everywhere(
    tmp_path: Path, home: Path, cli: Cli, name: str, text: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    out = tmp_path / "scored.csv"
    for command in (
        ["score", str(path), "--out", str(out)],
        ["score", str(path), "--out", str(out), "--dry-run"],
        ["run", str(path)],
        ["campaign", "start", str(path)],
    ):
        code, _, err = _run(cli, *command)
        _one_line_error(code, err, name, "no account rows")
    assert not out.exists()
    assert _batches(home) == []
