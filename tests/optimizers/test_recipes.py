"""Recipes: one per family, checked parameters, replayable files, estimates, dependency checks."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import dspy
import pytest

from accountflow.config import Settings
from accountflow.errors import ConfigError
from accountflow.optimizers import FAMILIES, RECIPES, OptimizeRequest, get_recipe, prepare
from accountflow.optimizers.recipes import estimate, load_recipe, parse_sets, recipe_json
from accountflow.optimizers.runner import split_val


def test_every_family_has_a_recipe_with_valid_parameters() -> None:
    assert {r.family for r in RECIPES.values()} == set(FAMILIES)
    assert {"mipro-light", "mipro-medium", "mipro-heavy"} <= set(RECIPES)
    assert get_recipe("mipro").name == "mipro-light"
    for recipe in RECIPES.values():
        recipe.check()
        assert recipe.description
    with pytest.raises(ConfigError, match="Unknown optimizer 'mipro2'"):
        get_recipe("mipro2")


def test_overrides_are_checked_against_the_family() -> None:
    recipe = get_recipe("bootstrap").with_overrides(
        train_limit=5, params=parse_sets(["max_bootstrapped_demos=3", "metric_threshold=0.5"])
    )
    assert recipe.train_limit == 5 and recipe.params["max_bootstrapped_demos"] == 3
    assert recipe.params["metric_threshold"] == 0.5
    assert get_recipe("bootstrap").params["max_bootstrapped_demos"] == 2  # built-ins untouched
    with pytest.raises(ConfigError, match="has no parameter 'num_trials'"):
        get_recipe("bootstrap").with_overrides(params={"num_trials": 3})
    with pytest.raises(ConfigError, match="KEY=VALUE"):
        parse_sets(["nonsense"])
    assert parse_sets(["auto=null", "use_merge=true", "auto2=light"]) == {
        "auto": None,
        "use_merge": True,
        "auto2": "light",
    }


def test_a_recipe_file_replays_the_run(tmp_path: Path) -> None:
    recipe = get_recipe("random-search").with_overrides(dev_limit=3, metrics=["fit_band"])
    path = tmp_path / "recipe.json"
    path.write_text(recipe_json(recipe))
    assert load_recipe(path) == recipe
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nfamily: annealing\n")
    with pytest.raises(ConfigError, match="field 'family'"):
        load_recipe(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_recipe(tmp_path / "missing.yaml")


def test_estimates_grow_with_the_data_and_the_search() -> None:
    small = estimate(get_recipe("bootstrap"), "analysis", 4, 0, 2, ["fake"])
    large = estimate(get_recipe("bootstrap"), "analysis", 40, 0, 20, ["fake"])
    assert 0 < small.total_calls < large.total_calls
    assert small.eval_calls == 4 and small.cost_usd == 0.0
    assert (
        estimate(get_recipe("labeled-fewshot"), "analysis", 40, 0, 20, ["fake"]).compile_calls == 0
    )
    light = estimate(get_recipe("mipro-light"), "personalization", 28, 12, 20, ["fake"])
    heavy = estimate(get_recipe("mipro-heavy"), "personalization", 28, 12, 20, ["fake"])
    assert light.compile_calls < heavy.compile_calls
    assert "LM calls" in light.line()


def test_the_validation_slice_comes_from_train_and_is_seeded() -> None:
    examples = [dspy.Example(i=i) for i in range(10)]
    train, val = split_val(examples, 0.3, seed=1)
    assert len(val) == 3 and len(train) == 7
    assert {e.i for e in train} | {e.i for e in val} == set(range(10))
    assert split_val(examples, 0.3, seed=1) == (train, val)
    assert split_val(examples, 0.0, seed=1) == (examples, [])


def test_missing_optuna_fails_before_any_lm_call(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "optuna" else real(name, *a)
    )
    request = OptimizeRequest(target="analysis", recipe=get_recipe("mipro"), lm="fake")
    with pytest.raises(ConfigError, match=r"needs the 'optuna' package: run pip install"):
        prepare(Settings.load(lm="fake"), request)


def test_labeled_fewshot_only_where_labels_describe_the_step(home: Path) -> None:
    request = OptimizeRequest(
        target="personalization", recipe=get_recipe("labeled-fewshot"), lm="fake"
    )
    with pytest.raises(ConfigError, match="only for analysis"):
        prepare(Settings.load(lm="fake"), request)


def test_a_call_budget_below_the_two_evaluations_is_refused(home: Path) -> None:
    request = OptimizeRequest(
        target="analysis",
        recipe=get_recipe("bootstrap").with_overrides(dev_limit=5),
        lm="fake",
        max_calls=12,
    )
    with pytest.raises(ConfigError, match="cannot cover the two dev evaluations"):
        prepare(Settings.load(lm="fake"), request)


def test_missing_credentials_fail_before_any_call(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from accountflow.lm import key_env

    key_var = key_env("openai/gpt-4o-mini")
    monkeypatch.delenv(key_var, raising=False)  # explicit: this test needs no key
    request = OptimizeRequest(
        target="analysis", recipe=get_recipe("bootstrap"), lm="openai/gpt-4o-mini"
    )
    with pytest.raises(ConfigError, match=key_var):
        prepare(Settings.load(lm="fake"), request)
