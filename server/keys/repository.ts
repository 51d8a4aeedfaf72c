import type { Queryable, Transaction } from '../db/index.js';
import { nullableTimestamp, stringArray, timestamp } from '../db/values.js';

export interface ApiKeyRecord {
  id: string;
  name: string;
  /** The person the key belongs to, when given. */
  owner: string | null;
  /** The first characters of a generated key, to recognise it in lists; null for a key given in the environment. */
  key_prefix: string | null;
  scopes: string[];
  created_at: string;
  created_by: string;
  revoked_at: string | null;
  /** After this the key is refused; null: never. */
  expires_at: string | null;
  /** Within a minute: written at most once a minute per key. */
  last_used_at: string | null;
}

const COLUMNS = 'id, name, owner, key_prefix, scopes, created_at, created_by, revoked_at, expires_at, last_used_at';

function toRecord(r: Record<string, unknown>): ApiKeyRecord {
  return {
    id: String(r.id),
    name: String(r.name),
    owner: (r.owner as string | null) ?? null,
    // '' rather than NULL: SQLite cannot drop the column's NOT NULL in place.
    key_prefix: r.key_prefix ? String(r.key_prefix) : null,
    scopes: stringArray(r.scopes),
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
    revoked_at: nullableTimestamp(r.revoked_at),
    expires_at: nullableTimestamp(r.expires_at),
    last_used_at: nullableTimestamp(r.last_used_at),
  };
}

export async function insertKey(
  tx: Transaction,
  key: { name: string; owner: string | null; prefix: string | null; hash: string; scopes: string[]; createdBy: string; expiresAt: string | null },
): Promise<ApiKeyRecord> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO api_keys (name, owner, key_prefix, key_hash, hash_scheme, scopes, created_by, expires_at)
     VALUES ($1, $2, $3, $4, 'hmac-sha256', $5, $6, $7) RETURNING ${COLUMNS}`,
    [key.name, key.owner, key.prefix ?? '', key.hash, tx.sql.list(key.scopes), key.createdBy, key.expiresAt],
  );
  return toRecord(row!);
}

export type HashScheme = 'sha256' | 'hmac-sha256';

/** A live (unrevoked) key by hash, with its stored hash for the caller to compare in constant time; expiry is the caller's to judge. */
export async function findLiveKeyByHash(db: Queryable, hash: string, scheme: HashScheme): Promise<(ApiKeyRecord & { key_hash: string }) | undefined> {
  const row = await db.get<Record<string, unknown>>(
    `SELECT ${COLUMNS}, key_hash FROM api_keys WHERE key_hash = $1 AND hash_scheme = $2 AND revoked_at IS NULL`,
    [hash, scheme],
  );
  return row && { ...toRecord(row), key_hash: String(row.key_hash) };
}

/** Whether the key with this id is unrevoked and unexpired at `now` (an event stream checks its key once it listens for revocations). */
export async function isKeyLive(db: Queryable, id: string, now: string): Promise<boolean> {
  const row = await db.get<Record<string, unknown>>('SELECT revoked_at, expires_at FROM api_keys WHERE id = $1', [id]);
  if (!row || row.revoked_at !== null) return false;
  const expires = nullableTimestamp(row.expires_at);
  return expires === null || Date.parse(expires) > Date.parse(now);
}

/** Replaces an unkeyed SHA-256 hash with the keyed one; a no-op when another replica got there first. */
export async function rehashKey(tx: Transaction, id: string, from: string, to: string): Promise<void> {
  await tx.run(`UPDATE api_keys SET key_hash = $3, hash_scheme = 'hmac-sha256' WHERE id = $1 AND key_hash = $2 AND hash_scheme = 'sha256'`, [id, from, to]);
}

export async function renameKey(tx: Transaction, id: string, name: string): Promise<boolean> {
  return (await tx.run('UPDATE api_keys SET name = $2 WHERE id = $1 AND revoked_at IS NULL', [id, name])) > 0;
}

export async function touchKey(tx: Transaction, id: string, at: string): Promise<void> {
  await tx.run('UPDATE api_keys SET last_used_at = $2 WHERE id = $1', [id, at]);
}

export async function findKey(db: Queryable, idOrName: string): Promise<ApiKeyRecord | undefined> {
  // A live key by name first; else by id (a UUID), live or revoked.
  const byName = await db.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM api_keys WHERE name = $1 AND revoked_at IS NULL`, [idOrName]);
  if (byName) return toRecord(byName);
  if (!/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(idOrName)) return undefined; // what Postgres reads as a uuid
  const byId = await db.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM api_keys WHERE id = $1`, [idOrName.toLowerCase()]);
  return byId && toRecord(byId);
}

export async function listKeys(db: Queryable, opts: { includeRevoked: boolean; after?: string | undefined; limit: number }): Promise<ApiKeyRecord[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${COLUMNS} FROM api_keys
      WHERE ($1::boolean OR revoked_at IS NULL) AND ($2::uuid IS NULL OR id > $2::uuid)
      ORDER BY id LIMIT $3`,
    [opts.includeRevoked, opts.after ?? null, opts.limit],
  );
  return rows.map(toRecord);
}

export async function countLiveKeys(db: Queryable): Promise<number> {
  const row = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM api_keys WHERE revoked_at IS NULL');
  return Number(row?.n ?? 0);
}

/** Admin keys that work now (neither revoked nor expired). */
export async function liveAdminKeyIds(tx: Transaction, now: string): Promise<string[]> {
  const rows = await tx.all<{ id: string }>(
    `SELECT id FROM api_keys WHERE revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $1::timestamptz) AND ${tx.sql.has('api_keys.scopes', "'admin'")}${tx.sql.forUpdate}`,
    [now],
  );
  return rows.map((r) => String(r.id));
}

export async function revokeKey(tx: Transaction, id: string): Promise<ApiKeyRecord | undefined> {
  const now = new Date().toISOString();
  const row = await tx.get<Record<string, unknown>>(
    `UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL RETURNING ${COLUMNS}`,
    [id, now],
  );
  return row && toRecord(row);
}
