"""The web source through the orchestrator (fake engine) against the loopback fixture site."""

from __future__ import annotations

import errno
import json
from pathlib import Path
from typing import Any

import pytest

from accountflow import Orchestrator, Store, load_seller
from accountflow.lm import build_lm
from accountflow.models import Account, Contact, FactSource, RunStatus
from accountflow.sources.gather import Gatherer, SourceSettings
from accountflow.sources.web import WebLimits
from tests.cli_runner import run_cli
from tests.sources.site import CANARY_SENTENCE, FixtureSite, serve_site

LIMITS = WebLimits(timeout_s=0.5, min_interval_s=0.0, max_bytes=500_000, total_s=20)


@pytest.fixture
def site(monkeypatch: pytest.MonkeyPatch) -> Any:
    with serve_site(slow_s=1.0) as running:
        monkeypatch.setenv("ACCOUNTFLOW_WEB_ALLOW_HOSTS", f"127.0.0.1:{running.port}")
        yield running


def _account(site: FixtureSite) -> Account:
    return Account(
        account_id="qf-1",
        company_name="Quillfeather Analytics",
        domain="quillfeather.example",
        website=site.url("/"),
        industry="Software & SaaS",
        employee_count=240,
        description="Quillfeather Analytics sells revenue reporting software.",
        contacts=[
            Contact(
                contact_id="c1",
                name="Maren Okafor",
                email="maren@quillfeather.example",
                title="CEO",
                is_primary=True,
            )
        ],
    )


def _files(site: FixtureSite, tmp_path: Path) -> tuple[Path, Path]:
    """An accounts file with the fixture site's account, and where its results go."""
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text(_account(site).model_dump_json() + "\n")
    return accounts, tmp_path / "scored.jsonl"


def _orchestrator(home: Path, offline: bool = False, cache: Any = None) -> Orchestrator:
    store = Store(home / "accountflow.duckdb")
    settings = SourceSettings(sources=("account", "web"), offline=offline)
    gatherer = Gatherer(settings, cache if cache is not None else store.pages, limits=LIMITS)
    return Orchestrator(store, build_lm("fake", cache=False), load_seller(), gatherer=gatherer)


def _everything(result: Any) -> str:
    return json.dumps(result.model_dump(mode="json"), ensure_ascii=False)


def test_research_reads_the_site_cites_urls_and_obeys_nothing_on_it(
    home: Path, site: FixtureSite
) -> None:
    orch = _orchestrator(home)
    result = orch.run(_account(site))
    assert result.status == RunStatus.succeeded, result.error
    assert result.profile is not None
    cited = [f for f in result.profile.key_facts if f.source == FactSource.web]
    assert cited, result.profile.key_facts
    assert all(f.url and f.url.startswith(site.base) for f in cited)
    # the planted instruction never reaches the model, so no output carries it
    assert "CANARY" not in _everything(result)
    research = orch.store.get_steps(result.run_id)[0]
    read = research.input["sources"]
    urls = [t["url"] for t in read["texts"]]
    assert site.url("/") in urls and site.url("/about") in urls
    assert any("robots.txt" in n and "/private/plans" in n for n in read["notes"])
    # the page with the planted instruction was read (kept on the record as data) ...
    assert any(CANARY_SENTENCE in t["text"] for t in read["texts"])
    # never fetched: the robots-disallowed path and the other loopback address
    assert "/private/plans" not in site.log.paths()
    assert len(site.forbidden_log) == 0
    assert orch.gatherer is not None and orch.gatherer.summary.pages >= 3


