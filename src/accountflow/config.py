"""Settings from flags, environment (`ACCOUNTFLOW_*`) and defaults, in that order."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path
from typing import Literal, get_args

import yaml
from pydantic import BaseModel, ValidationError

from accountflow.errors import ConfigError
from accountflow.models import SellerProfile
from accountflow.resilience import RetryPolicy
from accountflow.sources.gather import SourceSettings, parse_age, parse_sources

DEFAULT_LM = "local/qwen2.5-coder-0.5b"
DEFAULT_HOME = ".accountflow"


def _pick(flag: object, env: str, default: object) -> object:
    if flag not in (None, ""):
        return flag
    value = os.environ.get(env)
    return value if value not in (None, "") else default


ReviewMode = Literal["never", "always", "low_confidence"]


def _number(flag: object, env: str, default: float, kind: type = float) -> float:
    raw = _pick(flag, env, default)
    try:
        return kind(raw)
    except (TypeError, ValueError):
        what = "a whole number" if kind is int else "a number"
        raise ConfigError(f"{env} must be {what}, got {raw!r}.") from None


def _limit(flag: int | None, env: str) -> int | None:
    """A per-minute cap from a flag or the environment; unset or 0 means none."""
    value = int(_number(flag, env, 0, int))
    if value < 0:
        raise ConfigError(f"{env} must be 0 (no cap) or a positive number per minute.")
    return value or None


class Settings(BaseModel):
    """Resolved settings; paths under `home` are where all state lives."""

    home: Path
    lm: str
    api_base: str | None = None
    seller_path: Path | None = None
    max_rule_retries: int = 2
    review: ReviewMode = "never"
    review_min_confidence: float = 0.5  # low_confidence: review when the analysis is less sure
    review_min_fit: int = 0  # low_confidence: review when the fit score is below this
    retry: RetryPolicy = RetryPolicy()
    sources: SourceSettings = SourceSettings()  # what research reads (`--sources`, `--docs`)
    # seconds a command keeps trying to open a store another process holds (the review page
    # holds it per request); `stats` and the review page never wait
    store_wait_s: float = 10.0
    # requests / tokens per minute for the whole job (None: no cap); Spark splits them
    rpm: int | None = None
    tpm: int | None = None

    @classmethod
    def load(
        cls,
        *,
        home: str | Path | None = None,
        lm: str | None = None,
        api_base: str | None = None,
        seller: str | Path | None = None,
        review: str | None = None,
        max_attempts: int | None = None,
        step_timeout_s: float | None = None,
        sources: str | None = None,
        docs: str | Path | None = None,
        web_max_age: str | None = None,
        offline: bool | None = None,
        rpm: int | None = None,
        tpm: int | None = None,
    ) -> Settings:
        seller_path = _pick(seller, "ACCOUNTFLOW_SELLER", None)
        mode = str(_pick(review, "ACCOUNTFLOW_REVIEW", "never"))
        if mode not in get_args(ReviewMode):
            raise ConfigError(
                f"Review mode {mode!r} is unknown; use never, always or low_confidence."
            )
        try:
            retry = RetryPolicy(
                max_attempts=int(_number(max_attempts, "ACCOUNTFLOW_MAX_ATTEMPTS", 4, int)),
                step_timeout_s=_number(step_timeout_s, "ACCOUNTFLOW_STEP_TIMEOUT", 120.0),
                breaker_threshold=int(_number(None, "ACCOUNTFLOW_BREAKER_THRESHOLD", 8, int)),
                base_delay_s=_number(None, "ACCOUNTFLOW_RETRY_BASE_DELAY", 1.0),
            )
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ConfigError(f"Retry setting {err['loc'][0]} {err['msg'].lower()}.") from None
        docs_dir = _pick(docs, "ACCOUNTFLOW_DOCS", None)
        offline_flag = bool(offline) or os.environ.get("ACCOUNTFLOW_OFFLINE", "").lower() in (
            "1",
            "true",
            "yes",
        )
        max_age = _pick(web_max_age, "ACCOUNTFLOW_WEB_MAX_AGE", None)
        source_settings = SourceSettings(
            sources=parse_sources(str(_pick(sources, "ACCOUNTFLOW_SOURCES", "account"))),
            docs_dir=Path(str(docs_dir)).expanduser() if docs_dir else None,
            web_max_age=parse_age(None if max_age is None else str(max_age)),
            offline=offline_flag,
        )
        source_settings.check()  # a missing --docs folder is refused before any file is read
        return cls(
            sources=source_settings,
            home=Path(str(_pick(home, "ACCOUNTFLOW_HOME", DEFAULT_HOME))).expanduser().absolute(),
            lm=str(_pick(lm, "ACCOUNTFLOW_LM", DEFAULT_LM)),
            api_base=_pick(api_base, "ACCOUNTFLOW_API_BASE", None),
            seller_path=Path(str(seller_path)) if seller_path else None,
            max_rule_retries=int(_number(None, "ACCOUNTFLOW_MAX_RULE_RETRIES", 2, int)),
            review=mode,
            review_min_confidence=_number(None, "ACCOUNTFLOW_REVIEW_MIN_CONFIDENCE", 0.5),
            review_min_fit=int(_number(None, "ACCOUNTFLOW_REVIEW_MIN_FIT", 0, int)),
            retry=retry,
            store_wait_s=max(_number(None, "ACCOUNTFLOW_STORE_WAIT", 10.0), 0.0),
            rpm=_limit(rpm, "ACCOUNTFLOW_RPM"),
            tpm=_limit(tpm, "ACCOUNTFLOW_TPM"),
        )

    @property
    def db_path(self) -> Path:
        return self.home / "accountflow.duckdb"

    @property
    def cache_dir(self) -> Path:
        return self.home / "dspy_cache"

    @property
    def programs_dir(self) -> Path:
        return self.home / "programs"

    def seller(self) -> SellerProfile:
        return load_seller(self.seller_path)


def load_seller(path: str | Path | None = None) -> SellerProfile:
    """Load a seller profile YAML; without a path, the demo seller bundled in datasets/."""
    if path is None:
        text = resources.files("accountflow.datasets").joinpath("seller_demo.yaml").read_text()
        where = "the bundled demo seller"
    else:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"Seller file {p} does not exist; pass --seller with a YAML file.")
        text = p.read_text(encoding="utf-8")
        where = str(p)
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"Seller file {where} is not valid YAML ({exc.__class__.__name__})."
        ) from None
    if not isinstance(data, dict):
        raise ConfigError(f"Seller file {where} must be a YAML mapping of seller fields.")
    try:
        return SellerProfile(**data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(x) for x in err["loc"]) or "(root)"
        raise ConfigError(f"Seller file {where}: field '{field}' {err['msg'].lower()}.") from None
