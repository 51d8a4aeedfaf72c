-- 0001: the documented schema (column names and types as the seed gives them),
-- plus the additions a registry needs. docs/schema.md explains each addition.

CREATE TABLE prompts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    description TEXT,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    tags TEXT[] DEFAULT '{}',
    -- Addition: the API addresses prompts by name.
    CONSTRAINT prompts_name_key UNIQUE (name),
    -- Addition: when description or tags last changed.
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
CREATE INDEX prompts_tags_idx ON prompts USING GIN (tags);

CREATE TABLE prompt_versions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_id UUID NOT NULL REFERENCES prompts(id),
    version_number INTEGER NOT NULL,
    content TEXT NOT NULL,
    content_hash VARCHAR(64) NOT NULL,  -- SHA-256 hex of content
    model VARCHAR(100) NOT NULL,
    temperature FLOAT DEFAULT 0.0,
    max_tokens INTEGER DEFAULT 1000,
    variables JSONB DEFAULT '[]',
    metadata JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    UNIQUE (prompt_id, version_number),
    -- Addition: the author's note on what changed, like a commit message.
    message TEXT,
    -- Addition: lets deployments prove, by foreign key, that a version belongs to their prompt.
    CONSTRAINT prompt_versions_id_prompt_key UNIQUE (id, prompt_id),
    CONSTRAINT prompt_versions_version_positive CHECK (version_number > 0),
    CONSTRAINT prompt_versions_temperature_range CHECK (temperature >= 0 AND temperature <= 2),
    CONSTRAINT prompt_versions_max_tokens_positive CHECK (max_tokens > 0)
);
-- Addition: duplicate detection looks versions up by content hash.
CREATE INDEX prompt_versions_hash_idx ON prompt_versions (prompt_id, content_hash);

CREATE TABLE prompt_deployments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_version_id UUID NOT NULL REFERENCES prompt_versions(id),
    environment VARCHAR(50) NOT NULL,  -- dev/staging/production by default
    deployed_at TIMESTAMPTZ DEFAULT NOW(),
    deployed_by VARCHAR(255) NOT NULL,
    is_active BOOLEAN DEFAULT TRUE,
    rollback_of UUID REFERENCES prompt_deployments(id),  -- the deployment a rollback undid
    -- Addition: the prompt, so the database can allow one active deployment per (prompt, environment).
    prompt_id UUID NOT NULL REFERENCES prompts(id),
    -- Addition: position in the prompt's deployment history; orders it exactly when timestamps tie.
    seq INTEGER NOT NULL,
    -- Addition: the deployment whose version a rollback of this one restores (NULL: nothing earlier).
    previous_deployment_id UUID REFERENCES prompt_deployments(id),
    CONSTRAINT prompt_deployments_version_of_prompt
        FOREIGN KEY (prompt_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id),
    CONSTRAINT prompt_deployments_seq_key UNIQUE (prompt_id, seq)
);
-- Addition: the database itself allows one active deployment per (prompt, environment);
-- it is also the index that resolves (prompt, environment) to a version.
CREATE UNIQUE INDEX prompt_deployments_one_active
    ON prompt_deployments (prompt_id, environment) WHERE is_active;
CREATE INDEX prompt_deployments_history_idx ON prompt_deployments (prompt_id, environment, seq);

CREATE TABLE prompt_executions (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_version_id UUID REFERENCES prompt_versions(id),
    executed_at TIMESTAMPTZ DEFAULT NOW(),
    input_variables JSONB,
    rendered_prompt TEXT,
    response TEXT,
    input_tokens INTEGER,
    output_tokens INTEGER,
    latency_ms INTEGER,
    cost_usd FLOAT,
    quality_score FLOAT
);
-- Addition: execution queries and statistics go by (version, time); retention by time.
CREATE INDEX prompt_executions_version_time_idx ON prompt_executions (prompt_version_id, executed_at);
CREATE INDEX prompt_executions_time_idx ON prompt_executions (executed_at);

-- Addition: API keys, stored as SHA-256 hashes; the key itself is shown once.
CREATE TABLE api_keys (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    key_prefix VARCHAR(16) NOT NULL,  -- the first characters, to recognise a key in lists
    key_hash VARCHAR(64) NOT NULL,
    scopes TEXT[] NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    revoked_at TIMESTAMPTZ,
    CONSTRAINT api_keys_hash_key UNIQUE (key_hash)
);
-- Names record who made each change, so two live keys never share one.
CREATE UNIQUE INDEX api_keys_live_name ON api_keys (name) WHERE revoked_at IS NULL;

-- Addition: an append-only record of every change.
CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    occurred_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    actor VARCHAR(255) NOT NULL,
    credential VARCHAR(255),
    action VARCHAR(64) NOT NULL,
    prompt_name VARCHAR(255),
    environment VARCHAR(50),
    target_id TEXT,
    details JSONB NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_time_idx ON audit_log (occurred_at);

-- History is never rewritten: versions and audit entries can't change, and a
-- deployment can only be deactivated, once.
CREATE FUNCTION prompt_registry_forbid_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'rows of % are immutable', TG_TABLE_NAME USING ERRCODE = 'P0001';
END
$$;
CREATE TRIGGER prompt_versions_immutable BEFORE UPDATE ON prompt_versions
    FOR EACH ROW EXECUTE FUNCTION prompt_registry_forbid_change();
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION prompt_registry_forbid_change();
CREATE TRIGGER prompt_deployments_history_fixed
    BEFORE UPDATE OF id, prompt_version_id, environment, deployed_at, deployed_by, rollback_of,
        prompt_id, seq, previous_deployment_id ON prompt_deployments
    FOR EACH ROW EXECUTE FUNCTION prompt_registry_forbid_change();
CREATE TRIGGER prompt_deployments_no_reactivation BEFORE UPDATE OF is_active ON prompt_deployments
    FOR EACH ROW WHEN (OLD.is_active IS NOT TRUE) EXECUTE FUNCTION prompt_registry_forbid_change();
