"""Campaign research and touches run through the orchestrator: recorded steps with usage, the
program version and model, retried on a transient fault, on the promoted program."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dspy.lm15 import ServerError

from accountflow.campaign import CampaignEngine, StepAction
from accountflow.config import Settings
from accountflow.lm import fake_lm
from accountflow.models import StepStatus
from accountflow.pipeline import AccountPipeline
from accountflow.programs import promote, save_program
from accountflow.store import Store
from tests.campaign.helpers import FakeClock, make_lead, reading_responder

MARK = "PROMOTED-PROGRAM-MARK"


def _promoted(settings: Settings) -> str:
    program = AccountPipeline()
    for predictor in (program.personalizer.email, program.personalizer.linkedin):
        predictor.signature = predictor.signature.with_instructions(
            f"{MARK}: {predictor.signature.instructions}"
        )
    entry = save_program(settings, program, "personalization")
    promote(settings, entry.version)
    return entry.version


def test_a_touch_is_a_recorded_step_retried_on_a_transient_fault_on_the_promoted_program(
    home: Path, clock: FakeClock
) -> None:
    settings = Settings.load(home=home, lm="fake")
    version = _promoted(settings)
    prompts: list[str] = []
    faults = {"left": 1}

    def flaky_writer(request: Any, answer: Any) -> Any:
        system = request.system if isinstance(request.system, str) else ""
        text = system + "".join(m.text or "" for m in request.messages)
        if isinstance(answer, dict) and "subject" in answer:
            prompts.append(text)
            if faults["left"]:
                faults["left"] -= 1
                raise ServerError("provider overloaded", status=503, provider="fake")
        return reading_responder(request, answer)

    lm = fake_lm("orchestrated-touch", responder=flaky_writer, cache=False)
    settings = settings.model_copy(
        update={"retry": settings.retry.model_copy(update={"base_delay_s": 0.01})}
    )
    with CampaignEngine(settings=settings, lm=lm, clock=clock) as engine:
        started = engine.start(make_lead())
        assert started.success, started.error
        cid = started.campaign_id or ""
        result = engine.step(cid)
        assert (result.success, result.action) == (True, StepAction.sent), result.error
        camp = engine.db.get(cid)
        assert camp is not None and camp.run_id is not None
        assert (camp.program_version, camp.model) == (version, "fake/orchestrated-touch")
        records = engine.store.get_steps(camp.run_id)

    by_step: dict[str, list[Any]] = {}
    for record in records:
        by_step.setdefault(record.step, []).append(record)
    assert [r.status for r in by_step["research"]] == [StepStatus.succeeded]
    assert [r.status for r in by_step["analysis"]] == [StepStatus.succeeded]
    touches = sorted(by_step["touch"], key=lambda r: r.attempt)
    assert [(r.attempt, r.status, r.error_class) for r in touches] == [
        (1, StepStatus.failed, "transient"),
        (2, StepStatus.succeeded, None),
    ]
    done = touches[-1]
    assert done.lm_calls >= 1 and done.prompt_tokens > 0 and done.completion_tokens > 0
    assert done.program_version == version
    assert done.input["campaign_id"] == cid and done.input["touch"] == 1
    assert done.output["body"] == result.message.body if result.message else False
    assert prompts and all(MARK in p for p in prompts)  # the promoted program wrote it


def test_a_campaign_started_before_runs_were_recorded_gets_a_run_on_its_first_touch(
    home: Path, clock: FakeClock
) -> None:
    settings = Settings.load(home=home, lm="fake")
    lm = fake_lm("legacy-campaign", responder=reading_responder, cache=False)
    with CampaignEngine(settings=settings, lm=lm, clock=clock) as engine:
        cid = engine.start(make_lead()).campaign_id or ""
        engine.store.execute(
            "UPDATE campaigns SET run_id = NULL, program_version = NULL WHERE campaign_id = ?",
            [cid],
        )
        assert engine.step(cid).success
        camp = engine.db.get(cid)
        assert camp is not None and camp.run_id is not None
        assert [r.step for r in engine.store.get_steps(camp.run_id)] == ["touch"]
    with Store(settings.db_path) as store:
        assert store.get_run(camp.run_id)["status"] == "succeeded"
