"""Options every `accountflow` command group spells the same way (one definition, one help)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

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
