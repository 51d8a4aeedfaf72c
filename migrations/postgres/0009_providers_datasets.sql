-- 0009: model providers an admin configures (to run prompts), and datasets
-- (named, versioned collections of items to evaluate prompts on).
-- docs/evaluate.md describes both.

CREATE TABLE providers (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(100) NOT NULL,
    -- The wire format: 'openai' (Chat Completions, any compatible base URL) or 'anthropic' (Messages).
    kind VARCHAR(16) NOT NULL CHECK (kind IN ('openai', 'anthropic')),
    base_url VARCHAR(2048),
    -- The API key, encrypted (AES-256-GCM) with a key derived from the server secret; NULL: none.
    api_key_encrypted TEXT,
    default_model VARCHAR(255),
    -- Extra request headers (e.g. api-version for Azure), a JSON object of strings.
    headers JSONB NOT NULL DEFAULT '{}',
    -- Prices per model: {"<model>": {"input_per_million": USD, "output_per_million": USD}}.
    prices JSONB NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT providers_name_key UNIQUE (name)
);

CREATE TABLE datasets (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name VARCHAR(255) NOT NULL,
    description TEXT,
    -- Bumped by every change to the items; items record the version that added them.
    version INTEGER NOT NULL DEFAULT 0,
    item_count INTEGER NOT NULL DEFAULT 0,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT datasets_name_key UNIQUE (name)
);

CREATE TABLE dataset_items (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    dataset_id UUID NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    -- Position in the dataset: 1, 2, 3... in the order added (the paging key).
    seq INTEGER NOT NULL,
    -- The dataset version that added it: version N of a dataset is its items with added_in <= N.
    added_in INTEGER NOT NULL,
    input JSONB NOT NULL,
    expected JSONB,
    metadata JSONB NOT NULL DEFAULT '{}',
    -- The logged execution it was made from ("add to dataset"), if any.
    source_execution_id UUID,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    CONSTRAINT dataset_items_seq_key UNIQUE (dataset_id, seq)
);

-- Experiments: every item of a dataset version run against every listed version of a prompt,
-- in the background, scored by evaluators. Results are stored one by one, so a restarted
-- server continues where the last one stopped.
CREATE TABLE experiments (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_id UUID NOT NULL REFERENCES prompts(id),
    dataset_id UUID NOT NULL REFERENCES datasets(id),
    dataset_version INTEGER NOT NULL,
    -- The version numbers compared, a JSON array.
    versions JSONB NOT NULL,
    -- The evaluator specs, a JSON array.
    evaluators JSONB NOT NULL,
    provider VARCHAR(100),
    model VARCHAR(255),
    concurrency INTEGER NOT NULL,
    status VARCHAR(16) NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed')),
    total INTEGER NOT NULL,
    error TEXT,
    -- The server running it holds it until lease_until (renewed while it runs); once that
    -- passes, another server (or this one, restarted) takes it up.
    lease_owner VARCHAR(64),
    lease_until TIMESTAMPTZ,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    created_by VARCHAR(255) NOT NULL,
    started_at TIMESTAMPTZ,
    finished_at TIMESTAMPTZ
);
CREATE INDEX experiments_active_idx ON experiments (lease_until) WHERE status IN ('queued', 'running');

CREATE TABLE experiment_results (
    experiment_id UUID NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    item_seq INTEGER NOT NULL,
    version INTEGER NOT NULL,
    status VARCHAR(5) NOT NULL CHECK (status IN ('ok', 'error')),
    output TEXT,
    error TEXT,
    latency_ms INTEGER,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd FLOAT,
    execution_id UUID,
    -- {"<evaluator>": {"score", "passed", "reason"}}
    scores JSONB NOT NULL DEFAULT '{}',
    passed BOOLEAN NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    -- One result per (item, version): a resumed experiment never stores one twice.
    PRIMARY KEY (experiment_id, item_seq, version)
);
