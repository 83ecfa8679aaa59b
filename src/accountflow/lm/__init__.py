"""Model strings -> `dspy.LM`: remote providers through litellm, the embedded model, the fake.

One string chooses the backend (`--lm`, else `ACCOUNTFLOW_LM`, else the embedded default):
`fake[?latency_ms=N&fail_rate=P&seed=S]`, `local/<name>`, or any litellm provider string such as
`openai/gpt-4o-mini`. Missing credentials are caught here, before any work starts.
"""

from __future__ import annotations

import os
from pathlib import Path

import dspy

import accountflow._env  # noqa: F401  (environment defaults before dspy/litellm)
from accountflow.errors import ConfigError
from accountflow.lm.fake import AsyncFakeEngine, FakeEngine, Responder, parse_fake_options
from accountflow.lm.usage import TrackedLM, Usage, collect_usage

__all__ = [
    "FakeEngine",
    "TrackedLM",
    "Usage",
    "build_lm",
    "check_credentials",
    "collect_usage",
    "configure_lm",
    "describe_backend",
    "fake_lm",
    "use_cache_dir",
]

# Providers that need no key (local servers); anything else must have its key before we start.
_KEYLESS = {"ollama", "ollama_chat", "hosted_vllm", "lm_studio", "llamafile", "local", "fake"}


def describe_backend(model: str) -> str:
    """One line saying which backend a model string selects."""
    if model.split("?")[0] == "fake":
        return "fake: deterministic offline engine (tests, dry runs, benchmarks)"
    if model.startswith("local/"):
        return f"embedded llama.cpp model {model.removeprefix('local/')} (in-process, offline)"
    return f"litellm provider '{model.split('/')[0]}' model '{model.partition('/')[2]}'"


def key_env(model: str) -> str:
    """The environment variable that holds a provider's key (`openai/...` -> OPENAI_API_KEY)."""
    return f"{model.split('/', 1)[0].upper()}_API_KEY"


def check_credentials(model: str, api_base: str | None = None) -> None:
    """Fail fast, naming the env var, when a remote provider has no key (litellm would retry)."""
    if "/" not in model:
        raise ConfigError(
            f"Model {model!r} needs a provider prefix, e.g. openai/{model}; or use 'fake' or "
            "'local/qwen2.5-coder-0.5b'."
        )
    provider = model.split("/", 1)[0]
    if provider in _KEYLESS or api_base:
        return
    import litellm  # lazy: ~7 s import, only for remote providers

    try:
        env = litellm.validate_environment(model=model)
    except Exception:  # unknown to litellm's table: let the first call report it
        return
    missing = [k for k in env.get("missing_keys", []) if k]
    if missing:
        names = " and ".join(missing)
        raise ConfigError(
            f"No credentials for {model}: set {names} in the environment "
            "(or pick another --lm, e.g. fake or local/qwen2.5-coder-0.5b)."
        )


def build_lm(
    model: str,
    api_base: str | None = None,
    cache: bool = True,
    timeout_s: float | None = None,
    api_key: str | None = None,
) -> dspy.LM:
    """Build the LM a model string names; raises ConfigError for anything unusable.

    Every LM makes one attempt per call (`num_retries=0`): `accountflow.resilience` owns
    retries, so each attempt is recorded and none is stacked on another layer's backoff.
    `timeout_s` bounds each HTTP request (custom engines run in-process and take no timeout).
    """
    model = model.strip()
    if model.split("?")[0] == "fake":
        options = parse_fake_options(model)
        return fake_lm(
            model.partition("?")[2] or "default",
            options.latency_ms,
            cache=cache,
            fail_rate=options.fail_rate,
            seed=options.seed,
        )
    if model.startswith("local/"):
        from accountflow.lm.local import local_lm

        return local_lm(model.removeprefix("local/"), cache=cache)
    if api_key is None:
        check_credentials(model, api_base)
    kwargs: dict[str, object] = {}
    if api_key is not None:  # given by the caller (never stored): the environment is not read
        kwargs["api_key"] = api_key
    if api_base:
        kwargs["api_base"] = api_base
        if api_key is None and not os.environ.get(key_env(model)):
            kwargs["api_key"] = "unused"  # local OpenAI-compatible servers accept any key
    if timeout_s is not None:
        kwargs["timeout"] = timeout_s
    return TrackedLM(model, engine="litellm", cache=cache, num_retries=0, **kwargs)


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
    return TrackedLM(
        f"fake/{name}",
        engine=engine,
        async_engine=AsyncFakeEngine(engine),
        cache=cache,
        num_retries=0,  # accountflow.resilience owns retries
    )


MEMORY_CACHE_ENTRIES = 4096
DISK_CACHE_SHARDS = 16  # DSPy's FanoutCache layout
DISK_CACHE_PAGES = 256  # SQLite pages (1 MiB) cached per shard connection


def use_cache_dir(path: Path) -> None:
    """Keep DSPy's response cache in the state dir so re-runs are free and replayable. The
    in-memory layer is bounded (DSPy's default holds a million answers: memory would grow with
    the size of a batch); the disk layer keeps everything."""
    path.mkdir(parents=True, exist_ok=True)
    current = getattr(dspy.cache, "disk_cache", None)
    if current is not None and Path(getattr(current, "directory", "")) == path:
        return
    _bound_disk_cache_memory(path)
    dspy.configure_cache(disk_cache_dir=str(path), memory_max_entries=MEMORY_CACHE_ENTRIES)


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
    from accountflow.config import Settings

    settings = Settings.load(lm=model, api_base=api_base)
    lm = build_lm(settings.lm, settings.api_base, cache=cache)
    from accountflow.adapter import JSONAdapter

    dspy.configure(lm=lm, adapter=JSONAdapter())
    return lm
