"""The page cache table (`store.pages`): what it keeps, and that it stays off the step queue."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from accountflow.models import StepStatus
from accountflow.sources.web import FetchedPage
from accountflow.store import Store
from accountflow.store.db import utcnow
from accountflow.store.records import StepRecord


def _page(url: str, text: str, at: datetime) -> FetchedPage:
    return FetchedPage(
        url=url, final_url=url + "home", status=200, fetched_at=at, content_hash="h", text=text
    )


def test_a_page_round_trips_in_utc_and_the_newest_fetch_wins(tmp_path: Path) -> None:
    earlier = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=2)))
    with Store(tmp_path / "a.duckdb") as store:
        assert store.pages.get("https://acme.example/") is None
        store.pages.put(_page("https://acme.example/", "old", earlier))
        store.pages.put(_page("https://acme.example/", "new", earlier + timedelta(days=1)))
    with Store(tmp_path / "a.duckdb") as store:  # survives a reopen
        page = store.pages.get("https://acme.example/")
    assert page is not None and page.text == "new" and page.final_url.endswith("home")
    assert page.fetched_at == earlier + timedelta(days=1) and page.fetched_at.tzinfo is not None


def test_reading_and_writing_pages_leaves_the_step_queue_queued(tmp_path: Path) -> None:
    with Store(tmp_path / "b.duckdb") as store:
        store.write_behind(True, interval_s=60)
        store.create_run("r1", "a1", "Acme", "fake", "v1", None, {"account_id": "a1"})
        store.insert_steps(
            [
                StepRecord(
                    step_id="s1",
                    run_id="r1",
                    step="research",
                    attempt=1,
                    status=StepStatus.running,
                    started_at=utcnow(),
                )
            ]
        )
        assert store._has_pending()
        store.pages.put(_page("https://acme.example/", "text", utcnow()))
        assert store.pages.get("https://acme.example/") is not None
        assert store._has_pending()  # a page per account does not flush the batch's queue
        assert store.get_steps("r1")[0].step_id == "s1"  # an ordinary read still flushes it
