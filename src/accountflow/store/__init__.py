"""The DuckDB store: connection, ordered migrations, the single writer, queries."""

from accountflow.store.db import Store

__all__ = ["Store"]
