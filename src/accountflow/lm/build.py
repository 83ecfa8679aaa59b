"""Model references -> `dspy.LM`: remote providers through litellm, the embedded model, the fake.

One string chooses the backend (`--lm`, else `ACCOUNTFLOW_LM`, else the embedded default); it
is read once into a `ModelRef` (see `accountflow.lm.ref`), and the LM built from it carries it
(`lm.ref`) so that what runs record is what the user typed. Missing credentials are caught here,
before any work starts.
"""

from __future__ import annotations

import logging
import os
import pickle
from pathlib import Path
from typing import Any

import dspy
from dspy.clients import DISK_CACHE_LIMIT
from dspy.clients.cache import Cache

import accountflow._env  # noqa: F401  (environment defaults before dspy/litellm)
from accountflow.adapter import JSONAdapter
from accountflow.config import Settings
from accountflow.errors import ConfigError
from accountflow.lm.fake import AsyncFakeEngine, FakeEngine, Responder
from accountflow.lm.local import local_lm
from accountflow.lm.ref import Backend, ModelRef, known_secrets, redact_api_base, remember_secrets
from accountflow.lm.usage import TrackedLM

log = logging.getLogger(__name__)


def describe_backend(model: str | ModelRef) -> str:
    """One line saying which backend a model string selects."""
    return _ref(model).describe()


def check_credentials(model: str | ModelRef, api_base: str | None = None) -> None:
    """Fail fast, naming the env var, when a remote provider has no key (litellm would retry)."""
    ref = _ref(model, api_base)
    if not ref.needs_key:
        return
    import litellm  # lazy: ~7 s import, only for remote providers

    try:
        env = litellm.validate_environment(model=ref.litellm_model)
    except Exception:  # unknown to litellm's table: let the first call report it
        return
    missing = [k for k in env.get("missing_keys", []) if k]
    if missing:
        names = " and ".join(missing)
        raise ConfigError(
            f"No credentials for {ref.litellm_model}: set {names} in the environment "
            "(or pick another --lm, e.g. fake or local/qwen2.5-coder-0.5b)."
        )


def build_lm(
    model: str | ModelRef,
    api_base: str | None = None,
    cache: bool = True,
    timeout_s: float | None = None,
    api_key: str | None = None,
) -> dspy.LM:
    """Build the LM a model reference names; raises ConfigError for anything unusable.

    `api_base`, when given, replaces the reference's endpoint. Every LM makes one attempt per
    call (`num_retries=0`): `accountflow.resilience` owns retries, so each attempt is recorded
    and none is stacked on another layer's backoff. `timeout_s` bounds each HTTP request
    (in-process engines take no timeout). `api_key` is sent but never recorded.
    """
    ref = _ref(model, api_base)
    lm: TrackedLM
    if ref.backend is Backend.fake:
        options = ref.fake_options()
        query = "&".join(f"{k}={v}" for k, v in ref.options)
        lm = fake_lm(
            ref.name or query or "default",
            options.latency_ms,
            cache=cache,
            fail_rate=options.fail_rate,
            seed=options.seed,
        )
    elif ref.backend is Backend.local:
        lm = local_lm(ref.name, cache=cache)
    else:
        lm = _litellm_lm(ref, cache, timeout_s, api_key)
    lm.ref = ref
    return lm


def _litellm_lm(
    ref: ModelRef, cache: bool, timeout_s: float | None, api_key: str | None
) -> TrackedLM:
    if api_key is None:
        check_credentials(ref)
    remember_secrets(api_key, *ref.secrets)
    kwargs: dict[str, object] = {}
    if api_key is not None:  # given by the caller (never stored): the environment is not read
        kwargs["api_key"] = api_key
    if ref.endpoint:
        if ref.secrets_dropped:
            log.warning(
                "The api base's credentials are used for this process only and not recorded: "
                "pass --api-base again to resume runs on %s.",
                ref.api_base,
            )
        kwargs["api_base"] = ref.endpoint
        if api_key is None and not os.environ.get(ref.key_env):
            kwargs["api_key"] = "unused"  # local OpenAI-compatible servers accept any key
    if timeout_s is not None:
        kwargs["timeout"] = timeout_s
    return TrackedLM(ref.litellm_model, engine="litellm", cache=cache, num_retries=0, **kwargs)


def _ref(model: str | ModelRef, api_base: str | None = None) -> ModelRef:
    if isinstance(model, ModelRef):
        return model.with_api_base(api_base) if api_base else model
    return ModelRef.parse(model, api_base)


