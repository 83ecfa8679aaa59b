"""The review page's HTTP contract (FastAPI's TestClient, no browser): escaping, CSRF, the
Host check, the security headers, actions through the review service, and the single-writer
rule (a page that finds a batch holding the store says so instead of waiting, and a command
started while a request holds the store waits for it)."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accountflow import Settings, Store
from accountflow.review import item, queue
from accountflow.review_page import create_app
from tests.cli_runner import run_cli
from tests.review.conftest import HOSTILE

TOKEN = "test-token"


def _client(lm: str = "fake") -> TestClient:
    app = create_app(Settings.load(lm=lm), reviewer="sue", lm=lm, csrf_token=TOKEN)
    return TestClient(app, base_url="http://127.0.0.1", follow_redirects=False)


def _ids(home: Path) -> list[str]:
    with Store(home / "accountflow.duckdb") as store:
        return [i.run_id for i in sorted(queue(store), key=lambda i: i.account_id)]


def test_the_queue_escapes_account_text_and_sets_safe_headers(queue_home: dict) -> None:
    page = _client().get("/")
    assert page.status_code == 200
    assert HOSTILE not in page.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["x-frame-options"] == "DENY"
    # every script on the page is the vendored file (no inline script, no CDN)
    assert re.findall(r"<script[^>]*>", page.text) == ['<script src="/static/review.js" defer>']
    assert _client().get("/static/review.js").status_code == 200
    assert _client().get("/static/..%2Fapp.py").status_code == 404


def test_a_post_without_the_token_or_from_another_host_changes_nothing(
    queue_home: dict,
) -> None:
    home = queue_home["home"]
    run_id = _ids(home)[0]
    client = _client()
    refused = client.post(f"/runs/{run_id}/approve", data={"csrf": "wrong"})
    assert refused.status_code == 403
    no_token = client.post(f"/runs/{run_id}/approve", data={})
    assert no_token.status_code == 403
    rebinding = client.post(
        f"/runs/{run_id}/approve", data={"csrf": TOKEN}, headers={"host": "evil.example"}
    )
    assert rebinding.status_code == 400
    with Store(home / "accountflow.duckdb") as store:
        assert store.get_run(run_id)["status"] == "awaiting_review"
        assert store.reviews.history(run_id) == []


def test_actions_go_through_the_review_service(queue_home: dict) -> None:
    home = queue_home["home"]
    first, second, third = _ids(home)
    client = _client()
    # an edit that breaks a rule: refused with the rule named, shown on the queue
    bad = client.post(
        f"/runs/{first}/edit",
        data={"csrf": TOKEN, "channel": "sms", "body": "Hello [Name]!", "then": "approve"},
    )
    assert bad.status_code == 303 and bad.headers["location"].endswith(f"#run-{first}")
    shown = client.get(bad.headers["location"].split("#")[0])
    assert "placeholder" in shown.text and "not saved" in shown.text
    # approve and next: the redirect lands on the next run
    ok = client.post(f"/runs/{first}/approve", data={"csrf": TOKEN, "next": second})
    assert ok.status_code == 303 and ok.headers["location"].endswith(f"#run-{second}")
    # bulk approve: the decided one is reported, the other approved
    bulk = client.post("/bulk-approve", data={"csrf": TOKEN, "run_id": [first, second]})
    assert bulk.status_code == 303
    assert "not+awaiting+review" in bulk.headers["location"]
    with Store(home / "accountflow.duckdb") as store:
        assert store.get_run(first)["status"] == "succeeded"
        assert store.get_run(second)["status"] == "succeeded"
        assert [d.reviewer for d in store.reviews.history(first)] == ["sue"]
    # a rejection needs a note
    bare = client.post(f"/runs/{third}/reject", data={"csrf": TOKEN, "note": ""})
    assert bare.status_code == 303 and "A+rejection+needs" in bare.headers["location"]
    client.post(f"/runs/{third}/reject", data={"csrf": TOKEN, "note": "no", "regenerate": "0"})
    with Store(home / "accountflow.duckdb") as store:
        assert store.get_run(third)["status"] == "rejected"
        assert item(store, third).last_note == "no"
    assert "Nothing to review" in client.get("/").text
    assert len(re.findall(r'class="item"', client.get("/?status=decided").text)) == 3


def _hold_store(path: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding the DuckDB file, as a running batch does."""
    code = (
        "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True);"
        f" time.sleep({seconds}); c.close()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_running_batch_gets_a_retry_page_not_a_wait(queue_home: dict) -> None:
    home = queue_home["home"]
    holder = _hold_store(home / "accountflow.duckdb", 30)
    try:
        started = time.perf_counter()
        page = _client().get("/")
        assert page.status_code == 503 and "A batch is running" in page.text
        assert 'http-equiv="refresh"' in page.text
        assert time.perf_counter() - started < 2
    finally:
        holder.kill()
        holder.wait()
    assert _client().get("/").status_code == 200


def test_a_command_waits_for_a_store_held_for_a_moment(
    queue_home: dict, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    home = queue_home["home"]
    holder = _hold_store(home / "accountflow.duckdb", 1.5)
    try:
        monkeypatch.setenv("ACCOUNTFLOW_STORE_WAIT", "0")
        code, _, err = run_cli(["review", "list"], capsys, monkeypatch)
        assert code != 0 and "in use by" in err
        monkeypatch.setenv("ACCOUNTFLOW_STORE_WAIT", "20")
        code, out, err = run_cli(["review", "list"], capsys, monkeypatch)
        assert code == 0, err
        assert "Harborline" in out
    finally:
        holder.kill()
        holder.wait()
