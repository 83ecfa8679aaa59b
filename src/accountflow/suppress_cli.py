"""`accountflow suppress add|list|import|remove`: the suppression list from the command line.

Exit codes: 0 done, 1 some values or rows were not taken (bad rows of an import, values not on
the list for `remove`), 2 a usage error (a bad value for `add`, an unreadable file).
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from accountflow.cli_options import HomeOpt, JsonOpt, console, say

if TYPE_CHECKING:
    from accountflow.store import Store

suppress_app = typer.Typer(
    help="The suppression list: email addresses and domains that get no outreach from "
    "score, run or campaigns.",
    no_args_is_help=True,
)

out = console()
err = console(stderr=True)

REASONS = "unsubscribe, bounce, complaint or manual"
ValuesArg = Annotated[
    list[str], typer.Argument(help="Email addresses or domains (a domain covers subdomains).")
]
ReasonOpt = Annotated[str, typer.Option("--reason", help=f"Why: {REASONS}.")]
SourceOpt = Annotated[
    str | None, typer.Option("--source", help="Where it came from (free text, e.g. a ticket).")
]


def _store(home: Path | None) -> Store:
    from accountflow.config import Settings
    from accountflow.store import Store

    return Store(Settings.load(home=home).db_path)


def _print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")


@suppress_app.command("add")
def add(
    values: ValuesArg,
    reason: ReasonOpt = "manual",
    source: SourceOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suppress email addresses or whole domains; one already listed keeps its first entry."""
    from accountflow.store.db import utcnow
    from accountflow.suppress import normalize, suppress

    for value in values:
        normalize(value)  # every value is checked before any is added
    results = []
    with _store(home) as store:
        for value in values:
            entry, added = suppress(store, value, reason, source or "cli", utcnow())
            results.append({**entry.model_dump(mode="json"), "added": added})
    if as_json:
        _print_json(results)
        return
    for r in results:
        what = "suppressed" if r["added"] else "already suppressed"
        out.print(f"{what} {r['value']} ({r['reason']})", highlight=False)


@suppress_app.command("list")
def list_entries(
    reason: Annotated[
        str | None, typer.Option("--reason", help=f"Only entries with this reason: {REASONS}.")
    ] = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Every suppressed address and domain, oldest first."""
    from accountflow.errors import InputError
    from accountflow.suppress import SuppressionReason

    try:
        why = SuppressionReason(reason) if reason is not None else None
    except ValueError:
        raise InputError(f"--reason {reason!r} is not one of {REASONS}.") from None
    with _store(home) as store:
        entries = store.suppressions.entries(why)
    if as_json:
        _print_json([e.model_dump(mode="json") for e in entries])
        return
    if not entries:
        out.print("The suppression list is empty: `accountflow suppress add EMAIL` adds one.")
        return
    from rich.table import Table

    table = Table("value", "kind", "reason", "since (UTC)", "source", box=None)
    for e in entries:
        table.add_row(
            e.value,
            e.kind,
            e.reason.value,
            f"{e.created_at:%Y-%m-%d %H:%M}",
            e.source or "",
        )
    out.print(table)


@suppress_app.command("import")
def import_file(
    path: Annotated[
        Path,
        typer.Argument(
            help="A CSV with a header: a column `email`, `domain` or `value`; optional "
            "`reason` and `source` columns override --reason and --source per row."
        ),
    ],
    reason: ReasonOpt = "manual",
    source: SourceOpt = None,
    home: HomeOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Suppress every address or domain in a CSV file; bad rows are rejected with their line."""
    from accountflow.errors import AccountflowError
    from accountflow.store.db import utcnow
    from accountflow.suppress import normalize, suppress

    rows, rejected = _read(path)
    added = existing = 0
    with _store(home) as store:
        now = utcnow()
        for line, row in rows:
            try:
                normalize(row["value"])
                _, new = suppress(
                    store,
                    row["value"],
                    row.get("reason") or reason,
                    row.get("source") or source or path.name,
                    now,
                )
            except AccountflowError as exc:
                rejected.append({"row": line, "value": row["value"], "reason": str(exc)})
                continue
            added, existing = added + new, existing + (not new)
    rejected.sort(key=lambda r: int(r["row"]))
    if as_json:
        _print_json({"added": added, "already": existing, "rejected": rejected})
    else:
        for r in rejected:
            say(err, "rejected", f"{path.name} line {r['row']}: {r['reason']}", "red")
        out.print(
            f"{added} added, {existing} already on the list, {len(rejected)} rejected",
            highlight=False,
        )
    if rejected:
        raise typer.Exit(1)


def _read(path: Path) -> tuple[list[tuple[int, dict[str, str]]], list[dict[str, Any]]]:
    """(line, row) for each data row with a value, and the rows rejected while reading."""
    from accountflow.errors import InputError

    if not path.is_file():
        raise InputError(f"{path} does not exist; check the path.")
    rows: list[tuple[int, dict[str, str]]] = []
    rejected: list[dict[str, Any]] = []
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise InputError(f"{path} cannot be read ({exc.strerror}).") from None
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().casefold() for h in next(reader, [])]
        except (csv.Error, UnicodeDecodeError) as exc:
            raise InputError(f"{path} is not a readable CSV file ({exc}).") from None
        column = next((c for c in ("email", "domain", "value") if c in header), None)
        if column is None:
            raise InputError(
                f"{path} needs a header row with a column named email, domain or value."
            )
        index: dict[str, int] = {
            name: header.index(name) for name in ("reason", "source") if name in header
        }
        index["value"] = header.index(column)
        while True:
            try:
                cells = next(reader)
            except StopIteration:
                break
            except (csv.Error, UnicodeDecodeError) as exc:
                rejected.append({"row": reader.line_num, "value": None, "reason": str(exc)})
                continue
            if not any(c.strip() for c in cells):
                continue
            row = {k: cells[i].strip() if i < len(cells) else "" for k, i in index.items()}
            if not row["value"]:
                rejected.append(
                    {"row": reader.line_num, "value": "", "reason": f"the {column} is empty"}
                )
                continue
            rows.append((reader.line_num, row))
    return rows, rejected


@suppress_app.command("remove")
def remove(values: ValuesArg, home: HomeOpt = None, as_json: JsonOpt = False) -> None:
    """Take addresses or domains off the list (exit 1 if one was not on it)."""
    from accountflow.suppress import normalize

    normal = [normalize(v)[0] for v in values]
    with _store(home) as store:
        removed = {v: store.suppressions.remove(v) for v in normal}
    if as_json:
        _print_json([{"value": v, "removed": ok} for v, ok in removed.items()])
    else:
        for v, ok in removed.items():
            out.print(
                f"removed {v}" if ok else f"{v} was not on the list",
                highlight=False,
            )
    if not all(removed.values()):
        raise typer.Exit(1)
