"""Process environment defaults that must be set before dspy, litellm or mlflow are imported.

Without them litellm fetches its price map from the internet (and deadlocks offline), MLflow
phones home, and DSPy writes its cache to ~/.dspy_cache instead of the state dir.
"""

from __future__ import annotations

import os

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
# Import-time home for DSPy's cache; `accountflow.lm.use_cache_dir` moves it into the state dir
# once settings are known, so importing the package never creates folders in the caller's cwd.
os.environ.setdefault(
    "DSPY_CACHEDIR", os.path.join(os.path.expanduser("~"), ".cache", "accountflow", "dspy_cache")
)
