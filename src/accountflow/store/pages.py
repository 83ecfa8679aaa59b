"""The `web_pages` table: the research step's page cache (URL, final URL, status, fetched time,
content hash, text), so re-scoring a list reads a site once per `--web-max-age`. Keyed by the
requested URL; the newest fetch wins. Page text only: no headers, cookies or credentials."""

from __future__ import annotations

from datetime import timezone
from typing import TYPE_CHECKING

from accountflow.store.db import Database

if TYPE_CHECKING:  # the fetcher (httpx, trafilatura) loads only when research reads the web
    from accountflow.sources.web import FetchedPage

_COLUMNS = "url, final_url, status, fetched_at, content_hash, title, text, error"


class PageStore:
    """A `sources.web.PageCache` over the store (thread-safe: the store serialises writes).
    The step records' write-behind queue never writes this table, so a batch reading
    pages does not flush it once per page."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def get(self, url: str) -> FetchedPage | None:
        from accountflow.sources.web import FetchedPage

        rows = self.db.query(
            f"SELECT {_COLUMNS} FROM web_pages WHERE url = ?", [url], after_queued=False
        )
        if not rows:
            return None
        row = rows[0]
        fetched = row["fetched_at"]
        if fetched.tzinfo is None:  # stored as UTC without a zone
            fetched = fetched.replace(tzinfo=timezone.utc)
        return FetchedPage(
            url=row["url"],
            final_url=row["final_url"] or row["url"],
            status=int(row["status"] or 0),
            fetched_at=fetched,
            content_hash=row["content_hash"] or "",
            title=row["title"] or "",
            text=row["text"] or "",
            error=row["error"],
        )

    def put(self, page: FetchedPage) -> None:
        fetched = page.fetched_at.astimezone(timezone.utc).replace(tzinfo=None)
        self.db.execute(
            f"INSERT OR REPLACE INTO web_pages ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                page.url,
                page.final_url,
                page.status,
                fetched,
                page.content_hash,
                page.title,
                page.text,
                page.error,
            ],
            after_queued=False,
        )
