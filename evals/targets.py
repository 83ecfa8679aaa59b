"""Eval and optimization targets: one pipeline step (or the whole pipeline) as a `dspy.Module`.

A target module runs every step up to and including its own, but only its own step's
predictors are visible to DSPy (`named_predictors()`), so an optimizer tunes that step alone
while the upstream steps still run with the same program (and hit DSPy's cache on repeats).
Visible submodules keep the pipeline's attribute names (`analyst.predict`,
`personalizer.email`...), so a tuned target's state maps back onto an `AccountPipeline`.
"""

from __future__ import annotations

from typing import Literal

import dspy

from accountflow.errors import ConfigError
from accountflow.models import Account, SellerProfile
from accountflow.modules import AccountPipeline

Target = Literal["research", "analysis", "personalization", "colleague", "pipeline"]
TARGETS: tuple[str, ...] = ("research", "analysis", "personalization", "colleague", "pipeline")

# Which pipeline submodules each target exposes to DSPy (the rest run hidden, upstream).
_VISIBLE: dict[str, tuple[str, ...]] = {
    "research": ("researcher",),
    "analysis": ("analyst",),
    "personalization": ("personalizer",),
    "colleague": ("referrer",),
    "pipeline": ("researcher", "analyst", "personalizer", "referrer"),
}

# The prediction fields each target fills (what metrics may read).
FIELDS: dict[str, tuple[str, ...]] = {
    "research": ("profile",),
    "analysis": ("profile", "analysis"),
    "personalization": ("profile", "analysis", "outreach"),
    "colleague": ("colleague_messages",),
    "pipeline": ("profile", "analysis", "outreach", "colleague_messages"),
}


def check_target(target: str) -> str:
    if target not in TARGETS:
        raise ConfigError(f"Unknown target {target!r}; use one of: {', '.join(TARGETS)}.")
    return target


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
        for name in _VISIBLE[self.target]:
            setattr(self, name, getattr(program, name))

    def _step(self, name: str) -> dspy.Module:
        if name in _VISIBLE[self.target]:
            return getattr(self, name)
        return getattr(self._upstream.program, name)

    def forward(self, account: Account, seller: SellerProfile) -> dspy.Prediction:
        fields = FIELDS[self.target]
        out: dict[str, object] = {}
        if "profile" in fields:
            out["profile"] = self._step("researcher")(account=account).profile
        if "analysis" in fields:
            out["analysis"] = self._step("analyst")(
                account=account, profile=out["profile"], seller=seller
            ).analysis
        if "outreach" in fields:
            contact = account.primary_contact
            out["outreach"] = (
                None
                if contact is None
                else self._step("personalizer")(
                    account=account, contact=contact, analysis=out["analysis"], seller=seller
                ).plan
            )
        if "colleague_messages" in fields:
            out["colleague_messages"] = self._step("referrer")(
                account=account, seller=seller
            ).messages
        return dspy.Prediction(**out)


def build_target(target: str, program: AccountPipeline | None = None) -> TargetModule:
    """The target step of `program` (default: a fresh `AccountPipeline`) as a `dspy.Module`
    whose `forward(account, seller)` returns the pipeline's fields as far as the target goes."""
    return TargetModule(target, program)


def target_predictor_names(target: str) -> list[str]:
    """The predictor names an optimizer sees for `target`, as named in `AccountPipeline`."""
    return [name for name, _ in build_target(target).named_predictors()]
