"""Optimizer recipes: one per optimizer family, with the defaults, the metric and the data.

A recipe is plain data (a pydantic model, logged to MLflow and stored with the program), so a
run is reproducible from its recipe, its seed and the dataset hashes it logs. `--set KEY=VALUE`
overrides a parameter, and only parameters the family knows are accepted, so a typo is an error
instead of a silently ignored setting. `--recipe FILE` replays a recipe saved from a run.

Defaults are sized for small models and small labeled sets (about 40 train, 20 dev): few demos,
few candidates. Candidate selection uses a slice held out from the train split (`val_fraction`),
never the dev split, so the dev score after optimization is not inflated by the search.
"""

from __future__ import annotations

import importlib.util
import json
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from accountflow.errors import ConfigError
from accountflow.evals.targets import calls_per_example, target_predictor_names
from accountflow.lm.ref import ModelRef

Family = Literal["labeled-fewshot", "bootstrap", "random-search", "mipro", "gepa", "copro", "simba"]
FAMILIES: tuple[str, ...] = (
    "labeled-fewshot",
    "bootstrap",
    "random-search",
    "mipro",
    "gepa",
    "copro",
    "simba",
)

# The parameters each family accepts (DSPy constructor or compile argument names, plus
# `val_fraction` for the families that select among candidates on a held-out slice of train,
# and bootstrap's `keep_start_demos`: BootstrapFewShot resets every predictor's demos, so a
# predictor none of whose traces passed would lose the hand-written seed demos small models
# need; with it, such a predictor keeps the demos it started with).
PARAMS: dict[str, frozenset[str]] = {
    "labeled-fewshot": frozenset({"k", "candidates", "val_fraction"}),
    "bootstrap": frozenset(
        {
            "max_bootstrapped_demos",
            "max_labeled_demos",
            "max_rounds",
            "metric_threshold",
            "max_errors",
            "keep_start_demos",
        }
    ),
    "random-search": frozenset(
        {
            "max_bootstrapped_demos",
            "max_labeled_demos",
            "max_rounds",
            "num_candidate_programs",
            "metric_threshold",
            "stop_at_score",
            "max_errors",
            "val_fraction",
        }
    ),
    "mipro": frozenset(
        {
            "auto",
            "max_bootstrapped_demos",
            "max_labeled_demos",
            "num_candidates",
            "num_trials",
            "minibatch",
            "minibatch_size",
            "init_temperature",
            "metric_threshold",
            "max_errors",
            "val_fraction",
        }
    ),
    "gepa": frozenset(
        {
            "auto",
            "max_metric_calls",
            "max_full_evals",
            "reflection_minibatch_size",
            "candidate_selection_strategy",
            "use_merge",
            "max_merge_invocations",
            "skip_perfect_score",
            "val_fraction",
        }
    ),
    "copro": frozenset({"breadth", "depth", "init_temperature"}),
    "simba": frozenset({"bsize", "num_candidates", "max_steps", "max_demos"}),
}

# Per-call token sizes of our prompts (instructions, seed demos, inputs) and answers, measured:
# a bootstrap run on personalization with the embedded model averaged 2,079 prompt and 123
# completion tokens over 39 calls.
PROMPT_TOKENS_PER_CALL = 2000
COMPLETION_TOKENS_PER_CALL = 150


class Recipe(BaseModel):
    """How to optimize: the family, its settings, the metric and the data."""

    model_config = ConfigDict(extra="forbid")

    name: str
    family: Family
    description: str = ""
    params: dict[str, Any] = Field(default_factory=dict)
    metrics: list[str] | None = None  # None: the target's default metrics (accountflow.evals)
    weights: dict[str, float] | None = None
    trainset: str = "train"
    devset: str = "dev"
    # held out of every choice the run makes: reported before and after, never selects
    testset: str | None = None
    train_limit: int | None = Field(default=None, ge=1)
    dev_limit: int | None = Field(default=None, ge=1)

    def with_overrides(self, **changes: Any) -> Recipe:
        """A copy with top-level fields and `params` entries changed (None leaves a field)."""
        params = {**self.params, **(changes.pop("params", None) or {})}
        data = self.model_dump()
        data.update({k: v for k, v in changes.items() if v is not None})
        data["params"] = params
        recipe = Recipe(**data)
        recipe.check()
        return recipe

    def check(self) -> None:
        unknown = sorted(set(self.params) - PARAMS[self.family])
        if unknown:
            allowed = ", ".join(sorted(PARAMS[self.family]))
            raise ConfigError(
                f"Recipe {self.name!r} ({self.family}) has no parameter {unknown[0]!r}; "
                f"it accepts: {allowed}."
            )

    @property
    def val_fraction(self) -> float:
        return float(self.params.get("val_fraction", 0.0))


def _r(name: str, family: Family, description: str, **params: Any) -> Recipe:
    return Recipe(name=name, family=family, description=description, params=params)


RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in [
        _r(
            "labeled-fewshot",
            "labeled-fewshot",
            "k gold demos built from the labeled train split (analysis step only; no LM calls; "
            "with candidates=N, N seeded demo sets and the starting program are scored on a "
            "slice held out of train and the best is kept)",
            k=4,
        ),
        _r(
            "bootstrap",
            "bootstrap",
            "BootstrapFewShot: run the program on train, keep traces scoring >= metric_threshold "
            "as demos (a predictor that got none keeps the demos it started with)",
            max_bootstrapped_demos=2,
            max_labeled_demos=0,
            max_rounds=1,
            metric_threshold=0.6,
            keep_start_demos=True,
        ),
        _r(
            "random-search",
            "random-search",
            "BootstrapFewShotWithRandomSearch: several bootstrapped demo sets, the best on a "
            "held-out slice of train wins",
            max_bootstrapped_demos=2,
            max_labeled_demos=0,
            max_rounds=1,
            num_candidate_programs=4,
            metric_threshold=0.6,
            val_fraction=0.3,
        ),
        *[
            _r(
                f"mipro-{mode}",
                "mipro",
                f"MIPROv2 auto={mode}: proposed instructions x bootstrapped demos, "
                "searched with optuna",
                auto=mode,
                max_bootstrapped_demos=2,
                max_labeled_demos=0,
                val_fraction=0.3,
            )
            for mode in ("light", "medium", "heavy")
        ],
        _r(
            "gepa",
            "gepa",
            "GEPA: reflective instruction evolution from metric feedback (needs a reflection LM)",
            auto="light",
            reflection_minibatch_size=3,
            candidate_selection_strategy="pareto",
            use_merge=False,
            val_fraction=0.3,
        ),
        _r(
            "copro",
            "copro",
            "COPRO: coordinate ascent over proposed instructions",
            breadth=3,
            depth=2,
            init_temperature=1.4,
        ),
        _r(
            "simba",
            "simba",
            "SIMBA: stochastic mini-batch ascent with self-reflective rules and demos",
            bsize=4,
            num_candidates=3,
            max_steps=3,
            max_demos=2,
        ),
    ]
}
ALIASES = {"mipro": "mipro-light", "labeled": "labeled-fewshot", "bootstrap-fewshot": "bootstrap"}


def get_recipe(name: str) -> Recipe:
    """A built-in recipe by name (`mipro` means `mipro-light`)."""
    key = ALIASES.get(name, name)
    if key not in RECIPES:
        names = ", ".join([*RECIPES, "mipro"])
        raise ConfigError(f"Unknown optimizer {name!r}; use one of: {names}.")
    return RECIPES[key].model_copy(deep=True)


def load_recipe(path: Path) -> Recipe:
    """A recipe from a JSON or YAML file (e.g. `recipe.json` from a run's MLflow artifacts)."""
    if not path.is_file():
        raise ConfigError(f"Recipe file {path} does not exist.")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))  # YAML is a superset of JSON
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"Recipe file {path} is not valid YAML/JSON ({type(exc).__name__})."
        ) from None
    try:
        recipe = Recipe(**(data or {}))
    except (TypeError, ValidationError) as exc:
        raise ConfigError(f"Recipe file {path} is not a recipe: {_first_error(exc)}.") from None
    recipe.check()
    return recipe


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        return f"field '{'.'.join(map(str, err['loc']))}' {err['msg'].lower()}"
    return str(exc)


def parse_sets(items: list[str]) -> dict[str, Any]:
    """`--set key=value` pairs; values are read as YAML scalars (2, 0.5, true, light, null)."""
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set expects KEY=VALUE, got {item!r}.")
        try:
            params[key.strip()] = yaml.safe_load(raw) if raw.strip() else None
        except yaml.YAMLError:
            params[key.strip()] = raw
    return params


def missing_dependency(family: str) -> str | None:
    """The install hint when an optional dependency a family needs is absent (checked before any
    LM call: MIPROv2 without optuna otherwise bootstraps and proposes first, then fails)."""
    needs = {
        "mipro": ("optuna", "pip install 'dspy[optuna]'"),
        "gepa": ("gepa", "pip install gepa"),
    }
    if family in needs:
        module, hint = needs[family]
        if importlib.util.find_spec(module) is None:
            return f"The {family} optimizer needs the '{module}' package: run {hint}."
    return None


# ---------------------------------------------------------------------------- estimates
class Estimate(BaseModel):
    """Calls and cost before a run starts: rough, printed so a budget can be chosen."""

    compile_calls: int
    eval_calls: int  # one dev evaluation
    total_calls: int  # before eval + compile + after eval (+ the test split's two)
    test_calls: int = 0  # one test evaluation (0 without --testset)
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None  # None when the model's price is unknown (local and fake: free)
    note: str = ""

    def line(self) -> str:
        cost = f"~${self.cost_usd:.4f}" if self.cost_usd is not None else "no price known"
        return (
            f"estimate: ~{self.total_calls} LM calls (compile ~{self.compile_calls}, each dev "
            f"evaluation ~{self.eval_calls}), ~{self.prompt_tokens + self.completion_tokens} "
            f"tokens, {cost}"
        )


