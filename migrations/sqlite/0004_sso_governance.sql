-- 0004: key expiry and last use, protected environments with deploy approvals,
-- and audit-log indexes, as in migrations/postgres/0004_sso_governance.sql.

ALTER TABLE api_keys ADD COLUMN expires_at TEXT;
ALTER TABLE api_keys ADD COLUMN last_used_at TEXT;

CREATE TABLE environment_policies (
    environment TEXT PRIMARY KEY CHECK (length(environment) <= 50),
    deploy_scopes TEXT NOT NULL DEFAULT '[]' CHECK (json_valid(deploy_scopes) AND json_type(deploy_scopes) = 'array'),
    required_approvals INTEGER NOT NULL DEFAULT 0 CHECK (required_approvals BETWEEN 0 AND 10),
    approval_ttl_hours INTEGER NOT NULL DEFAULT 72 CHECK (approval_ttl_hours BETWEEN 1 AND 2160),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_by TEXT NOT NULL
);

CREATE TABLE deployment_requests (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    environment TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('deploy', 'rollback')),
    version_number INTEGER NOT NULL,
    from_version INTEGER,
    comment TEXT,
    requested_by TEXT NOT NULL,
    requested_credential TEXT NOT NULL,
    requested_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    expires_at TEXT NOT NULL,
    required_approvals INTEGER NOT NULL CHECK (required_approvals > 0),
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'applied')),
    decided_at TEXT,
    deployment_id TEXT REFERENCES prompt_deployments(id)
);
CREATE INDEX deployment_requests_status_idx ON deployment_requests (status, requested_at);
CREATE INDEX deployment_requests_prompt_idx ON deployment_requests (prompt_id, environment);

CREATE TABLE deployment_approvals (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL REFERENCES deployment_requests(id),
    actor TEXT NOT NULL,
    credential TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment TEXT,
    decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    CONSTRAINT deployment_approvals_once UNIQUE (request_id, actor)
);
CREATE TRIGGER deployment_approvals_no_update BEFORE UPDATE ON deployment_approvals
BEGIN SELECT RAISE(ABORT, 'rows of deployment_approvals are immutable'); END;
CREATE TRIGGER deployment_approvals_no_delete BEFORE DELETE ON deployment_approvals
BEGIN SELECT RAISE(ABORT, 'rows of deployment_approvals are immutable'); END;

CREATE INDEX audit_log_actor_idx ON audit_log (actor, id);
CREATE INDEX audit_log_prompt_idx ON audit_log (prompt_name, id);