def fake_lm(
    name: str = "default",
    latency_ms: float = 0.0,
    responder: Responder | None = None,
    cache: bool = True,
    fail_rate: float = 0.0,
    seed: int = 0,
) -> TrackedLM:
    """The fake backend as an LM; `responder` lets tests script or break its answers. Give each
    scripted fake its own `name`: DSPy's cache key is the model string, not the engine."""
    engine = FakeEngine(latency_ms=latency_ms, responder=responder, fail_rate=fail_rate, seed=seed)
    lm = TrackedLM(
        f"fake/{name}",
        engine=engine,
        async_engine=AsyncFakeEngine(engine),
        cache=cache,
        num_retries=0,  # accountflow.resilience owns retries
    )
    given = {"fail_rate": fail_rate, "latency_ms": latency_ms, "seed": seed}
    options = tuple((k, f"{v:g}") for k, v in sorted(given.items()) if v)
    lm.ref = ModelRef(Backend.fake, "fake", "" if name == "default" else name, options)
    return lm


MEMORY_CACHE_ENTRIES = 4096
DISK_CACHE_SHARDS = 16  # DSPy's FanoutCache layout
DISK_CACHE_PAGES = 256  # SQLite pages (1 MiB) cached per shard connection


def use_cache_dir(path: Path) -> None:
    """Keep DSPy's response cache in the state dir so re-runs are free and replayable. The
    in-memory layer is bounded (DSPy's default holds a million answers: memory would grow with
    the size of a batch); the disk layer keeps everything, except credentials
    (`SecretFreeCache`)."""
    path.mkdir(parents=True, exist_ok=True)
    current = dspy.cache
    if isinstance(current, SecretFreeCache) and current.disk_cache_dir == str(path):
        return
    _bound_disk_cache_memory(path)
    cache = SecretFreeCache(
        enable_disk_cache=True,
        enable_memory_cache=True,
        disk_cache_dir=str(path),
        disk_size_limit_bytes=DISK_CACHE_LIMIT,
        memory_max_entries=MEMORY_CACHE_ENTRIES,
    )
    with dspy._cache_lock:  # what dspy.configure_cache holds against a concurrent first build
        dspy.cache = cache


class SecretFreeCache(Cache):
    """DSPy's response cache, with credentials kept out of what it stores.

    DSPy leaves `api_key` and `api_base` out of the cache key, but the value it pickles into
    the shards is litellm's response, whose `_hidden_params["api_base"]` is the URL the call
    went to, `?token=` or `user:pass@` included. That URL is stored redacted; and an answer
    that still holds a credential this process was given is not stored at all."""

    def put(
        self,
        request: dict[str, Any],
        value: Any,
        ignored_args_for_cache_key: list[str] | None = None,
        enable_memory_cache: bool = True,
    ) -> None:
        value = _without_api_base_secrets(value)
        if _holds_secret(value):
            log.debug("An LM answer holding a credential was not cached.")
            return
        super().put(request, value, ignored_args_for_cache_key, enable_memory_cache)


def _without_api_base_secrets(value: Any) -> Any:
    hidden = getattr(value, "_hidden_params", None)
    if isinstance(hidden, dict) and isinstance(hidden.get("api_base"), str):
        try:
            clean = redact_api_base(hidden["api_base"])
        except ConfigError:
            clean = None
        value._hidden_params = {**hidden, "api_base": clean}
    return value


def _holds_secret(value: Any) -> bool:
    secrets = [s.encode() for s in known_secrets() if len(s) >= 6]  # short ones match anything
    if not secrets:
        return False
    try:
        blob = pickle.dumps(value)
    except Exception:
        return False  # DSPy's own pickling would fail the same way and store nothing
    return any(secret in blob for secret in secrets)


def _bound_disk_cache_memory(path: Path) -> None:
    """Store small SQLite memory settings in the disk cache's shards, which DSPy's own open
    then reads back. diskcache's defaults (a 32 MiB page cache and a 64 MiB memory map per
    shard and per thread, 16 shards) let a batch's memory grow with the size of its cache."""
    from diskcache import FanoutCache

    FanoutCache(
        str(path),
        shards=DISK_CACHE_SHARDS,
        timeout=10,
        sqlite_cache_size=DISK_CACHE_PAGES,
        sqlite_mmap_size=0,
    ).close()


def configure_lm(
    model: str | None = None, api_base: str | None = None, cache: bool = True
) -> dspy.LM:
    """Resolve a model string (flag, ACCOUNTFLOW_LM, default) and make it DSPy's global LM."""
    settings = Settings.load(lm=model, api_base=api_base)
    lm = build_lm(settings.lm, settings.api_base, cache=cache)
    dspy.configure(lm=lm, adapter=JSONAdapter())
    return lm
