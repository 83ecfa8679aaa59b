"""Issue 12, item 16: step records count rule retries of a failed step, resumes do not pile
up `not_run` rows, the breaker does what its docstring says, and `select_channel` looks only
at the given contact's touches."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow import Settings, Store, load_accounts
from accountflow.campaign import CampaignContact, Touch, select_channel
from accountflow.datasets import path as data_path
from accountflow.models import Channel
from accountflow.orchestrator import Orchestrator
from accountflow.resilience import CircuitBreaker, CircuitOpenError
from tests.cli_runner import run_cli

DEMO = str(data_path("accounts_demo.jsonl"))


def test_a_step_failed_by_its_rules_records_its_rule_retries(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("accountflow.modules.check_message", lambda *a, **k: ["always broken"])
    account = next(a for a in load_accounts(DEMO).accounts if a.account_id == "acc-002")
    settings = Settings.load(lm="fake")
    with Store(settings.db_path) as store:
        result = Orchestrator.from_settings(settings, store).run(account)
        steps = store.get_steps(result.run_id)
    assert result.status.value == "failed"
    (step,) = [s for s in steps if s.step == "personalization"]
    assert step.status.value == "failed" and step.error_class == "permanent"
    assert step.lm_calls == settings.max_rule_retries + 1
    assert step.rule_retries == settings.max_rule_retries


def test_resuming_a_failing_run_records_not_run_steps_once(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ACCOUNTFLOW_MAX_ATTEMPTS", "1")
    code, out, _ = run_cli(
        ["run", DEMO, "--lm", "fake?fail_rate=1", "--limit", "1", "--json"], capsys, monkeypatch
    )
    run_id = json.loads(out)["results"][0]["run_id"]
    for _ in range(2):
        code, _, err = run_cli(["resume", run_id, "--json"], capsys, monkeypatch)
        assert code == 1, err
    with Store(home / "accountflow.duckdb") as store:
        records = store.get_steps(run_id)
    not_run = sorted(s.step for s in records if s.status.value == "not_run")
    assert not_run == ["analysis", "colleague", "personalization"]
    assert [s.attempt for s in records if s.step == "research"] == [1, 2, 3]

    code, _, err = run_cli(["resume", run_id, "--lm", "fake", "--json"], capsys, monkeypatch)
    assert code == 0, err
    with Store(home / "accountflow.duckdb") as store:
        analysis = [s for s in store.get_steps(run_id) if s.step == "analysis"]
    assert [(s.status.value, s.attempt) for s in analysis if s.status.value != "not_run"] == [
        ("succeeded", 1)
    ]


def test_the_breaker_stays_open_and_names_the_failures_that_opened_it() -> None:
    breaker = CircuitBreaker(2)
    assert breaker.failure("503") is False
    breaker.success()  # a success before it opens starts the count again
    assert breaker.failure("503") is False and breaker.failure("503") is True
    breaker.success()  # a call already in flight succeeds: the breaker stays open
    assert breaker.is_open
    with pytest.raises(CircuitOpenError, match="failed 2 times in a row"):
        breaker.check()


def test_select_channel_counts_only_this_contacts_touches() -> None:
    ana = CampaignContact(contact_id="ana", email="ana@x.example", phone="+1555")
    others = [Touch(touch_number=n, contact_id="bo", channel=Channel.email) for n in (1, 2, 3)]
    assert select_channel(others, ana) == Channel.email  # Bo's emails are not Ana's
    own = [Touch(touch_number=n, contact_id="ana", channel=Channel.email) for n in (4, 5)]
    assert select_channel([*others, *own], ana) == Channel.sms
