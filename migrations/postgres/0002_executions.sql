-- 0002: execution logs (ingestion, queries, statistics), custom evaluation
-- metrics and retention policies. docs/schema.md explains each addition.

-- Additions to the documented prompt_executions table.
ALTER TABLE prompt_executions
    -- The prompt of the version, denormalised: statistics and lists go by prompt and time.
    ADD COLUMN prompt_id UUID,
    -- The environment the execution ran in, when the application says (NULL: not said).
    ADD COLUMN environment VARCHAR(50),
    ADD COLUMN status VARCHAR(5) NOT NULL DEFAULT 'ok',
    ADD COLUMN error TEXT,
    ADD COLUMN metadata JSONB NOT NULL DEFAULT '{}',
    -- When retention removed input_variables, rendered_prompt and response (NULL: never).
    ADD COLUMN redacted_at TIMESTAMPTZ;

-- Rows logged before this migration (if any) get their prompt from their version.
UPDATE prompt_executions e SET prompt_id = v.prompt_id FROM prompt_versions v WHERE v.id = e.prompt_version_id;

ALTER TABLE prompt_executions
    ADD CONSTRAINT prompt_executions_status_check CHECK (status IN ('ok', 'error')),
    ADD CONSTRAINT prompt_executions_prompt_with_version CHECK ((prompt_id IS NULL) = (prompt_version_id IS NULL)),
    -- The denormalised prompt always agrees with the version.
    ADD CONSTRAINT prompt_executions_version_of_prompt
        FOREIGN KEY (prompt_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id);

-- Covering index of the statistics query: one prompt over a time window, every
-- aggregated column in the index, so Postgres answers from the index alone.
-- It also serves lists filtered by prompt, newest first.
CREATE INDEX prompt_executions_stats_idx ON prompt_executions (prompt_id, executed_at)
    INCLUDE (prompt_version_id, environment, status, latency_ms, input_tokens, output_tokens, cost_usd, quality_score);

-- An execution is a fact: only retention's redaction may change a row.
CREATE TRIGGER prompt_executions_facts_fixed
    BEFORE UPDATE OF id, prompt_version_id, executed_at, input_tokens, output_tokens, latency_ms, cost_usd, quality_score,
        prompt_id, environment, status, error, metadata ON prompt_executions
    FOR EACH ROW EXECUTE FUNCTION prompt_registry_forbid_change();

-- Custom evaluation metrics: named scores beyond the single quality_score.
CREATE TABLE metrics (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(100) NOT NULL,
    type VARCHAR(11) NOT NULL,
    min_value FLOAT,
    max_value FLOAT,
    categories TEXT[],
    description TEXT,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    CONSTRAINT metrics_name_key UNIQUE (name),
    CONSTRAINT metrics_type_check CHECK (type IN ('numeric', 'boolean', 'categorical')),
    CONSTRAINT metrics_bounds_numeric CHECK (type = 'numeric' OR (min_value IS NULL AND max_value IS NULL)),
    CONSTRAINT metrics_bounds_ordered CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value),
    CONSTRAINT metrics_categories_categorical CHECK ((type = 'categorical') = (categories IS NOT NULL))
);

-- Scores of executions by custom metrics: one per (execution, metric, source).
CREATE TABLE execution_scores (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    execution_id UUID NOT NULL REFERENCES prompt_executions(id) ON DELETE CASCADE,
    metric_id UUID NOT NULL REFERENCES metrics(id),
    -- numeric and boolean (0 or 1) metrics
    value FLOAT,
    -- categorical metrics
    category VARCHAR(100),
    source VARCHAR(5) NOT NULL,
    comment TEXT,
    scored_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    scored_by VARCHAR(255) NOT NULL,
    -- Copied from the execution (whose facts never change), so statistics read scores alone.
    prompt_id UUID,
    prompt_version_id UUID,
    environment VARCHAR(50),
    executed_at TIMESTAMPTZ,
    CONSTRAINT execution_scores_one_per_source UNIQUE (execution_id, metric_id, source),
    CONSTRAINT execution_scores_source_check CHECK (source IN ('human', 'code', 'llm')),
    CONSTRAINT execution_scores_value_or_category CHECK ((value IS NULL) <> (category IS NULL))
);
-- Statistics per version per metric, for one prompt over a time window, from the index alone.
CREATE INDEX execution_scores_stats_idx ON execution_scores (prompt_id, executed_at)
    INCLUDE (prompt_version_id, environment, metric_id, value, category);
-- Filtering executions by metric.
CREATE INDEX execution_scores_metric_idx ON execution_scores (metric_id, execution_id);

-- Retention policies: the most specific one applies to an execution
-- (prompt and environment, then prompt, then environment, then the default).
CREATE TABLE retention_policies (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_id UUID REFERENCES prompts(id),
    environment VARCHAR(50),
    days INTEGER NOT NULL,
    action VARCHAR(6) NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    CONSTRAINT retention_policies_days_range CHECK (days >= 1 AND days <= 36500),
    CONSTRAINT retention_policies_action_check CHECK (action IN ('delete', 'redact'))
);
-- One policy per scope; NULL (any prompt, any environment) counts as one value.
CREATE UNIQUE INDEX retention_policies_scope_key
    ON retention_policies (COALESCE(prompt_id, '00000000-0000-0000-0000-000000000000'::uuid), COALESCE(environment, ''));
