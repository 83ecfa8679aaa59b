"""Eval suites: YAML files naming a target, a dataset, weighted metrics, thresholds, threads.

```yaml
name: smoke
description: a few dev examples end to end; fast on the fake engine (CI)
target: pipeline            # research | analysis | personalization | colleague | pipeline
dataset: dev                # a labeled split (train | dev | test) or a path to a .jsonl file
limit: 4                    # first N examples (optional)
threads: 4
metrics:                    # metric -> weight (accountflow eval metrics lists them)
  output_rules: 1
  grounding: 1
thresholds:
  fail_under: 0.6           # the aggregate must reach this (--fail-under overrides)
  tolerance: 0.02           # max aggregate drop against --baseline
  metric_tolerance: 0.05    # max drop of any one metric against --baseline (null: not gated)
  example_tolerance: 0.0    # an example whose score drops more than this is listed as worse
  metrics: {grounding: 0.8} # per-metric floors (optional)
  gate: threshold           # threshold | paired (--gate overrides): how the aggregate is gated
  confidence: 0.95          # the paired bootstrap's interval (gate: paired)
```

Bundled suites live next to this module in `suites/`; a path to any YAML file works too.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accountflow.errors import ConfigError
from accountflow.evals.metrics import resolve_weights
from accountflow.evals.targets import targets

RESERVED = frozenset({"run", "list", "show", "compare", "suites", "metrics"})


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid")

    fail_under: float | None = Field(default=None, ge=0.0, le=1.0)
    tolerance: float = Field(default=0.02, ge=0.0, le=1.0)
    metric_tolerance: float | None = Field(default=0.05, ge=0.0, le=1.0)
    example_tolerance: float = Field(default=0.0, ge=0.0, le=1.0)
    metrics: dict[str, float] = Field(default_factory=dict)
    # threshold: the aggregate may drop by at most `tolerance`; paired: it regresses only when
    # the paired bootstrap's `confidence` interval lies wholly below -tolerance (evals/stats.py)
    gate: Literal["threshold", "paired"] = "threshold"
    confidence: float = Field(default=0.95, gt=0.0, lt=1.0)


class Suite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[A-Za-z0-9][\w.-]*$")
    description: str = ""
    target: str
    dataset: str = "dev"
    limit: int | None = Field(default=None, ge=1)
    threads: int = Field(default=1, ge=1, le=64)
    metrics: dict[str, float] = Field(min_length=1)
    thresholds: Thresholds = Field(default_factory=Thresholds)
    source: str | None = Field(default=None, exclude=True)

    @field_validator("target")
    @classmethod
    def _known_target(cls, value: str) -> str:
        if value not in targets():
            raise ValueError(f"unknown target {value!r}; use one of: {', '.join(targets())}")
        return value

    @field_validator("name")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        if value in RESERVED:
            raise ValueError(f"{value!r} is an eval subcommand; pick another suite name")
        return value

    @property
    def uses_judge(self) -> bool:
        return self.metrics.get("judge", 0) > 0


def bundled_dir() -> Path:
    return Path(str(resources.files("accountflow.evals").joinpath("suites")))


def bundled_suites() -> list[str]:
    return sorted(p.stem for p in bundled_dir().glob("*.yaml"))


def load_suite(ref: str | Path) -> Suite:
    """A bundled suite by name, or a suite YAML file by path; validated, with every metric
    checked against the target."""
    ref_path = Path(ref)
    if ref_path.suffix in (".yaml", ".yml") or ref_path.is_file():
        if not ref_path.is_file():
            raise ConfigError(f"Suite file {ref_path} does not exist; check the path.")
        file = ref_path
        dataset_base = ref_path.parent
    else:
        file = bundled_dir() / f"{ref}.yaml"
        dataset_base = None
        if not file.is_file():
            raise ConfigError(
                f"No suite {str(ref)!r}; bundled suites: {', '.join(bundled_suites())} "
                "(or pass a path to a suite YAML file)."
            )
    try:
        data = yaml.safe_load(file.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"Suite file {file} is not valid YAML ({type(exc).__name__}).") from None
    if not isinstance(data, dict):
        raise ConfigError(f"Suite file {file} must be a YAML mapping (name, target, metrics...).")
    data.setdefault("name", file.stem)
    try:
        suite = Suite(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(root)"
        raise ConfigError(f"Suite file {file}: field '{field}': {err['msg'].lower()}.") from None
    try:
        resolve_weights(suite.target, None, suite.metrics)
        for name in suite.thresholds.metrics:
            if name not in suite.metrics:
                raise ConfigError(
                    f"threshold for metric {name!r}, which the suite does not compute"
                )
    except ConfigError as exc:
        raise ConfigError(f"Suite file {file}: {str(exc)[0].lower()}{str(exc)[1:]}") from None
    if dataset_base is not None and suite.dataset.endswith(".jsonl"):
        candidate = dataset_base / suite.dataset
        if not Path(suite.dataset).is_absolute() and candidate.is_file():
            suite.dataset = str(candidate)
    suite.source = str(file)
    return suite
