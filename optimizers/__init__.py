"""Optimizer recipes and the MLflow-tracked runner (the prompt-optimization issue fills this)."""
