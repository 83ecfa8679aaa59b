"""Model references: the one place that reads and writes model strings.

A model string names a backend and everything needed to rebuild it:

- `fake[/name][?latency_ms=N&fail_rate=P&seed=S]`: the deterministic offline engine,
- `local/<name>`: the embedded llama.cpp model,
- `<provider>/<model>[?api_base=URL]`: any litellm provider (`openai/gpt-4o-mini`,
  `openai/alias?api_base=http%3A//127.0.0.1%3A8000/v1`).

`ModelRef.parse(text).format()` is what runs, batches and step records store, so that `resume`
rebuilds exactly that model and endpoint from the record alone. Secrets never enter the
formatted form: keys come from the environment (or an explicit `api_key=` argument), and an api
base's `user:pass@` and credential-like query parameters (token, key, secret, password, sig...)
are stripped from it. The full api base is kept in memory (`ModelRef.endpoint`) for the calls
of this process only, so a resumed run on such an endpoint needs `--api-base` again.

Pure standard library: config and resilience import it, and `accountflow --help` stays fast.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from enum import Enum
from urllib.parse import parse_qsl, quote, unquote, urlencode, urlsplit, urlunsplit

from accountflow.errors import ConfigError

__all__ = [
    "KEYLESS_PROVIDERS",
    "Backend",
    "FakeOptions",
    "ModelRef",
    "key_env",
    "known_secrets",
    "provider_of",
    "redact_api_base",
    "remember_secrets",
]

# litellm providers that run on the caller's machine or network and need no key.
KEYLESS_PROVIDERS = frozenset({"ollama", "ollama_chat", "hosted_vllm", "lm_studio", "llamafile"})

_FAKE_OPTIONS = ("fail_rate", "latency_ms", "seed")
_API_BASE = "api_base"
# Query parameter names that carry credentials: never recorded, never accepted as options.
_SECRET_NAME = re.compile(r"token|key|secret|passw|pwd|sig|auth|credential|session", re.I)


class Backend(str, Enum):
    """Which engine serves the model."""

    fake = "fake"
    local = "local"
    litellm = "litellm"


@dataclass(frozen=True)
class FakeOptions:
    """The fake engine's knobs, from `fake?latency_ms=..&fail_rate=..&seed=..`."""

    latency_ms: float = 0.0
    fail_rate: float = 0.0  # share of calls that fail with an injected, retryable 503
    seed: int = 0


