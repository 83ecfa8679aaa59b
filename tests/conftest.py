"""Test isolation: no network, no keys, a temporary state dir and a fresh DSPy config per test."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"

import dspy

_LOOPBACK = ("127.", "::1", "localhost")
_real_connect = socket.socket.connect
_real_create_connection = socket.create_connection
_real_getaddrinfo = socket.getaddrinfo


class NetworkBlocked(RuntimeError):
    pass


def _check(address: object) -> None:
    host = address[0] if isinstance(address, tuple) else address
    if isinstance(host, bytes):
        host = host.decode()
    if isinstance(host, str) and (host.startswith(_LOOPBACK) or host == ""):
        return
    if isinstance(address, (str, bytes)):  # AF_UNIX paths
        return
    raise NetworkBlocked(f"test tried to reach {address!r}: tests must not use the network")


def _guarded_connect(self: socket.socket, address: object) -> object:
    if self.family in (socket.AF_INET, socket.AF_INET6):
        _check(address)
    return _real_connect(self, address)


def _guarded_create_connection(address: tuple, *args: object, **kwargs: object) -> socket.socket:
    _check(address)
    return _real_create_connection(address, *args, **kwargs)


def _guarded_getaddrinfo(host: object, *args: object, **kwargs: object) -> object:
    if host not in (None, "") and not str(host).startswith(_LOOPBACK):
        raise NetworkBlocked(f"test tried to resolve {host!r}: tests must not use the network")
    return _real_getaddrinfo(host, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail any connection that is not to loopback (a real guard, not a convention)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)
    monkeypatch.setattr(socket, "getaddrinfo", _guarded_getaddrinfo)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Real-model tests are opt-in: they need the `local` extra and minutes of CPU."""
    if os.environ.get("ACCOUNTFLOW_TEST_LOCAL_MODEL") == "1":
        return
    skip = pytest.mark.skip(reason="real embedded model: set ACCOUNTFLOW_TEST_LOCAL_MODEL=1")
    for item in items:
        if "local_model" in item.keywords:
            item.add_marker(skip)


# Variables litellm and the providers read credentials from: none reaches a test.
_CREDENTIAL_SUFFIXES = (
    "_API_KEY",
    "_API_TOKEN",
    "_ACCESS_KEY_ID",
    "_SECRET_ACCESS_KEY",
    "_SESSION_TOKEN",
    "_APPLICATION_CREDENTIALS",
)
_CREDENTIAL_NAMES = {"HF_TOKEN", "HUGGINGFACE_API_TOKEN", "AZURE_AD_TOKEN"}


def _is_credential(name: str) -> bool:
    return name.endswith(_CREDENTIAL_SUFFIXES) or name in _CREDENTIAL_NAMES


@pytest.fixture(autouse=True)
def isolated_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[Path]:
    """A temporary state dir and no provider keys; DSPy settings and cache reset per test."""
    real_model = "local_model" in request.node.keywords
    for name in list(os.environ):
        if _is_credential(name) or (
            name.startswith("ACCOUNTFLOW_") and not (real_model and "MODEL" in name)
        ):
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("ACCOUNTFLOW_HOME", str(home))
    # a held store fails at once in tests (tests about waiting set their own)
    monkeypatch.setenv("ACCOUNTFLOW_STORE_WAIT", "0")
    if not real_model:  # the real model keeps its assembled file in the user's model dir
        monkeypatch.setenv("ACCOUNTFLOW_MODEL_DIR", str(tmp_path / "models"))
    # a fresh in-memory cache per test (no cross-test hits, and no sqlite shards to create);
    # tests about the disk cache point it at a dir of their own with use_cache_dir()
    dspy.configure_cache(enable_disk_cache=False, enable_memory_cache=True)
    with dspy.context(lm=None, adapter=None, callbacks=[]):
        yield home


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env
