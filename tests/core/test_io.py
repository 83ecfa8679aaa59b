"""Reading account files: every bad row becomes a one-line Rejection; unreadable files raise."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from accountflow import io as io_module
from accountflow.datasets import path as data_path
from accountflow.errors import InputError
from accountflow.io import ACCOUNT_COLUMNS, CONTACT_COLUMNS, LoadResult, load_accounts


def _jsonl(path: Path, lines: list[bytes | dict]) -> Path:
    raw = [line if isinstance(line, bytes) else json.dumps(line).encode() for line in lines]
    path.write_bytes(b"\n".join(raw) + b"\n")
    return path


def _by_row(result: LoadResult) -> dict[int, object]:
    rows = [r.row for r in result.rejected]
    assert len(rows) == len(set(rows)), f"one rejection per row expected, got {rows}"
    return {r.row: r for r in result.rejected}


def _assert_one_line(result: LoadResult) -> None:
    for rejection in result.rejected:
        assert "\n" not in rejection.reason and "\r" not in rejection.reason, rejection
        assert "\n" not in str(rejection)


# ---------------------------------------------------------------- JSONL


def test_jsonl_bad_rows_are_rejected_with_line_and_field(tmp_path: Path) -> None:
    good = {
        "account_id": "a1",
        "company_name": "Good Co",
        "employee_count": 12,
        "contacts": [{"name": "Ann Lee", "email": "ann@good.example", "is_primary": True}],
    }
    path = _jsonl(
        tmp_path / "accounts.jsonl",
        [
            good,  # 1
            {"company_name": "No Id Inc"},  # 2
            {
                "account_id": "a3",
                "company_name": "Bad Mail",
                "contacts": [{"name": "Bo", "email": "not-an-email"}],
            },  # 3
            {"account_id": "a4", "company_name": "  "},  # 4
            b'{"account_id": "a5", "company_name": "Caf\xff"}',  # 5
            {"account_id": "a6", "company_name": "Extra", "revenue_usd": 5},  # 6
            b"this is not json",  # 7
            {"account_id": "a1", "company_name": "Good Co again"},  # 8
            {"account_id": "a9", "company_name": "Long", "description": "x" * 20_001},  # 9
            {"account_id": "a10", "company_name": "Second Good"},  # 10
        ],
    )

    result = load_accounts(path)

    assert [a.account_id for a in result.accounts] == ["a1", "a10"]
    first = result.accounts[0]
    assert first.company_name == "Good Co" and first.employee_count == 12
    assert first.contacts[0].email == "ann@good.example" and first.contacts[0].is_primary
    assert result.warnings == []
    rejected = _by_row(result)
    assert sorted(rejected) == [2, 3, 4, 5, 6, 7, 8, 9]
    for rejection in result.rejected:
        assert rejection.source == str(path)

    assert rejected[2].field == "account_id" and "account_id" in rejected[2].reason
    assert "missing" in rejected[2].reason
    assert rejected[3].account_id == "a3"
    assert rejected[3].field == "contacts.0.email" and "email" in rejected[3].reason
    assert "not-an-email" in rejected[3].reason
    assert rejected[4].field == "company_name" and "company_name" in rejected[4].reason
    assert "UTF-8" in rejected[5].reason and "0xff" in rejected[5].reason
    assert rejected[6].field == "revenue_usd" and "revenue_usd" in rejected[6].reason
    assert "JSON" in rejected[7].reason
    assert rejected[8].account_id == "a1" and "duplicate" in rejected[8].reason
    assert rejected[9].field == "description" and "20000" in rejected[9].reason
    _assert_one_line(result)
    assert str(rejected[8]).startswith("accounts.jsonl line 8 (account a1): ")


def test_jsonl_blank_lines_keep_line_numbers(tmp_path: Path) -> None:
    path = tmp_path / "gaps.jsonl"
    path.write_text(
        '\n{"account_id": "g1", "company_name": "G"}\n\n   \n[1, 2]\n'
        '{"account_id": "g2", "company_name": "H"}\n',
        encoding="utf-8",
    )
    result = load_accounts(path)
    assert [a.account_id for a in result.accounts] == ["g1", "g2"]
    assert [(r.row, r.reason) for r in result.rejected] == [(5, "each line must be a JSON object")]


def test_jsonl_unknown_key_with_newline_gives_one_line_reason(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "a.jsonl", [{"account_id": "k1", "company_name": "K", "bad\nkey": 1}])
    result = load_accounts(path)
    assert len(result.rejected) == 1
    _assert_one_line(result)


def test_jsonl_with_utf8_bom_loads_like_csv(tmp_path: Path) -> None:
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"account_id": "b1", "company_name": "Bom"}\n')
    result = load_accounts(path)
    assert result.rejected == []
    assert [a.account_id for a in result.accounts] == ["b1"]


# ---------------------------------------------------------------- CSV


def _write_csv(path: Path, text: bytes) -> Path:
    path.write_bytes(text)
    return path


def test_csv_with_every_known_column_loads_without_warnings(tmp_path: Path) -> None:
    accounts = tmp_path / "full.csv"
    accounts.write_text(
        ",".join(ACCOUNT_COLUMNS)
        + "\n"
        + "f1,Full Co,full.example,https://www.full.example/,Retail,250,Berlin,Sells things,"
        "Met at a fair\n",
        encoding="utf-8",
    )
    contacts = tmp_path / "full_contacts.csv"
    contacts.write_text(
        ",".join(CONTACT_COLUMNS)
        + "\n"
        + "f1,k1,Kai Weber,kai@full.example,+4930123,CTO,https://linkedin.example/kai,true,Kai\n",
        encoding="utf-8",
    )
    result = load_accounts(accounts, contacts)
    assert result.warnings == [] and result.rejected == []
    (account,) = result.accounts
    assert account.model_dump(exclude={"contacts", "inquiry"}) == {
        "account_id": "f1",
        "company_name": "Full Co",
        "domain": "full.example",
        "website": "https://www.full.example/",
        "industry": "Retail",
        "employee_count": 250,
        "location": "Berlin",
        "description": "Sells things",
        "notes": "Met at a fair",
    }
    assert account.contacts[0].model_dump() == {
        "contact_id": "k1",
        "name": "Kai Weber",
        "email": "kai@full.example",
        "phone": "+4930123",
        "title": "CTO",
        "linkedin_url": "https://linkedin.example/kai",
        "is_primary": True,
        "greeting_name": "Kai",
    }


def test_csv_accounts_with_contacts(tmp_path: Path) -> None:
    accounts = _write_csv(
        tmp_path / "accounts.csv",
        b"account_id,company_name,employee_count,description,colour\n"  # 1
        b'c1,"Acme, Inc.","1,200","line one\nline two, with comma",red\n'  # 2-3
        b"c2,Beta \xff Ltd,5,,blue\n"  # 4
        b'c3,Gamma,,"",green\n'  # 5
        b"\n"  # 6
        b"c4,Delta,7\n"  # 7: too few values
        b"c5,Epsilon,3,ok,\n",  # 8
    )
    contacts = _write_csv(
        tmp_path / "contacts.csv",
        b"account_id,contact_id,name,email,is_primary\n"  # 1
        b"c1,p1,Ann Lee,ann@acme.example,false\n"  # 2
        b"c1,p2,Bob Roe,bob@acme.example,true\n"  # 3
        b"c1,p3,Bad Mail,not-an-email,false\n"  # 4
        b"zz,p4,Nobody,no@x.example,true\n"  # 5
        b"c5,p5,Eve Park,,\n",  # 6
    )

    result = load_accounts(accounts, contacts)

    assert [a.account_id for a in result.accounts] == ["c1", "c3", "c5"]
    acme, gamma, eps = result.accounts
    assert acme.company_name == "Acme, Inc."
    assert acme.employee_count == 1200
    assert acme.description == "line one\nline two, with comma"
    assert [(c.contact_id, c.is_primary) for c in acme.contacts] == [("p1", False), ("p2", True)]
    assert acme.primary_contact is not None and acme.primary_contact.name == "Bob Roe"
    assert gamma.employee_count is None and gamma.description is None and gamma.contacts == []
    assert [(c.name, c.email, c.is_primary) for c in eps.contacts] == [("Eve Park", None, False)]

    assert len(result.warnings) == 1 and "'colour'" in result.warnings[0]
    assert "accounts.csv" in result.warnings[0]

    by_source = {(Path(r.source).name, r.row): r for r in result.rejected}
    assert sorted(by_source) == [
        ("accounts.csv", 4),
        ("accounts.csv", 7),
        ("contacts.csv", 4),
        ("contacts.csv", 5),
    ]
    bad_utf8 = by_source[("accounts.csv", 4)]
    assert bad_utf8.field == "company_name" and "UTF-8" in bad_utf8.reason
    assert "values" in by_source[("accounts.csv", 7)].reason
    bad_mail = by_source[("contacts.csv", 4)]
    assert bad_mail.account_id == "c1" and bad_mail.field == "email"
    assert "email" in bad_mail.reason and "not-an-email" in bad_mail.reason
    orphan = by_source[("contacts.csv", 5)]
    assert orphan.account_id == "zz" and "zz" in orphan.reason
    _assert_one_line(result)


def test_csv_is_primary_and_line_numbers_after_multiline_fields(tmp_path: Path) -> None:
    accounts = _write_csv(
        tmp_path / "a.csv",
        b"account_id,company_name,notes\r\n"
        b'm1,Multi,"a\r\nb\r\nc"\r\n'  # lines 2-4
        b"m2,,x\r\n"  # line 5: empty company_name
        b'm3,"Quote ""Q"" Co",\r\n',  # line 6
    )
    contacts = _write_csv(
        tmp_path / "c.csv",
        b"\xef\xbb\xbfaccount_id,name,is_primary\nm1,Ann,TRUE\nm1,Ben,false\nm3,Cy,yes\nm3,Di,0\n",
    )
    result = load_accounts(accounts, contacts)
    assert [a.account_id for a in result.accounts] == ["m1", "m3"]
    assert result.accounts[0].notes == "a\r\nb\r\nc"  # kept as written
    assert result.accounts[1].company_name == 'Quote "Q" Co'
    flags = [(c.name, c.is_primary) for a in result.accounts for c in a.contacts]
    assert flags == [("Ann", True), ("Ben", False), ("Cy", True), ("Di", False)]
    assert [(r.row, r.field) for r in result.rejected] == [(5, "company_name")]
    assert result.warnings == []


# ---------------------------------------------------------------- Parquet


def test_parquet_input(tmp_path: Path) -> None:
    path = tmp_path / "x.parquet"
    duckdb.connect().execute(
        "COPY (SELECT 'p1' AS account_id, 'Parq Co' AS company_name, 1200 AS employee_count, "
        "'z' AS extra UNION ALL SELECT 'p2', '  ', NULL, 'q') "
        f"TO '{path.absolute()}' (FORMAT parquet)"
    )
    result = load_accounts(path)
    assert [(a.account_id, a.company_name, a.employee_count) for a in result.accounts] == [
        ("p1", "Parq Co", 1200)
    ]
    assert [(r.row, r.account_id, r.field) for r in result.rejected] == [(2, "p2", "company_name")]
    assert len(result.warnings) == 1 and "'extra'" in result.warnings[0]


def test_corrupt_parquet_is_a_one_line_input_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.parquet"
    path.write_text("this is not a parquet file")
    with pytest.raises(InputError) as info:
        load_accounts(path)
    message = str(info.value)
    assert "broken.parquet" in message
    assert "\n" not in message


# ---------------------------------------------------------------- unreadable files


def _input_error(path: Path, contacts: Path | None = None) -> str:
    with pytest.raises(InputError) as info:
        load_accounts(path, contacts)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_missing_empty_directory_and_unknown_extension_raise(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jsonl"
    assert str(missing) in _input_error(missing)

    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    assert str(empty) in _input_error(empty)

    folder = tmp_path / "folder.jsonl"
    folder.mkdir()
    assert str(folder) in _input_error(folder)

    text = tmp_path / "accounts.txt"
    text.write_text('{"account_id": "t", "company_name": "T"}\n')
    message = _input_error(text)
    assert str(text) in message and "extension" in message

    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n  \n")
    assert str(blank) in _input_error(blank)

    header_only = tmp_path / "header.csv"
    header_only.write_text("account_id,company_name\n")
    assert str(header_only) in _input_error(header_only)

    no_id = tmp_path / "noid.csv"
    no_id.write_text("company_name\nX\n")
    assert "noid.csv" in _input_error(no_id)

    good = _jsonl(tmp_path / "ok.jsonl", [{"account_id": "o", "company_name": "O"}])
    missing_contacts = tmp_path / "contacts.csv"
    assert str(missing_contacts) in _input_error(good, missing_contacts)


def test_file_with_only_bad_rows_rejects_them_all(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "bad.jsonl",
        [
            {"company_name": "No id"},
            b"{not json",
            {"account_id": "x", "company_name": ""},
        ],
    )
    result = load_accounts(path)
    assert result.accounts == []
    assert [r.row for r in result.rejected] == [1, 2, 3]


# ---------------------------------------------------------------- bundled and hostile data


def test_demo_files_load_and_formats_agree() -> None:
    jsonl = load_accounts(data_path("accounts_demo.jsonl"))
    assert len(jsonl.accounts) == 10
    assert jsonl.rejected == [] and jsonl.warnings == []
    assert all(a.contacts for a in jsonl.accounts)

    csv = load_accounts(data_path("accounts_demo.csv"), data_path("contacts_demo.csv"))
    assert csv.rejected == [] and csv.warnings == []
    assert [a.model_dump(exclude={"inquiry"}) for a in csv.accounts] == [
        a.model_dump(exclude={"inquiry"}) for a in jsonl.accounts
    ]


def test_hostile_company_name_loads_verbatim(tmp_path: Path) -> None:
    name = "'; DROP TABLE steps; --"
    jsonl = _jsonl(tmp_path / "evil.jsonl", [{"account_id": "evil", "company_name": name}])
    csv = tmp_path / "evil.csv"
    csv.write_text('account_id,company_name\nevil,"\'; DROP TABLE steps; --"\n')
    for path in (jsonl, csv):
        result = load_accounts(path)
        assert result.rejected == []
        assert [a.company_name for a in result.accounts] == [name]


# ---------------------------------------------------------------- strict input (issue 12)


def test_account_ids_must_be_strings_or_integers(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "ids.jsonl",
        [
            {"account_id": ["a", "b"], "company_name": "List Id"},  # 1
            {"account_id": {"id": 1}, "company_name": "Dict Id"},  # 2
            {"account_id": True, "company_name": "Bool Id"},  # 3
            {"account_id": 1.5, "company_name": "Float Id"},  # 4
            {"account_id": 7, "company_name": "Int Id"},  # 5
            {"account_id": "s8", "company_name": ["Not", "A", "Name"]},  # 6
        ],
    )
    result = load_accounts(path)
    assert [a.account_id for a in result.accounts] == ["7"]
    rejected = _by_row(result)
    assert sorted(rejected) == [1, 2, 3, 4, 6]
    for row in (1, 2, 3, 4):
        assert rejected[row].field == "account_id", rejected[row]
        assert "string" in rejected[row].reason
    assert "list" in rejected[1].reason and "bool" in rejected[3].reason
    assert rejected[6].field == "company_name"
    _assert_one_line(result)


def test_duplicate_json_keys_reject_the_row(tmp_path: Path) -> None:
    path = _jsonl(
        tmp_path / "dupes.jsonl",
        [
            b'{"account_id": "d1", "company_name": "First", "company_name": "Second"}',
            b'{"account_id": "d2", "company_name": "C", "contacts": [{"name": "A", "name": "B"}]}',
            {"account_id": "d3", "company_name": "Fine"},
        ],
    )
    result = load_accounts(path)
    assert [a.account_id for a in result.accounts] == ["d3"]
    rejected = _by_row(result)
    assert sorted(rejected) == [1, 2]
    assert "'company_name'" in rejected[1].reason and "twice" in rejected[1].reason
    assert "'name'" in rejected[2].reason
    _assert_one_line(result)


def test_duplicate_csv_header_columns_are_an_input_error(tmp_path: Path) -> None:
    accounts = _write_csv(tmp_path / "a.csv", b"account_id,company_name,notes,notes\nx,X,1,2\n")
    message = _input_error(accounts)
    assert "a.csv" in message and "'notes'" in message and "twice" in message

    good = _write_csv(tmp_path / "good.csv", b"account_id,company_name,,\nx,X,,\n")
    assert [a.account_id for a in load_accounts(good).accounts] == ["x"]  # blank names: ignored

    contacts = _write_csv(
        tmp_path / "c.csv", b"account_id,email,email\nx,a@x.example,b@x.example\n"
    )
    message = _input_error(good, contacts)
    assert "c.csv" in message and "'email'" in message


def test_csv_field_over_the_reader_limit_rejects_its_row_only(tmp_path: Path) -> None:
    """Past even the raised csv limit the row is rejected (line and reason) and reading goes on
    at the next line."""
    path = _write_csv(
        tmp_path / "huge.csv",
        b"account_id,company_name,notes\nh1,One,ok\nh2,Two,"
        + b"x" * (io_module.CSV_FIELD_LIMIT + 1)
        + b"\nh3,Three,ok\n",
    )
    result = load_accounts(path)
    assert [a.account_id for a in result.accounts] == ["h1", "h3"]
    (rejection,) = result.rejected
    assert rejection.row == 3 and f"{io_module.CSV_FIELD_LIMIT:,} characters" in rejection.reason
    _assert_one_line(result)
