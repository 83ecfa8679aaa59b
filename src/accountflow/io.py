"""Reading account files (JSONL, CSV, Parquet) into validated `Account`s, row by row.

A bad row never stops the others: it becomes a `Rejection` naming its line and the field at
fault. Only a file that cannot be read at all raises `InputError`: missing, empty or without
account rows, unknown format, a CSV header without `account_id` or with a column twice.
CSV is read with the standard library so every error carries its exact line number (DuckDB's
reader drops the line numbers of good rows); Parquet is read through DuckDB.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError

from accountflow.errors import InputError
from accountflow.models import MAX_FIELD_CHARS, Account, Contact

ACCOUNT_COLUMNS = [
    "account_id",
    "company_name",
    "domain",
    "website",
    "industry",
    "employee_count",
    "location",
    "description",
    "notes",
]
CONTACT_COLUMNS = [
    "account_id",
    "contact_id",
    "name",
    "email",
    "phone",
    "title",
    "linkedin_url",
    "is_primary",
    "greeting_name",
]
# The csv module's own per-field limit (131,072 characters by default; `_csv.Error` past it) is
# raised to this, so a field over the 20,000-character input limit is rejected by validation,
# naming its column; a field past even this is rejected as a row and reading goes on.
CSV_FIELD_LIMIT = 1 << 20
FORMATS = {
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
    ".csv": "csv",
    ".parquet": "parquet",
}


class Rejection(BaseModel):
    """A row that was not run, and why; `row` is the line in the file (header is line 1)."""

    source: str
    row: int
    account_id: str | None = None
    field: str | None = None
    reason: str

    def __str__(self) -> str:
        where = f"{Path(self.source).name} line {self.row}"
        who = f" (account {self.account_id})" if self.account_id else ""
        return f"{where}{who}: {self.reason}"


class LoadResult(BaseModel):
    accounts: list[Account] = Field(default_factory=list)
    rejected: list[Rejection] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)


def _explain(exc: ValidationError) -> tuple[str | None, str]:
    """The first problem of a validation error as (field, sentence)."""
    err = exc.errors()[0]
    loc = [" ".join(str(x).split()) for x in err["loc"]]  # no control characters in messages
    field = ".".join(loc) if loc else None
    msg = err["msg"]
    if err["type"] == "missing":
        return field, f"required field '{field}' is missing"
    if err["type"] == "extra_forbidden":
        return field, f"unknown field '{field}'; remove it or check its spelling"
    if err["type"] == "string_too_long":
        return field, f"field '{field}' is longer than {err['ctx']['max_length']} characters"
    msg = msg.removeprefix("Value error, ")
    if msg == "is empty":
        return field, f"field '{field}' is empty"
    return field, f"field '{field}': {msg}"


def _check_file(path: Path) -> str:
    if not path.exists():
        raise InputError(f"Input file {path} does not exist; check the path.")
    if path.is_dir():
        raise InputError(f"Input {path} is a directory; pass a .jsonl, .csv or .parquet file.")
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"Input file {path} has an unknown extension; use .jsonl, .csv or .parquet."
        )
    if path.stat().st_size == 0:
        raise InputError(f"Input file {path} is empty; it needs at least one account.")
    return fmt


def load_accounts(path: str | Path, contacts: str | Path | None = None) -> LoadResult:
    """Read and validate a whole accounts file (and an optional contacts CSV) into memory."""
    stream = stream_accounts(path, contacts)
    result = LoadResult()
    for item in stream:
        if isinstance(item, Rejection):
            result.rejected.append(item)
        else:
            result.accounts.append(item)
    result.warnings = stream.warnings
    return result


def stream_accounts(path: str | Path, contacts: str | Path | None = None) -> AccountStream:
    """Validated accounts and rejections one row at a time, for files of any size.

    Everything that makes a file unusable is checked now, before the caller opens an output or
    records anything: the files, the headers, the whole contacts file and the first account
    row (so a file without account rows fails here too)."""
    path = Path(path)
    fmt = _check_file(path)
    if contacts is not None and _check_file(Path(contacts)) != "csv":
        raise InputError(f"Contacts file {contacts} must be a .csv file.")
    stream = AccountStream(path, fmt, Path(contacts) if contacts is not None else None)
    stream.open()
    return stream


class AccountStream:
    """Iterate (once) to get `Account`s and `Rejection`s in file order; `warnings` fills as it
    goes.

    Memory holds the contacts file (grouped by account) and the set of account ids seen (to
    reject duplicates), never the accounts themselves."""

    def __init__(self, path: Path, fmt: str, contacts: Path | None) -> None:
        self.path, self.fmt, self.contacts = path, fmt, contacts
        self.warnings: list[str] = []
        self.rows = 0
        self._items: Iterator[Account | Rejection] | None = None
        self._first: list[Account | Rejection] = []

    def open(self) -> None:
        """Read up to the first item now, so every file-level error raises here."""
        if self._items is None:
            self._items = self._read()
            first = next(self._items, None)
            self._first = [first] if first is not None else []

    def __iter__(self) -> Iterator[Account | Rejection]:
        self.open()
        assert self._items is not None
        first, self._first = self._first, []
        yield from first
        yield from self._items

    def _read(self) -> Iterator[Account | Rejection]:
        holder = LoadResult()  # collects warnings and contact-file rejections
        path = self.path
        rows: Iterator[tuple[int, dict[str, Any] | Rejection]]
        if self.fmt == "jsonl":
            rows = _jsonl_rows(path)
        elif self.fmt == "csv":
            rows = _csv_rows(path, ACCOUNT_COLUMNS, holder)
        else:
            rows = _parquet_rows(path, holder)
        first = next(rows, None)  # the accounts header is checked here
        if first is None:
            raise InputError(f"Input file {path} has no account rows; add at least one account.")
        by_contact: dict[str, list[tuple[int, dict[str, Any]]]] = {}
        if self.contacts is not None:
            by_contact = _load_contacts(self.contacts, holder)
        yield from holder.rejected
        holder.rejected.clear()
        seen: set[str] = set()
        for line, row in itertools.chain([first], rows):
            self.rows += 1
            self.warnings[:] = holder.warnings
            if isinstance(row, Rejection):
                yield row
                continue
            account_id = str(row.get("account_id") or "").strip() or None
            if account_id and account_id in by_contact:
                row["contacts"] = list(row.get("contacts") or []) + [
                    c for _, c in by_contact.pop(account_id)
                ]
            try:
                account = Account(**row)
            except ValidationError as exc:
                field, reason = _explain(exc)
                yield Rejection(
                    source=str(path), row=line, account_id=account_id, field=field, reason=reason
                )
                continue
            if account.account_id in seen:
                yield Rejection(
                    source=str(path),
                    row=line,
                    account_id=account.account_id,
                    field="account_id",
                    reason=f"duplicate account_id {account.account_id!r}; an earlier row has it",
                )
                continue
            seen.add(account.account_id)
            yield account
        self.warnings[:] = holder.warnings
        for account_id, items in by_contact.items():
            for line, _ in items:
                yield Rejection(
                    source=str(self.contacts),
                    row=line,
                    account_id=account_id,
                    field="account_id",
                    reason=f"contact belongs to account {account_id!r}, which is not in "
                    f"{path.name}",
                )


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    with path.open("rb") as fh:
        for line_no, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
            except UnicodeDecodeError as exc:
                yield (
                    line_no,
                    Rejection(
                        source=str(path),
                        row=line_no,
                        reason=f"not valid UTF-8 (byte {raw[exc.start]:#04x} at column "
                        f"{exc.start + 1}); save the file as UTF-8",
                    ),
                )
                continue
            try:
                obj = json.loads(text, object_pairs_hook=_unique_keys)
            except _DuplicateKeyError as exc:
                yield line_no, Rejection(source=str(path), row=line_no, reason=str(exc))
                continue
            except json.JSONDecodeError as exc:
                yield (
                    line_no,
                    Rejection(
                        source=str(path),
                        row=line_no,
                        reason=f"not valid JSON ({exc.msg} at column {exc.colno})",
                    ),
                )
                continue
            if not isinstance(obj, dict):
                yield (
                    line_no,
                    Rejection(
                        source=str(path), row=line_no, reason="each line must be a JSON object"
                    ),
                )
                continue
            yield line_no, obj


class _DuplicateKeyError(ValueError):
    """A JSON object names a key twice: which value was meant is unknowable."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            name = " ".join(key.split())  # no control characters in messages
            raise _DuplicateKeyError(f"key {name!r} appears twice in one object; keep one")
        obj[key] = value
    return obj


