-- 0008: gradual rollouts. A candidate version served to a percentage of
-- traffic beside the live one in an environment, until it is promoted or
-- aborted. docs/rollouts.md describes the feature, docs/schema.md the table.

CREATE TABLE prompt_rollouts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_id UUID NOT NULL REFERENCES prompts(id),
    environment VARCHAR(50) NOT NULL,
    candidate_version_id UUID NOT NULL,
    live_version_id UUID NOT NULL,
    weight INTEGER NOT NULL,                  -- percent of keys served the candidate
    guard JSONB,                              -- null: no automatic abort
    status VARCHAR(16) NOT NULL DEFAULT 'active',
    started_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    started_by VARCHAR(255) NOT NULL,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    ended_at TIMESTAMPTZ,
    ended_by VARCHAR(255),
    end_reason TEXT,
    CONSTRAINT prompt_rollouts_weight_range CHECK (weight BETWEEN 1 AND 99),
    CONSTRAINT prompt_rollouts_status CHECK (status IN ('active', 'promoted', 'aborted', 'superseded')),
    CONSTRAINT prompt_rollouts_two_versions CHECK (candidate_version_id <> live_version_id),
    CONSTRAINT prompt_rollouts_candidate_of_prompt
        FOREIGN KEY (candidate_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id),
    CONSTRAINT prompt_rollouts_live_of_prompt
        FOREIGN KEY (live_version_id, prompt_id) REFERENCES prompt_versions (id, prompt_id)
);
-- At most one running rollout per prompt and environment, enforced by the database.
CREATE UNIQUE INDEX prompt_rollouts_one_active ON prompt_rollouts (prompt_id, environment) WHERE status = 'active';
CREATE INDEX prompt_rollouts_history_idx ON prompt_rollouts (prompt_id, environment, started_at);

-- Starting (or re-weighting) and aborting a rollout in an environment that needs
-- approvals wait as deployment requests, like deploys and rollbacks.
ALTER TABLE deployment_requests DROP CONSTRAINT deployment_requests_action;
ALTER TABLE deployment_requests ADD CONSTRAINT deployment_requests_action
    CHECK (action IN ('deploy', 'rollback', 'rollout_start', 'rollout_abort'));
ALTER TABLE deployment_requests ADD COLUMN rollout_weight INTEGER;   -- rollout_start: the weight asked for
ALTER TABLE deployment_requests ADD COLUMN rollout_guard JSONB;      -- rollout_start: the guard asked for
ALTER TABLE deployment_requests ADD COLUMN rollout_id UUID REFERENCES prompt_rollouts(id); -- rollout_abort: which one
ALTER TABLE deployment_requests ADD CONSTRAINT deployment_requests_rollout_weight_range CHECK (rollout_weight BETWEEN 1 AND 99);
