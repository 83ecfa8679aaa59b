"""The `suppressions` table: email addresses and domains that get no outreach (see
`accountflow.suppress` for what an entry means and who reads it)."""

from __future__ import annotations

from collections.abc import Sequence

from accountflow.store.db import Database
from accountflow.suppress import Suppression, SuppressionReason

_COLUMNS = "value, kind, reason, source, created_at"


class SuppressionStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    def add(self, entry: Suppression) -> bool:
        """Insert unless the value is already listed; True when it was new."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"INSERT INTO suppressions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING value",
                [entry.value, entry.kind, entry.reason.value, entry.source, entry.created_at],
            ).fetchall()
        return bool(rows)

    def remove(self, value: str) -> bool:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "DELETE FROM suppressions WHERE value = ? RETURNING value", [value]
            ).fetchall()
        return bool(rows)

    def find(self, values: Sequence[str]) -> list[Suppression]:
        if not values:
            return []
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM suppressions WHERE value IN "
            f"({', '.join('?' for _ in values)})",
            list(values),
        )
        return [Suppression(**r) for r in rows]

    def entries(self, reason: SuppressionReason | None = None) -> list[Suppression]:
        where, params = ("WHERE reason = ?", [reason.value]) if reason else ("", [])
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM suppressions {where} ORDER BY created_at, value", params
        )
        return [Suppression(**r) for r in rows]
