"""`python -m accountflow.datasets`: maintain the labeled data (regenerate the schema, check)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from accountflow.datasets.checks import check_labeled, write_schema

app = typer.Typer(
    help="Maintain the labeled datasets: the JSONL files are the source; these keep them honest.",
    add_completion=False,
    no_args_is_help=True,
)


@app.command()
def schema(
    out: Annotated[
        Path | None,
        typer.Option(help="Write here instead of over the bundled labeled/schema.json."),
    ] = None,
) -> None:
    """Regenerate labeled/schema.json from the LabeledAccount model."""
    typer.echo(f"wrote {write_schema(out)}")


@app.command()
def check() -> None:
    """Check every labeled split: schema file current, every line valid, splits stratified."""
    problems = check_labeled()
    for problem in problems:
        typer.echo(f"error: {problem}", err=True)
    if problems:
        raise typer.Exit(1)
    typer.echo("labeled data ok: schema current, every line valid, splits stratified")


if __name__ == "__main__":
    app()
