"""Options every `accountflow` command group spells the same way (one definition, one help)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

# Tables printed into a pipe or a log would otherwise fold at rich's default 80 columns.
_PIPE_WIDTH = 160


def console(stderr: bool = False) -> Console:
    """The console every command group prints through: the terminal's width on a terminal,
    `COLUMNS` or 160 columns when the output goes to a pipe or a file."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width)


def say(to: Console, label: str, text: object, style: str = "yellow") -> None:
    """One labelled line (`error: ...`, `warning: ...`); the text is escaped, so a message
    such as "pip install 'accountflow[local]'" is printed as written, not read as markup."""
    from rich.markup import escape

    to.print(f"[{style}]{label}:[/] {escape(str(text))}", highlight=False)


HomeOpt = Annotated[
    Path | None,
    typer.Option("--home", help="State dir (env ACCOUNTFLOW_HOME, default ./.accountflow)."),
]
LmOpt = Annotated[
    str | None,
    typer.Option(
        "--lm",
        help="Model: fake, local/qwen2.5-coder-0.5b (default), or a litellm string such as "
        "openai/gpt-4o-mini (env ACCOUNTFLOW_LM).",
    ),
]
ApiBaseOpt = Annotated[
    str | None,
    typer.Option("--api-base", help="OpenAI-compatible server URL (env ACCOUNTFLOW_API_BASE)."),
]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
