-- 0004: key expiry and last use, protected environments with deploy approvals,
-- and audit-log indexes for its filters. docs/schema.md explains each addition.

-- A key past expires_at is refused; last_used_at is written at most once a minute per key.
ALTER TABLE api_keys ADD COLUMN expires_at TIMESTAMPTZ;
ALTER TABLE api_keys ADD COLUMN last_used_at TIMESTAMPTZ;

-- Per environment: who may deploy, and how many approvals a deploy or rollback needs.
-- No row: anyone with deploy:ENV deploys at once.
CREATE TABLE environment_policies (
    environment VARCHAR(50) PRIMARY KEY,
    deploy_scopes TEXT[] NOT NULL DEFAULT '{}',  -- empty: deploy:ENV (or deploy, or admin)
    required_approvals INTEGER NOT NULL DEFAULT 0,
    approval_ttl_hours INTEGER NOT NULL DEFAULT 72,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    updated_by VARCHAR(255) NOT NULL,
    CONSTRAINT environment_policies_approvals_range CHECK (required_approvals BETWEEN 0 AND 10),
    CONSTRAINT environment_policies_ttl_range CHECK (approval_ttl_hours BETWEEN 1 AND 2160)
);

-- A deploy or rollback to a protected environment waits here for its approvals.
CREATE TABLE deployment_requests (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    prompt_id UUID NOT NULL REFERENCES prompts(id),
    environment VARCHAR(50) NOT NULL,
    action VARCHAR(16) NOT NULL,
    version_number INTEGER NOT NULL,          -- the version it makes live
    from_version INTEGER,                     -- what was live when it was asked for
    comment TEXT,
    requested_by VARCHAR(255) NOT NULL,
    requested_credential VARCHAR(255) NOT NULL,
    requested_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    expires_at TIMESTAMPTZ NOT NULL,
    required_approvals INTEGER NOT NULL,      -- the policy's number when it was asked for
    status VARCHAR(16) NOT NULL DEFAULT 'pending',
    decided_at TIMESTAMPTZ,
    deployment_id UUID REFERENCES prompt_deployments(id),
    CONSTRAINT deployment_requests_action CHECK (action IN ('deploy', 'rollback')),
    CONSTRAINT deployment_requests_status CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'applied')),
    CONSTRAINT deployment_requests_approvals_positive CHECK (required_approvals > 0)
);
CREATE INDEX deployment_requests_status_idx ON deployment_requests (status, requested_at);
CREATE INDEX deployment_requests_prompt_idx ON deployment_requests (prompt_id, environment);

-- Each person decides once per request; decisions are never changed.
CREATE TABLE deployment_approvals (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    request_id UUID NOT NULL REFERENCES deployment_requests(id),
    actor VARCHAR(255) NOT NULL,
    credential VARCHAR(255) NOT NULL,
    decision VARCHAR(16) NOT NULL,
    comment TEXT,
    decided_at TIMESTAMPTZ NOT NULL DEFAULT NOW(),
    CONSTRAINT deployment_approvals_decision CHECK (decision IN ('approve', 'reject')),
    CONSTRAINT deployment_approvals_once UNIQUE (request_id, actor)
);
CREATE TRIGGER deployment_approvals_append_only BEFORE UPDATE OR DELETE ON deployment_approvals
    FOR EACH ROW EXECUTE FUNCTION prompt_registry_forbid_change();

-- The audit log is filtered by who and by prompt, newest first.
CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_prompt_idx ON audit_log (prompt_name, id);
