"""Eval and optimization targets: one pipeline step (or the whole pipeline) as a `dspy.Module`.

Targets come from the step table (`accountflow.steps`): a step's target runs that step and
every step it depends on, but only its own step's predictors are visible to DSPy
(`named_predictors()`), so an optimizer tunes that step alone while the upstream steps still
run with the same program (and hit DSPy's cache on repeats). Visible submodules keep the
pipeline's attribute names (`analyst.predict`, `personalizer.email`...), so a tuned target's
state maps back onto an `AccountPipeline`. `pipeline` is every step.
"""

from __future__ import annotations

import dspy

from accountflow import steps
from accountflow.errors import ConfigError
from accountflow.models import Account, SellerProfile
from accountflow.pipeline import AccountPipeline

PIPELINE = "pipeline"


def targets() -> tuple[str, ...]:
    """Every target name: one per step, then `pipeline`."""
    return (*steps.names(), PIPELINE)


def check_target(target: str) -> str:
    if target not in targets():
        raise ConfigError(f"Unknown target {target!r}; use one of: {', '.join(targets())}.")
    return target


def target_steps(target: str) -> tuple[steps.Step, ...]:
    """The steps a target runs, in order: its step and what that step reads."""
    check_target(target)
    return steps.table() if target == PIPELINE else steps.closure(target)


def visible_steps(target: str) -> tuple[steps.Step, ...]:
    """The steps whose predictors an optimizer of `target` tunes."""
    return steps.table() if target == PIPELINE else (steps.get(check_target(target)),)


def fields(target: str) -> tuple[str, ...]:
    """The prediction fields a target fills (what metrics may read)."""
    return tuple(step.output for step in target_steps(target))


def calls_per_example(target: str) -> int:
    """Uncached LM calls one example costs on `target`, before rule retries."""
    return sum(step.calls for step in target_steps(target))


class _Hidden:
    """Holds the program out of DSPy's sight: `named_parameters()` only walks Modules, lists,
    tuples and dicts, so predictors reached through this plain object are not tuned."""

    def __init__(self, program: AccountPipeline) -> None:
        self.program = program


class TargetModule(dspy.Module):
    """One target step of a pipeline, runnable on `(account, seller)` like the pipeline."""

    def __init__(self, target: str, program: AccountPipeline | None = None) -> None:
        super().__init__()
        self.target = check_target(target)
        program = program if program is not None else AccountPipeline()
        self._upstream = _Hidden(program)
        for step in visible_steps(self.target):
            setattr(self, step.attr, program.module(step))

    def _module(self, step: steps.Step) -> dspy.Module:
        """The target's own (tunable) module for a visible step, else the hidden program's:
        an optimizer's copy of this module keeps its copies of the visible steps."""
        if step in visible_steps(self.target):
            module: dspy.Module = getattr(self, step.attr)
            return module
        return self._upstream.program.module(step)

    def forward(self, account: Account, seller: SellerProfile) -> dspy.Prediction:
        return self._upstream.program.run_steps(
            target_steps(self.target), account, seller, self._module
        )


def build_target(target: str, program: AccountPipeline | None = None) -> TargetModule:
    """The target step of `program` (default: a fresh `AccountPipeline`) as a `dspy.Module`
    whose `forward(account, seller)` returns the pipeline's fields as far as the target goes."""
    return TargetModule(target, program)


def target_predictor_names(target: str) -> list[str]:
    """The predictor names an optimizer sees for `target`, as named in `AccountPipeline`."""
    return [name for name, _ in build_target(target).named_predictors()]
