"""Campaign config: defaults, partial merge, clear errors for unknown keys and bad values."""

from __future__ import annotations

from pathlib import Path

import pytest

from accountflow.campaign import CampaignConfig, load_config
from accountflow.errors import ConfigError
from accountflow.models import Channel


def test_defaults_are_the_documented_ones() -> None:
    cfg = CampaignConfig()
    assert cfg.max_touchpoints == 7
    assert cfg.touchpoint_intervals == [2, 3, 5, 7, 10, 14]
    assert cfg.channel_escalation == [Channel.email, Channel.sms, Channel.call]
    assert cfg.attempts_per_channel == 2
    assert cfg.colleague_message_delay == 3
    assert cfg.response_timeout == 48
    assert cfg.max_concurrent_contacts == 3
    assert cfg.conflict_check_enabled is True
    assert cfg.auto_pause_on_response is True
    assert cfg.business_days_only is False


def test_partial_config_merges_with_defaults() -> None:
    cfg = load_config({"max_touchpoints": 3, "channel_escalation": ["email", "linkedin"]})
    assert cfg.max_touchpoints == 3
    assert cfg.channel_escalation == [Channel.email, Channel.linkedin]
    assert cfg.touchpoint_intervals == [2, 3, 5, 7, 10, 14]  # untouched keys keep defaults
    assert cfg.attempts_per_channel == 2


def test_partial_config_merges_over_a_base() -> None:
    base = load_config({"attempts_per_channel": 1})
    cfg = load_config({"max_touchpoints": 2}, base=base)
    assert (cfg.attempts_per_channel, cfg.max_touchpoints) == (1, 2)


def test_unknown_key_is_a_clear_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown setting 'max_touches'.*max_touchpoints"):
        load_config({"max_touches": 3})


BAD_VALUES: list[tuple[dict, str]] = [
    ({"max_touchpoints": 0}, "'max_touchpoints'"),
    ({"touchpoint_intervals": []}, "'touchpoint_intervals'"),
    ({"touchpoint_intervals": [2, -1]}, "'touchpoint_intervals'"),
    ({"channel_escalation": ["email", "fax"]}, "'channel_escalation'"),
    ({"channel_escalation": ["sms", "sms"]}, "lists a channel twice"),
    ({"attempts_per_channel": "two"}, "'attempts_per_channel'"),
    ({"response_timeout": -5}, "'response_timeout'"),
    ({"auto_pause_on_response": "maybe"}, "'auto_pause_on_response'"),
    ({"max_concurrent_contacts": 0}, "'max_concurrent_contacts'"),
]


def test_bad_values_are_clear_errors() -> None:
    for settings, names in BAD_VALUES:
        with pytest.raises(ConfigError, match=names) as info:
            load_config(settings)
        assert str(info.value).startswith("Campaign config:")
        assert "\n" not in str(info.value)


def test_config_from_yaml_file(tmp_path: Path) -> None:
    path = tmp_path / "campaign.yaml"
    path.write_text("max_touchpoints: 4\nbusiness_days_only: true\n")
    cfg = load_config(path)
    assert cfg.max_touchpoints == 4 and cfg.business_days_only is True
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid json"):
        load_config(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "missing.yaml")
