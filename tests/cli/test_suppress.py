"""`accountflow suppress add|list|import|remove` through the console entry point."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli


@pytest.fixture
def cli(home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    def run(*args: str) -> tuple[int, str, str]:
        return run_cli(["suppress", *args, "--home", str(home)], capsys, monkeypatch)

    return run


def test_add_list_remove(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("add", "Ann@Acme.example", "@competitor.example", "--reason", "manual")
    assert code == 0 and "suppressed ann@acme.example (manual)" in out
    code, out, _ = cli("add", "ann@acme.example", "--reason", "bounce", "--json")
    [again] = json.loads(out)
    assert code == 0 and again["added"] is False and again["reason"] == "manual"
    entries = json.loads(cli("list", "--json")[1])
    assert [(e["value"], e["kind"]) for e in entries] == [
        ("ann@acme.example", "email"),
        ("competitor.example", "domain"),
    ]
    assert json.loads(cli("list", "--reason", "bounce", "--json")[1]) == []
    code, out, _ = cli("remove", "competitor.example", "nobody@acme.example")
    assert code == 1 and "removed competitor.example" in out and "was not on the list" in out
    assert [e["value"] for e in json.loads(cli("list", "--json")[1])] == ["ann@acme.example"]


def test_add_rejects_a_bad_value_or_reason_before_adding_anything(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("add", "ok@acme.example", "not an address")
    assert code == 2 and "'not an address' is neither an email address nor a domain" in err
    code, _, err = cli("add", "ok@acme.example", "--reason", "spite")
    assert code == 2 and "reason 'spite' is not one of" in err
    assert json.loads(cli("list", "--json")[1]) == []


def test_import_takes_good_rows_and_rejects_bad_ones_by_line(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "optouts.csv"
    csv_file.write_text(
        "email,reason,source\n"
        "a@acme.example,unsubscribe,web form\n"
        "not-an-email@,bounce,\n"
        "rivals.example,,\n"
        ",manual,\n"
        "b@acme.example,angry,\n"
        "A@ACME.example,complaint,\n",
        encoding="utf-8",
    )
    code, out, _ = cli("import", str(csv_file), "--json")
    report = json.loads(out)
    assert code == 1
    assert (report["added"], report["already"]) == (2, 1)
    assert [(r["row"], r["reason"].split(" ")[0]) for r in report["rejected"]] == [
        (3, "'not-an-email@'"),
        (5, "the"),
        (6, "Suppression"),
    ]
    entries = {e["value"]: e for e in json.loads(cli("list", "--json")[1])}
    assert entries["a@acme.example"]["reason"] == "unsubscribe"
    assert entries["a@acme.example"]["source"] == "web form"
    assert entries["rivals.example"]["kind"] == "domain"
    assert entries["rivals.example"]["source"] == "optouts.csv"


def test_import_needs_a_known_column(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "x.csv"
    csv_file.write_text("name,phone\nAnn,123\n", encoding="utf-8")
    code, _, err = cli("import", str(csv_file))
    assert code == 2 and "column named email, domain or value" in err


DEMO = Path(__file__).resolve().parents[2] / "datasets" / "accounts_demo.jsonl"
HARBORLINE = [  # acc-001: the primary contact, and the colleague the inquiry lets us write to
    "marcus.reed@harborlinefreight.example",
    "tom.brannigan@harborlinefreight.example",
]


def test_run_writes_no_outreach_to_suppressed_contacts(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        return run_cli([*args, "--home", str(home)], capsys, monkeypatch)

    assert run("suppress", "add", *HARBORLINE, "--reason", "unsubscribe")[0] == 0
    code, out, err = run("run", str(DEMO), "--limit", "2", "--lm", "fake", "--json")
    assert code == 0, err
    harborline, crestmed = json.loads(out)["results"]
    assert harborline["account_id"] == "acc-001"
    assert harborline["outreach"] is None and harborline["colleague_messages"] == []
    assert harborline["suppressed"] == [f"{e} (unsubscribe)" for e in HARBORLINE]
    assert crestmed["outreach"] is not None and crestmed["colleague_messages"]
    assert crestmed["suppressed"] == []
    steps = json.loads(run("runs", "show", harborline["run_id"], "--json")[1])["steps"]
    reasons = {s["step"]: (s["status"], s["error_message"]) for s in steps}
    assert reasons["personalization"][0] == "skipped"
    assert (
        "marcus.reed@harborlinefreight.example is on the suppression list"
        in (reasons["personalization"][1])
    )
    assert reasons["colleague"] == ("skipped", "every colleague to write to is suppressed")


def test_score_rows_say_who_was_suppressed_and_a_rerun_honours_new_entries(
    home: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    def run(*args: str) -> tuple[int, str, str]:
        return run_cli([*args, "--home", str(home)], capsys, monkeypatch)

    out = tmp_path / "scored.csv"
    score = ("score", str(DEMO), "--out", str(out), "--lm", "fake", "--batch", "demo")
    assert run(*score)[0] == 0
    before = {r["account_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert before["acc-001"]["email_body"] and before["acc-001"]["suppressed"] == ""

    assert run("suppress", "add", "harborlinefreight.example", "--reason", "complaint")[0] == 0
    assert run(*score)[0] == 0
    after = {r["account_id"]: r for r in csv.DictReader(out.open(encoding="utf-8"))}
    assert after["acc-001"]["email_body"] == "" and after["acc-001"]["colleague_messages"] == ""
    assert "marcus.reed@harborlinefreight.example (complaint)" in after["acc-001"]["suppressed"]
    assert after["acc-002"]["email_body"] == before["acc-002"]["email_body"]
    assert after["acc-002"]["run_id"] == before["acc-002"]["run_id"]  # skipped, not re-run
