"""Campaign settings: defaults, merging a partial config, and one-sentence errors.

Each campaign stores the config it started with, so a campaign keeps its own schedule and rules
when a later process (or another engine) runs it. Every setting here changes behaviour; the
tests in `tests/campaign/` name the effect of each.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from accountflow.campaign.senders import list_unsubscribe
from accountflow.errors import ConfigError
from accountflow.models import Channel


class CampaignConfig(BaseModel):
    """How a campaign paces, routes and stops its touches.

    - `max_touchpoints`: touches in total; after that the campaign is completed.
    - `touchpoint_intervals`: days between touches; after touch k (counting from 0) the next
      is due `touchpoint_intervals[min(k, len - 1)]` days later.
    - `channel_escalation`: the channel order tried per contact.
    - `attempts_per_channel`: touches per channel per contact before escalating.
    - `colleague_message_delay`: days after a real engagement before colleagues are told of it.
    - `response_timeout`: hours a contact gets to answer before any next touch is due.
    - `max_concurrent_contacts`: how many contacts may be in play at once.
    - `conflict_check_enabled`: classify replies and look for conflicts before each touch.
    - `auto_pause_on_response`: pause on a conflict (otherwise report it and go on).
    - `business_days_only`: count intervals in business days and never schedule on a weekend.
    - `unsubscribe`: where recipients opt out (mailto: address or https URL, `{email}` is the
      recipient), sent as `List-Unsubscribe`; default: ACCOUNTFLOW_UNSUBSCRIBE, else a
      mailto: to the From address.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    max_touchpoints: int = Field(default=7, ge=1, le=100)
    touchpoint_intervals: list[int] = Field(default_factory=lambda: [2, 3, 5, 7, 10, 14])
    channel_escalation: list[Channel] = Field(
        default_factory=lambda: [Channel.email, Channel.sms, Channel.call]
    )
    attempts_per_channel: int = Field(default=2, ge=1, le=20)
    colleague_message_delay: float = Field(default=3.0, ge=0, le=365)
    response_timeout: float = Field(default=48.0, ge=0, le=24 * 365)
    max_concurrent_contacts: int = Field(default=3, ge=1, le=50)
    conflict_check_enabled: bool = True
    auto_pause_on_response: bool = True
    business_days_only: bool = False
    unsubscribe: str | None = None

    @field_validator("touchpoint_intervals")
    @classmethod
    def _intervals(cls, value: list[int]) -> list[int]:
        if not value:
            raise ValueError("needs at least one interval in days")
        if any(v < 1 or v > 365 for v in value):
            raise ValueError("every interval must be a whole number of days from 1 to 365")
        return value

    @field_validator("unsubscribe")
    @classmethod
    def _unsubscribe(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                list_unsubscribe(value, "x@example.com")
            except ConfigError as exc:
                raise ValueError(str(exc).split(";")[0]) from None
        return value

    @field_validator("channel_escalation")
    @classmethod
    def _escalation(cls, value: list[Channel]) -> list[Channel]:
        if not value:
            raise ValueError("needs at least one channel")
        if len(set(value)) != len(value):
            raise ValueError("lists a channel twice")
        return value


SETTINGS: tuple[str, ...] = tuple(CampaignConfig.model_fields)


def load_config(
    config: CampaignConfig | Mapping[str, Any] | str | Path | None = None,
    base: CampaignConfig | None = None,
) -> CampaignConfig:
    """A full config from a partial one: a mapping, a YAML/JSON file, or a config object.

    Keys not given keep `base`'s value (the defaults when no base); an unknown key or a bad
    value raises ConfigError naming the setting.
    """
    if isinstance(config, CampaignConfig):
        return config
    if isinstance(config, (str, Path)):
        config = _read_file(Path(config))
    merged = (base or CampaignConfig()).model_dump()
    data = dict(config or {})
    unknown = [k for k in data if k not in SETTINGS]
    if unknown:
        raise ConfigError(
            f"Campaign config: unknown setting {unknown[0]!r}; known settings are "
            f"{', '.join(SETTINGS)}."
        )
    merged.update(data)
    try:
        return CampaignConfig(**merged)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "(config)"
        msg = err["msg"].removeprefix("Value error, ")
        raise ConfigError(
            f"Campaign config: bad value {data.get(name)!r} for {name!r}: "
            f"{msg[0].lower()}{msg[1:]}."
        ) from None


def _read_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ConfigError(f"Campaign config file {path} does not exist; check the path.")
    text = path.read_text(encoding="utf-8")
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(text)
        else:
            import yaml

            data = yaml.safe_load(text)
    except Exception as exc:  # json.JSONDecodeError, yaml.YAMLError
        raise ConfigError(
            f"Campaign config file {path} is not valid {path.suffix.lstrip('.') or 'YAML'} "
            f"({exc.__class__.__name__})."
        ) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"Campaign config file {path} must be a mapping of settings.")
    return data
