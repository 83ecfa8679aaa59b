"""The program registry: versions, files, promotion, load_program, diffs."""

from __future__ import annotations

import json
from pathlib import Path

import dspy
import pytest

from accountflow.config import Settings, load_seller
from accountflow.datasets import path as data_path
from accountflow.errors import ConfigError, InputError, NotFoundError
from accountflow.io import load_accounts
from accountflow.lm import fake_lm
from accountflow.orchestrator import Orchestrator
from accountflow.pipeline import AccountPipeline, program_version
from accountflow.programs import (
    ProgramMeta,
    diff_states,
    get_program,
    list_programs,
    load_program,
    program_state,
    promote,
    promoted_version,
    render_diff,
    resolve_program,
    save_program,
)
from accountflow.store import Store


def tuned(instructions: str = "Be brief.", demos: int = 0) -> AccountPipeline:
    program = AccountPipeline()
    predict = program.analyst.predict
    predict.signature = predict.signature.with_instructions(instructions)
    predict.demos = [
        dspy.Example(account=f"company_name: Demo {i}", seller="s", analysis={"fit_score": i})
        for i in range(demos)
    ]
    return program


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings.load(lm="fake")


def test_a_saved_program_is_versioned_by_its_state_and_loads_back(settings: Settings) -> None:
    program = tuned(demos=2)
    entry = save_program(
        settings,
        program,
        "analysis",
        ProgramMeta(optimizer="bootstrap", dev_score=0.5, metrics={"fit": 0.5}),
    )
    assert entry.version == program_version(program) != program_version(AccountPipeline())
    assert Path(entry.path) == settings.programs_dir / f"{entry.version}.json"
    loaded = load_program(settings, entry.version)
    assert program_version(loaded) == entry.version
    assert loaded.analyst.predict.signature.instructions == "Be brief."
    assert len(loaded.analyst.predict.demos) == 2
    # a unique prefix works like a git commit prefix; the file is DSPy's own format
    assert program_version(load_program(settings, entry.version[:5])) == entry.version
    plain = AccountPipeline()
    plain.load(entry.path)
    assert program_version(plain) == entry.version
    assert [e.version for e in list_programs(settings)] == [entry.version]
    assert list_programs(settings, target="research") == []
    assert get_program(settings, entry.version).metrics == {"fit": 0.5}


def test_saving_the_same_program_again_keeps_one_entry(settings: Settings) -> None:
    first = save_program(settings, tuned(), "analysis", {"mlflow_run_id": "run-1"})
    again = save_program(settings, tuned(), "analysis", {"mlflow_run_id": "run-2"})
    assert again.version == first.version and again.created_at == first.created_at
    assert again.mlflow_run_id == "run-2"
    assert len(list_programs(settings)) == 1


def test_a_predictor_lm_is_never_saved(settings: Settings) -> None:
    program = tuned()
    program.analyst.predict.lm = fake_lm("baked", cache=False)
    entry = save_program(settings, program, "analysis")
    state = json.loads(Path(entry.path).read_text())
    assert state["analyst.predict"]["lm"] is None
    assert entry.version == program_version(tuned())


def test_unknown_and_ambiguous_refs_are_clear_errors(settings: Settings) -> None:
    seen: dict[str, str] = {}
    i = 0
    while True:  # two programs whose versions share a first hex digit
        version = save_program(settings, tuned(f"Variant {i}."), "analysis").version
        if version[0] in seen:
            break
        seen[version[0]] = version
        i += 1
    with pytest.raises(NotFoundError, match="ambiguous"):
        get_program(settings, version[0])
    with pytest.raises(NotFoundError, match="programs list"):
        load_program(settings, "abcdef999999")
    with pytest.raises(NotFoundError, match="not a program version"):
        load_program(settings, "not-a-version")


def test_promotion_decides_what_loads_and_step_records_name_it(settings: Settings) -> None:
    assert promoted_version(settings) is None
    default = resolve_program(settings)
    assert default.source == "default"
    assert default.version == program_version(AccountPipeline())
    entry = save_program(settings, tuned("Score strictly."), "analysis")

    promoted = promote(settings, entry.version[:6])
    assert promoted is not None and promoted.promoted
    chosen = resolve_program(settings)
    assert (chosen.version, chosen.source) == (entry.version, "promoted")
    assert [e.promoted for e in list_programs(settings)] == [True]

    account = load_accounts(data_path("accounts_demo.jsonl")).accounts[0]
    with Store(settings.db_path) as store:
        program = load_program(settings, store=store)
        result = Orchestrator(
            store, fake_lm("promo", cache=False), load_seller(), program=program
        ).run(account)
        steps = store.get_steps(result.run_id)
    assert result.program_version == entry.version
    assert steps and {s.program_version for s in steps} == {entry.version}

    assert promote(settings, "default") is None
    assert resolve_program(settings).source == "default"
    assert promoted_version(settings) is None


def test_a_program_json_path_is_a_ref(settings: Settings, tmp_path: Path) -> None:
    path = tmp_path / "mine.json"
    tuned("From a file.").save(str(path))
    loaded = resolve_program(settings, str(path))
    assert loaded.source == "file"
    assert loaded.program.analyst.predict.signature.instructions == "From a file."


def test_an_edited_or_missing_program_file_is_refused(settings: Settings) -> None:
    entry = save_program(settings, tuned(), "analysis")
    path = Path(entry.path)
    state = json.loads(path.read_text())
    state["analyst.predict"]["signature"]["instructions"] = "Edited by hand."
    path.write_text(json.dumps(state))
    with pytest.raises(ConfigError, match="was edited"):
        load_program(settings, entry.version)
    path.unlink()
    with pytest.raises(ConfigError, match="is missing"):
        load_program(settings, entry.version)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not json", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ('{"x": {}}', "not an AccountPipeline state"),
    ],
)
def test_bad_program_files_are_input_errors(
    settings: Settings, tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bad.json"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        load_program(settings, str(path))


def test_diff_names_instruction_and_demo_changes() -> None:
    before = AccountPipeline()
    after = tuned("You are a careful analyst.\nScore strictly.", demos=1)
    diff = diff_states(program_state(before), program_state(after), "base", "new")
    assert [p.name for p in diff.changed] == ["analyst.predict"]
    change = diff.changed[0]
    assert (change.demos_before, change.demos_after) == (0, 1)
    text = render_diff(diff)
    assert "## analyst.predict" in text
    assert "+Score strictly." in text
    assert "-You are a B2B sales analyst." in text
    assert "Demos: 0 -> 1" in text and "company_name: Demo 0" in text
    same = render_diff(diff_states(program_state(before), program_state(before)))
    assert "No instruction, field or demo changes." in same
