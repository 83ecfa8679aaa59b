"""The DuckDB store: connection, ordered migrations, the single writer, queries.

Every SQL statement of the package lives in this package, one module per concern: `runs`
(runs, steps, rejected rows, statistics), `batches`, `reviews`, `evals`, `programs`,
`campaigns`, `pages`; `db` holds the connection, transactions and the write-behind queue,
`codec` the one JSON and LIKE-prefix encoding. Other code calls the typed methods.
"""

from __future__ import annotations

from pathlib import Path

from accountflow.store.batches import BatchStore
from accountflow.store.campaigns import CampaignStore
from accountflow.store.evals import EvalStore
from accountflow.store.pages import PageStore
from accountflow.store.programs import ProgramStore
from accountflow.store.reviews import ReviewStore
from accountflow.store.runs import RunStore
from accountflow.store.suppressions import SuppressionStore

__all__ = ["Store"]


class Store(RunStore):
    """One DuckDB file in the state dir, opened once per process: `Store(path)` on a file
    already open hands back the same store (close it once per open).

    Runs and steps are methods of the store itself (the orchestrator's hot path); the other
    concerns hang off it: `store.batches`, `store.reviews`, `store.evals`, `store.programs`,
    `store.campaigns`, `store.suppressions`, `store.pages`."""

    def __init__(
        self, path: Path | str, memory_limit: str | None = None, wait_s: float = 0.0
    ) -> None:
        super().__init__(path, memory_limit, wait_s)
        self.batches = BatchStore(self)
        self.reviews = ReviewStore(self)
        self.evals = EvalStore(self)
        self.programs = ProgramStore(self)
        self.campaigns = CampaignStore(self)
        self.suppressions = SuppressionStore(self)
        self.pages = PageStore(self)
