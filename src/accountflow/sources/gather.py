"""What the research step reads beyond the account row: `--sources account,web,docs`.

A `Gatherer` is built once per command from `SourceSettings` and called by the research step
for each account (`steps.RunState.gather`). It never raises for a page or a file: refused and
failed pages become notes on the research step's record, and the account goes on with what it
has (at worst, its own row). Its counters feed the command's summary line.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict

from accountflow.errors import ConfigError
from accountflow.models import Account, ResearchMaterial, SourceText
from accountflow.sources.docs import docs_digest, read_docs

if TYPE_CHECKING:  # httpx and trafilatura load only when research reads the web
    from accountflow.sources.web import WebLimits

SOURCES = ("account", "web", "docs")
DEFAULT_WEB_MAX_AGE = timedelta(days=7)


def parse_sources(text: str | None) -> tuple[str, ...]:
    """`account,web,docs` -> the sorted set, `account` always included (the row is always
    read); an unknown name is a ConfigError naming the known ones."""
    names = {p.strip().lower() for p in (text or "account").split(",") if p.strip()}
    unknown = sorted(names - set(SOURCES))
    if unknown:
        raise ConfigError(
            f"Unknown research source {unknown[0]!r}; use a comma-separated list of "
            f"{', '.join(SOURCES)} (e.g. --sources account,web)."
        )
    return tuple(sorted(names | {"account"}))


def parse_age(text: str | None) -> timedelta:
    """`90s`, `30m`, `12h`, `7d` or a number of seconds."""
    if text in (None, ""):
        return DEFAULT_WEB_MAX_AGE
    raw = str(text).strip().lower()
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400}
    try:
        if raw[-1] in units:
            seconds = float(raw[:-1]) * units[raw[-1]]
        else:
            seconds = float(raw)
    except (ValueError, IndexError):
        raise ConfigError(
            f"--web-max-age {text!r} is not a duration; use e.g. 12h, 7d or 3600."
        ) from None
    if seconds < 0:
        raise ConfigError(f"--web-max-age must not be negative, got {text!r}.")
    return timedelta(seconds=seconds)


class SourceSettings(BaseModel):
    """Which research sources a command uses, and how."""

    model_config = ConfigDict(frozen=True)

    sources: tuple[str, ...] = ("account",)
    docs_dir: Path | None = None
    web_max_age: timedelta = DEFAULT_WEB_MAX_AGE
    offline: bool = False

    def check(self) -> None:
        if "docs" in self.sources and self.docs_dir is None:
            raise ConfigError(
                "--sources docs needs --docs DIR (a folder with one subfolder per account id)."
            )
        if self.docs_dir is not None and not self.docs_dir.is_dir():
            raise ConfigError(
                f"--docs {self.docs_dir} is not a folder; pass a folder with one "
                "subfolder per account id."
            )

    @property
    def extra(self) -> bool:
        return self.sources != ("account",)


class SourceSummary(BaseModel):
    accounts: int = 0
    pages: int = 0  # page texts handed to research
    documents: int = 0
    fetched: int = 0
    cached: int = 0
    refused: int = 0
    failed: int = 0
    seconds: float = 0.0  # reading sites and documents, all accounts

    def line(self) -> str:
        return (
            f"research sources: {self.pages} web pages ({self.fetched} requests, "
            f"{self.cached} from the cache, {self.refused} refused, {self.failed} failed), "
            f"{self.documents} documents, over {self.accounts} accounts in {self.seconds:.1f} s"
        )


class _SafeCache:
    """The page cache as the fetcher sees it: a cache that cannot be written (a full disk)
    costs the next run a fetch, never this account its research."""

    def __init__(self, inner: Any, notes: list[str]) -> None:
        self.inner, self.notes = inner, notes

    def get(self, url: str) -> Any:
        try:
            return self.inner.get(url)
        except Exception as exc:
            self.notes.append(f"page cache not read for {url}: {type(exc).__name__}")
            return None

    def put(self, page: Any) -> None:
        try:
            self.inner.put(page)
        except Exception as exc:
            self.notes.append(f"page cache not written for {page.url}: {type(exc).__name__}")


class Gatherer:
    """Calls the sources for one account (see the module docstring). `cache` is the store's
    page cache (`store.pages`), or None for an in-memory one."""

    def __init__(
        self, settings: SourceSettings, cache: Any = None, limits: WebLimits | None = None
    ) -> None:
        settings.check()
        self.settings = settings
        self.cache = cache
        self.limits = limits  # None: `WebLimits()` (pages, bytes, seconds per account)
        self.summary = SourceSummary()
        self._lock = threading.Lock()
        # one site read at a time per host, the host's pause kept between accounts: a batch
        # of many accounts on one domain (subsidiaries, a shared site) stays polite
        self._hosts: dict[str, threading.Lock] = {}
        self._host_done: dict[str, float] = {}
        if "web" in settings.sources and cache is None:
            from accountflow.sources.web import MemoryCache

            self.cache = MemoryCache()

    def identity(self, account: Account) -> str:
        """The sources part of the run identity: the names, and for docs what the account's
        documents are now, so a changed document is researched again."""
        parts = list(self.settings.sources)
        if "docs" in parts and self.settings.docs_dir is not None:
            digest = docs_digest(self.settings.docs_dir, account.account_id)
            parts[parts.index("docs")] = f"docs:{digest}"
        return ",".join(parts)

    def __call__(self, account: Account) -> ResearchMaterial:
        started = time.perf_counter()
        material = ResearchMaterial(sources=list(self.settings.sources))
        pages = documents = 0
        if "docs" in self.settings.sources and self.settings.docs_dir is not None:
            texts, notes = read_docs(self.settings.docs_dir, account.account_id)
            material.texts += texts
            material.notes += notes
            documents = len(texts)
        if "web" in self.settings.sources:
            pages = self._web(account, material)
        with self._lock:
            s = self.summary
            s.accounts += 1
            s.pages += pages
            s.documents += documents
            s.fetched += material.fetched
            s.cached += material.cached
            s.refused += material.refused
            s.failed += material.failed
            s.seconds += time.perf_counter() - started
        return material

    def _web(self, account: Account, material: ResearchMaterial) -> int:
        from accountflow.sources.web import WebLimits, fetch_site, site_url

        start = site_url(account.domain, account.website)
        if start is None:
            material.notes.append("web: the account has no domain or website")
            return 0
        notes: list[str] = []
        limits = self.limits or WebLimits()
        host = (urlsplit(start).hostname or "").lower()
        with self._lock:
            host_lock = self._hosts.setdefault(host, threading.Lock())
        with host_lock:
            wait = self._host_done.get(host, 0.0) + limits.min_interval_s - time.monotonic()
            if wait > 0 and not self.settings.offline:
                time.sleep(wait)
            result = fetch_site(
                start,
                limits=limits,
                cache=_SafeCache(self.cache, notes),
                max_age=self.settings.web_max_age,
                offline=self.settings.offline,
            )
            self._host_done[host] = time.monotonic()
        texts = [
            SourceText(kind="web", url=p.final_url, title=p.title, text=p.text)
            for p in result.pages
            if p.text
        ]
        # web pages after documents: a reviewer's own notes come first in the prompt
        material.texts += texts
        material.notes += [f"web refused {u}: {why}" for u, why in result.refused]
        material.notes += [f"web failed {u}: {why}" for u, why in result.failed]
        material.notes += notes
        if self.settings.offline and not texts:
            material.notes.append(
                "web: offline and no cached pages; research used the account data only"
            )
        material.fetched += result.fetched
        material.cached += result.cached
        material.refused += len(result.refused)
        material.failed += len(result.failed)
        return len(texts)


# The gatherer a pipeline run outside the orchestrator uses (`eval --sources`): the eval runs
# `AccountPipeline` directly, on worker threads, so a process-wide default rather than a
# context variable. The orchestrator passes its own.
_default: Gatherer | None = None


def default_gatherer() -> Gatherer | None:
    return _default


@contextlib.contextmanager
def using(gatherer: Gatherer | None) -> Iterator[Gatherer | None]:
    """Make `gatherer` the default for pipeline runs inside the block."""
    global _default
    previous, _default = _default, gatherer
    try:
        yield gatherer
    finally:
        _default = previous


__all__ = [
    "DEFAULT_WEB_MAX_AGE",
    "SOURCES",
    "Gatherer",
    "SourceSettings",
    "SourceSummary",
    "default_gatherer",
    "parse_age",
    "parse_sources",
    "using",
]
