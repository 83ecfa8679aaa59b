"""A safe, bounded fetcher for an account's own website (the research step's first source).

Why so careful: the URL comes from account data that anyone can write, so the fetcher must not be
turned against private networks (SSRF, also through redirects and DNS rebinding), must not
hammer a site (robots.txt, a per-host delay, page and time budgets), and must not let one huge or
slow page stall a batch. Page text is returned as DATA for later steps: nothing here interprets it.
Network problems never raise; they are reported in `SiteResult.refused` and `SiteResult.failed`.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
import socket
import time
import xml.etree.ElementTree as ElementTree
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from http.cookiejar import Cookie, CookieJar, CookiePolicy
from typing import Any, Protocol
from urllib.parse import SplitResult, urljoin, urlsplit, urlunsplit
from urllib.request import Request as UrllibRequest

import httpcore
import httpx
from protego import Protego
from pydantic import BaseModel, ConfigDict, Field

USER_AGENT = (
    "accountflow-research/0.1 (+https://github.com/accountflow/accountflow; "
    "B2B account research; respects robots.txt)"
)
ALLOW_HOSTS_ENV = "ACCOUNTFLOW_WEB_ALLOW_HOSTS"
"""Comma-separated "host" or "host:port" entries exempt from the private-address rule (tests)."""

ROBOTS_TOKEN = "accountflow-research"
"""The product token robots.txt groups are matched against (the start of USER_AGENT)."""

_KEPT_TYPES = frozenset({"text/html", "application/xhtml+xml", "text/plain"})
_METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(ip) for ip in ("169.254.169.254", "fd00:ec2::254", "100.100.100.200")
)
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_RANKED_WORDS: tuple[tuple[str, ...], ...] = (
    ("about", "company"),
    ("careers", "jobs"),
    ("news", "press", "blog"),
    ("team", "customers", "product", "platform"),
)
_MAX_SITEMAPS = 3  # sitemap documents fetched per site (an index and two children at most)
_MAX_CANDIDATES = 200  # discovered links kept per site
_MAX_CRAWL_DELAY_S = 10.0  # a robots.txt Crawl-delay above this is capped, not obeyed
_MAX_TITLE_CHARS = 300
_LINKS_SUFFIX = "#links"


def _utc_now() -> datetime:
    return datetime.now(timezone.utc)


class WebLimits(BaseModel):
    """Per-account budgets: every fetch is bounded in pages, bytes, time and request rate."""

    model_config = ConfigDict(frozen=True)

    max_pages: int = Field(default=6, ge=1)
    max_bytes: int = Field(default=1_000_000, ge=1)
    timeout_s: float = Field(default=8.0, gt=0)
    total_s: float = Field(default=30.0, gt=0)
    max_redirects: int = Field(default=5, ge=0)
    min_interval_s: float = Field(default=0.5, ge=0)
    max_text_chars: int = Field(default=6000, ge=1)


class FetchedPage(BaseModel):
    """One page's outcome, as cached and as handed to the research step (text is data)."""

    url: str
    final_url: str
    status: int
    fetched_at: datetime
    content_hash: str
    text: str
    title: str = ""
    error: str | None = None
    from_cache: bool = False


class PageCache(Protocol):
    """Where fetched pages are kept between runs (a store table later, a dict in tests)."""

    def get(self, url: str) -> FetchedPage | None: ...

    def put(self, page: FetchedPage) -> None: ...


class MemoryCache:
    """A dict-backed PageCache: the default when no store is given, and the tests' cache."""

    def __init__(self) -> None:
        self._pages: dict[str, FetchedPage] = {}

    def get(self, url: str) -> FetchedPage | None:
        page = self._pages.get(url)
        return None if page is None else page.model_copy()

    def put(self, page: FetchedPage) -> None:
        self._pages[page.url] = page.model_copy(update={"from_cache": False})

    def __len__(self) -> int:
        return len(self._pages)


