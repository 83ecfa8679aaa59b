"""The website fetcher against a loopback fixture site: safety, robots.txt, limits and the cache."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from accountflow.sources import web
from accountflow.sources.web import (
    ALLOW_HOSTS_ENV,
    USER_AGENT,
    FetchedPage,
    MemoryCache,
    SiteResult,
    UnsafeURL,
    WebLimits,
    check_url,
    fetch_site,
    is_public_address,
    site_url,
)
from tests import conftest
from tests.sources.site import CANARY_SENTENCE, FixtureSite, serve_site

FAST = WebLimits(timeout_s=0.5, min_interval_s=0, max_bytes=500_000, max_pages=20, total_s=10)
FIRST_FOUR = FAST.model_copy(update={"max_pages": 4})  # home, about, careers, news: no traps


@pytest.fixture
def site() -> Iterator[FixtureSite]:
    with serve_site(slow_s=2.0) as running:
        yield running


@pytest.fixture
def allowed(site: FixtureSite, monkeypatch: pytest.MonkeyPatch) -> FixtureSite:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, f"127.0.0.1:{site.port}")
    return site


@dataclass(frozen=True)
class Crawl:
    site: FixtureSite
    result: SiteResult


@pytest.fixture(scope="module")
def crawl() -> Iterator[Crawl]:
    """One full fetch of the site, shared by the tests that only read it (under the same guard)."""
    with serve_site(slow_s=2.0) as running:
        with pytest.MonkeyPatch.context() as patch:
            patch.setattr(socket.socket, "connect", conftest._guarded_connect)
            patch.setattr(socket, "create_connection", conftest._guarded_create_connection)
            patch.setattr(socket, "getaddrinfo", conftest._guarded_getaddrinfo)
            patch.setenv(ALLOW_HOSTS_ENV, f"127.0.0.1:{running.port}")
            result = fetch_site(running.url(), FAST)
        yield Crawl(running, result)


@pytest.fixture
def full(crawl: Crawl) -> SiteResult:
    return crawl.result


@pytest.fixture
def shared(crawl: Crawl) -> FixtureSite:
    return crawl.site


def _page(result: SiteResult, path: str) -> FetchedPage:
    return next(page for page in result.pages if page.final_url.endswith(path))


def _reasons(entries: list[tuple[str, str]], path: str) -> list[str]:
    return [reason for url, reason in entries if url.endswith(path)]


# --- what is fetched -----------------------------------------------------------------------


def test_fetches_home_and_the_informative_pages_with_their_facts(
    shared: FixtureSite, full: SiteResult
) -> None:
    finals = [page.final_url for page in full.pages]
    assert finals[0] == shared.url("/")
    for path in ("/about", "/careers", "/news/clickhouse-move"):
        assert shared.url(path) in finals
    assert all(url.startswith(f"http://127.0.0.1:{shared.port}/") for url in finals)
    about = _page(full, "/about").text
    assert "founded in 2017" in about and "240 people" in about and "Inkwell" in about
    assert "In October 2026 Quillfeather moved its reporting to ClickHouse" in (
        _page(full, "/news/clickhouse-move").text
    )
    assert "Senior Data Engineer (ClickHouse)" in _page(full, "/careers").text
    assert _page(full, "/about").title == "About Quillfeather Analytics"
    assert all(page.error is None and page.status == 200 for page in full.pages)
    assert all(page.fetched_at.tzinfo is not None for page in full.pages)
    assert all(len(page.content_hash) == 64 for page in full.pages)
    assert "window.analytics" not in "".join(page.text for page in full.pages)


def test_informative_pages_come_first_and_sitemap_only_pages_are_found(full: SiteResult) -> None:
    paths = [page.final_url.rsplit("/", 1)[-1] for page in full.pages]
    assert paths[:4] == ["", "about", "careers", "clickhouse-move"]
    assert "customers" in paths  # linked only from the sitemap listed in robots.txt


def test_max_pages_bounds_the_fetch(allowed: FixtureSite) -> None:
    result = fetch_site(allowed.url(), FAST.model_copy(update={"max_pages": 2}))
    assert [page.final_url for page in result.pages] == [allowed.url("/"), allowed.url("/about")]
    assert "/careers" not in allowed.log.paths()


def test_robots_disallowed_page_is_never_requested(shared: FixtureSite, full: SiteResult) -> None:
    assert "/private/plans" not in shared.log.paths()
    assert _reasons(full.refused, "/private/plans") == ["robots.txt disallows it"]
    assert shared.log.paths().count("/robots.txt") == 1


def test_redirect_chain_is_followed_and_not_duplicated(
    shared: FixtureSite, full: SiteResult
) -> None:
    assert {"/redirect-1", "/redirect-2"} <= set(shared.log.paths())
    assert [page.final_url for page in full.pages].count(shared.url("/about")) == 1
    assert shared.log.paths().count("/about") == 1


def test_a_redirecting_start_url_ends_at_its_target(allowed: FixtureSite) -> None:
    start = fetch_site(allowed.url("/redirect-1"), FAST.model_copy(update={"max_pages": 1}))
    assert start.pages[0].url == allowed.url("/redirect-1")
    assert start.pages[0].final_url.endswith("/about")


def test_oversize_slow_and_wrong_type_pages_do_not_stop_the_run(full: SiteResult) -> None:
    assert _reasons(full.refused, "/big") == ["oversize: more than 500000 bytes"]
    assert [r for r in _reasons(full.failed, "/slow") if "timeout" in r]
    assert _reasons(full.refused, "/files/brochure.pdf") == ["content type application/pdf"]
    assert full.seconds < 5


def test_redirect_to_a_private_address_is_refused(shared: FixtureSite, full: SiteResult) -> None:
    (reason,) = _reasons(full.refused, "/go-elsewhere")
    assert "127.0.0.2" in reason and "private address" in reason
    assert len(shared.forbidden_log) == 0


def test_loopback_site_is_refused_without_the_allow_list(site: FixtureSite) -> None:
    result = fetch_site(site.url(), FAST)
    assert result.pages == [] and result.fetched == 0
    ((url, reason),) = result.refused
    assert url == site.url() and "private address (loopback)" in reason
    assert len(site.log) == 0


def test_allow_list_is_port_specific_and_case_insensitive(
    site: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ALLOW_HOSTS_ENV, f" LOCALHOST:{site.port} ")
    result = fetch_site(f"http://localhost:{site.port}/", FIRST_FOUR)
    assert len(result.pages) == 4
    monkeypatch.setenv(ALLOW_HOSTS_ENV, f"localhost:{site.port + 1}")
    assert fetch_site(f"http://localhost:{site.port}/", FIRST_FOUR).refused


def test_fetched_counts_every_request(shared: FixtureSite, full: SiteResult) -> None:
    assert full.fetched == len(shared.log)
    assert full.cached == 0


# --- safety units ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ip",
    [
        "127.0.0.1",
        "10.0.0.1",
        "172.16.0.1",
        "192.168.1.1",
        "169.254.169.254",
        "::1",
        "fe80::1",
        "fe80::1%eth0",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::ffff:169.254.169.254",
        "0.0.0.0",
        "::",
        "224.0.0.1",
        "ff02::1",
        "100.64.0.1",
        "100.100.100.200",
        "2002:7f00:1::",  # 6to4 wrapping 127.0.0.1
        "64:ff9b::a00:1",  # NAT64 wrapping 10.0.0.1
        "240.0.0.1",
        "not an ip",
    ],
)
def test_non_public_addresses(ip: str) -> None:
    assert not is_public_address(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "2606:4700::1", "8.8.8.8"])
def test_public_addresses(ip: str) -> None:
    assert is_public_address(ip)


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("ftp://127.0.0.1/file", "scheme ftp"),
        ("file:///etc/passwd", "scheme file"),
        ("javascript:alert(1)", "scheme javascript"),
        ("http://user:pw@93.184.216.34/", "credentials"),
        ("http://user@93.184.216.34/", "credentials"),
        ("http:///path-only", "no host"),
        ("http://127.0.0.1:8123/", "127.0.0.1 is a private address (loopback)"),
        ("http://[::1]:8123/", "::1 is a private address (loopback)"),
        ("http://169.254.169.254/latest/meta-data/", "cloud metadata"),
        ("http://10.1.2.3/", "10.1.2.3 is a private address"),
        ("http://localhost:8123/", "localhost resolves to"),
    ],
)
def test_check_url_refuses(url: str, words: str) -> None:
    with pytest.raises(UnsafeURL, match=words.replace("(", r"\(").replace(")", r"\)")):
        check_url(url)


def test_check_url_allows_public_and_allow_listed(monkeypatch: pytest.MonkeyPatch) -> None:
    check_url("https://93.184.216.34/about")
    check_url("http://[2606:4700::1]/")
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1:8123")
    check_url("http://127.0.0.1:8123/")
    with pytest.raises(UnsafeURL):
        check_url("http://127.0.0.1:8124/")
    monkeypatch.setenv(ALLOW_HOSTS_ENV, "127.0.0.1")
    check_url("http://127.0.0.1:8124/")


def test_unsafe_start_urls_are_refused_without_raising() -> None:
    for url in ("ftp://example.org/", "http://a:b@93.184.216.34/", "http://[bad/"):
        result = fetch_site(url, FAST)
        assert result.pages == [] and result.fetched == 0 and len(result.refused) == 1


def test_site_url() -> None:
    assert site_url("quillfeather.example", None) == "https://quillfeather.example/"
    assert site_url(" Quillfeather.Example ", "") == "https://quillfeather.example/"
    assert site_url(None, "http://www.quillfeather.example/en") == (
        "http://www.quillfeather.example/en"
    )
    assert site_url("q.example", "www.q.example") == "https://www.q.example"
    assert site_url("q.example", "ftp://q.example/") == "https://q.example/"
    assert site_url(None, "ftp://q.example/") is None
    assert site_url(None, None) is None


def _fake_dns(monkeypatch: pytest.MonkeyPatch, answers: list[str]) -> list[str]:
    """Make rebind.test resolve to answers in turn (the last one repeats); log each lookup."""
    guarded = socket.getaddrinfo  # the network guard's version: loopback only
    lookups: list[str] = []

    def fake(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.test":
            ip = answers[min(len(lookups), len(answers) - 1)]
            lookups.append(ip)
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, port))]
        return guarded(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)
    return lookups


def test_dns_rebinding_is_refused_at_connect_time(
    allowed: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the pre-check sees a public address; the connection's own lookup gets loopback
    lookups = _fake_dns(monkeypatch, ["93.184.216.34", "127.0.0.1"])
    result = fetch_site(f"http://rebind.test:{allowed.port}/", FAST)
    assert lookups[:2] == ["93.184.216.34", "127.0.0.1"]
    assert result.pages == []
    assert _reasons(result.refused, "/") == [
        "rebind.test resolves to 127.0.0.1, a private address (loopback)"
    ]
    assert len(allowed.log) == 0


def test_connect_time_check_holds_when_the_url_check_is_bypassed(
    allowed: FixtureSite, monkeypatch: pytest.MonkeyPatch
) -> None:
    _fake_dns(monkeypatch, ["127.0.0.1"])
    monkeypatch.setattr(web, "check_url", lambda url: None)
    result = fetch_site(f"http://rebind.test:{allowed.port}/", FAST)
    assert result.pages == [] and "private address" in result.refused[0][1]
    assert len(allowed.log) == 0
    with pytest.raises(UnsafeURL, match=r"rebind\.test resolves to 127\.0\.0\.1"):
        web._GuardedBackend().connect_tcp("rebind.test", allowed.port, timeout=1)


def test_robots_status_conventions() -> None:
    assert web._parse_robots(404, "") is None
    assert web._parse_robots(0, "") is None
    for status in (401, 403):
        rules = web._parse_robots(status, "")
        assert rules is not None and not rules.can_fetch("http://x.example/", web.ROBOTS_TOKEN)
    rules = web._parse_robots(200, "User-agent: accountflow-research\nDisallow: /\n")
    assert rules is not None and not rules.can_fetch("http://x.example/a", web.ROBOTS_TOKEN)


def test_sitemap_with_entities_is_ignored() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><urlset><url><loc>&a;</loc>'
    assert web._sitemap_locs(bomb + b"</url></urlset>") == (False, [])


# --- data, privacy, politeness ---------------------------------------------------------------


def test_injected_instruction_is_returned_as_plain_text(full: SiteResult) -> None:
    news = _page(full, "/news/clickhouse-move")
    assert CANARY_SENTENCE in news.text
    others = [page for page in full.pages if page is not news]
    assert all("CANARY-7Q2X" not in page.text + page.title for page in others)


def test_no_cookies_are_kept_or_sent(shared: FixtureSite, full: SiteResult) -> None:
    entries = shared.log.entries()
    assert [e.path for e in entries].index("/about") < len(entries) - 1  # requests follow it
    assert all(entry.cookie is None for entry in entries)


def test_requests_carry_the_user_agent(shared: FixtureSite, full: SiteResult) -> None:
    assert {entry.user_agent for entry in shared.log.entries()} == {USER_AGENT}
    assert {entry.method for entry in shared.log.entries()} == {"GET"}


def test_min_interval_spaces_requests_to_a_host(allowed: FixtureSite) -> None:
    started = time.monotonic()
    fetch_site(allowed.url(), FAST.model_copy(update={"max_pages": 3, "min_interval_s": 0.2}))
    elapsed = time.monotonic() - started
    requests = len(allowed.log.entries())
    assert requests >= 4
    # a lower bound only: a loaded machine makes the run slower, never faster than the pauses
    assert elapsed >= 0.2 * (requests - 1) - 0.02


def test_time_budget_stops_new_requests(allowed: FixtureSite) -> None:
    limits = FAST.model_copy(update={"min_interval_s": 0.2, "total_s": 0.5})
    result = fetch_site(allowed.url(), limits)
    budget = [reason for _, reason in result.failed if "time budget" in reason]
    assert budget == ["time budget of 0.5 s spent"]
    assert len(allowed.log) <= 4 and result.seconds < 1.5


# --- cache -----------------------------------------------------------------------------------


def test_second_run_is_served_from_the_cache(allowed: FixtureSite) -> None:
    cache = MemoryCache()
    first = fetch_site(allowed.url(), FIRST_FOUR, cache=cache)
    requests = len(allowed.log)
    second = fetch_site(allowed.url(), FIRST_FOUR, cache=cache, max_age=timedelta(hours=1))
    assert len(allowed.log) == requests
    assert second.fetched == 0 and second.cached == 4
    assert [p.text for p in second.pages] == [p.text for p in first.pages]
    assert all(page.from_cache for page in second.pages)
    assert not any(page.from_cache for page in first.pages)


def test_cached_full_run_only_retries_the_transient_failure(allowed: FixtureSite) -> None:
    cache = MemoryCache()
    first = fetch_site(allowed.url(), FAST, cache=cache)
    requests = len(allowed.log)
    second = fetch_site(allowed.url(), FAST, cache=cache, max_age=timedelta(hours=1))
    assert allowed.log.paths()[requests:] == ["/slow"]  # a timeout is not cached
    assert [p.final_url for p in second.pages] == [p.final_url for p in first.pages]
    assert sorted(second.refused) == sorted(first.refused)
    assert len(allowed.forbidden_log) == 0


def test_expired_cache_entries_are_fetched_again(allowed: FixtureSite) -> None:
    cache = MemoryCache()
    now = datetime(2026, 11, 2, 9, 0, tzinfo=timezone.utc)
    fetch_site(allowed.url(), FIRST_FOUR, cache=cache, clock=lambda: now)
    requests = len(allowed.log)
    later = now + timedelta(hours=2)
    result = fetch_site(
        allowed.url(), FIRST_FOUR, cache=cache, max_age=timedelta(hours=1), clock=lambda: later
    )
    assert {"/robots.txt", "/", "/about"} <= set(allowed.log.paths()[requests:])
    assert result.cached == 0 and not any(page.from_cache for page in result.pages)
    assert all(page.fetched_at == later for page in result.pages)


def test_offline_with_an_empty_cache_touches_nothing(allowed: FixtureSite) -> None:
    result = fetch_site(allowed.url(), FAST, cache=MemoryCache(), offline=True)
    assert result.pages == [] and result.fetched == 0
    assert result.failed == [(allowed.url(), "offline: not in the cache")]
    assert len(allowed.log) == 0


def test_offline_serves_a_filled_cache_of_any_age(allowed: FixtureSite) -> None:
    cache = MemoryCache()
    first = fetch_site(allowed.url(), FIRST_FOUR, cache=cache)
    requests = len(allowed.log)
    far = datetime.now(timezone.utc) + timedelta(days=365)
    result = fetch_site(
        allowed.url(),
        FIRST_FOUR,
        cache=cache,
        max_age=timedelta(minutes=1),
        offline=True,
        clock=lambda: far,
    )
    assert len(allowed.log) == requests
    assert [p.text for p in result.pages] == [p.text for p in first.pages]
