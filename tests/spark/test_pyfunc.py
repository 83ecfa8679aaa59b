"""The multi-row pyfunc without Spark: `programs log-pyfunc` logs it in the state dir's MLflow,
and the loaded model scores a DataFrame of several rows (MLflow's DSPy flavour takes one); the
logged job holds no secret."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from accountflow import Settings
from accountflow.datasets import path as data_path
from tests.cli_runner import run_cli


def test_log_pyfunc_from_the_cli_and_predict_many_rows(
    home: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import mlflow
    import pandas as pd

    from accountflow.tracking import mlflow_uri

    monkeypatch.setenv("ACCOUNTFLOW_API_BASE", "https://user:s3cr3t-pass@llm.internal/v1")
    code, out, err = run_cli(
        ["programs", "log-pyfunc", "--lm", "fake", "--json"], capsys, monkeypatch
    )
    assert code == 0, err
    uri = json.loads(out)["model_uri"]
    mlflow.set_tracking_uri(mlflow_uri(Settings.load()))
    model = mlflow.pyfunc.load_model(uri)
    rows = [json.loads(x) for x in data_path("accounts_demo.jsonl").read_text().splitlines()][:4]
    for row in rows:
        row["contacts"] = json.dumps(row["contacts"])
    scored = model.predict(pd.DataFrame(rows))
    assert list(scored["account_id"]) == [r["account_id"] for r in rows]
    assert (scored["status"] == "succeeded").all()
    assert scored["email_body"].str.contains("Maya Chen").all()
    artifacts = "".join(
        p.read_text(errors="ignore") for p in (home / "mlartifacts").rglob("*") if p.is_file()
    )
    assert "s3cr3t-pass" not in artifacts