@dataclass(frozen=True)
class ModelRef:
    """A parsed model string. Equality and `format()` ignore `endpoint` (it may hold secrets)."""

    backend: Backend
    provider: str  # "fake", "local" or the litellm provider ("openai", "anthropic", ...)
    name: str = ""  # "" only for the plain fake
    options: tuple[tuple[str, str], ...] = ()  # backend options, sorted by key, raw values
    api_base: str | None = None  # without credentials: what records and messages show
    endpoint: str | None = field(default=None, compare=False, repr=False)  # what calls use

    # ------------------------------------------------------------------ text
    @classmethod
    def parse(cls, text: str, api_base: str | None = None) -> ModelRef:
        """Read a model string; `api_base` (the `--api-base` flag or ACCOUNTFLOW_API_BASE), when
        given, replaces the one in the string. Fake and local models ignore it (they run
        in-process). Raises ConfigError with what to type instead."""
        text = text.strip()
        head, _, query = text.partition("?")
        provider, _, name = head.partition("/")
        options = _parse_query(text, query)
        base = options.pop(_API_BASE, None)
        if provider == Backend.fake.value:
            if base is not None:
                raise ConfigError("The fake model takes no api_base; drop it from --lm.")
            ref = cls(Backend.fake, provider, name, _sorted(options))
            ref.fake_options()  # validate now, not at the first call
            return ref
        if provider == Backend.local.value:
            if not name:
                raise ConfigError("Name the embedded model: --lm local/qwen2.5-coder-0.5b.")
            if options or base is not None:
                unknown = ", ".join(sorted([*options, *([_API_BASE] if base else [])]))
                raise ConfigError(f"The embedded model takes no options ({unknown}); drop them.")
            return cls(Backend.local, provider, name)
        if not provider or not name:
            raise ConfigError(
                f"Model {text!r} needs a provider prefix, e.g. openai/{text or 'gpt-4o-mini'}; "
                "or use 'fake' or 'local/qwen2.5-coder-0.5b'."
            )
        if options:
            raise ConfigError(
                f"Unknown option {sorted(options)[0]!r} in model {head!r}; a provider model takes "
                "only api_base=URL (or pass --api-base)."
            )
        ref = cls(Backend.litellm, provider, name)
        base = api_base or base
        return ref.with_api_base(base) if base else ref

    def format(self) -> str:
        """The canonical model string: what the user typed, options sorted, secrets removed.
        `ModelRef.parse(ref.format()) == ref` for every ref."""
        head = f"{self.provider}/{self.name}" if self.name else self.provider
        pairs = [*self.options, *([(_API_BASE, self.api_base)] if self.api_base else [])]
        if not pairs:
            return head
        return head + "?" + "&".join(f"{k}={quote(v, safe='/')}" for k, v in pairs)

    def __str__(self) -> str:
        return self.format()

    def with_api_base(self, url: str | None) -> ModelRef:
        """The same model on another endpoint (None: the provider's own). Userinfo and
        credential query parameters are kept for calls (`endpoint`) but never formatted."""
        if self.backend is not Backend.litellm:
            return self
        if not url:
            return replace(self, api_base=None, endpoint=None)
        return replace(self, api_base=redact_api_base(url), endpoint=url.strip())

    # ------------------------------------------------------------------ facts
    @property
    def in_process(self) -> bool:
        """Fake and embedded models: no HTTP, no key, no per-token price, no timeout."""
        return self.backend is not Backend.litellm

    @property
    def litellm_model(self) -> str:
        """`provider/name`, as litellm routes and prices it."""
        return f"{self.provider}/{self.name}"

    @property
    def needs_key(self) -> bool:
        """Whether a provider key must be in the environment before the first call."""
        return (
            self.backend is Backend.litellm
            and self.provider not in KEYLESS_PROVIDERS
            and self.api_base is None
        )

    @property
    def secrets(self) -> tuple[str, ...]:
        """The credentials in the endpoint (`user:pass@`, credential query values)."""
        if not self.endpoint:
            return ()
        parts = urlsplit(self.endpoint)
        userinfo = parts.netloc.rpartition("@")[0]
        found = [userinfo, parts.password or ""] if userinfo else []
        found += [v for k, v in parse_qsl(parts.query) if _SECRET_NAME.search(k)]
        return tuple(value for value in found if value)

    @property
    def key_env(self) -> str:
        return key_env(self.provider)

    @property
    def secrets_dropped(self) -> bool:
        """True when the endpoint had credentials that records of this model will not have."""
        return self.endpoint is not None and self.endpoint != self.api_base

    def fake_options(self) -> FakeOptions:
        """The fake engine's options; unknown or malformed ones are a configuration error."""
        values: dict[str, float] = {}
        for key, value in self.options:
            if key not in _FAKE_OPTIONS:
                raise ConfigError(
                    f"Unknown fake LM option {key!r}; the options are latency_ms=N, fail_rate=0..1 "
                    "and seed=N."
                )
            try:
                values[key] = float(value)
            except ValueError:
                raise ConfigError(f"fake?{key} needs a number, got {value!r}.") from None
        if not 0 <= values.get("fail_rate", 0) <= 1:
            raise ConfigError("fake?fail_rate must be between 0 and 1.")
        return FakeOptions(
            latency_ms=values.get("latency_ms", 0.0),
            fail_rate=values.get("fail_rate", 0.0),
            seed=int(values.get("seed", 0)),
        )

    def describe(self) -> str:
        """One line saying which backend the model selects."""
        if self.backend is Backend.fake:
            return "fake: deterministic offline engine (tests, dry runs, benchmarks)"
        if self.backend is Backend.local:
            return f"embedded llama.cpp model {self.name} (in-process, offline)"
        where = f" at {self.api_base}" if self.api_base else ""
        return f"litellm provider '{self.provider}' model '{self.name}'{where}"


_SECRETS: set[str] = set()


def remember_secrets(*values: str | None) -> None:
    """Note credentials this process was given (api base userinfo and tokens, explicit keys),
    so that what it stores can be checked for them."""
    _SECRETS.update(value for value in values if value)


def known_secrets() -> frozenset[str]:
    return frozenset(_SECRETS)


def provider_of(model: str) -> str:
    """The provider part of a model string (`openai/gpt-4o-mini` -> `openai`)."""
    return model.partition("/")[0].partition("?")[0]


def key_env(model_or_provider: str) -> str:
    """The environment variable that holds a provider's key (`openai/...` -> OPENAI_API_KEY)."""
    return f"{provider_of(model_or_provider).upper()}_API_KEY"


def redact_api_base(url: str) -> str:
    """The api base without `user:pass@` and without credential-like query parameters."""
    url = url.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError("The api base must be an http(s) URL such as http://127.0.0.1:8000/v1.")
    netloc = parts.netloc.rpartition("@")[2]
    pairs = parse_qsl(parts.query, keep_blank_values=True)
    kept = [(k, v) for k, v in pairs if not _SECRET_NAME.search(k)]
    query = parts.query if len(kept) == len(pairs) else urlencode(kept)
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def _parse_query(text: str, query: str) -> dict[str, str]:
    options: dict[str, str] = {}
    for part in filter(None, query.split("&")):
        key, sep, value = part.partition("=")
        key = unquote(key)
        if not sep or not key:
            raise ConfigError(f"Model option {part!r} in {text!r} needs the form name=value.")
        if _SECRET_NAME.search(key):
            raise ConfigError(
                f"Model option {key!r} looks like a credential; model strings are recorded, so "
                "set the provider's key in the environment instead."
            )
        if key in options:
            raise ConfigError(f"Model option {key!r} is given twice in {text!r}.")
        options[key] = unquote(value)
    return options


def _sorted(options: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(options.items()))
