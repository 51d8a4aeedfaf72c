-- 0005: API key hashes keyed with the server secret, key owners, approvals
-- that compare people, and scopes for execution payloads.
-- docs/schema.md explains each addition.

-- Hashes written from now on are HMAC-SHA256 with a key derived from the
-- server secret; older rows stay SHA-256 until their key is next used, when
-- the server re-hashes them.
ALTER TABLE api_keys ADD COLUMN hash_scheme VARCHAR(16) NOT NULL DEFAULT 'sha256'
    CHECK (hash_scheme IN ('sha256', 'hmac-sha256'));
-- The person a key belongs to: approvals compare people, not key names.
ALTER TABLE api_keys ADD COLUMN owner VARCHAR(255);

-- A prefix is kept only for generated keys ('' : none). Keys given in
-- PROMPT_REGISTRY_ADMIN_KEY were created by 'system' under any name but the
-- generated first key's 'admin': their first characters were part of the secret.
UPDATE api_keys SET key_prefix = ''
 WHERE created_by = 'system' AND NOT (name = 'admin' AND key_prefix LIKE 'pr\_%');

-- read no longer returns logged payloads; keys that exist keep the access they had.
UPDATE api_keys SET scopes = array_append(scopes, 'executions:read')
 WHERE NOT ('admin' = ANY(scopes)) AND NOT ('executions:read' = ANY(scopes));

-- Who asked and who decided, as people (a key's owner, else its name; a
-- token's email or subject). NULL on older rows: the name stands in.
ALTER TABLE deployment_requests ADD COLUMN requested_person VARCHAR(255);
ALTER TABLE deployment_approvals ADD COLUMN person VARCHAR(255);

-- Settings the server keeps in the database: the server secret's fingerprint,
-- so a replica or CLI with a different secret refuses to start instead of
-- refusing every key.
CREATE TABLE server_settings (
    name VARCHAR(64) PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT NOW()
);
