"""A rejected or awaiting run stays so until a recorded decision releases it: `resume` cannot
bypass the review gate, also after a crash between recording the outreach and stopping for
review (the gate is derived from the recorded decisions, not from the flow that crashed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow import Settings, Store, load_accounts
from accountflow.datasets import path as data_path
from accountflow.orchestrator import Orchestrator
from tests.cli_runner import run_cli

DEMO = str(data_path("accounts_demo.jsonl"))


def _succeeded_steps(home: Path, run_id: str) -> list[str]:
    with Store(home / "accountflow.duckdb") as store:
        return [s.step for s in store.get_steps(run_id) if s.status.value == "succeeded"]


def _status(home: Path, run_id: str) -> str:
    with Store(home / "accountflow.duckdb") as store:
        return str(store.get_run(run_id)["status"])


def test_resume_of_a_rejected_run_is_refused(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, _ = run_cli(
        ["run", DEMO, "--lm", "fake", "--account-id", "acc-002", "--review", "always", "--json"],
        capsys,
        monkeypatch,
    )
    run_id = json.loads(out)["results"][0]["run_id"]
    code, _, err = run_cli(["review", "reject", run_id, "--note", "off"], capsys, monkeypatch)
    assert code == 0, err

    code, out, err = run_cli(["resume", run_id, "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 2 and "rejected in review" in err and err.count("\n") == 1
    assert _status(home, run_id) == "rejected"
    assert "colleague" not in _succeeded_steps(home, run_id)

    code, _, err = run_cli(["resume", run_id, "--lm", "fake"], capsys, monkeypatch)  # awaiting
    assert code == 2


def _crash_after_the_gated_step(monkeypatch: pytest.MonkeyPatch) -> None:
    """The process dies after personalization is recorded, before the run stops for review
    (the run is left `running`; `_die` then makes its process a dead one)."""

    def crash(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(Orchestrator, "_result", crash)


def _die(store: Store, run_id: str) -> None:
    """As after `kill -9`: the run's process is gone (the next open marks it interrupted)."""
    store.execute("UPDATE runs SET pid = 0 WHERE run_id = ?", [run_id])


def test_a_crash_before_the_review_stop_goes_back_to_review_on_resume(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    account = next(
        a for a in load_accounts(DEMO).accounts if a.account_id == "acc-002"
    )  # has a colleague to write to
    settings = Settings.load(lm="fake", review="always")
    with Store(settings.db_path) as store:
        orchestrator = Orchestrator.from_settings(settings, store)
        with monkeypatch.context() as patch:
            _crash_after_the_gated_step(patch)
            with pytest.raises(KeyboardInterrupt):
                orchestrator.run(account)
        (run,) = store.list_runs()
        run_id = run.run_id
        _die(store, run_id)
    assert _status(home, run_id) == "interrupted"
    assert "personalization" in _succeeded_steps(home, run_id)

    # resumed without --review: the run's recorded policy holds it for review
    code, out, err = run_cli(["resume", run_id, "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "awaiting_review" and not result["colleague_messages"]
    assert "colleague" not in _succeeded_steps(home, run_id)
    code, _, err = run_cli(["resume", run_id, "--lm", "fake"], capsys, monkeypatch)
    assert code == 2 and "awaiting review" in err

    # a crash in the regeneration after the rewritten outreach is recorded: back to review
    settings = Settings.load(lm="fake")
    with Store(settings.db_path) as store:
        from accountflow.review import decide

        orchestrator = Orchestrator.from_settings(settings, store)
        with monkeypatch.context() as patch:
            _crash_after_the_gated_step(patch)
            with pytest.raises(KeyboardInterrupt):
                decide(orchestrator, run_id, "reject", note="Shorter, please.", regenerate=True)
        _die(store, run_id)
    assert _succeeded_steps(home, run_id).count("personalization") == 1  # the rewrite
    code, out, err = run_cli(["resume", run_id, "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "awaiting_review" and "regenerated" in result["error"]
    assert "colleague" not in _succeeded_steps(home, run_id)

    # only a decision releases it
    code, out, err = run_cli(["review", "approve", run_id, "--lm", "fake"], capsys, monkeypatch)
    assert code == 0, err
    assert _status(home, run_id) == "succeeded"
    assert "colleague" in _succeeded_steps(home, run_id)
