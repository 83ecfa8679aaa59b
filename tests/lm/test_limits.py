"""The requests/tokens-per-minute limiter: a call waits while the last minute's calls or tokens
reach the cap, cache hits give their request back, copies of an LM share one budget, and a
share for N task slots is 1/N of it."""

from __future__ import annotations

import copy

import pytest

from accountflow.lm.limits import RateLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_requests_per_minute_make_the_third_call_wait() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=2, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    clock.now += 10
    limiter.acquire()
    assert clock.slept == []
    limiter.acquire()  # waits until the first call is a minute old
    assert clock.slept == [pytest.approx(50.0)]


def test_tokens_per_minute_and_cache_hits() -> None:
    clock = Clock()
    limiter = RateLimiter(rpm=2, tpm=1000, clock=clock, sleep=clock.sleep)
    limiter.acquire()
    limiter.spent(0, cache_hit=True)  # served from the cache: no request was made
    limiter.acquire()
    limiter.spent(1200)
    assert clock.slept == []
    limiter.acquire()  # 1,200 tokens in the window: waits for them to leave it
    assert clock.slept == [pytest.approx(60.0)]


def test_copies_share_a_budget_and_shares_split_it() -> None:
    limiter = RateLimiter(rpm=600, tpm=90_000)
    assert copy.deepcopy(limiter) is limiter
    share = limiter.share(4)
    assert (share.rpm, share.tpm) == (150, 22_500)
    assert RateLimiter(rpm=3).share(8).rpm == 1
    with pytest.raises(ValueError):
        RateLimiter(rpm=0)


def test_settings_read_the_caps(monkeypatch: pytest.MonkeyPatch) -> None:
    from accountflow import Settings
    from accountflow.errors import ConfigError
    from accountflow.orchestrator import lm_for

    monkeypatch.setenv("ACCOUNTFLOW_RPM", "120")
    settings = Settings.load(lm="fake")
    assert (settings.rpm, settings.tpm) == (120, None)
    lm = lm_for(settings)
    assert lm.limiter.rpm == 120 and lm.copy().limiter is lm.limiter  # type: ignore[attr-defined]
    monkeypatch.setenv("ACCOUNTFLOW_TPM", "-5")
    with pytest.raises(ConfigError, match="ACCOUNTFLOW_TPM"):
        Settings.load(lm="fake")
