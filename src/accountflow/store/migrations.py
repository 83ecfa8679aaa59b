"""Ordered schema migrations, each applied once and recorded in `schema_migrations`.

Append new migrations at the end; never edit one that has shipped.
"""

from __future__ import annotations

MIGRATIONS: list[tuple[str, str]] = [
    (
        "runs_and_steps",
        """
        CREATE TABLE runs (
            run_id VARCHAR PRIMARY KEY,
            account_id VARCHAR NOT NULL,
            company_name VARCHAR,
            status VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            ended_at TIMESTAMP,
            error VARCHAR,
            model VARCHAR,
            program_version VARCHAR,
            source VARCHAR,
            input JSON,
            result JSON,
            pid INTEGER
        );
        CREATE TABLE steps (
            step_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            account_id VARCHAR,
            step VARCHAR NOT NULL,
            attempt INTEGER NOT NULL,
            status VARCHAR NOT NULL,
            started_at TIMESTAMP,
            ended_at TIMESTAMP,
            duration_ms INTEGER,
            input JSON,
            output JSON,
            error_type VARCHAR,
            error_message VARCHAR,
            model VARCHAR,
            program_version VARCHAR,
            lm_calls INTEGER DEFAULT 0,
            cache_hits INTEGER DEFAULT 0,
            prompt_tokens INTEGER DEFAULT 0,
            completion_tokens INTEGER DEFAULT 0,
            cost_usd DOUBLE,
            cache_hit BOOLEAN DEFAULT FALSE,
            rule_retries INTEGER DEFAULT 0
        );
        CREATE INDEX steps_run ON steps (run_id);
        CREATE TABLE rejected (
            source VARCHAR NOT NULL,
            row_number INTEGER,
            account_id VARCHAR,
            field VARCHAR,
            reason VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "evals_runs_and_results",
        """
        CREATE TABLE eval_runs (
            eval_id VARCHAR PRIMARY KEY,
            suite VARCHAR NOT NULL,
            target VARCHAR NOT NULL,
            dataset VARCHAR,
            dataset_hash VARCHAR,
            model VARCHAR,
            judge_model VARCHAR,
            program_version VARCHAR,
            status VARCHAR NOT NULL,
            started_at TIMESTAMP NOT NULL,
            ended_at TIMESTAMP,
            n_examples INTEGER DEFAULT 0,
            n_failed INTEGER DEFAULT 0,
            aggregate DOUBLE,
            passed BOOLEAN,
            baseline_id VARCHAR,
            weights JSON,
            metric_means JSON,
            summary JSON,
            mlflow_run_id VARCHAR,
            duration_ms INTEGER,
            lm_calls INTEGER DEFAULT 0,
            prompt_tokens INTEGER DEFAULT 0,
            completion_tokens INTEGER DEFAULT 0,
            cost_usd DOUBLE,
            error VARCHAR,
            pid INTEGER
        );
        CREATE TABLE eval_results (
            eval_id VARCHAR NOT NULL,
            idx INTEGER NOT NULL,
            example_id VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            error VARCHAR,
            score DOUBLE,
            scores JSON,
            prediction JSON,
            duration_ms INTEGER,
            lm_calls INTEGER DEFAULT 0,
            prompt_tokens INTEGER DEFAULT 0,
            completion_tokens INTEGER DEFAULT 0,
            PRIMARY KEY (eval_id, idx)
        );
        """,
    ),
]
