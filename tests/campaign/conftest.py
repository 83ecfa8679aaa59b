"""Fixtures for campaign tests: engines on an isolated home with a fake clock and a fake LM."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from accountflow.campaign import CampaignEngine
from accountflow.lm import fake_lm
from tests.campaign.helpers import FakeClock, make_lead, reading_responder


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def lm() -> Any:
    return fake_lm("campaign-tests", responder=reading_responder, cache=False)


@pytest.fixture
def make_engine(home: Path, lm: Any, clock: FakeClock) -> Iterator[Callable[..., CampaignEngine]]:
    engines: list[CampaignEngine] = []

    def make(config: dict[str, Any] | None = None, **kwargs: Any) -> CampaignEngine:
        kwargs.setdefault("lm", lm)
        kwargs.setdefault("clock", clock)
        if "store" not in kwargs:
            kwargs.setdefault("home", home)
        engine = CampaignEngine(config=config, **kwargs)
        engines.append(engine)
        return engine

    yield make
    for engine in engines:
        engine.close()


@pytest.fixture
def engine(make_engine: Callable[..., CampaignEngine]) -> CampaignEngine:
    return make_engine()


@pytest.fixture
def lead() -> dict[str, Any]:
    return make_lead()
