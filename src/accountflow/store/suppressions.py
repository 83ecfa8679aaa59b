"""The `suppressions` table: email addresses and domains that get no outreach (see
`accountflow.suppress` for what an entry means and who reads it)."""

from __future__ import annotations

import threading
from collections.abc import Sequence

from accountflow.store.db import Database
from accountflow.suppress import Suppression, SuppressionReason

_COLUMNS = "value, kind, reason, source, created_at"


class SuppressionStore:
    """Reads come from an in-memory copy of the table, loaded on first use and dropped on every
    add or remove. That is exact, not a cache that can go stale: DuckDB lets one process write
    the file and `Store` is one per file per process, so every change goes through here. It
    keeps batch scoring's per-account lookup off the store (a query would flush the
    write-behind queue once per account)."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._view: dict[str, Suppression] | None = None

    def _entries_by_value(self) -> dict[str, Suppression]:
        with self._lock:
            if self._view is None:
                rows = self.db.query(f"SELECT {_COLUMNS} FROM suppressions")
                self._view = {r["value"]: Suppression(**r) for r in rows}
            return self._view

    def _changed(self) -> None:
        with self._lock:
            self._view = None

    def add(self, entry: Suppression) -> bool:
        """Insert unless the value is already listed; True when it was new."""
        with self.db.transaction() as cur:
            rows = cur.execute(
                f"INSERT INTO suppressions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT DO NOTHING RETURNING value",
                [entry.value, entry.kind, entry.reason.value, entry.source, entry.created_at],
            ).fetchall()
        self._changed()
        return bool(rows)

    def remove(self, value: str) -> bool:
        with self.db.transaction() as cur:
            rows = cur.execute(
                "DELETE FROM suppressions WHERE value = ? RETURNING value", [value]
            ).fetchall()
        self._changed()
        return bool(rows)

    def find(self, values: Sequence[str]) -> list[Suppression]:
        if not values:
            return []
        view = self._entries_by_value()
        return [view[v] for v in dict.fromkeys(values) if v in view]

    def entries(self, reason: SuppressionReason | None = None) -> list[Suppression]:
        where, params = ("WHERE reason = ?", [reason.value]) if reason else ("", [])
        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM suppressions {where} ORDER BY created_at, value", params
        )
        return [Suppression(**r) for r in rows]
