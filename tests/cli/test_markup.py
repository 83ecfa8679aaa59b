"""Text from users, providers and models is printed as written: rich never reads it as markup.

Every marker below is something rich would swallow as a style tag (`[bold]`, `[/]`, an unknown
`[fake/x]`, a `[link=...]`), so each assertion fails if any print path interprets markup.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dspy.lm15 import Request, Response

from accountflow.datasets import path as data_path
from accountflow.lm.fake import FakeEngine
from accountflow.pipeline import AccountPipeline
from tests.cli_runner import run_cli

MARKS = "[bold]b[/] [fake/x] [link=https://e.test]l [/]"
ODD = f"odd-1 {MARKS}"  # an account id (free text) that also appears in titles and tables
SUMMARY = f"Freight carrier {MARKS}"  # model text: the research summary
BOOM = type("Boom[fake/x]", (RuntimeError,), {})  # a provider error whose class has brackets
MESSAGE = "refused [bold]now[/] by [fake/x], see [link=https://e.test]docs [/]"


def _accounts(tmp_path: Path, *ids: str) -> Path:
    """The first demo accounts, renamed IDS (distinct rows: no answer comes from the cache)."""
    lines = data_path("accounts_demo.jsonl").read_text().splitlines()
    rows = [{**json.loads(line), "account_id": i} for line, i in zip(lines, ids, strict=False)]
    path = tmp_path / "odd.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _model_writes_markup(monkeypatch: pytest.MonkeyPatch) -> None:
    original = FakeEngine.answer

    def answer(self: FakeEngine, *args: Any, **kwargs: Any) -> Any:
        reply = original(self, *args, **kwargs)
        if isinstance(reply, dict) and isinstance(reply.get("profile"), dict):
            reply["profile"]["summary"] = SUMMARY
        return reply

    monkeypatch.setattr(FakeEngine, "answer", answer)


def _provider_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: FakeEngine, request: Request) -> Response:
        raise BOOM(MESSAGE)

    monkeypatch.setattr(FakeEngine, "complete", refuse)


def _step_fails(*args: Any, **kwargs: Any) -> Any:
    raise BOOM(MESSAGE)  # recorded as error type "Boom[fake/x]"


def test_run_result_runs_list_stats_and_errors_print_brackets_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = _accounts(tmp_path, ODD, "odd-2")
    with monkeypatch.context() as patch:
        _model_writes_markup(patch)
        code, out, err = run_cli(
            ["run", str(accounts), "--lm", "fake", "--account-id", ODD], capsys, monkeypatch
        )
    assert code == 0, err
    assert f"Harborline Freight ({ODD})" in out  # the panel title
    assert SUMMARY in out  # the profile row

    with monkeypatch.context() as patch:
        patch.setattr(AccountPipeline, "run_step", _step_fails)
        code, out, err = run_cli(
            ["run", str(accounts), "--lm", "fake", "--account-id", "odd-2"], capsys, monkeypatch
        )
    assert code == 1
    assert MESSAGE in out  # the run's error row

    code, out, _ = run_cli(["runs", "list"], capsys, monkeypatch)
    assert code == 0 and ODD in out
    code, listed, _ = run_cli(["runs", "list", "--json"], capsys, monkeypatch)
    failed = next(r for r in json.loads(listed) if r["account_id"] == "odd-2")
    code, out, _ = run_cli(["runs", "show", failed["run_id"]], capsys, monkeypatch)
    assert code == 0 and MESSAGE in out

    code, out, _ = run_cli(["stats"], capsys, monkeypatch)
    assert code == 0 and "Boom[fake/x]" in out  # the top-errors table


def test_an_error_names_the_bracketed_value_as_given(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    code, _, err = run_cli(
        ["run", str(_accounts(tmp_path, "odd-2")), "--lm", "fake", "--account-id", ODD],
        capsys,
        monkeypatch,
    )
    assert code == 2 and repr(ODD) in err


def test_eval_failure_lines_print_the_provider_error_verbatim(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _provider_fails(monkeypatch)
    code, out, err = run_cli(
        ["eval", "smoke", "--lm", "fake", "--limit", "1", "--no-mlflow"], capsys, monkeypatch
    )
    assert code == 1
    # the "N example(s) failed" lines; DSPy prefixes the model as `[fake/default]`
    assert f"[fake/default] {MESSAGE}" in out
    assert "[1] " in err and " error (" in err  # the progress line keeps its counter


def test_campaign_messages_print_ids_and_errors_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    accounts = _accounts(tmp_path, ODD, "odd-2")
    start = ["campaign", "start", str(accounts), "--lm", "fake", "--account-id"]
    code, out, err = run_cli([*start, ODD], capsys, monkeypatch)
    assert code == 0, err
    assert f"{ODD} Harborline Freight: 3 contact(s)" in out
    with monkeypatch.context() as patch:
        _provider_fails(patch)
        code, out, err = run_cli([*start, "odd-2"], capsys, monkeypatch)
    assert code == 1 and "not started odd-2:" in out and MESSAGE in out
    code, out, _ = run_cli(["campaign", "list"], capsys, monkeypatch)
    assert code == 0 and ODD in out


def test_no_print_path_relies_on_markup() -> None:
    """The consoles print with markup off, so a `[red]...[/]` tag in a printed string would
    show as written: style through `styled(...)`/`say(...)` instead. (Progress-bar columns
    parse their own static templates, so `TextColumn(...)` may keep its tags.)"""
    import re

    import accountflow.campaign.cli
    import accountflow.cli
    import accountflow.evals.cli
    import accountflow.optimizers.cli

    tag = re.compile(r"\[(?:/|/?(?:bold|dim|italic|red|green|yellow|blue|cyan|magenta)\b[^\]]*)\]")
    found = []
    for module in (accountflow.cli, accountflow.campaign.cli, accountflow.evals.cli):
        found += _tags(module.__file__, tag)
    found += _tags(accountflow.optimizers.cli.__file__, tag)
    assert found == []


def _tags(file: str | None, tag: Any) -> list[str]:
    assert file is not None
    lines = Path(file).read_text().splitlines()
    return [
        f"{Path(file).name}:{n}: {line.strip()}"
        for n, line in enumerate(lines, 1)
        if tag.search(line) and "TextColumn(" not in line
    ]
