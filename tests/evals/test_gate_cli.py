"""`accountflow eval ... --baseline --gate paired` and `eval compare --gate`: the paired
figures in the report and its JSON, on the fake engine."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli_runner import run_cli

# no floors and no metric gate: the test is about the aggregate's gate, not today's scores
SUITE = """name: gated
target: analysis
dataset: dev
limit: 3
metrics: {fit_band: 1, pain_point_recall: 1}
thresholds: {metric_tolerance: null}
"""


def test_paired_gate_is_reported_in_text_and_json(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    home: Path,
    tmp_path: Path,
) -> None:
    suite = tmp_path / "gated.yaml"
    suite.write_text(SUITE)
    args = ["eval", str(suite), "--lm", "fake", "--no-mlflow"]
    code, out, err = run_cli(args, capsys, monkeypatch)
    assert code == 0, out + err

    code, out, err = run_cli(
        [*args, "--baseline", "last", "--gate", "paired", "--json"], capsys, monkeypatch
    )
    assert code == 0, out + err
    data = json.loads(out)
    c = data["comparison"]
    assert c["gate"] == "paired" and c["aggregate_regressed"] is False
    assert c["paired_verdict"] == "no clear change"
    # the fake engine is deterministic: the same program scores the same, per example
    assert c["paired"] == {
        "mean_delta": 0.0,
        "ci_low": 0.0,
        "ci_high": 0.0,
        "n": 3,
        "confidence": 0.95,
        "p_not_better": 1.0,
        "p_not_worse": 1.0,
    }

    code, out, err = run_cli([*args, "--baseline", "last", "--gate", "paired"], capsys, monkeypatch)
    assert code == 0, out + err
    assert (
        "paired bootstrap (n 3): mean delta +0.000, 95% CI [+0.000, +0.000]: "
        "no clear change (the gate)"
    ) in out
    code, out, err = run_cli([*args, "--baseline", "last"], capsys, monkeypatch)
    assert code == 0, out + err
    assert "no clear change (informational; the gate is threshold)" in out

    code, out, _ = run_cli(["eval", "list", "--json"], capsys, monkeypatch)
    ids = [r["eval_id"] for r in json.loads(out)]
    code, out, _ = run_cli(
        ["eval", "compare", ids[-1], ids[0], "--gate", "paired", "--json"], capsys, monkeypatch
    )
    assert code == 0
    compared = json.loads(out)
    assert compared["gate"] == "paired" and compared["paired"]["n"] == 3

    code, _, err = run_cli([*args, "--gate", "strict"], capsys, monkeypatch)
    assert code == 2 and "--gate" in err
