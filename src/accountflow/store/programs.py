"""The program registry's rows (`programs`) and promotions (`program_promotions`).

The program files themselves are `accountflow.programs`' business; here is what is recorded
about each version and which one commands load.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from accountflow.store.codec import decode_json, like_prefix, to_json, utcnow
from accountflow.store.db import Database

_COLUMNS = (
    "version",
    "target",
    "optimizer",
    "parent_version",
    "model",
    "dev_score_before",
    "dev_score",
    "metrics",
    "recipe",
    "mlflow_run_id",
    "registered_model",
    "registered_version",
    "stop_reason",
    "path",
    "created_at",
)
_JSON = ("metrics", "recipe")


class ProgramMeta(BaseModel):
    """What produced a program: the optimize run's facts, recorded next to its version."""

    optimizer: str | None = None
    parent_version: str | None = None
    model: str | None = None
    dev_score_before: float | None = None
    dev_score: float | None = None
    metrics: dict[str, float] = Field(default_factory=dict)
    recipe: dict[str, Any] | None = None
    mlflow_run_id: str | None = None
    registered_model: str | None = None
    registered_version: int | None = None
    stop_reason: str | None = None


class ProgramVersion(ProgramMeta):
    """One registry entry (`programs list` rows)."""

    version: str
    target: str
    path: str
    created_at: datetime
    promoted: bool = False


class ProgramStore:
    """Queries over the program registry tables."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, entry: ProgramVersion) -> None:
        """Record a version; saving it again keeps its first `created_at` and takes the rest
        from `entry` (what the latest run said about it)."""
        data = entry.model_dump()
        data["recipe"] = data["recipe"] or None  # an empty recipe is no recipe
        updates = ", ".join(
            f"{c} = excluded.{c}" for c in _COLUMNS if c not in {"version", "created_at"}
        )
        self.db.execute(
            f"INSERT INTO programs ({', '.join(_COLUMNS)}) VALUES "
            f"({', '.join('?' for _ in _COLUMNS)}) ON CONFLICT (version) DO UPDATE SET {updates}",
            [to_json(data[c]) if c in _JSON else data[c] for c in _COLUMNS],
        )

    def promoted_version(self) -> str | None:
        """The version every command loads by default, or None for the built-in program."""
        rows = self.db.query(
            "SELECT version FROM program_promotions ORDER BY promoted_at DESC, rowid DESC LIMIT 1"
        )
        return rows[0]["version"] if rows else None

    def promote(self, version: str | None) -> None:
        """Make `version` (None: the built-in program) the promoted one, remembering the
        previous one."""
        with self.db.transaction():
            self.db.execute(
                "INSERT INTO program_promotions (version, previous, promoted_at) VALUES (?, ?, ?)",
                [version, self.promoted_version(), utcnow()],
            )

    def entries(self, target: str | None = None) -> list[ProgramVersion]:
        """Registered versions, newest first."""
        where, params = ("WHERE target = ?", [target]) if target else ("", [])
        return self._entries(
            f"SELECT {', '.join(_COLUMNS)} FROM programs {where} ORDER BY created_at DESC, version",
            params,
        )

    def by_prefix(self, prefix: str, limit: int = 2) -> list[ProgramVersion]:
        """Versions starting with `prefix` (literally: `%` and `_` match only themselves)."""
        return self._entries(
            f"SELECT {', '.join(_COLUMNS)} FROM programs WHERE version LIKE ? ESCAPE '\\' "
            "ORDER BY version LIMIT ?",
            [like_prefix(prefix), limit],
        )

    def _entries(self, sql: str, params: list[Any]) -> list[ProgramVersion]:
        rows = self.db.query(sql, params)
        promoted = self.promoted_version() if rows else None
        out = []
        for row in rows:
            decode_json(row, _JSON)
            row["metrics"] = row["metrics"] or {}
            out.append(ProgramVersion(**row, promoted=row["version"] == promoted))
        return out