def test_a_second_run_fetches_nothing_and_offline_degrades_with_a_note(
    home: Path, site: FixtureSite
) -> None:
    first = _orchestrator(home).run(_account(site))
    assert first.status == RunStatus.succeeded
    requests = len(site.log)
    Store(home / "accountflow.duckdb").close()
    again = _orchestrator(home)
    second = again.run(_account(site))
    assert second.status == RunStatus.succeeded
    assert len(site.log) == requests  # every page came from the store's page cache
    assert again.gatherer is not None and again.gatherer.summary.fetched == 0
    assert again.gatherer.summary.cached >= 3
    assert second.profile is not None and any(
        f.source == FactSource.web for f in second.profile.key_facts
    )

    empty_home = home.parent / "offline-home"
    empty_home.mkdir()
    offline = _orchestrator(empty_home, offline=True)
    result = offline.run(_account(site))
    assert result.status == RunStatus.succeeded  # researched from the account row
    assert len(site.log) == requests  # offline: no request at all
    notes = offline.store.get_steps(result.run_id)[0].input["sources"]["notes"]
    assert any("offline" in n for n in notes)


class _FullDisk:
    def get(self, url: str) -> None:
        return None

    def put(self, page: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_cache_that_cannot_be_written_costs_a_note_not_the_account(
    home: Path, site: FixtureSite
) -> None:
    orch = _orchestrator(home, cache=_FullDisk())
    result = orch.run(_account(site))
    assert result.status == RunStatus.succeeded
    notes = orch.store.get_steps(result.run_id)[0].input["sources"]["notes"]
    assert any("page cache not written" in n for n in notes)


def test_score_with_web_prints_the_summary_and_carries_urls(
    home: Path,
    site: FixtureSite,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts, out = _files(site, tmp_path)
    args = ["score", str(accounts), "--out", str(out), "--lm", "fake", "--sources", "account,web"]
    code, _, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, err
    assert "research sources:" in err and "web pages" in err
    row = json.loads(out.read_text().splitlines()[0])
    assert site.base in row["research_sources"]


@pytest.mark.local_model
def test_embedded_model_cites_the_site_and_never_obeys_it(home: Path, site: FixtureSite) -> None:
    """The issue's end-to-end check on the real embedded model: facts with page URLs, outreach
    that uses a fact only the site has, no canary anywhere, the forbidden paths never fetched,
    a second run served from the cache."""
    store = Store(home / "accountflow.duckdb")
    gatherer = Gatherer(SourceSettings(sources=("account", "web")), store.pages, limits=LIMITS)
    orch = Orchestrator(
        store,
        build_lm("local/qwen2.5-coder-0.5b", cache=False),
        load_seller(),
        gatherer=gatherer,
    )
    result = orch.run(_account(site))
    print(result.model_dump_json(indent=2))
    assert result.profile is not None
    cited = [f for f in result.profile.key_facts if f.source == FactSource.web]
    assert cited and all(f.url and f.url.startswith(site.base) for f in cited)
    assert "CANARY" not in _everything(result)
    assert "/private/plans" not in site.log.paths() and len(site.forbidden_log) == 0
    if result.outreach is not None:  # a fact the account row does not have reached a message
        row = _account(site).model_dump_json().lower()
        site_only = ("clickhouse", "bristol", "lisbon", "inkwell", "2017", "series b", "240")
        text = " ".join(m.body.lower() for m in result.outreach.messages)
        print("site-only facts in outreach:", [w for w in site_only if w in text and w not in row])
    requests = len(site.log)
    again = Orchestrator(
        store,
        build_lm("local/qwen2.5-coder-0.5b", cache=False),
        load_seller(),
        gatherer=Gatherer(SourceSettings(sources=("account", "web")), store.pages, limits=LIMITS),
    )
    again.run(_account(site))
    assert len(site.log) == requests


def test_resume_batch_reads_the_same_sources_so_nothing_runs_again(
    home: Path,
    site: FixtureSite,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    accounts, out = _files(site, tmp_path)
    score = ["score", str(accounts), "--out", str(out), "--lm", "fake", "--batch", "web-1"]
    code, _, err = run_cli([*score, "--sources", "account,web", "--json"], capsys, monkeypatch)
    assert code == 0, err
    requests = len(site.log)
    code, printed, err = run_cli(["resume", "--batch", "web-1", "--json"], capsys, monkeypatch)
    assert code == 0, err
    summary = json.loads(printed)
    assert summary["skipped"] == 1  # the same run identity: skipped, not run again
    assert len(site.log) == requests
    # the same list without the web source is a different run identity: it runs again
    code, printed, err = run_cli([*score, "--json"], capsys, monkeypatch)
    assert code == 0, err
    assert json.loads(printed)["skipped"] == 0


def test_accounts_on_one_host_read_it_one_at_a_time(home: Path, site: FixtureSite) -> None:
    import threading

    inside, most = 0, 0
    guard = threading.Lock()
    from accountflow.sources import web

    real = web.fetch_site

    def counting(*args: Any, **kwargs: Any) -> Any:
        nonlocal inside, most
        with guard:
            inside += 1
            most = max(most, inside)
        try:
            return real(*args, **kwargs)
        finally:
            with guard:
                inside -= 1

    gatherer = Gatherer(SourceSettings(sources=("account", "web")), limits=LIMITS)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(web, "fetch_site", counting)
        threads = [threading.Thread(target=gatherer, args=(_account(site),)) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert most == 1 and gatherer.summary.accounts == 3


def test_eval_reads_the_site_through_the_store_cache_like_score(
    home: Path,
    site: FixtureSite,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """`eval run --sources account,web` uses the orchestrator's gatherer and the state dir's
    page cache: a second eval makes no request, and `--offline` then finds the pages."""
    dev = Path(__file__).resolve().parents[2] / "datasets" / "labeled" / "dev.jsonl"
    row = json.loads(dev.read_text().splitlines()[0])
    row["account"]["website"] = site.url("/")
    data = tmp_path / "one.jsonl"
    data.write_text(json.dumps(row) + "\n")
    suite = tmp_path / "web.yaml"
    suite.write_text(
        f"name: web\ntarget: research\ndataset: {data}\nthreads: 1\n"
        "metrics:\n  fact_sources: 1\nthresholds:\n  fail_under: 0.0\n"
    )
    args = ["eval", "run", str(suite), "--lm", "fake", "--no-mlflow", "--sources", "account,web"]
    code, out, err = run_cli([*args, "--json"], capsys, monkeypatch)
    assert code == 0, err
    first = json.loads(out)["sources"]
    assert first["pages"] >= 3 and first["fetched"] > 0
    requests = len(site.log)
    code, out, err = run_cli([*args, "--offline", "--json"], capsys, monkeypatch)
    assert code == 0, err
    again = json.loads(out)["sources"]
    assert again["fetched"] == 0 and again["pages"] == first["pages"]
    assert len(site.log) == requests
    code, _, err = run_cli(args, capsys, monkeypatch)  # the table output names the sources
    assert code == 0 and "research sources:" in err


def test_a_resumed_run_keeps_its_research_and_reads_no_page_again(
    home: Path, site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A run that died after research (here: analysis failing) resumes from the stored
    research: its pages are not read again, and its record still names them."""
    from accountflow.modules import PainPointAnalyst

    real = PainPointAnalyst.forward

    def broken(self: Any, *args: Any, **kwargs: Any) -> Any:
        raise ValueError("analysis crashed")

    monkeypatch.setattr(PainPointAnalyst, "forward", broken)
    store = Store(home / "accountflow.duckdb")
    settings = SourceSettings(sources=("account", "web"))
    first = Orchestrator(
        store,
        build_lm("fake", cache=False),
        load_seller(),
        gatherer=Gatherer(settings, store.pages, limits=LIMITS),
        sleep=lambda _s: None,
    ).run(_account(site))
    assert first.status == RunStatus.failed
    requests = len(site.log)
    monkeypatch.setattr(PainPointAnalyst, "forward", real)
    resumed = Orchestrator(
        store,
        build_lm("fake", cache=False),
        load_seller(),
        gatherer=Gatherer(settings, store.pages, limits=LIMITS),
    ).resume(first.run_id)
    assert resumed.status == RunStatus.succeeded, resumed.error
    assert len(site.log) == requests
    research = [s for s in store.get_steps(first.run_id) if s.step == "research"]
    assert len(research) == 1 and research[0].input["sources"]["texts"]
