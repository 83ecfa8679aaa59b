"""The 14-day simulation in bench/ runs and shows touches, the reply, the pause and the status."""

from __future__ import annotations

import re
import runpy
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "bench" / "campaign_sim.py"


def test_fourteen_day_simulation(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "argv", [str(SCRIPT), "--home", str(tmp_path / "sim")])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    out = capfd.readouterr().out
    touches = re.findall(r"^day +(\d+) .* touch (\d) (\w+) -> (.+?) <", out, re.M)
    assert touches == [
        ("0", "1", "email", "Marcus Reed"),
        ("2", "2", "email", "Marcus Reed"),
        ("5", "3", "sms", "Marcus Reed"),
    ]
    assert "read by the model as positive" in out
    assert "conflict primary_responded" in out and "-> campaign paused" in out
    assert out.count("tick: campaign paused, nothing sent") == 8  # days 7-14
    status = out.split("(a new process)")[1]
    assert "paused" in status and "primary responded" in status
    assert "3 of 7 touchpoints" in status and "response" in status
