-- 0001: the documented schema in SQLite's closest types (UUIDs and ISO-8601
-- UTC timestamps as TEXT, JSON as checked TEXT, TEXT[] as a JSON array,
-- BOOLEAN as 0/1), with the same constraints and additions as
-- migrations/postgres/0001_initial.sql. docs/schema.md explains each addition.

CREATE TABLE prompts (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    name TEXT NOT NULL CHECK (length(name) <= 255),
    description TEXT,
    created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    tags TEXT DEFAULT '[]' CHECK (tags IS NULL OR (json_valid(tags) AND json_type(tags) = 'array')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT prompts_name_key UNIQUE (name)
);

CREATE TABLE prompt_versions (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    version_number INTEGER NOT NULL,
    content TEXT NOT NULL,
    content_hash TEXT NOT NULL CHECK (length(content_hash) = 64),
    model TEXT NOT NULL CHECK (length(model) <= 100),
    temperature REAL DEFAULT 0.0,
    max_tokens INTEGER DEFAULT 1000,
    variables TEXT DEFAULT '[]' CHECK (json_valid(variables)),
    metadata TEXT DEFAULT '{}' CHECK (json_valid(metadata)),
    created_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    message TEXT,
    UNIQUE (prompt_id, version_number),
    CONSTRAINT prompt_versions_id_prompt_key UNIQUE (id, prompt_id),
    CONSTRAINT prompt_versions_version_positive CHECK (version_number > 0),
    CONSTRAINT prompt_versions_temperature_range CHECK (temperature >= 0 AND temperature <= 2),
    CONSTRAINT prompt_versions_max_tokens_positive CHECK (max_tokens > 0)
);
CREATE INDEX prompt_versions_hash_idx ON prompt_versions (prompt_id, content_hash);

CREATE TABLE prompt_deployments (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_version_id TEXT NOT NULL REFERENCES prompt_versions(id),
    environment TEXT NOT NULL CHECK (length(environment) <= 50),
    deployed_at TEXT DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    deployed_by TEXT NOT NULL CHECK (length(deployed_by) <= 255),
    is_active INTEGER DEFAULT 1 CHECK (is_active IN (0, 1)),
    rollback_of TEXT REFERENCES prompt_deployments(id),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    seq INTEGER NOT NULL,
    previous_deployment_id TEXT REFERENCES prompt_deployments(id),
    CONSTRAINT prompt_deployments_version_of_prompt
        FOREIGN KEY (prompt_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id),
    CONSTRAINT prompt_deployments_seq_key UNIQUE (prompt_id, seq)
);
CREATE UNIQUE INDEX prompt_deployments_one_active
    ON prompt_deployments (prompt_id, environment) WHERE is_active;
CREATE INDEX prompt_deployments_history_idx ON prompt_deployments (prompt_id, environment, seq);

CREATE TABLE prompt_executions (
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
    quality_score REAL
);
CREATE INDEX prompt_executions_version_time_idx ON prompt_executions (prompt_version_id, executed_at);
CREATE INDEX prompt_executions_time_idx ON prompt_executions (executed_at);

CREATE TABLE api_keys (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    name TEXT NOT NULL CHECK (length(name) <= 255),
    key_prefix TEXT NOT NULL,
    key_hash TEXT NOT NULL,
    scopes TEXT NOT NULL CHECK (json_valid(scopes) AND json_type(scopes) = 'array'),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL,
    revoked_at TEXT,
    CONSTRAINT api_keys_hash_key UNIQUE (key_hash)
);
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    occurred_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    actor TEXT NOT NULL,
    credential TEXT,
    action TEXT NOT NULL,
    prompt_name TEXT,
    environment TEXT,
    target_id TEXT,
    details TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details))
);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at);

CREATE TRIGGER prompt_versions_immutable BEFORE UPDATE ON prompt_versions
BEGIN SELECT RAISE(ABORT, 'rows of prompt_versions are immutable'); END;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'rows of audit_log are immutable'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'rows of audit_log are immutable'); END;
CREATE TRIGGER prompt_deployments_history_fixed
    BEFORE UPDATE OF id, prompt_version_id, environment, deployed_at, deployed_by, rollback_of,
        prompt_id, seq, previous_deployment_id ON prompt_deployments
BEGIN SELECT RAISE(ABORT, 'rows of prompt_deployments are immutable'); END;
CREATE TRIGGER prompt_deployments_no_reactivation BEFORE UPDATE OF is_active ON prompt_deployments
    WHEN OLD.is_active IS NOT 1
BEGIN SELECT RAISE(ABORT, 'rows of prompt_deployments are immutable'); END;
