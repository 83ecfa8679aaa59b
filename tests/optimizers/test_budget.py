"""Metered LMs: call and dollar limits stop a run before the call that would exceed them."""

from __future__ import annotations

import threading

import dspy
import pytest

from accountflow.lm import fake_lm
from accountflow.lm.usage import CallUsage
from accountflow.optimizers.budget import BudgetExhausted, Meter, metered


def ask(lm: dspy.LM, question: str) -> str:
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()):
        return dspy.Predict("question -> answer")(question=question).answer


def test_the_call_limit_stops_before_the_call_and_names_the_limit() -> None:
    base = fake_lm("limit", cache=False)
    meter = Meter(max_calls=2)
    lm = metered(base, meter.phase("compile"))
    ask(lm, "a")
    ask(lm, "b")
    with pytest.raises(BudgetExhausted, match=r"compile: the call budget is spent \(2 LM calls"):
        ask(lm, "c")
    assert base.engine.calls == 2  # the third call never reached the engine
    assert meter.snapshot()["lm_calls"] == 2 and meter.prompt_tokens > 0


def test_cache_hits_cost_nothing_and_are_refunded() -> None:
    meter = Meter(max_calls=2)
    lm = metered(fake_lm("cached", cache=True), meter.phase("eval"))
    first = ask(lm, "same question")
    assert ask(lm, "same question") == first  # a cache hit: refunded
    ask(lm, "another question")  # so this provider call still fits the limit of 2
    assert (meter.calls, meter.cache_hits) == (2, 1)
    with pytest.raises(BudgetExhausted):
        ask(lm, "a third question")


def test_copies_and_threads_share_one_meter_and_cannot_overshoot() -> None:
    base = fake_lm("threads", cache=False)
    meter = Meter(max_calls=10)
    lm = metered(base, meter.phase("compile"))
    stopped = []

    def worker(n: int) -> None:
        copy = lm.copy(rollout_id=n, temperature=1.0)  # what BootstrapFewShot does
        assert copy.phase.meter is meter
        for i in range(5):
            try:
                ask(copy, f"{n}-{i}")
            except BudgetExhausted:
                stopped.append(n)
                return

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert base.engine.calls == 10 and meter.calls == 10
    assert stopped  # the workers that wanted more than the budget were stopped


def test_the_dollar_limit_applies_after_priced_calls() -> None:
    meter = Meter(budget_usd=0.01)
    phase = meter.phase("compile")
    meter.acquire(phase)
    meter.record(CallUsage("openai/x", prompt_tokens=100, completion_tokens=10, cost_usd=0.006))
    meter.acquire(phase)
    meter.record(CallUsage("openai/x", prompt_tokens=100, completion_tokens=10, cost_usd=0.006))
    with pytest.raises(BudgetExhausted, match=r"dollar budget is spent \(\$0.0120"):
        meter.acquire(phase)
    assert meter.snapshot()["cost_usd"] == pytest.approx(0.012)


def test_a_closed_phase_stays_closed_while_the_reserve_serves_the_next() -> None:
    meter = Meter(max_calls=5)
    compile_phase = meter.phase("compile", reserve_calls=2)
    for _ in range(3):
        meter.acquire(compile_phase)
    with pytest.raises(BudgetExhausted, match="in this phase"):
        meter.acquire(compile_phase)
    after = meter.phase("after")
    meter.acquire(after)
    meter.acquire(after)
    with pytest.raises(BudgetExhausted):
        meter.acquire(after)
    meter.calls = 0  # even with calls freed, the stopped compile phase never reopens
    with pytest.raises(BudgetExhausted):
        meter.acquire(compile_phase)


def test_a_spent_budget_is_not_swallowed_by_dspy_evaluate() -> None:
    """DSPy's Evaluate turns an ordinary exception into a 0 score and goes on; the budget
    stop must end the evaluation instead."""
    meter = Meter(max_calls=3)
    lm = metered(fake_lm("evaluate", cache=False), meter.phase("compile"))
    program = dspy.Predict("question -> answer")
    devset = [dspy.Example(question=f"q{i}", answer="x").with_inputs("question") for i in range(6)]
    evaluate = dspy.Evaluate(
        devset=devset, metric=lambda e, p, t=None: 1.0, num_threads=2, display_progress=False
    )
    with dspy.context(lm=lm, adapter=dspy.JSONAdapter()), pytest.raises(BudgetExhausted):
        evaluate(program)
    assert meter.calls == 3
