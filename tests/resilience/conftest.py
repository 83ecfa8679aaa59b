from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.resilience.stub_server import StubServer


@pytest.fixture
def stub() -> Iterator[StubServer]:
    """An OpenAI-compatible server on a free loopback port, stopped after the test."""
    server = StubServer().start()
    try:
        yield server
    finally:
        server.stop()
