"""The step table is the one definition of a step: a toy step added to it alone runs, resumes,
evaluates, is estimated and appears in batch outputs."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import dspy
import pytest

from accountflow import steps
from accountflow.batch import BatchScorer
from accountflow.config import Settings
from accountflow.datasets import path as data_path
from accountflow.evals.targets import build_target, calls_per_example, fields, targets
from accountflow.io import load_accounts
from accountflow.lm import fake_lm
from accountflow.models import AccountResult, RunStatus, StepStatus
from accountflow.optimizers.recipes import estimate, get_recipe
from accountflow.orchestrator import Orchestrator
from accountflow.outputs import flatten, output_columns
from accountflow.pipeline import AccountPipeline
from accountflow.store import Store


class Headline(dspy.Module):
    """A toy step: one line about the account, written from the analysis."""

    def __init__(self) -> None:
        super().__init__()
        self.predict = dspy.Predict("account, analysis -> headline")
        self.broken = False

    def forward(self, account: str, analysis: str) -> dspy.Prediction:
        if self.broken:
            raise RuntimeError("toy step broken on purpose")
        return self.predict(account=account, analysis=analysis)


def _run(module: Headline, state: steps.RunState) -> steps.StepOutput:
    analysis = state.require("analysis")
    out = module(account=state.account.company_name, analysis=analysis.approach)
    return steps.StepOutput(f"HEADLINE: {out.headline}")


TOY = steps.Step(
    name="headline",
    attr="headliner",
    build=lambda options: Headline(),
    output="headline",
    reads=("analysis",),
    run=_run,
    load=str,
    record_input=lambda state: {"company": state.account.company_name},
    columns=("headline",),
    flatten=lambda value: {"headline": value},
    calls=1,
)


@pytest.fixture
def toy_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(steps, "STEPS", (*steps.STEPS, TOY))


def _settings(home: Path) -> Settings:
    return Settings.load(home=home, lm="fake")


def test_a_toy_step_runs_and_resumes_through_the_table(toy_table: None, home: Path) -> None:
    account = load_accounts(data_path("accounts_demo.jsonl")).accounts[0]
    settings = _settings(home)
    program = AccountPipeline()
    assert isinstance(program.headliner, Headline)
    program.headliner.broken = True
    lm = fake_lm("toy-step", cache=False)
    with Store(settings.db_path) as store:
        orchestrator = Orchestrator.from_settings(settings, store, lm=lm, program=program)
        failed = orchestrator.run(account)
        assert failed.status == RunStatus.failed
        assert (failed.error or "").startswith("headline failed: toy step broken on purpose")
        before = store.get_steps(failed.run_id)
        assert [s.step for s in before if s.status == StepStatus.succeeded] == [
            "research",
            "analysis",
            "personalization",
            "colleague",
        ]

        program.headliner.broken = False
        resumed = orchestrator.resume(failed.run_id)
        after = store.get_steps(failed.run_id)
    assert resumed.status == RunStatus.succeeded
    assert resumed.extra["headline"].startswith("HEADLINE: ")
    new = [s for s in after if s.step_id not in {b.step_id for b in before}]
    assert [(s.step, s.status, s.attempt) for s in new] == [
        ("headline", StepStatus.succeeded, 2)
    ]  # only the toy step ran again, its attempts counted across the resume
    assert new[0].input == {"company": account.company_name}
    assert new[0].lm_calls == 1 and new[0].program_version == orchestrator.program_version


def test_a_toy_step_is_a_target_estimated_and_evaluated(toy_table: None) -> None:
    assert "headline" in targets()
    assert fields("headline") == ("profile", "analysis", "headline")
    assert calls_per_example("headline") == 3  # research + analysis + headline
    module = build_target("headline")
    assert [name for name, _ in module.named_predictors()] == ["headliner.predict"]
    assert estimate(get_recipe("bootstrap"), "headline", 4, 2, 2, ["fake"]).eval_calls == 6

    account = load_accounts(data_path("accounts_demo.jsonl")).accounts[1]
    example = dspy.Example(account=account, seller=Settings.load(lm="fake").seller()).with_inputs(
        "account", "seller"
    )

    def metric(example: Any, prediction: Any, trace: Any = None) -> float:
        return float(prediction.headline.startswith("HEADLINE: "))

    with dspy.context(lm=fake_lm("toy-eval", cache=False), adapter=dspy.JSONAdapter()):
        result = dspy.Evaluate(devset=[example], metric=metric, num_threads=1)(module)
    assert result.score == 100.0


def test_a_toy_step_appears_in_batch_outputs(toy_table: None, home: Path) -> None:
    assert output_columns().index("headline") == output_columns().index("colleague_messages") + 1
    settings = _settings(home)
    out = home / "scored.csv"
    with Store(settings.db_path) as store:
        orchestrator = Orchestrator.from_settings(
            settings, store, lm=fake_lm("toy-batch", cache=False)
        )
        summary = BatchScorer(
            orchestrator, data_path("accounts_demo.jsonl"), out, concurrency=2, limit=3
        ).run()
    assert summary.succeeded == 3
    with out.open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 3 and all(r["headline"].startswith("HEADLINE: ") for r in rows)


def test_without_the_toy_the_table_is_the_four_steps() -> None:
    assert steps.names() == ("research", "analysis", "personalization", "colleague")
    assert "headline" not in output_columns()
    assert [s.name for s in steps.closure("personalization")] == [
        "research",
        "analysis",
        "personalization",
    ]
    empty = AccountResult(
        run_id="r",
        account_id="a",
        company_name="c",
        status=RunStatus.failed,
        model="m",
        program_version="v",
    )
    assert list(flatten(empty)) == output_columns()
