"""Run the `accountflow` console entry point in-process, as a script would see it."""

from __future__ import annotations

import sys

import pytest

from accountflow.cli import main


def run_cli(
    args: list[str], capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[int, str, str]:
    """(exit code, stdout, stderr) of `accountflow ARGS`."""
    monkeypatch.setattr(sys, "argv", ["accountflow", *args])
    with pytest.raises(SystemExit) as exit_info:
        main()
    captured = capsys.readouterr()
    return int(exit_info.value.code or 0), captured.out, captured.err
