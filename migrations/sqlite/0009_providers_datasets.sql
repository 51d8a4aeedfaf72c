-- 0009: model providers and datasets, as in migrations/postgres/0009_providers_datasets.sql.

CREATE TABLE providers (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    name TEXT NOT NULL CHECK (length(name) <= 100),
    kind TEXT NOT NULL CHECK (kind IN ('openai', 'anthropic')),
    base_url TEXT CHECK (base_url IS NULL OR length(base_url) <= 2048),
    api_key_encrypted TEXT,
    default_model TEXT CHECK (default_model IS NULL OR length(default_model) <= 255),
    headers TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(headers)),
    prices TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(prices)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT providers_name_key UNIQUE (name)
);

CREATE TABLE datasets (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    name TEXT NOT NULL CHECK (length(name) <= 255),
    description TEXT,
    version INTEGER NOT NULL DEFAULT 0,
    item_count INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT datasets_name_key UNIQUE (name)
);

CREATE TABLE dataset_items (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    dataset_id TEXT NOT NULL REFERENCES datasets(id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,
    added_in INTEGER NOT NULL,
    input TEXT NOT NULL CHECK (json_valid(input)),
    expected TEXT CHECK (expected IS NULL OR json_valid(expected)),
    metadata TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
    source_execution_id TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL CHECK (length(created_by) <= 255),
    CONSTRAINT dataset_items_seq_key UNIQUE (dataset_id, seq)
);

CREATE TABLE experiments (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    dataset_id TEXT NOT NULL REFERENCES datasets(id),
    dataset_version INTEGER NOT NULL,
    versions TEXT NOT NULL CHECK (json_valid(versions)),
    evaluators TEXT NOT NULL CHECK (json_valid(evaluators)),
    provider TEXT,
    model TEXT,
    concurrency INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'completed', 'cancelled', 'failed')),
    total INTEGER NOT NULL,
    error TEXT,
    lease_owner TEXT,
    lease_until TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    created_by TEXT NOT NULL,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX experiments_active_idx ON experiments (lease_until) WHERE status IN ('queued', 'running');

CREATE TABLE experiment_results (
    experiment_id TEXT NOT NULL REFERENCES experiments(id) ON DELETE CASCADE,
    item_seq INTEGER NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    output TEXT,
    error TEXT,
    latency_ms INTEGER,
    input_tokens INTEGER,
    output_tokens INTEGER,
    cost_usd REAL,
    execution_id TEXT,
    scores TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(scores)),
    passed INTEGER NOT NULL CHECK (passed IN (0, 1)),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (experiment_id, item_seq, version)
);
