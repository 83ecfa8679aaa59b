"""End to end in a real headless browser: Playwright driving Debian's chromium against
`review serve`'s app on a free loopback port, over three runs awaiting review (fake engine).

It edits and approves one message, rejects one with a note and regenerates it (the word diff
shows), bulk-approves the rest (one picked with the `x` key), and checks the store and the batch
outputs afterwards; the company named `<script>alert(1)</script>` renders as text and opens no
dialog. A screenshot of the queue is saved to $ACCOUNTFLOW_TEST_ARTIFACTS (default
`.artifacts/` in the repository). Without chromium or playwright the test is skipped, unless
ACCOUNTFLOW_REQUIRE_BROWSER=1 (CI sets it) makes that a failure."""

from __future__ import annotations

import json
import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from accountflow import Settings, Store
from accountflow.review_page import create_app
from tests.cli_runner import run_cli
from tests.review.conftest import BATCH, HOSTILE

REPO = Path(__file__).resolve().parents[2]
EDITED = (
    "Hi Marcus, this is Maya from Northwind Data. Freshness alerts at Harborline Freight "
    "after the Snowflake move? Reply YES for a call."
)


def _chromium() -> str | None:
    return os.environ.get("ACCOUNTFLOW_CHROMIUM") or shutil.which("chromium")


def _need(reason: str) -> None:
    if os.environ.get("ACCOUNTFLOW_REQUIRE_BROWSER") == "1":
        pytest.fail(f"the browser test cannot run: {reason}")
    pytest.skip(reason)


@pytest.fixture
def server(queue_home: dict) -> Iterator[str]:
    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    app = create_app(Settings.load(lm="fake"), reviewer="e2e", lm="fake")
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "the review server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)


def test_review_in_a_real_browser(
    server: str,
    queue_home: dict,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        _need("playwright is not installed (pip install -e '.[dev]')")
    chromium = _chromium()
    if chromium is None:
        _need("no chromium (apt-get install chromium, or set ACCOUNTFLOW_CHROMIUM)")
    home = queue_home["home"]
    started = time.perf_counter()
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 1400})
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(server + "/")
        items = page.locator("article.item")
        expect(items).to_have_count(3)
        artifacts = Path(os.environ.get("ACCOUNTFLOW_TEST_ARTIFACTS") or REPO / ".artifacts")
        artifacts.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(artifacts / "review-queue.png"), full_page=True)

        # hostile account text is text
        hostile = items.filter(has=page.locator("h2.company", has_text="alert(1)"))
        expect(hostile.locator("h2.company")).to_have_text(HOSTILE)

        # edit Harborline's SMS and approve it
        harbor = items.filter(has_text="Harborline Freight")
        sms = harbor.locator('section.message[data-channel="sms"]')
        sms.locator("details.edit summary").click()
        sms.locator("textarea").fill(EDITED)
        sms.locator("button.edit-approve").click()
        expect(page.locator(".flash.ok")).to_contain_text("edited and approved")
        expect(page.locator("article.item")).to_have_count(2)

        # reject Crestmed with a note and regenerate: it comes back with a word diff
        crest = page.locator("article.item").filter(has_text="Crestmed")
        crest.locator("form.reject-form input[name=note]").fill(
            "Lead with their reporting deadline"
        )
        crest.locator("button.regenerate").click()
        expect(page.locator(".flash.ok")).to_contain_text("regenerated")
        crest = page.locator("article.item").filter(has_text="Crestmed")
        expect(crest.locator(".badge.regen")).to_be_visible()
        diff = crest.locator('section.message[data-channel="email"] pre.worddiff')
        expect(diff).to_contain_text("another look")
        expect(diff.locator("ins").first).to_be_visible()
        expect(diff.locator("del").first).to_be_visible()

        # bulk approve the rest: Crestmed picked with the x key (it has focus), the other
        # ticked; then "Approve selected"
        page.keyboard.press("x")
        expect(crest.locator("input.pick")).to_be_checked()
        page.locator("article.item").filter(has_text="alert(1)").locator("input.pick").check()
        page.locator("button.bulk-approve").click()
        expect(page.locator(".flash.ok")).to_contain_text("Approved 2 of 2")
        expect(page.locator("article.item")).to_have_count(0)
        browser.close()
    assert dialogs == []

    with Store(home / "accountflow.duckdb") as store:
        runs = {r.company_name: store.get_run(r.run_id) for r in store.list_runs()}
        assert {c: r["status"] for c, r in runs.items()} == dict.fromkeys(runs, "succeeded")
        harbor_sms = next(
            m["body"]
            for m in runs["Harborline Freight"]["result"]["outreach"]["messages"]
            if m["channel"] == "sms"
        )
        assert harbor_sms == EDITED
        for run in runs.values():
            assert {d.reviewer for d in store.reviews.history(run["run_id"])} == {"e2e"}
        crest_id = runs["Crestmed Health Partners"]["run_id"]
        assert [d.decision for d in store.reviews.history(crest_id)] == ["reject", "approve"]

    code, _, err = run_cli([*queue_home["args"], "--batch", BATCH, "--quiet"], capsys, monkeypatch)
    assert code == 0, err
    rows = {
        r["company_name"]: r
        for r in map(json.loads, queue_home["out"].read_text().split("\n")[:-1])
    }
    assert rows["Harborline Freight"]["sms"] == EDITED
    assert "another look" in rows["Crestmed Health Partners"]["email_body"]
    assert all(r["status"] == "succeeded" for r in rows.values())
    assert time.perf_counter() - started < 60
