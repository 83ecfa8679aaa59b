"""A ready MLflow store per test: creating MLflow's sqlite schema costs ~4 s, so it is made once
per session and copied into each test's isolated state dir (the schema is identical)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from accountflow.config import Settings


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlflow

    path = tmp_path_factory.mktemp("mlflow_template") / "mlflow.db"
    cwd = Path.cwd()
    os.chdir(path.parent)  # MLflow roots the Default experiment's artifacts at ./mlruns
    try:
        mlflow.MlflowClient(tracking_uri=f"sqlite:///{path}").search_experiments()
    finally:
        os.chdir(cwd)
    return path


@pytest.fixture
def settings(home: Path, mlflow_template: Path) -> Settings:
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(mlflow_template, home / "mlflow.db")
    return Settings.load(lm="fake")
