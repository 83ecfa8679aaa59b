"""Options every `accountflow` command group spells the same way (one definition, one help)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.text import Text

# Tables printed into a pipe or a log would otherwise fold at rich's default 80 columns.
_PIPE_WIDTH = 160


def console(stderr: bool = False) -> Console:
    """The console every command group prints through: the terminal's width on a terminal,
    `COLUMNS` or 160 columns when the output goes to a pipe or a file.

    Markup is off: every string printed, every table cell and rule title is shown as written,
    so user, provider and model text such as `[fake/x]` or `[bold]` never turns into style
    tags and vanishes. Styling is explicit, through `styled` (or a `style=` argument)."""
    stream = sys.stderr if stderr else sys.stdout
    width = None
    if not stream.isatty() and "COLUMNS" not in os.environ:
        width = _PIPE_WIDTH
    return Console(stderr=stderr, soft_wrap=True, width=width, markup=False)


def styled(*parts: str | tuple[str, str]) -> Text:
    """A line built from plain strings and `(text, style)` pairs, none of it read as markup:
    the one way the CLI colours part of a line, and what Panel titles and spinners take
    (they would parse a plain string as markup even on a console with markup off)."""
    return Text.assemble(*parts)


def say(to: Console, label: str, text: object, style: str = "yellow") -> None:
    """One labelled line (`error: ...`, `warning: ...`); the text is printed as written, so a
    message such as "pip install 'accountflow[local]'" keeps its brackets."""
    to.print(styled((f"{label}:", style), " ", str(text)), highlight=False)


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


# Research sources (`accountflow.sources`): score, run and eval run take the same four.
SourcesOpt = Annotated[
    str | None,
    typer.Option(
        "--sources",
        help="What research reads: account (default), web (the account's website), docs "
        "(--docs), comma-separated, e.g. account,web (env ACCOUNTFLOW_SOURCES).",
    ),
]
DocsOpt = Annotated[
    Path | None,
    typer.Option("--docs", help="Documents folder: DIR/<account_id>/* (txt, md, html, pdf)."),
]
WebMaxAgeOpt = Annotated[
    str | None,
    typer.Option(
        "--web-max-age",
        help="Reuse cached pages younger than this (e.g. 12h, 7d; default 7d).",
    ),
]
OfflineOpt = Annotated[
    bool,
    typer.Option("--offline", help="Web pages from the page cache only: no network request."),
]
