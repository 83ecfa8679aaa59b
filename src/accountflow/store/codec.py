"""How values cross into and out of SQL: JSON columns, LIKE prefixes, timestamps.

One definition of each, used by every query in `store/`: JSON columns come back from DuckDB as
`str`, a `%` or `_` in a user-typed id prefix would otherwise match any character, and `TIMESTAMP`
columns hold naive UTC (`TIMESTAMPTZ` would need pytz to read back).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import BaseModel

LIKE_ESCAPE = "\\"


def utcnow() -> datetime:
    """Now, as the naive UTC the store's `TIMESTAMP` columns hold."""
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _default(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    return str(value)


def to_json(value: Any) -> str | None:
    """The text a JSON column stores (None stays SQL NULL); pydantic models as their JSON,
    anything else JSON cannot hold (dates, paths) as its string."""
    if value is None:
        return None
    if isinstance(value, BaseModel):
        return value.model_dump_json()
    return json.dumps(value, ensure_ascii=False, default=_default)


def from_json(value: Any) -> Any:
    """A JSON column's value as Python (DuckDB returns JSON columns as `str`)."""
    return json.loads(value) if isinstance(value, str) else value


def decode_json(row: dict[str, Any], columns: Iterable[str]) -> dict[str, Any]:
    """Parse the JSON `columns` of one result row in place; returns the row."""
    for key in columns:
        if key in row:
            row[key] = from_json(row[key])
    return row


def sql_value(value: Any) -> Any:
    """An enum as its value (what the column holds); anything else as it is."""
    return value.value if isinstance(value, Enum) else value


def like_prefix(prefix: str) -> str:
    """A `LIKE ? ESCAPE '\\'` pattern matching values that start with `prefix` literally."""
    escaped = (
        prefix.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
        .replace("%", LIKE_ESCAPE + "%")
        .replace("_", LIKE_ESCAPE + "_")
    )
    return escaped + "%"
