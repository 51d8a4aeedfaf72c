-- 0002: execution logs (ingestion, queries, statistics), custom evaluation
-- metrics and retention policies, with the same constraints as
-- migrations/postgres/0002_executions.sql. docs/schema.md explains each addition.
--
-- SQLite cannot add a table constraint to an existing table, so
-- prompt_executions is rebuilt (the documented columns first, unchanged),
-- as SQLite's documentation describes for schema changes.

CREATE TABLE prompt_executions_0002 (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_version_id TEXT REFERENCES prompt_versions(id),
    executed_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    input_variables TEXT CHECK (input_variables IS NULL OR json_valid(input_variables)),
    rendered_prompt TEXT,
    response TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    latency_ms INTEGER,
    cost_usd REAL,
    quality_score REAL,
    prompt_id TEXT,
    environment TEXT CHECK (environment IS NULL OR length(environment) <= 50),
    status TEXT NOT NULL DEFAULT 'ok',
    error TEXT,
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    redacted_at TEXT,
    CONSTRAINT prompt_executions_status_check CHECK (status IN ('ok', 'error')),
    CONSTRAINT prompt_executions_prompt_with_version CHECK ((prompt_id IS NULL) = (prompt_version_id IS NULL)),
    CONSTRAINT prompt_executions_version_of_prompt
        FOREIGN KEY (prompt_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id)
);
INSERT INTO prompt_executions_0002 (id, prompt_version_id, executed_at, input_variables, rendered_prompt, response,
                                    input_tokens, output_tokens, latency_ms, cost_usd, quality_score, prompt_id)
SELECT e.id, e.prompt_version_id, e.executed_at, e.input_variables, e.rendered_prompt, e.response,
       e.input_tokens, e.output_tokens, e.latency_ms, e.cost_usd, e.quality_score,
       (SELECT v.prompt_id FROM prompt_versions v WHERE v.id = e.prompt_version_id)
  FROM prompt_executions e;
DROP TABLE prompt_executions;
ALTER TABLE prompt_executions_0002 RENAME TO prompt_executions;
CREATE INDEX prompt_executions_version_time_idx ON prompt_executions (prompt_version_id, executed_at);
CREATE INDEX prompt_executions_time_idx ON prompt_executions (executed_at);
-- Covering index of the statistics query (SQLite has no INCLUDE: the columns are keys).
CREATE INDEX prompt_executions_stats_idx ON prompt_executions
    (prompt_id, executed_at, prompt_version_id, environment, status, latency_ms, input_tokens, output_tokens, cost_usd, quality_score);

CREATE TRIGGER prompt_executions_facts_fixed
    BEFORE UPDATE OF id, prompt_version_id, executed_at, input_tokens, output_tokens, latency_ms, cost_usd, quality_score,
        prompt_id, environment, status, error, metadata ON prompt_executions
BEGIN SELECT RAISE(ABORT, 'rows of prompt_executions are immutable'); END;

CREATE TABLE metrics (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    name TEXT NOT NULL CHECK (length(name) <= 100),
    type TEXT NOT NULL,
    min_value REAL,
    max_value REAL,
    categories TEXT CHECK (categories IS NULL OR (json_valid(categories) AND json_type(categories) = 'array')),
    description TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    CONSTRAINT metrics_name_key UNIQUE (name),
    CONSTRAINT metrics_type_check CHECK (type IN ('numeric', 'boolean', 'categorical')),
    CONSTRAINT metrics_bounds_numeric CHECK (type = 'numeric' OR (min_value IS NULL AND max_value IS NULL)),
    CONSTRAINT metrics_bounds_ordered CHECK (min_value IS NULL OR max_value IS NULL OR min_value <= max_value),
    CONSTRAINT metrics_categories_categorical CHECK ((type = 'categorical') = (categories IS NOT NULL))
);

CREATE TABLE execution_scores (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    execution_id TEXT NOT NULL REFERENCES prompt_executions(id) ON DELETE CASCADE,
    metric_id TEXT NOT NULL REFERENCES metrics(id),
    value REAL,
    category TEXT CHECK (category IS NULL OR length(category) <= 100),
    source TEXT NOT NULL,
    comment TEXT,
    scored_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    scored_by TEXT NOT NULL CHECK (length(scored_by) <= 255),
    prompt_id TEXT,
    prompt_version_id TEXT,
    environment TEXT,
    executed_at TEXT,
    CONSTRAINT execution_scores_one_per_source UNIQUE (execution_id, metric_id, source),
    CONSTRAINT execution_scores_source_check CHECK (source IN ('human', 'code', 'llm')),
    CONSTRAINT execution_scores_value_or_category CHECK ((value IS NULL) <> (category IS NULL))
);
CREATE INDEX execution_scores_stats_idx ON execution_scores
    (prompt_id, executed_at, prompt_version_id, environment, metric_id, value, category);
CREATE INDEX execution_scores_metric_idx ON execution_scores (metric_id, execution_id);

CREATE TABLE retention_policies (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_id TEXT REFERENCES prompts(id),
    environment TEXT CHECK (environment IS NULL OR length(environment) <= 50),
    days INTEGER NOT NULL,
    action TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    CONSTRAINT retention_policies_days_range CHECK (days >= 1 AND days <= 36500),
    CONSTRAINT retention_policies_action_check CHECK (action IN ('delete', 'redact'))
);
CREATE UNIQUE INDEX retention_policies_scope_key ON retention_policies (COALESCE(prompt_id, ''), COALESCE(environment, ''));