def estimate_compile_calls(recipe: Recipe, target: str, n_train: int, n_val: int) -> int:
    """Upper-bound-ish LM calls of the optimizer's compile step (the families' own loops)."""
    p = recipe.params
    cpe = calls_per_example(target)
    preds = len(target_predictor_names(target))
    if recipe.family == "labeled-fewshot":
        cands = int(p.get("candidates", 1))
        return 0 if cands <= 1 else (cands + 1) * n_val * cpe
    if recipe.family == "bootstrap":
        return int(p.get("max_rounds", 1)) * n_train * cpe
    if recipe.family == "random-search":
        cands = int(p.get("num_candidate_programs", 16))
        return cands * n_train * cpe + (cands + 3) * n_val * cpe
    if recipe.family == "mipro":
        n = {"light": 6, "medium": 12, "heavy": 18}.get(str(p.get("auto")), 0)
        n = n or int(p.get("num_candidates") or 6)
        zero_shot = not (p.get("max_bootstrapped_demos", 4) or p.get("max_labeled_demos", 4))
        trials = int(
            p.get("num_trials")
            or max(2 * preds * (1 if zero_shot else 2) * math.log2(max(n, 2)), 1.5 * n)
        )
        val = min(
            n_val, {"light": 100, "medium": 300, "heavy": 1000}.get(str(p.get("auto")), n_val)
        )
        bootstrap = n * n_train * cpe
        proposals = n * preds + max(1, n_train // 10) + preds
        return bootstrap + proposals + (trials + 1) * val * cpe
    if recipe.family == "gepa":
        metric_calls = _gepa_metric_calls(recipe, preds, n_train, n_val)
        reflections = metric_calls // max(1, int(p.get("reflection_minibatch_size", 3)))
        return metric_calls * cpe + reflections
    if recipe.family == "copro":
        breadth, depth = int(p.get("breadth", 10)), int(p.get("depth", 3))
        return depth * preds * (1 + breadth * n_train * cpe)
    if recipe.family == "simba":
        bsize = min(int(p.get("bsize", 32)), n_train)
        cands, steps = int(p.get("num_candidates", 6)), int(p.get("max_steps", 8))
        return steps * (bsize * cands * cpe * 2 + cands) + n_train * cpe
    raise ConfigError(f"no estimate for optimizer family {recipe.family!r}")


def _gepa_metric_calls(recipe: Recipe, preds: int, n_train: int, n_val: int) -> int:
    p = recipe.params
    if p.get("max_metric_calls"):
        return int(p["max_metric_calls"])
    if p.get("max_full_evals"):
        return int(p["max_full_evals"]) * (n_train + n_val)
    n = {"light": 6, "medium": 12, "heavy": 18}.get(str(p.get("auto", "light")), 6)
    trials = int(max(2 * (preds * 2) * math.log2(n), 1.5 * n))
    full_evals = (trials + 1) // 5 + 1 + (1 if trials < 5 else 0)
    return n_val + n * 5 + trials * min(35, n_val) + full_evals * n_val


def estimate(
    recipe: Recipe,
    target: str,
    n_train: int,
    n_val: int,
    n_dev: int,
    models: list[str],
    n_test: int = 0,
) -> Estimate:
    """Calls, tokens and (for priced models) dollars of a whole optimize run."""
    compile_calls = estimate_compile_calls(recipe, target, n_train, n_val)
    eval_calls = n_dev * calls_per_example(target)
    test_calls = n_test * calls_per_example(target)
    total = compile_calls + 2 * eval_calls + 2 * test_calls
    prompt, completion = total * PROMPT_TOKENS_PER_CALL, total * COMPLETION_TOKENS_PER_CALL
    price = _price(models[0]) if models else None
    cost = None if price is None else prompt * price[0] + completion * price[1]
    return Estimate(
        compile_calls=compile_calls,
        eval_calls=eval_calls,
        test_calls=test_calls,
        total_calls=total,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost_usd=cost,
        note="rough: rule retries add calls, cache hits remove them",
    )


def _price(model: str) -> tuple[float, float] | None:
    """Per-token input/output prices from litellm's bundled price map; free for local/fake."""
    ref = ModelRef.parse(model)
    if ref.in_process:
        return (0.0, 0.0)
    try:
        import litellm  # lazy: ~7 s; only for remote providers, which need it anyway
    except ImportError:
        return None
    info = litellm.model_cost.get(ref.litellm_model) or litellm.model_cost.get(ref.name)
    if not info:
        return None
    return (
        float(info.get("input_cost_per_token") or 0.0),
        float(info.get("output_cost_per_token") or 0.0),
    )


def recipe_json(recipe: Recipe) -> str:
    return json.dumps(recipe.model_dump(mode="json"), indent=2, sort_keys=True)
