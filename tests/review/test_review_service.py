"""The one review service, through the CLI: the queue with its filters, edits checked by the
output rules (refused with the rule named, nothing stored), restore, bulk approve, regenerate
with a word diff, and the edited text in the run's result and the batch outputs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow import Settings, Store
from accountflow.orchestrator import Orchestrator
from accountflow.review import EditRefused, edit, item, queue, word_diff
from tests.cli_runner import run_cli
from tests.review.conftest import BATCH, HOSTILE


def _ids(home: Path) -> list[str]:
    """The queue's run ids in account order (acc-001, acc-002, the hostile acc-003)."""
    with Store(home / "accountflow.duckdb") as store:
        return [i.run_id for i in sorted(queue(store), key=lambda i: i.account_id)]


def _sms(home: Path, run_id: str) -> str:
    with Store(home / "accountflow.duckdb") as store:
        return next(m.body for m in item(store, run_id).messages if m.channel == "sms")


def test_the_queue_lists_what_a_reviewer_needs(queue_home: dict, capsys, monkeypatch) -> None:
    home = queue_home["home"]
    with Store(home / "accountflow.duckdb") as store:
        items = queue(store)
        assert HOSTILE in [i.company_name for i in items]
        items = sorted(items, key=lambda i: i.account_id)
        first = items[0]
        assert first.batch == BATCH and first.fit_band in {"high", "medium", "low"}
        assert first.criteria and first.contacts and len(first.messages) == 4
        assert any(c.recipient for c in first.contacts)
        assert queue(store, batch="another") == []
        assert len(queue(store, band=first.fit_band)) >= 1
    code, out, err = run_cli(["review", "list", "--json"], capsys, monkeypatch)
    assert code == 0, err
    assert sorted(r["run_id"] for r in json.loads(out)) == sorted(i.run_id for i in items)
    code, _, err = run_cli(["review", "list", "--band", "huge"], capsys, monkeypatch)
    assert code == 2 and "fit band" in err and err.count("\n") == 1


def test_an_edit_that_breaks_a_rule_is_refused_with_the_rule_named(
    queue_home: dict, capsys, monkeypatch
) -> None:
    home = queue_home["home"]
    run_id = _ids(home)[0]
    before = _sms(home, run_id)
    cases = {
        "Hi Marcus, this is Maya from Northwind Data. Any BigQuery trouble at Harborline "
        "Freight? Reply YES.": "BigQuery",  # names what the account data does not
        "Hello [Name], Beacon for Harborline Freight? Reply YES.": "placeholder",
        "Hi Marcus, this is Maya from Northwind Data. " + "Harborline Freight " * 12: "limit",
        "Hi Marcus, this is Maya. Beacon for you? Reply YES.": "company",
    }
    for body, rule in cases.items():
        code, _, err = run_cli(
            ["review", "edit", run_id, "--channel", "sms", "--body", body, "--lm", "fake"],
            capsys,
            monkeypatch,
        )
        assert code == 2 and rule in err and "not saved" in err, (body, err)
        assert "Traceback" not in err
    assert _sms(home, run_id) == before
    with Store(home / "accountflow.duckdb") as store:
        assert store.reviews.edits(run_id) == []


