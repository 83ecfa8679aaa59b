"""Settings from flags, environment (`ACCOUNTFLOW_*`) and defaults, in that order."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

import yaml
from pydantic import BaseModel, ValidationError

from accountflow.errors import ConfigError
from accountflow.models import SellerProfile

DEFAULT_LM = "local/qwen2.5-coder-0.5b"
DEFAULT_HOME = ".accountflow"


def _pick(flag: object, env: str, default: object) -> object:
    if flag not in (None, ""):
        return flag
    value = os.environ.get(env)
    return value if value not in (None, "") else default


class Settings(BaseModel):
    """Resolved settings; paths under `home` are where all state lives."""

    home: Path
    lm: str
    api_base: str | None = None
    seller_path: Path | None = None
    max_rule_retries: int = 2

    @classmethod
    def load(
        cls,
        *,
        home: str | Path | None = None,
        lm: str | None = None,
        api_base: str | None = None,
        seller: str | Path | None = None,
    ) -> Settings:
        retries = _pick(None, "ACCOUNTFLOW_MAX_RULE_RETRIES", 2)
        try:
            retries = int(retries)  # type: ignore[arg-type]
        except ValueError:
            raise ConfigError(
                f"ACCOUNTFLOW_MAX_RULE_RETRIES must be a whole number, got {retries!r}."
            ) from None
        seller_path = _pick(seller, "ACCOUNTFLOW_SELLER", None)
        return cls(
            home=Path(str(_pick(home, "ACCOUNTFLOW_HOME", DEFAULT_HOME))).expanduser().absolute(),
            lm=str(_pick(lm, "ACCOUNTFLOW_LM", DEFAULT_LM)),
            api_base=_pick(api_base, "ACCOUNTFLOW_API_BASE", None),  # type: ignore[arg-type]
            seller_path=Path(str(seller_path)) if seller_path else None,
            max_rule_retries=retries,
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
