-- 0005: API key hashes keyed with the server secret, key owners, approvals
-- that compare people, and scopes for execution payloads, as in
-- migrations/postgres/0005_keys_people_execution_scopes.sql.

ALTER TABLE api_keys ADD COLUMN hash_scheme TEXT NOT NULL DEFAULT 'sha256'
    CHECK (hash_scheme IN ('sha256', 'hmac-sha256'));
ALTER TABLE api_keys ADD COLUMN owner TEXT CHECK (owner IS NULL OR length(owner) <= 255);

UPDATE api_keys SET key_prefix = ''
 WHERE created_by = 'system' AND NOT (name = 'admin' AND substr(key_prefix, 1, 3) = 'pr_');

UPDATE api_keys SET scopes = json_insert(scopes, '$[#]', 'executions:read')
 WHERE NOT EXISTS (SELECT 1 FROM json_each(api_keys.scopes) WHERE value IN ('admin', 'executions:read'));

ALTER TABLE deployment_requests ADD COLUMN requested_person TEXT;
ALTER TABLE deployment_approvals ADD COLUMN person TEXT;

CREATE TABLE server_settings (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
