"""Evaluation: metrics, the LLM judge, suites and the eval runner.

- `targets`: one pipeline step (or the whole pipeline) as a `dspy.Module` to score or tune;
- `metrics`: deterministic checks and the judge, each `(example, prediction) -> MetricScore`,
  plus `metric_for` / `feedback_metric_for` for DSPy optimizers;
- `runner.evaluate`: a program over examples -> `EvalReport` (per-example failures isolated);
- `suites` + `execute.run_suite`: YAML suites run end to end into DuckDB (`store`), MLflow,
  a baseline comparison (`compare`) and a pass/fail verdict; `cli` is `accountflow eval`.

Submodules are imported on use: this package stays cheap to import for the CLI.
"""