def _csv_rows(
    path: Path, columns: list[str], result: LoadResult
) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    if csv.field_size_limit() < CSV_FIELD_LIMIT:
        csv.field_size_limit(CSV_FIELD_LIMIT)  # deliberately: see CSV_FIELD_LIMIT
    with path.open(newline="", encoding="utf-8", errors="surrogateescape") as fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip().lstrip("\ufeff") for h in next(reader)]
        except StopIteration:
            raise InputError(f"Input file {path} is empty; it needs a header row.") from None
        except csv.Error as exc:
            raise InputError(f"{path.name}: the header cannot be read as CSV ({exc}).") from None
        twice = next((h for i, h in enumerate(header) if h in columns and h in header[:i]), None)
        if twice is not None:
            raise InputError(
                f"{path.name}: the header has the column {twice!r} twice; keep one of them."
            )
        unknown = [h for h in header if h not in columns]
        for name in unknown:
            result.warnings.append(
                f"{path.name}: ignoring unknown column {name!r} (known columns: "
                f"{', '.join(columns)})"
            )
        if "account_id" not in header:
            raise InputError(f"{path.name}: the header has no 'account_id' column; add it.")
        line_no = reader.line_num
        while True:
            try:
                values = next(reader)
            except StopIteration:
                break
            except csv.Error as exc:  # the reader goes on at the next line
                start, line_no = line_no + 1, reader.line_num
                yield start, Rejection(source=str(path), row=start, reason=_csv_error(exc))
                continue
            start, line_no = line_no + 1, reader.line_num
            if not any(v.strip() for v in values):
                continue
            bad = next((i for i, v in enumerate(values) if _has_surrogates(v)), None)
            if bad is not None:
                column = header[bad] if bad < len(header) else f"column {bad + 1}"
                yield (
                    start,
                    Rejection(
                        source=str(path),
                        row=start,
                        field=column,
                        reason=f"field '{column}' is not valid UTF-8; save the file as UTF-8",
                    ),
                )
                continue
            if len(values) != len(header):
                yield (
                    start,
                    Rejection(
                        source=str(path),
                        row=start,
                        reason=f"has {len(values)} values but the header has {len(header)} columns",
                    ),
                )
                continue
            yield (
                start,
                {
                    k: (v if v.strip() else None)
                    for k, v in zip(header, values, strict=True)
                    if k in columns
                },
            )


