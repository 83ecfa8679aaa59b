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
        "core_retries_reviews",
        """
        ALTER TABLE steps ADD COLUMN error_class VARCHAR;
        ALTER TABLE steps ADD COLUMN backoff_ms INTEGER;
        ALTER TABLE runs ADD COLUMN batch VARCHAR;
        CREATE TABLE reviews (
            review_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            decision VARCHAR NOT NULL,
            note VARCHAR,
            reviewer VARCHAR NOT NULL,
            regenerate BOOLEAN DEFAULT FALSE,
            decided_at TIMESTAMP NOT NULL
        );
        CREATE INDEX reviews_run ON reviews (run_id);
        """,
    ),
    (
        "programs_registry",
        """
        CREATE TABLE programs (
            version VARCHAR PRIMARY KEY,
            target VARCHAR NOT NULL,
            optimizer VARCHAR,
            parent_version VARCHAR,
            model VARCHAR,
            dev_score_before DOUBLE,
            dev_score DOUBLE,
            metrics JSON,
            recipe JSON,
            mlflow_run_id VARCHAR,
            registered_model VARCHAR,
            registered_version INTEGER,
            stop_reason VARCHAR,
            path VARCHAR NOT NULL,
            created_at TIMESTAMP NOT NULL
        );
        CREATE TABLE program_promotions (
            version VARCHAR,
            previous VARCHAR,
            promoted_at TIMESTAMP NOT NULL
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
    (
        "campaign_tables",
        """
        CREATE TABLE campaigns (
            campaign_id VARCHAR PRIMARY KEY,
            account_id VARCHAR NOT NULL,
            company_name VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            config JSON NOT NULL,
            account JSON NOT NULL,
            seller JSON NOT NULL,
            analysis JSON NOT NULL,
            model VARCHAR,
            touches_done INTEGER NOT NULL DEFAULT 0,
            next_touch_at TIMESTAMP,
            pause_reason VARCHAR,
            completed_reason VARCHAR,
            claim_id VARCHAR,
            claimed_at TIMESTAMP,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        CREATE TABLE campaign_contacts (
            campaign_id VARCHAR NOT NULL,
            contact_id VARCHAR NOT NULL,
            name VARCHAR NOT NULL,
            email VARCHAR NOT NULL,
            phone VARCHAR,
            title VARCHAR,
            linkedin_url VARCHAR,
            role VARCHAR NOT NULL,
            input_order INTEGER NOT NULL,
            score INTEGER NOT NULL,
            PRIMARY KEY (campaign_id, contact_id)
        );
        CREATE TABLE campaign_outbox (
            campaign_id VARCHAR NOT NULL,
            touch_number INTEGER NOT NULL,
            contact_id VARCHAR NOT NULL,
            address VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            subject VARCHAR,
            body VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            sender VARCHAR,
            detail VARCHAR,
            created_at TIMESTAMP NOT NULL,
            delivered_at TIMESTAMP,
            lm_calls INTEGER DEFAULT 0,
            prompt_tokens INTEGER DEFAULT 0,
            completion_tokens INTEGER DEFAULT 0,
            rule_retries INTEGER DEFAULT 0,
            PRIMARY KEY (campaign_id, touch_number)
        );
        CREATE TABLE campaign_responses (
            response_id VARCHAR PRIMARY KEY,
            campaign_id VARCHAR NOT NULL,
            contact_id VARCHAR NOT NULL,
            kind VARCHAR NOT NULL,
            text VARCHAR,
            sentiment VARCHAR,
            topic VARCHAR,
            occurred_at TIMESTAMP NOT NULL,
            recorded_at TIMESTAMP NOT NULL,
            acknowledged BOOLEAN NOT NULL DEFAULT FALSE
        );
        CREATE SEQUENCE campaign_event_seq;
        CREATE TABLE campaign_events (
            seq BIGINT PRIMARY KEY DEFAULT nextval('campaign_event_seq'),
            campaign_id VARCHAR NOT NULL,
            occurred_at TIMESTAMP NOT NULL,
            event VARCHAR NOT NULL,
            detail JSON
        );
        CREATE INDEX campaign_responses_campaign ON campaign_responses (campaign_id);
        CREATE INDEX campaign_events_campaign ON campaign_events (campaign_id);
        """,
    ),
    (
        "core_batches",
        """
        ALTER TABLE runs ADD COLUMN input_hash VARCHAR;
        ALTER TABLE rejected ADD COLUMN batch VARCHAR;
        CREATE INDEX runs_batch ON runs (batch, account_id);
        CREATE TABLE batches (
            name VARCHAR PRIMARY KEY,
            input_path VARCHAR NOT NULL,
            contacts_path VARCHAR,
            output_path VARCHAR NOT NULL,
            model VARCHAR NOT NULL,
            program_version VARCHAR NOT NULL,
            status VARCHAR NOT NULL,
            stop_reason VARCHAR,
            accounts INTEGER DEFAULT 0,
            succeeded INTEGER DEFAULT 0,
            failed INTEGER DEFAULT 0,
            rejected INTEGER DEFAULT 0,
            cost_usd DOUBLE,
            created_at TIMESTAMP NOT NULL,
            updated_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "campaign_runs",
        """
        ALTER TABLE campaigns ADD COLUMN run_id VARCHAR;
        ALTER TABLE campaigns ADD COLUMN program_version VARCHAR;
        """,
    ),
    (
        "run_identity",
        """
        ALTER TABLE runs ADD COLUMN identity VARCHAR;
        ALTER TABLE runs ADD COLUMN seller_hash VARCHAR;
        ALTER TABLE runs ADD COLUMN review VARCHAR;
        ALTER TABLE runs ADD COLUMN sources VARCHAR;
        ALTER TABLE batches ADD COLUMN seller_path VARCHAR;
        ALTER TABLE batches ADD COLUMN review VARCHAR;
        ALTER TABLE batches ADD COLUMN program_ref VARCHAR;
        """,
    ),
    (
        # DuckDB 2.0 replays the WAL's update of a checkpointed row to NULL (long strings such
        # as a run's result or a step's output) when its table has a secondary index and rows
        # were appended in between: after `kill -9`, resumed runs read `succeeded` with no
        # result. Tables that are updated keep only their primary key; their lookups by run or
        # batch are scans, which DuckDB does in milliseconds at our sizes.
        "no_secondary_indexes_on_updated_tables",
        """
        DROP INDEX IF EXISTS runs_batch;
        DROP INDEX IF EXISTS steps_run;
        DROP INDEX IF EXISTS reviews_run;
        """,
    ),
    (
        "campaign_delivery",
        """
        ALTER TABLE campaign_outbox ADD COLUMN attempts INTEGER DEFAULT 0;
        ALTER TABLE campaign_outbox ADD COLUMN attempted_at TIMESTAMP;
        """,
    ),
    (
        "suppressions",
        """
        CREATE TABLE suppressions (
            value VARCHAR PRIMARY KEY,
            kind VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            source VARCHAR,
            created_at TIMESTAMP NOT NULL
        );
        """,
    ),
    (
        "web_pages",
        """
        CREATE TABLE web_pages (
            url VARCHAR PRIMARY KEY,
            final_url VARCHAR,
            status INTEGER,
            fetched_at TIMESTAMP NOT NULL,
            content_hash VARCHAR,
            title VARCHAR,
            text VARCHAR,
            error VARCHAR
        );
        """,
    ),
    (
        "batch_sources",
        """
        ALTER TABLE batches ADD COLUMN sources VARCHAR;
        """,
    ),
    (
        "review_edits",
        """
        CREATE TABLE review_edits (
            edit_id VARCHAR PRIMARY KEY,
            run_id VARCHAR NOT NULL,
            channel VARCHAR NOT NULL,
            subject VARCHAR,
            body VARCHAR NOT NULL,
            reviewer VARCHAR NOT NULL,
            edited_at TIMESTAMP NOT NULL,
            restored_at TIMESTAMP,
            restored_by VARCHAR
        );
        """,
    ),
    (
        "review_channel",
        """
        ALTER TABLE reviews ADD COLUMN channel VARCHAR;
        """,
    ),
]
