"""One demo account end to end on the real embedded model (opt-in, see conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from accountflow import Orchestrator, Store, load_accounts, load_seller
from accountflow.datasets import path as data_path
from accountflow.lm import build_lm
from accountflow.models import RunStatus, StepStatus
from accountflow.rules import check_outreach


@pytest.mark.local_model
def test_demo_account_end_to_end_on_embedded_model(home: Path) -> None:
    account = next(
        a
        for a in load_accounts(data_path("accounts_demo.jsonl")).accounts
        if a.account_id == "acc-001"
    )
    store = Store(home / "accountflow.duckdb")
    orch = Orchestrator(store, build_lm("local/qwen2.5-coder-0.5b", cache=False), load_seller())
    result = orch.run(account)
    steps = store.get_steps(result.run_id)
    print(result.model_dump_json(indent=2))
    for s in steps:
        print(s.step, s.status.value, s.duration_ms, s.lm_calls, s.rule_retries, s.error_message)
    assert result.model == "local/qwen2.5-coder-0.5b"
    assert all(s.lm_calls >= 1 for s in steps if s.status == StepStatus.succeeded)
    # research and analysis must give typed, valid output on the real model
    assert steps[0].status == StepStatus.succeeded and result.profile is not None
    assert steps[1].status == StepStatus.succeeded and result.analysis is not None
    # outreach either passes every output rule, or fails naming the rule (never a crash)
    personalization = steps[2]
    if personalization.status == StepStatus.succeeded:
        assert result.outreach is not None
        contact = account.primary_contact
        assert contact is not None
        assert check_outreach(result.outreach, contact.name or "", account.company_name) == []
    else:
        assert personalization.error_type == "RuleViolationError", personalization.error_message
        assert result.status == RunStatus.failed