def _csv_error(exc: csv.Error) -> str:
    if "field limit" in str(exc):
        return (
            f"a field is longer than {CSV_FIELD_LIMIT:,} characters (fields may have at most "
            f"{MAX_FIELD_CHARS:,}); shorten it or check for a quote that is never closed"
        )
    return f"cannot be read as CSV ({exc})"


def _has_surrogates(value: str) -> bool:
    return any("\udc80" <= ch <= "\udcff" for ch in value)


def parquet_row_count(path: Path) -> int | None:
    """Rows in a Parquet file, from its footer (for a progress bar's ETA)."""
    import duckdb

    con = duckdb.connect()
    try:
        row = con.execute("SELECT count(*) FROM read_parquet(?)", [str(path)]).fetchone()
    finally:
        con.close()
    return int(row[0]) if row else None


def _parquet_rows(
    path: Path, result: LoadResult
) -> Iterator[tuple[int, dict[str, Any] | Rejection]]:
    import duckdb

    con = duckdb.connect()
    try:
        cur = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise InputError(f"Input file {path} is not a readable Parquet file ({first}).") from None
    names = [d[0] for d in cur.description or []]
    for name in names:
        if name not in ACCOUNT_COLUMNS and name not in ("contacts", "inquiry"):
            result.warnings.append(f"{path.name}: ignoring unknown column {name!r}")
    keep = [n for n in names if n in ACCOUNT_COLUMNS or n in ("contacts", "inquiry")]
    row_no = 0
    while batch := cur.fetchmany(1000):
        for values in batch:
            row_no += 1
            row = dict(zip(names, values, strict=True))
            yield row_no, {k: row[k] for k in keep if row[k] is not None}
    con.close()


def _load_contacts(path: Path, result: LoadResult) -> dict[str, list[tuple[int, dict[str, Any]]]]:
    by_account: dict[str, list[tuple[int, dict[str, Any]]]] = {}
    for line, row in _csv_rows(path, CONTACT_COLUMNS, result):
        if isinstance(row, Rejection):
            result.rejected.append(row)
            continue
        account_id = (row.pop("account_id", None) or "").strip()
        if not account_id:
            result.rejected.append(
                Rejection(
                    source=str(path),
                    row=line,
                    field="account_id",
                    reason="contact row has no account_id",
                )
            )
            continue
        try:
            contact = Contact(**row)
        except ValidationError as exc:
            field, reason = _explain(exc)
            result.rejected.append(
                Rejection(
                    source=str(path),
                    row=line,
                    account_id=account_id,
                    field=field,
                    reason=f"contact dropped: {reason}",
                )
            )
            continue
        by_account.setdefault(account_id, []).append((line, contact.model_dump()))
    return by_account