class SiteResult(BaseModel):
    """What one account's website gave: pages with text, and why the other URLs gave nothing."""

    site: str
    pages: list[FetchedPage]
    refused: list[tuple[str, str]]
    failed: list[tuple[str, str]]
    fetched: int
    cached: int
    seconds: float


class UnsafeURL(Exception):
    """A URL or address the fetcher must not reach; the message is the refusal reason."""


# --- addresses and URLs ---------------------------------------------------------------------


def _address_kind(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """Why an address is not public (None when it is): the words used in refusal reasons."""
    if isinstance(addr, ipaddress.IPv6Address):
        embedded = addr.ipv4_mapped or addr.sixtofour
        if embedded is None and addr in _NAT64:
            embedded = ipaddress.IPv4Address(int(addr) & 0xFFFFFFFF)
        if embedded is not None:
            return _address_kind(embedded)
    checks: tuple[tuple[bool, str], ...] = (
        (addr in _METADATA_ADDRESSES, "cloud metadata"),
        (addr.is_unspecified, "unspecified"),
        (addr.is_loopback, "loopback"),
        (addr.is_link_local, "link-local"),
        (addr.is_multicast, "multicast"),
        (isinstance(addr, ipaddress.IPv4Address) and addr in _CGNAT, "shared CGNAT"),
        (addr.is_private, "private"),
        (addr.is_reserved, "reserved"),
        (isinstance(addr, ipaddress.IPv6Address) and addr.is_site_local, "site-local"),
        (not addr.is_global, "non-global"),
    )
    return next((kind for hit, kind in checks if hit), None)


def _parse_ip(ip: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(ip.strip().strip("[]").split("%", 1)[0])
    except ValueError:
        return None


def is_public_address(ip: str) -> bool:
    """True only for globally routable unicast addresses: the only ones research may reach."""
    addr = _parse_ip(ip)
    return addr is not None and _address_kind(addr) is None


def _private_reason(host: str, ip: str) -> str:
    addr = _parse_ip(ip)
    kind = "unparseable" if addr is None else (_address_kind(addr) or "")
    what = "a private address" if kind == "private" else f"a private address ({kind})"
    if host.strip("[]").lower() == ip.lower():
        return f"{ip} is {what}"
    return f"{host} resolves to {ip}, {what}"


def _allowed(host: str, port: int) -> bool:
    """Whether ALLOW_HOSTS_ENV exempts host (any port) or host:port, read at call time."""
    raw = os.environ.get(ALLOW_HOSTS_ENV, "")
    entries = {entry.strip().lower() for entry in raw.split(",") if entry.strip()}
    if not entries:
        return False
    name = host.strip("[]").lower()
    bracketed = f"[{name}]" if ":" in name else name
    return bool({name, bracketed, f"{bracketed}:{port}"} & entries)


def _resolve(host: str, port: int) -> list[str]:
    """All addresses a host name stands for (raises socket.gaierror when it has none)."""
    if _parse_ip(host) is not None:
        return [host.strip("[]")]
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _checked_split(url: str) -> tuple[SplitResult, str, int]:
    """The URL's parts, host and port, or UnsafeURL for what no resolution can fix."""
    try:
        parts = urlsplit(url.strip())
    except ValueError:
        raise UnsafeURL("the URL cannot be parsed") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https"):
        raise UnsafeURL(f"scheme {scheme or '(none)'} is not http or https")
    if parts.username is not None or parts.password is not None:
        raise UnsafeURL("credentials in the URL are not allowed")
    host = parts.hostname
    if not host:
        raise UnsafeURL("the URL has no host")
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        raise UnsafeURL("the URL has an invalid port") from None
    return parts, host, port


def check_url(url: str) -> None:
    """Refuse (UnsafeURL) what research must never request, before any connection is made.

    Only http/https without credentials, to a host whose every address is public (unless the host
    is allow-listed). A name that does not resolve passes: the connection then fails on its own.
    The same address rule is enforced again at connect time (see _GuardedBackend).
    """
    _, host, port = _checked_split(url)
    if _allowed(host, port):
        return
    try:
        addresses = _resolve(host, port)
    except (OSError, UnicodeError):
        return
    for ip in addresses:
        if not is_public_address(ip):
            raise UnsafeURL(_private_reason(host, ip))


def site_url(domain: str | None, website: str | None) -> str | None:
    """website if given (must be http/https), else https://<domain>/ ; None when neither."""
    if website and website.strip():
        candidate = website.strip()
        if "://" not in candidate:
            candidate = f"https://{candidate}"
        try:
            _checked_split(candidate)
        except UnsafeURL:
            pass
        else:
            return candidate
    if domain and domain.strip():
        name = domain.strip().lower()
        name = re.sub(r"^[a-z][a-z0-9+.-]*://", "", name).split("/", 1)[0].strip(".")
        if name and re.fullmatch(r"[a-z0-9.:\[\]-]+", name):
            return f"https://{name}/"
    return None


def _normalize(url: str) -> str | None:
    """A comparable form (lower-case scheme and host, no default port, no fragment), or None."""
    try:
        parts, host, port = _checked_split(url)
    except UnsafeURL:
        return None
    scheme = parts.scheme.lower()
    netloc = f"[{host}]" if ":" in host else host
    if port != (443 if scheme == "https" else 80):
        netloc = f"{netloc}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _origin(url: str) -> str:
    """scheme://host[:port] of a URL that _normalize accepts."""
    parts = urlsplit(_normalize(url) or url)
    return f"{parts.scheme}://{parts.netloc}"


def _join(base: str, link: str) -> str | None:
    """link resolved against base, without its fragment (None when it cannot be parsed)."""
    try:
        return urlunsplit(urlsplit(urljoin(base, link.strip()))._replace(fragment=""))
    except ValueError:
        return None


def _same_site(url: str, origin: str) -> bool:
    """Same host and port (the scheme may differ only if the port still matches)."""
    norm, base = _normalize(url), _normalize(origin + "/")
    if norm is None or base is None:
        return False
    a, b = urlsplit(norm), urlsplit(base)
    default_a = 443 if a.scheme == "https" else 80
    default_b = 443 if b.scheme == "https" else 80
    return a.hostname == b.hostname and (a.port or default_a) == (b.port or default_b)


# --- the connect-time guard (DNS rebinding) ------------------------------------------------


class _GuardedBackend(httpcore.NetworkBackend):
    """Resolves, checks and connects to the same address, so a second DNS answer cannot slip in.

    httpcore hands connect_tcp the origin's host name; TLS (start_tls) still uses that name for
    SNI and certificate checks, because httpcore passes server_hostname from the origin, not
    from the address connected to.
    """

    def __init__(self) -> None:
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise httpcore.ConnectError(f"could not resolve {host}") from exc
        if not _allowed(host, port):
            for ip in addresses:
                if not is_public_address(ip):
                    raise UnsafeURL(_private_reason(host, ip))
        error: Exception = httpcore.ConnectError(f"no address for {host}")
        for ip in addresses[:3]:
            try:
                return self._inner.connect_tcp(
                    ip,
                    port,
                    timeout=timeout,
                    local_address=local_address,
                    socket_options=socket_options,
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        raise UnsafeURL("unix sockets are not allowed")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


class _GuardedTransport(httpx.HTTPTransport):
    """httpx's transport with the guarded backend in its pool; no proxies, no retries."""

    def __init__(self) -> None:
        ssl_context = httpx.create_ssl_context(trust_env=False)
        super().__init__(verify=ssl_context, trust_env=False, retries=0)
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=4,
            max_keepalive_connections=2,
            keepalive_expiry=5.0,
            http1=True,
            http2=False,
            retries=0,
            network_backend=_GuardedBackend(),
        )


class _NoCookies(CookiePolicy):
    """Accept and send no cookies: research visits are anonymous and leave nothing behind."""

    netscape = True
    rfc2965 = False
    hide_cookie2 = True

    def set_ok(self, cookie: Cookie, request: UrllibRequest) -> bool:
        return False

    def return_ok(self, cookie: Cookie, request: UrllibRequest) -> bool:
        return False

    def domain_return_ok(self, domain: str, request: UrllibRequest) -> bool:
        return False

    def path_return_ok(self, path: str, request: UrllibRequest) -> bool:
        return False


def _new_client() -> httpx.Client:
    return httpx.Client(
        transport=_GuardedTransport(),
        follow_redirects=False,
        trust_env=False,
        cookies=CookieJar(policy=_NoCookies()),
        headers={
            "User-Agent": USER_AGENT,
            "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,*/*;q=0.5",
            "Accept-Encoding": "gzip, deflate",
        },
    )


# --- parsing -------------------------------------------------------------------------------


class _PageParser(HTMLParser):
    """Links, title and visible text (the fallback when trafilatura finds no main text)."""

    _SKIPPED = frozenset({"script", "style", "noscript", "template", "svg"})
    _BLOCKS = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.title = ""
        self._chunks: list[str] = []
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "a":
            href = dict(attrs).get("href")
            if href:
                self.links.append(href.strip())
        elif tag == "title":
            self._in_title = True
        if tag in self._SKIPPED:
            self._skip += 1
        elif tag in self._BLOCKS:
            self._chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in self._SKIPPED and self._skip:
            self._skip -= 1
        elif tag in self._BLOCKS:
            self._chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self._chunks.append(data)

    @property
    def text(self) -> str:
        return "".join(self._chunks)


def _clean(text: str, limit: int) -> str:
    """Collapse whitespace within lines, drop blank lines, cut to the limit."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)[:limit].rstrip()


def _decode(body: bytes, charset: str | None) -> str:
    if body.startswith(b"\xef\xbb\xbf"):
        return body.decode("utf-8-sig", errors="replace")
    if not charset:
        meta = re.search(rb"<meta[^>]+charset=[\"']?([A-Za-z0-9_.:-]+)", body[:4096], re.I)
        charset = meta.group(1).decode("ascii") if meta else "utf-8"
    try:
        return body.decode(charset, errors="replace")
    except LookupError:
        return body.decode("utf-8", errors="replace")


def _extract(html: str, mime: str, limit: int) -> tuple[str, str, list[str]]:
    """(text, title, raw hrefs) of a page; plain text is kept as is."""
    if mime == "text/plain":
        return _clean(html, limit), "", []
    import trafilatura  # heavy (lxml and friends): only loaded when a page is extracted

    parser = _PageParser()
    parser.feed(html)
    parser.close()
    extracted = trafilatura.extract(
        html, include_comments=False, include_tables=False, favor_recall=True
    )
    text = _clean(extracted if extracted else parser.text, limit)
    return text, _clean(parser.title, _MAX_TITLE_CHARS).replace("\n", " "), parser.links


def _sitemap_locs(body: bytes) -> tuple[bool, list[str]]:
    """(is a sitemap index, <loc> URLs); entity declarations are refused outright."""
    head = body[:4096].lower()
    if b"<!doctype" in head or b"<!entity" in body.lower():
        return False, []
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:  # cut off at max_bytes, or not XML: take what is readable
        found = re.findall(rb"<loc>\s*([^<\s]+)\s*</loc>", body)
        return False, [loc.decode("utf-8", errors="replace") for loc in found]
    is_index = root.tag.rsplit("}", 1)[-1] == "sitemapindex"
    locs = [
        (element.text or "").strip()
        for element in root.iter()
        if element.tag.rsplit("}", 1)[-1] == "loc" and element.text
    ]
    return is_index, locs


def _parse_robots(status: int, text: str) -> Protego | None:
    """Rules for a robots.txt answer; None means allow all (404, errors, no answer)."""
    if status in (401, 403):
        return Protego.parse("User-agent: *\nDisallow: /\n")
    if 200 <= status < 300:
        try:
            return Protego.parse(text)
        except Exception:  # a malformed file is treated like a missing one
            return None
    return None


def _rank(links: Iterable[str], origin: str, home: str) -> list[str]:
    """Same-site http(s) candidates, de-duplicated, the informative paths first."""
    seen = {home}
    found: list[str] = []
    for link in links:
        norm = _normalize(link)
        if norm is None or norm in seen or not _same_site(norm, origin):
            continue
        seen.add(norm)
        found.append(norm)

    def group(url: str) -> int:
        path = urlsplit(url).path.lower()
        for index, words in enumerate(_RANKED_WORDS):
            if any(word in path for word in words):
                return index
        return len(_RANKED_WORDS)

    return sorted(found, key=group)[:_MAX_CANDIDATES]


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest() if text else ""


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


# --- the run -------------------------------------------------------------------------------


@dataclass
class _Reply:
    """One URL's network outcome with redirects followed."""

    url: str
    final_url: str
    status: int = 0
    body: bytes = b""
    mime: str = ""
    charset: str | None = None
    error: str | None = None  # "refused: ..." or "failed: ..."
    requested: bool = False
    duplicate: bool = False  # redirected to a page already fetched
    budget_spent: bool = False
    refused_url: str = ""  # the hop that was refused (to block an unsafe origin)


class _Run:
    """State of one fetch_site call: budgets, robots rules, politeness clock, results."""

    def __init__(
        self,
        limits: WebLimits,
        cache: PageCache | None,
        max_age: timedelta | None,
        offline: bool,
        clock: Callable[[], datetime],
    ) -> None:
        self.limits = limits
        self.cache = cache
        self.max_age = max_age
        self.offline = offline
        self.clock = clock
        self.started = time.monotonic()
        self.deadline = self.started + limits.total_s
        self.pages: list[FetchedPage] = []
        self.refused: list[tuple[str, str]] = []
        self.failed: list[tuple[str, str]] = []
        self.fetched = 0
        self.cached = 0
        self.attempts = 0
        self.stopped = False
        self._client: httpx.Client | None = None
        self._robots: dict[str, Protego | None] = {}
        self._blocked: dict[str, str] = {}
        self._last_request: dict[str, float] = {}
        self._seen: set[str] = set()
        self._hashes: set[str] = set()

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    # cache

    def _from_cache(self, url: str) -> FetchedPage | None:
        if self.cache is None:
            return None
        page = self.cache.get(url)
        if page is None:
            return None
        fresh = (
            self.offline or self.max_age is None or self.clock() - page.fetched_at <= self.max_age
        )
        return page.model_copy(update={"from_cache": True}) if fresh else None

    def _put(self, page: FetchedPage) -> None:
        if self.cache is not None:
            self.cache.put(page)

    # budgets and politeness

    def _note_budget(self, url: str) -> None:
        if not self.stopped:
            self.failed.append((url, f"time budget of {self.limits.total_s:g} s spent"))
        self.stopped = True

    def _wait_turn(self, url: str) -> bool:
        """Sleep until this host may be asked again; False when the time budget is spent."""
        rules = self._robots.get(_origin(url))
        delay = rules.crawl_delay(ROBOTS_TOKEN) if rules is not None else None
        interval = max(self.limits.min_interval_s, min(delay or 0.0, _MAX_CRAWL_DELAY_S))
        host = urlsplit(url).hostname or ""
        last = self._last_request.get(host)
        if last is not None:
            wait = last + interval - time.monotonic()
            if wait > 0:
                if time.monotonic() + wait >= self.deadline:
                    return False
                time.sleep(wait)
        if time.monotonic() >= self.deadline:
            return False
        self._last_request[host] = time.monotonic()
        return True

    # robots.txt

    def _rules(self, origin: str) -> Protego | None:
        if origin in self._robots:
            return self._robots[origin]
        url = f"{origin}/robots.txt"
        rules: Protego | None = None
        cached = self._from_cache(url)
        if cached is not None:
            rules = _parse_robots(cached.status, cached.text)
        elif not self.offline:
            reply = self._get(url, page=False)
            if reply.refused_url and _origin(reply.refused_url) == origin and reply.error:
                self._blocked[origin] = reply.error.partition(": ")[2]
            # an HTTP error status is an answer (401/403: disallow all); other errors are not
            answered = reply.error in (None, f"failed: HTTP {reply.status}")
            status = reply.status if answered else 0
            text = _decode(reply.body, reply.charset) if reply.error is None else ""
            rules = _parse_robots(status, text)
            if status:
                self._put(
                    FetchedPage(
                        url=url,
                        final_url=reply.final_url,
                        status=status,
                        fetched_at=self.clock(),
                        content_hash=_sha(text),
                        text=text,
                        error=reply.error,
                    )
                )
        self._robots[origin] = rules
        return rules

    def _robots_reason(self, url: str) -> str | None:
        """Why url may not be requested (unsafe origin, robots.txt), or None."""
        origin = _origin(url)
        rules = self._rules(origin)
        if origin in self._blocked:
            return self._blocked[origin]
        if rules is not None and not rules.can_fetch(url, ROBOTS_TOKEN):
            return "robots.txt disallows it"
        return None

    # requests

    def _client_for_run(self) -> httpx.Client:
        if self._client is None:
            self._client = _new_client()
        return self._client

    def _get(self, url: str, *, page: bool) -> _Reply:
        """GET with redirects followed by hand: every hop is checked before it is requested."""
        reply = _Reply(url=url, final_url=url)
        current = url
        for hop in range(self.limits.max_redirects + 1):
            if hop and page:
                norm = _normalize(current)
                if norm is not None and norm in self._seen:
                    reply.duplicate, reply.final_url = True, current
                    return reply
                reason = self._robots_reason(current)
                if reason:
                    reply.error, reply.refused_url = f"refused: {reason}", current
                    return reply
            try:
                check_url(current)
            except UnsafeURL as exc:
                reply.error, reply.refused_url = f"refused: {exc}", current
                return reply
            if not self._wait_turn(current):
                reply.error = f"failed: time budget of {self.limits.total_s:g} s spent"
                reply.budget_spent = True
                return reply
            location = self._send(current, reply, page=page)
            if location is None:
                return reply
            current = location
        reply.error = f"failed: more than {self.limits.max_redirects} redirects"
        return reply

    def _send(self, url: str, reply: _Reply, *, page: bool) -> str | None:
        """One request; fills reply and returns the next hop for a redirect."""
        timeout = max(0.05, min(self.limits.timeout_s, self.deadline - time.monotonic()))
        started = time.monotonic()
        client = self._client_for_run()
        try:
            with client.stream("GET", url, timeout=timeout) as response:
                self.fetched += 1
                reply.requested = True
                reply.status, reply.final_url = response.status_code, url
                if response.is_redirect:
                    location = _join(url, response.headers["location"])
                    if location is None:
                        reply.error = "failed: the redirect location cannot be parsed"
                    return location
                if not 200 <= response.status_code < 300:
                    reply.error = f"failed: HTTP {response.status_code}"
                    return None
                content_type = response.headers.get("content-type", "")
                reply.mime = content_type.split(";", 1)[0].strip().lower()
                reply.charset = response.charset_encoding
                if page and reply.mime not in _KEPT_TYPES:
                    reply.error = f"refused: content type {reply.mime or '(none)'}"
                    return None
                self._read(response, reply, page=page, started=started, timeout=timeout)
        except UnsafeURL as exc:  # raised at connect time by _GuardedBackend
            reply.error, reply.refused_url = f"refused: {exc}", url
        except httpx.TimeoutException:
            self._count_attempt(reply)
            reply.error = f"failed: timeout, no answer within {timeout:g} s"
        except (httpx.HTTPError, httpx.InvalidURL) as exc:
            self._count_attempt(reply)
            reply.error = f"failed: {type(exc).__name__}: {_one_line(exc)}"
        finally:
            client.cookies.clear()
        return None

    def _count_attempt(self, reply: _Reply) -> None:
        if not reply.requested:
            self.fetched += 1
            reply.requested = True

    def _read(
        self, response: httpx.Response, reply: _Reply, *, page: bool, started: float, timeout: float
    ) -> None:
        """Stream the body, decompressing by hand so max_bytes bounds the decoded size."""
        cap = self.limits.max_bytes
        oversize = f"refused: oversize: more than {cap} bytes"
        declared = response.headers.get("content-length", "")
        encoding = response.headers.get("content-encoding", "").strip().lower()
        if page and declared.isdigit() and int(declared) > cap and encoding in ("", "identity"):
            reply.error = oversize
            return
        decompressor: Any = None
        if encoding in ("gzip", "x-gzip", "deflate"):
            decompressor = zlib.decompressobj(zlib.MAX_WBITS | 32)
        elif encoding not in ("", "identity"):
            reply.error = f"refused: content encoding {encoding}"
            return
        body = bytearray()
        try:
            for raw in response.iter_raw():
                body += decompressor.decompress(raw, cap + 1 - len(body)) if decompressor else raw
                if len(body) > cap:
                    if page:
                        reply.error = oversize
                        return
                    break  # robots.txt and sitemaps: the first max_bytes are used
                now = time.monotonic()
                if now - started > timeout or now >= self.deadline:
                    reply.error = f"failed: timeout, no complete answer within {timeout:g} s"
                    return
            else:
                if decompressor is not None:
                    body += decompressor.flush()
                    if page and len(body) > cap:
                        reply.error = oversize
                        return
        except zlib.error:
            reply.error = "failed: the compressed body could not be decoded"
            return
        reply.body = bytes(body[:cap])

    # pages

    def _page_from(self, reply: _Reply) -> tuple[FetchedPage, list[str]]:
        """The FetchedPage (and raw links) for a page reply."""
        text, title = "", ""
        links: list[str] = []
        error = reply.error
        if error is None and not reply.duplicate:
            html = _decode(reply.body, reply.charset)
            text, title, links = _extract(html, reply.mime, self.limits.max_text_chars)
            if not text:
                error = "failed: no text in the page"
        page = FetchedPage(
            url=reply.url,
            final_url=reply.final_url,
            status=reply.status,
            fetched_at=self.clock(),
            content_hash=_sha(text),
            text=text,
            title=title,
            error=error,
        )
        joined = (_join(reply.final_url, link) for link in links)
        return page, [link for link in joined if link is not None]

    def _record(self, page: FetchedPage) -> None:
        for url in (page.url, page.final_url):
            norm = _normalize(url)
            if norm is not None:
                self._seen.add(norm)
        if page.error:
            kind, _, reason = page.error.partition(": ")
            (self.refused if kind == "refused" else self.failed).append((page.url, reason))
        elif page.text and page.content_hash not in self._hashes:
            self._hashes.add(page.content_hash)
            self.pages.append(page)

    def _is_stale_duplicate(self, page: FetchedPage) -> bool:
        """A cached redirect-to-a-duplicate whose target was not fetched in this run."""
        if page.error or page.text:
            return False
        norm = _normalize(page.final_url)
        return norm is None or norm not in self._seen

    def _fetch_page(self, url: str) -> tuple[FetchedPage | None, list[str]]:
        """Network fetch of one page (None when refused before any request or out of time)."""
        reason = self._robots_reason(url)
        if reason:
            self.refused.append((url, reason))
            return None, []
        if self.stopped:
            return None, []
        reply = self._get(url, page=True)
        if reply.budget_spent:
            self._note_budget(url)
            return None, []
        if reply.requested:
            self.attempts += 1
        page, links = self._page_from(reply)
        if reply.status:
            self._put(page)
        self._record(page)
        return page, links

    def _visit(self, url: str) -> None:
        cached = self._from_cache(url)
        if cached is not None and not self._is_stale_duplicate(cached):
            self.cached += 1
            self.attempts += 1
            self._record(cached)
            return
        if self.offline:
            self.attempts += 1
            self.failed.append((url, "offline: not in the cache"))
            return
        if time.monotonic() >= self.deadline:
            self._note_budget(url)
            return
        self._fetch_page(url)

    def _sitemap_links(self, origin: str) -> list[str]:
        rules = self._rules(origin)
        queue = list(rules.sitemaps) if rules is not None else []
        queue = queue or [f"{origin}/sitemap.xml"]
        locs: list[str] = []
        fetched = 0
        while queue and fetched < _MAX_SITEMAPS and not self.stopped:
            url = queue.pop(0)
            if _normalize(url) is None or self._robots_reason(url):
                continue
            reply = self._get(url, page=False)
            fetched += 1
            if reply.budget_spent or reply.error or not 200 <= reply.status < 300:
                continue
            is_index, found = _sitemap_locs(reply.body)
            if is_index:
                queue.extend(loc for loc in found if _same_site(loc, origin))
            else:
                locs.extend(found[: _MAX_CANDIDATES * 5])
        return locs

    def crawl(self, home: str) -> None:
        links_key = home + _LINKS_SUFFIX
        cached_home = self._from_cache(home)
        cached_links = self._from_cache(links_key)
        candidates: list[str] = []
        if cached_home is not None and (cached_links is not None or self.offline):
            self.cached += 1
            self.attempts += 1
            self._record(cached_home)
            candidates = cached_links.text.splitlines() if cached_links is not None else []
        elif self.offline:
            self.attempts += 1
            self.failed.append((home, "offline: not in the cache"))
            candidates = cached_links.text.splitlines() if cached_links is not None else []
        else:
            page, links = self._fetch_page(home)
            ok = page is not None and page.error is None
            origin = _origin(page.final_url if page is not None and ok else home)
            if origin not in self._blocked and not self.stopped:
                candidates = _rank(links + self._sitemap_links(origin), origin, home)
            if page is not None and page.status:
                self._put(
                    FetchedPage(
                        url=links_key,
                        final_url=page.final_url,
                        status=200,
                        fetched_at=page.fetched_at,
                        content_hash=_sha("\n".join(candidates)),
                        text="\n".join(candidates),
                    )
                )
        for url in candidates:
            if self.attempts >= self.limits.max_pages or self.stopped:
                break
            norm = _normalize(url)
            if norm is None or norm in self._seen:
                continue
            self._visit(norm)


def fetch_site(
    start_url: str,
    limits: WebLimits = WebLimits(),
    cache: PageCache | None = None,
    max_age: timedelta | None = None,
    offline: bool = False,
    clock: Callable[[], datetime] = _utc_now,
) -> SiteResult:
    """Fetch an account's home page and its most informative same-site pages, within limits.

    Pages come from `cache` when younger than `max_age` (any age when None, or offline); with
    `offline` nothing touches the network. `max_pages` counts pages requested or served from the
    cache (home included); URLs refused before any request (robots.txt, unsafe) do not count.
    Never raises for network problems: they end up in `refused` or `failed`.
    """
    run = _Run(limits, cache, max_age, offline, clock)
    try:
        try:
            _checked_split(start_url)
        except UnsafeURL as exc:
            run.refused.append((start_url, str(exc)))
        else:
            home = _normalize(start_url)
            if home is not None:
                run.crawl(home)
    finally:
        run.close()
    return SiteResult(
        site=start_url,
        pages=run.pages,
        refused=run.refused,
        failed=run.failed,
        fetched=run.fetched,
        cached=run.cached,
        seconds=round(time.monotonic() - run.started, 3),
    )
