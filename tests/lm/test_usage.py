"""The one usage seam: a DSPy callback that counts every call, also where DSPy keeps no history
(`disable_history=True`), and feeds run records and optimizer budgets alike."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dspy
import pytest
from dspy.lm15 import Message, Request, Response, TextPart, Usage
from dspy.utils.exceptions import LMError

from accountflow import Orchestrator, Store, load_accounts, load_seller
from accountflow.datasets import path as data_path
from accountflow.lm import build_lm, collect_usage, fake_lm
from accountflow.lm.fake import AsyncFakeEngine, FakeEngine
from accountflow.lm.ref import Backend, ModelRef
from accountflow.lm.usage import TrackedLM
from accountflow.models import Account, RunStatus, StepStatus
from accountflow.optimizers.budget import BudgetExhausted, Meter, metered
from accountflow.resilience import RetryPolicy

NO_HISTORY = {"disable_history": True}


def _ask(lm: dspy.LM, question: str) -> str:
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        return str(dspy.Predict("question -> answer")(question=question).answer)


def _account() -> Account:
    return next(
        a
        for a in load_accounts(data_path("accounts_demo.jsonl")).accounts
        if a.account_id == "acc-001"
    )


class CutOnce(FakeEngine):
    """The first reply is cut off at max_tokens (as a provider does); later ones are whole."""

    def __init__(self, max_tokens: int) -> None:
        super().__init__()
        self.max_tokens = max_tokens

    def complete(self, request: Request) -> Response:
        whole = super().complete(request)
        if self.calls > 1:
            return whole
        text = "".join(p.text for p in whole.message.parts if isinstance(p, TextPart))
        return Response(
            id=None,
            model="fake",
            message=Message.assistant([TextPart(text[:8])]),  # too little for json_repair
            finish_reason="length",
            usage=Usage(input_tokens=10, output_tokens=self.max_tokens, total_tokens=10 + 50),
        )


def test_usage_is_counted_with_history_disabled() -> None:
    lm = build_lm("fake", cache=False)
    with dspy.context(**NO_HISTORY), collect_usage() as usage:
        _ask(lm, "one")
        _ask(lm, "two")
    assert lm.history == []  # DSPy kept nothing: the history hook would have read zero
    assert usage.lm_calls == 2 and usage.cache_hits == 0 and usage.failed_calls == 0
    assert usage.prompt_tokens > 0 and usage.completion_tokens > 0
    assert usage.cost_usd is None  # in-process models have no price
    assert usage.models == {"fake"}


def test_cache_hits_and_failures_are_told_apart_with_history_disabled() -> None:
    lm = build_lm("fake", cache=True)
    with dspy.context(**NO_HISTORY):
        with collect_usage() as first:
            _ask(lm, "same")
        with collect_usage() as second:
            _ask(lm, "same")
    assert (first.lm_calls, first.cache_hits) == (1, 0)
    assert (second.lm_calls, second.cache_hits) == (1, 1) and second.cache_hit
    assert second.prompt_tokens == 0

    failing = build_lm("fake?fail_rate=1", cache=False)
    with dspy.context(**NO_HISTORY), collect_usage() as usage, pytest.raises(LMError):
        _ask(failing, "x")
    assert (usage.lm_calls, usage.failed_calls, usage.cache_hits) == (0, 1, 0)


def test_dspy_track_usage_still_sees_every_call() -> None:
    lm = build_lm("fake", cache=False)
    with dspy.track_usage() as tracker, collect_usage() as usage:
        _ask(lm, "one")
    totals = tracker.get_total_tokens()["fake/default"]
    assert totals["prompt_tokens"] == usage.prompt_tokens > 0


def test_a_cut_off_reply_is_retried_with_history_disabled(home: Path) -> None:
    engine = CutOnce(max_tokens=50)
    lm = TrackedLM(
        "fake/cut",
        engine=engine,
        async_engine=AsyncFakeEngine(engine),
        cache=False,
        num_retries=0,
        max_tokens=50,
    )
    lm.ref = ModelRef(Backend.fake, "fake", "cut")
    orch = Orchestrator(
        Store(home / "accountflow.duckdb"),
        lm,
        load_seller(),
        retry=RetryPolicy(base_delay_s=0),
        sleep=lambda s: None,
    )
    with dspy.context(**NO_HISTORY):
        result = orch.run(_account())
    assert result.status == RunStatus.succeeded
    research = [s for s in orch.store.get_steps(result.run_id) if s.step == "research"]
    assert [s.status for s in research] == [StepStatus.failed, StepStatus.succeeded]
    assert research[0].error_class == "transient"
    assert "cut off" in (research[0].error_message or "")
    assert research[0].lm_calls == 1 and research[0].completion_tokens == 50
    assert research[1].lm_calls == 1 and research[1].prompt_tokens > 0
    assert research[1].model == "fake/cut"


def test_optimizer_budgets_count_through_the_same_seam_with_history_disabled() -> None:
    meter = Meter(max_calls=2)
    lm = metered(fake_lm("budget-no-history", cache=True), meter.phase("compile"))
    with dspy.context(**NO_HISTORY):
        first = _ask(lm, "q")
        assert _ask(lm, "q") == first  # a cache hit: refunded
        _ask(lm.copy(rollout_id=1, temperature=1.0), "other")  # a copy shares the meter
        with pytest.raises(BudgetExhausted, match="call budget is spent"):
            _ask(lm, "a third question")
    assert (meter.calls, meter.cache_hits) == (2, 1)
    figures = meter.snapshot()
    assert figures["prompt_tokens"] > 0 and figures["completion_tokens"] > 0
    assert lm.history == []


def test_remote_calls_are_priced_with_history_disabled(tmp_path: Path) -> None:
    from tests.resilience.stub_server import StubServer

    stub = StubServer().start()
    try:
        lm = build_lm("openai/gpt-4o-mini", api_base=stub.url, cache=False)
        meter = Meter()
        with dspy.context(**NO_HISTORY), collect_usage() as usage:
            _ask(metered(lm, meter.phase("eval")), "q")
    finally:
        stub.stop()
    assert usage.lm_calls == 1 and usage.prompt_tokens > 0
    assert usage.cost_usd is not None and usage.cost_usd > 0  # litellm's cost map
    assert meter.priced and meter.cost_usd == pytest.approx(usage.cost_usd)
    assert usage.models == {f"openai/gpt-4o-mini?api_base={_quoted(stub.url)}"}


def _quoted(url: str) -> Any:
    from urllib.parse import quote

    return quote(url, safe="/")


def test_async_calls_are_counted_and_leave_no_tracker_behind() -> None:
    import asyncio

    lm = build_lm("fake", cache=False)

    async def two_calls() -> None:
        predict = dspy.Predict("question -> answer")
        await predict.acall(question="a")
        await predict.acall(question="b")

    with dspy.context(lm=lm, adapter=dspy.JSONAdapter(), **NO_HISTORY), collect_usage() as usage:
        asyncio.run(two_calls())
    assert usage.lm_calls == 2 and usage.prompt_tokens > 0
    assert dspy.settings.usage_tracker is None  # the per-call tracker was removed again
