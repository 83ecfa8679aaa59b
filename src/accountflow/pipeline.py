"""`AccountPipeline`: the whole program as one `dspy.Module`, built from the step table.

This is what optimizers tune, evals score and `programs` save; the orchestrator runs the same
submodules one step at a time so it can record each. Submodules keep their step's `attr` name
(`researcher`, `analyst`, `personalizer`, `referrer`), so saved program JSON stays stable.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any

import dspy

from accountflow import steps
from accountflow.models import Account, SellerProfile


class AccountPipeline(dspy.Module):
    """The whole program: what optimizers tune and evals score end to end."""

    def __init__(self, max_rule_retries: int = 2, seed_demos: bool = True) -> None:
        """`seed_demos=False` starts the writing steps without the hand-written examples
        (`seed_demos.py`), e.g. to measure what they are worth."""
        super().__init__()
        options = steps.ProgramOptions(max_rule_retries, seed_demos)
        for step in steps.table():
            setattr(self, step.attr, step.build(options))

    def module(self, step: steps.Step) -> Any:
        """The submodule that runs `step`."""
        return getattr(self, step.attr)

    def run_step(
        self, step: steps.Step, state: steps.RunState, module: Any = None
    ) -> steps.StepOutput:
        """Run one step against a run state: its skip rule first (`steps.Skip` when it has
        nothing to do), then its module (`module` overrides this program's, for targets)."""
        reason = step.skip(state)
        if reason is not None:
            raise steps.Skip(reason)
        return step.run(module if module is not None else self.module(step), state)

    def forward(self, account: Account, seller: SellerProfile) -> dspy.Prediction:
        return self.run_steps(steps.table(), account, seller)

    def run_steps(
        self,
        selected: tuple[steps.Step, ...],
        account: Account,
        seller: SellerProfile,
        modules: Callable[[steps.Step], Any] | None = None,
    ) -> dspy.Prediction:
        """Run `selected` steps in order; a skipped step's output is its empty value, and its
        reason is under `skipped` (output name -> reason), so metrics can tell "nothing to do"
        (a disqualified account gets no outreach) from "failed to write".
        `modules` picks the module per step (a target's own copies of the tuned ones)."""
        from accountflow.sources.gather import default_gatherer

        state = steps.RunState(account=account, seller=seller, gather=default_gatherer())
        skipped: dict[str, str] = {}
        for step in selected:
            module = modules(step) if modules is not None else None
            try:
                state.outputs[step.output] = self.run_step(step, state, module).value
            except steps.Skip as skip:
                state.outputs[step.output] = step.empty()
                skipped[step.output] = str(skip)
        outputs = {step.output: state.outputs[step.output] for step in selected}
        return dspy.Prediction(**outputs, skipped=skipped)

    def version(self) -> str:
        """A short hash of the program state (instructions, demos): names what produced a step."""
        return program_version(self)


def program_version(program: dspy.Module) -> str:
    state: dict[str, Any] = program.dump_state()
    blob = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:12]