def test_edit_restore_and_approve_put_the_edit_in_the_outputs(
    queue_home: dict, capsys, monkeypatch
) -> None:
    home, out = queue_home["home"], queue_home["out"]
    first, second, third = _ids(home)
    mine = (
        "Hi Marcus, this is Maya from Northwind Data. Freshness alerts at Harborline Freight "
        "after the Snowflake move? Reply YES for a call."
    )
    draft = _sms(home, first)
    args = ["review", "edit", first, "--channel", "sms", "--body", mine, "--reviewer", "sue"]
    code, _, err = run_cli([*args, "--lm", "fake"], capsys, monkeypatch)
    assert code == 0, err
    assert _sms(home, first) == mine
    code, _, err = run_cli(["review", "restore", first, "--channel", "sms"], capsys, monkeypatch)
    assert code == 0, err
    assert _sms(home, first) == draft  # the original is back; the edit stays on record
    code, _, err = run_cli([*args, "--lm", "fake", "--approve"], capsys, monkeypatch)
    assert code == 0, err
    with Store(home / "accountflow.duckdb") as store:
        edits = store.reviews.edits(first)
        assert [e.restored_at is None for e in edits] == [False, True]
        assert edits[-1].reviewer == "sue"
        run = store.get_run(first)
        assert run["status"] == "succeeded"
        sms = next(m for m in run["result"]["outreach"]["messages"] if m["channel"] == "sms")
        assert sms["body"] == mine
        decisions = store.reviews.history(first)
        assert [d.decision for d in decisions] == ["approve"]
        # the step record keeps the generated draft
        (step,) = [s for s in store.get_steps(first) if s.step == "personalization"]
        assert draft in json.dumps(step.output)

    # bulk approve: one already decided is reported, the other goes on
    code, _, err = run_cli(
        ["review", "approve", first, second, "--lm", "fake"], capsys, monkeypatch
    )
    assert code == 1 and "not awaiting review" in err
    code, _, err = run_cli(
        [
            "review",
            "reject",
            third,
            "--note",
            "Name their warehouse",
            "--regenerate",
            "--lm",
            "fake",
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    code, shown, err = run_cli(["review", "show", third], capsys, monkeypatch)
    assert "changes from the previous draft" in shown and "another look" in shown

    # the batch re-run writes the reviewed results: edited text, statuses, nothing run again
    code, _, err = run_cli([*queue_home["args"], "--batch", BATCH, "--quiet"], capsys, monkeypatch)
    rows = {r["run_id"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows[first]["sms"] == mine and rows[first]["status"] == "succeeded"
    assert rows[second]["status"] == "succeeded"
    assert rows[third]["status"] == "awaiting_review"
    assert "another look" in rows[third]["email_body"]


def test_an_edit_made_before_a_regeneration_does_not_apply_to_the_new_draft(
    queue_home: dict, capsys, monkeypatch
) -> None:
    home = queue_home["home"]
    run_id = _ids(home)[1]
    settings = Settings.load(lm="fake")
    with Store(settings.db_path) as store:
        orchestrator = Orchestrator.from_settings(settings, store)
        company = store.get_run(run_id)["company_name"]
        contact = item(store, run_id).messages[0].body.split(",")[0]  # "Hi Elaine"
        mine = f"{contact}, this is Maya from Northwind Data. Beacon for {company}? Reply YES."
        edit(orchestrator, run_id, "sms", mine, reviewer="sue")
        assert next(m for m in item(store, run_id).messages if m.channel == "sms").edited
        from accountflow.review import decide

        decide(orchestrator, run_id, "reject", "Shorter", "sue", regenerate=True)
        shown = item(store, run_id)
        sms = next(m for m in shown.messages if m.channel == "sms")
        assert shown.regenerated and not sms.edited and sms.body != mine
        with pytest.raises(EditRefused):
            edit(orchestrator, run_id, "sms", "Hi, {first_name}", reviewer="sue")


def test_word_diff_marks_words_and_keeps_both_sides() -> None:
    old, new = "Hi Ann, we saw the move to Snowflake.", "Hi Ann, we saw the Snowflake cutover."
    parts = word_diff(old, new)
    assert "".join(p.text for p in parts if p.op != "add") == old
    assert "".join(p.text for p in parts if p.op != "del") == new
    assert any(p.op == "add" and "cutover" in p.text for p in parts)


def _messages(home: Path, run_id: str) -> dict[str, str]:
    with Store(home / "accountflow.duckdb") as store:
        return {m.channel: m.body for m in item(store, run_id).messages}


def test_regenerate_one_message_keeps_the_others(queue_home: dict, capsys, monkeypatch) -> None:
    home = queue_home["home"]
    run_id = _ids(home)[0]
    before = _messages(home, run_id)
    code, _, err = run_cli(
        [
            *("review", "reject", run_id, "--note", "Warmer", "--regenerate"),
            *("--channel", "email", "--lm", "fake"),
        ],
        capsys,
        monkeypatch,
    )
    assert code == 0, err
    after = _messages(home, run_id)
    assert "another look" in after["email"] and after["email"] != before["email"]
    assert {c: after[c] for c in ("linkedin", "sms", "call")} == {
        c: before[c] for c in ("linkedin", "sms", "call")
    }
    with Store(home / "accountflow.duckdb") as store:
        shown = item(store, run_id)
        assert [m.channel for m in shown.messages if m.diff] == ["email"]
        assert store.get_run(run_id)["status"] == "awaiting_review"
        (redo,) = [
            s for s in store.get_steps(run_id) if s.step == "personalization" and s.attempt == 2
        ]
        assert redo.input["regenerated_channel"] == "email"
        assert store.reviews.history(run_id)[-1].channel == "email"
    code, _, err = run_cli(
        ["review", "reject", run_id, "--note", "x", "--channel", "email"], capsys, monkeypatch
    )
    assert code == 2 and "--channel goes with --regenerate" in err


def test_a_crash_while_one_message_is_rewritten_resumes_from_the_draft_seen(
    queue_home: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.modules import Personalizer
    from accountflow.review import decide

    home = queue_home["home"]
    run_id = _ids(home)[0]
    before = _messages(home, run_id)
    settings = Settings.load(lm="fake")
    with Store(settings.db_path) as store:
        orchestrator = Orchestrator.from_settings(settings, store)
        real_write = Personalizer.write

        def crash(*args: object, **kwargs: object) -> object:
            raise KeyboardInterrupt

        monkeypatch.setattr(Personalizer, "write", crash)
        with pytest.raises(KeyboardInterrupt):
            decide(orchestrator, run_id, "reject", "Warmer", "sue", True, "email")
        monkeypatch.setattr(Personalizer, "write", real_write)
        store.execute("UPDATE runs SET pid = 0 WHERE run_id = ?", [run_id])  # as after kill -9
    with Store(settings.db_path) as store:  # reopened: the run is marked interrupted
        orchestrator = Orchestrator.from_settings(settings, store)
        result = orchestrator.continue_run(run_id)
        assert result.status.value == "awaiting_review"
    after = _messages(home, run_id)
    assert "another look" in after["email"]
    assert {c: after[c] for c in ("linkedin", "sms", "call")} == {
        c: before[c] for c in ("linkedin", "sms", "call")
    }
