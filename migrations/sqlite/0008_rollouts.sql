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

-- Starting (or re-weighting) and aborting a rollout in an environment that needs
-- approvals wait as deployment requests, like deploys and rollbacks. SQLite
-- cannot change a CHECK constraint, so deployment_requests is rebuilt, with
-- deployment_approvals (which references it): new tables, copies, the old ones
-- dropped (children first, so nothing references a dropped parent), the new
-- ones renamed (SQLite rewrites the foreign key to the new name), indexes and
-- triggers made again.
CREATE TABLE deployment_requests_0008 (
    id TEXT PRIMARY KEY DEFAULT (lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + (abs(random()) % 4), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))),
    prompt_id TEXT NOT NULL REFERENCES prompts(id),
    environment TEXT NOT NULL,
    action TEXT NOT NULL CHECK (action IN ('deploy', 'rollback', 'rollout_start', 'rollout_abort')),
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
    deployment_id TEXT REFERENCES prompt_deployments(id),
    requested_person TEXT,
    rollout_weight INTEGER CHECK (rollout_weight BETWEEN 1 AND 99),
    rollout_guard TEXT CHECK (rollout_guard IS NULL OR json_valid(rollout_guard)),
    rollout_id TEXT REFERENCES prompt_rollouts(id)
);
INSERT INTO deployment_requests_0008 (id, prompt_id, environment, action, version_number, from_version, comment, requested_by,
                                      requested_credential, requested_at, expires_at, required_approvals, status, decided_at,
                                      deployment_id, requested_person)
SELECT id, prompt_id, environment, action, version_number, from_version, comment, requested_by,
       requested_credential, requested_at, expires_at, required_approvals, status, decided_at, deployment_id, requested_person
  FROM deployment_requests;

CREATE TABLE deployment_approvals_0008 (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    request_id TEXT NOT NULL REFERENCES deployment_requests_0008(id),
    actor TEXT NOT NULL,
    credential TEXT NOT NULL,
    decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
    comment TEXT,
    decided_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    person TEXT,
    CONSTRAINT deployment_approvals_once UNIQUE (request_id, actor)
);
INSERT INTO deployment_approvals_0008 (id, request_id, actor, credential, decision, comment, decided_at, person)
SELECT id, request_id, actor, credential, decision, comment, decided_at, person FROM deployment_approvals;

DROP TABLE deployment_approvals;
DROP TABLE deployment_requests;
ALTER TABLE deployment_requests_0008 RENAME TO deployment_requests;
ALTER TABLE deployment_approvals_0008 RENAME TO deployment_approvals;

CREATE INDEX deployment_requests_status_idx ON deployment_requests (status, requested_at);
CREATE INDEX deployment_requests_prompt_idx ON deployment_requests (prompt_id, environment);
CREATE TRIGGER deployment_approvals_no_update BEFORE UPDATE ON deployment_approvals
BEGIN SELECT RAISE(ABORT, 'rows of deployment_approvals are immutable'); END;
CREATE TRIGGER deployment_approvals_no_delete BEFORE DELETE ON deployment_approvals
BEGIN SELECT RAISE(ABORT, 'rows of deployment_approvals are immutable'); END;
