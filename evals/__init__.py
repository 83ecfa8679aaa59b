"""Metrics, suites and the eval runner (the datasets-and-evals issue fills this)."""
