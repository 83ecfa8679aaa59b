"""Batch outputs: one flat row per account, written as results finish, by file extension.

CSV cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first) get a
leading apostrophe; every other value is written verbatim.
"""

from __future__ import annotations

import csv
import json
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any, Protocol

from accountflow import steps
from accountflow.errors import ConfigError
from accountflow.io import Rejection
from accountflow.models import AccountResult

_LEADING = ["account_id", "company_name", "status"]
_TRAILING = [
    "error",
    "suppressed",
    "lm_calls",
    "cache_hits",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "latency_ms",
    "run_id",
    "model",
    "program_version",
]
REJECTED_COLUMNS = ["source", "row", "account_id", "field", "reason"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def output_columns() -> list[str]:
    """The output row's columns: the account, each step's own columns (from the step table, in
    step order), then the run's figures."""
    return [*_LEADING, *steps.output_columns(), *_TRAILING]


def flatten(result: AccountResult) -> dict[str, Any]:
    """The output row of one account."""
    row: dict[str, Any] = {
        "account_id": result.account_id,
        "company_name": result.company_name,
        "status": result.status.value,
    }
    for step in steps.table():
        value = getattr(result, step.output, None)
        if step.output not in type(result).model_fields:
            value = result.extra.get(step.output)
        row.update(step.flatten(value))
    row.update(
        {
            "error": result.error,
            "suppressed": "; ".join(result.suppressed) or None,
            "lm_calls": result.lm_calls,
            "cache_hits": result.cache_hits,
            "prompt_tokens": result.prompt_tokens,
            "completion_tokens": result.completion_tokens,
            "cost_usd": result.cost_usd,
            "latency_ms": result.duration_ms,
            "run_id": result.run_id,
            "model": result.model,
            "program_version": result.program_version,
        }
    )
    return row


def neutralise(value: Any) -> Any:
    """Keep a spreadsheet from executing a cell (CSV formula injection)."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


class RowWriter(Protocol):
    def write(self, row: dict[str, Any]) -> None: ...
    def close(self) -> None: ...


class JsonlWriter:
    def __init__(self, path: Path, columns: list[str]) -> None:
        self.columns = columns
        self._fh: IO[str] = path.open("w", encoding="utf-8")

    def write(self, row: dict[str, Any]) -> None:
        record = {c: row.get(c) for c in self.columns}
        self._fh.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class CsvWriter:
    def __init__(self, path: Path, columns: list[str]) -> None:
        self.columns = columns
        self._fh: IO[str] = path.open("w", encoding="utf-8", newline="")
        self._csv = csv.writer(self._fh)
        self._csv.writerow(columns)
        self._fh.flush()

    def write(self, row: dict[str, Any]) -> None:
        self._csv.writerow([neutralise(row.get(c)) for c in self.columns])
        self._fh.flush()

    def close(self) -> None:
        self._fh.close()


class ParquetWriter:
    """Rows are staged in a temporary on-disk DuckDB table (memory stays flat) and written to
    Parquet on close; a run stopped early still gets its file from `close()`."""

    _TYPES = {
        "fit_score": "INTEGER",
        "lm_calls": "INTEGER",
        "cache_hits": "INTEGER",
        "prompt_tokens": "INTEGER",
        "completion_tokens": "INTEGER",
        "cost_usd": "DOUBLE",
        "latency_ms": "BIGINT",
        "row": "INTEGER",
    }

    def __init__(self, path: Path, columns: list[str]) -> None:
        import duckdb

        self.path, self.columns = path, columns
        self._dir = tempfile.TemporaryDirectory(prefix="accountflow-out-")
        self._con = duckdb.connect(str(Path(self._dir.name) / "stage.duckdb"))
        cols = ", ".join(f'"{c}" {self._TYPES.get(c, "VARCHAR")}' for c in columns)
        self._con.execute(f"CREATE TABLE rows ({cols})")
        self._pending: list[list[Any]] = []

    def write(self, row: dict[str, Any]) -> None:
        self._pending.append([row.get(c) for c in self.columns])
        if len(self._pending) >= 500:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            marks = ", ".join("?" for _ in self.columns)
            self._con.executemany(f"INSERT INTO rows VALUES ({marks})", self._pending)
            self._pending = []

    def close(self) -> None:
        self._flush()
        target = str(self.path).replace("'", "''")
        self._con.execute(f"COPY rows TO '{target}' (FORMAT parquet)")
        self._con.close()
        self._dir.cleanup()


def open_writer(path: Path, columns: list[str] | None = None) -> RowWriter:
    suffix = path.suffix.lower()
    cols = columns or output_columns()
    if not path.parent.exists():
        raise ConfigError(f"Output directory {path.parent} does not exist; create it first.")
    if suffix == ".parquet":
        return ParquetWriter(path, cols)
    if suffix == ".csv":
        return CsvWriter(path, cols)
    if suffix in (".jsonl", ".ndjson"):
        return JsonlWriter(path, cols)
    raise ConfigError(f"Output {path} has an unknown extension; use .parquet, .csv or .jsonl.")


def check_output(path: Path, inputs: Sequence[Path] = ()) -> None:
    """Fail before any work when the output cannot be written, or when writing it (or its
    rejected-rows file) would replace one of `inputs`: the same file by any path, symlink or
    hard link."""
    if path.suffix.lower() not in (".parquet", ".csv", ".jsonl", ".ndjson"):
        raise ConfigError(f"Output {path} has an unknown extension; use .parquet, .csv or .jsonl.")
    if not path.parent.exists():
        raise ConfigError(f"Output directory {path.parent} does not exist; create it first.")
    for source in inputs:
        if _same_file(path, source):
            raise ConfigError(
                f"--out {path} is the input file {source}; writing it would destroy the input, "
                "so choose another --out path."
            )
        if _same_file(rejected_path(path), source):
            raise ConfigError(
                f"--out {path} would write its rejected rows to {rejected_path(path)}, which is "
                f"the input file {source}; choose another --out path."
            )


def _same_file(a: Path, b: Path) -> bool:
    """One file on disk (device and inode, through symlinks); a file not yet there is no input."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return False


def rejected_path(output: Path) -> Path:
    return output.with_name(f"{output.stem}.rejected.csv")


class RejectedWriter:
    """`<output stem>.rejected.csv`, created on the first rejection only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._writer: CsvWriter | None = None
        self.count = 0
        if path.exists():
            path.unlink()  # a stale file from an earlier run would misstate this one

    def write(self, rejection: Rejection) -> None:
        if self._writer is None:
            self._writer = CsvWriter(self.path, REJECTED_COLUMNS)
        self._writer.write(rejection.model_dump())
        self.count += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
