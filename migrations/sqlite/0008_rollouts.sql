-- 0008: gradual rollouts, as in migrations/postgres/0008_rollouts.sql.

CREATE TABLE prompt_rollouts (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    environment TEXT NOT NULL CHECK (length(environment) <= 50),
    candidate_version_id TEXT NOT NULL,
    live_version_id TEXT NOT NULL,
    weight INTEGER NOT NULL CHECK (weight BETWEEN 1 AND 99),
    guard TEXT CHECK (guard IS NULL OR json_valid(guard)),
    status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'promoted', 'aborted', 'superseded')),
    started_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    started_by TEXT NOT NULL CHECK (length(started_by) <= 255),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    ended_at TEXT,
    ended_by TEXT,
    end_reason TEXT,
    CONSTRAINT prompt_rollouts_two_versions CHECK (candidate_version_id <> live_version_id),
    CONSTRAINT prompt_rollouts_candidate_of_prompt
        FOREIGN KEY (candidate_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id),
    CONSTRAINT prompt_rollouts_live_of_prompt
        FOREIGN KEY (live_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id)
);
CREATE UNIQUE INDEX prompt_rollouts_one_active ON prompt_rollouts (prompt_id, environment) WHERE status = 'active';
CREATE INDEX prompt_rollouts_history_idx ON prompt_rollouts (prompt_id, environment, started_at);
