import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { recordAudit } from '../audit/repository.js';
import { SCOPE_LIST, SCOPE_PATTERN, type Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { isUniqueViolation } from '../db/errors.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { ChangeFeed } from '../events.js';
import type { ServerSecret } from '../secret.js';
import * as repo from './repository.js';
import type { ApiKeyRecord } from './repository.js';

const KEY_PREFIX = 'pr_';

/** How keys were hashed before 0005: unkeyed, so a leaked table let anyone test guesses offline. Still accepted, and re-hashed on use. */
export function legacyHashKey(key: string): string {
  return createHash('sha256').update(key).digest('hex');
}

/** 32 random bytes: a key is as strong as a random 256-bit secret, so one HMAC-SHA256 suffices to store it. */
export function generateKey(): string {
  return KEY_PREFIX + randomBytes(32).toString('base64url');
}

export interface CreatedKey extends ApiKeyRecord {
  /** The key itself: shown once, never stored. */
  key: string;
}

const SYSTEM: Principal = { name: 'system', person: 'system', scopes: ['admin'], credential: 'system' };

interface CacheEntry {
  principal: Principal | undefined;
  /** Why the key was refused, when it was. */
  reason: string;
  expires: number;
}

export type KeyCheck = { principal: Principal; reason?: undefined } | { principal?: undefined; reason: string };

const INVALID = 'the API key is not valid, or it was revoked';
/** last_used_at is written at most this often per key: a write per request would cost more than the request. */
const TOUCH_INTERVAL_MS = 60_000;

/**
 * Creates, lists and revokes API keys, and authenticates requests by key.
 * Authentication is on every request, so verified keys (and recent misses)
 * are cached briefly; a revocation clears the cache here at once and on other
 * replicas through the change feed.
 */
export class KeyService {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly touched = new Map<string, number>();
  private readonly hashSecret: Buffer;

  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    secret: ServerSecret,
    private readonly cacheTtlMs = 10_000,
  ) {
    this.hashSecret = secret.derive('api-key-hash');
    feed.subscribe((event) => {
      if (event.type === 'api_key.revoked') this.cache.clear();
    });
  }

  /** HMAC-SHA256 under a key derived from the server secret: the table alone does not let anyone test a guess. */
  hashKey(key: string): string {
    return createHmac('sha256', this.hashSecret).update(key).digest('hex');
  }

  /**
   * The live row of a key: by its keyed hash, else by the unkeyed SHA-256 of
   * keys stored before 0005, which is then replaced by the keyed hash (so no
   * one is locked out, and the old hash is gone after a key's first use).
   */
  private async findLive(key: string): Promise<ApiKeyRecord | undefined> {
    const hash = this.hashKey(key);
    const found = await repo.findLiveKeyByHash(this.db, hash, 'hmac-sha256');
    // The row was found by its hash; comparing again in constant time keeps timing out of the decision.
    if (found) return sameHash(found.key_hash, hash) ? found : undefined;
    const legacy = legacyHashKey(key);
    const old = await repo.findLiveKeyByHash(this.db, legacy, 'sha256');
    if (!old || !sameHash(old.key_hash, legacy)) return undefined;
    // The key is valid either way: a failed re-hash is tried again on its next use.
    await this.db.transaction((tx) => repo.rehashKey(tx, old.id, legacy, hash)).catch(() => undefined);
    return old;
  }

  /** A key verified within the cache TTL, without touching the database (the resolve fast path). */
  cachedPrincipal(key: string): Principal | undefined {
    const hit = this.cache.get(key);
    return hit && hit.expires > Date.now() ? hit.principal : undefined;
  }

  async authenticate(key: string): Promise<KeyCheck> {
    const now = Date.now();
    // Keyed by the key itself, not its hash: hashing on every request cost the hot path more than the lookup.
    const hit = this.cache.get(key);
    if (hit && hit.expires > now) return hit.principal ? { principal: hit.principal } : { reason: hit.reason };
    const record = await this.findLive(key);
    let principal: Principal | undefined;
    let reason = INVALID;
    let expires = now + 2_000;
    if (record) {
      const expiresAt = record.expires_at ? Date.parse(record.expires_at) : Infinity;
      if (expiresAt <= now) {
        reason = `the API key "${record.name}" expired at ${record.expires_at}; ask an admin for a new one`;
      } else {
        principal = { name: record.name, person: record.owner ?? record.name, scopes: record.scopes, credential: `key:${record.id}`, expiresAt: record.expires_at };
        expires = Math.min(now + this.cacheTtlMs, expiresAt);
        this.touch(record.id, record.last_used_at, now);
      }
    }
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(key, { principal, reason, expires });
    return principal ? { principal } : { reason };
  }

  /** Whether a key, by id, still works now (not revoked, not expired). */
  isLive(id: string): Promise<boolean> {
    return repo.isKeyLive(this.db, id, new Date().toISOString());
  }

  /** Records when a key was last used, at most once a minute, after the answer (a failed write is not the caller's problem). */
  private touch(id: string, lastUsed: string | null, now: number): void {
    const last = Math.max(this.touched.get(id) ?? 0, lastUsed ? Date.parse(lastUsed) : 0);
    if (now - last < TOUCH_INTERVAL_MS) return;
    if (this.touched.size >= 10_000) this.touched.clear();
    this.touched.set(id, now);
    this.db.transaction((tx) => repo.touchKey(tx, id, new Date(now).toISOString())).catch(() => undefined);
  }

  private validate(name: string, scopes: string[], owner: string | null): void {
    if (!name.trim() || name.length > 255 || /[\p{Cc}]/u.test(name)) {
      throw invalid('invalid_request', 'a key name is 1 to 255 printable characters');
    }
    if (owner !== null && (!owner.trim() || owner.length > 255 || /[\p{Cc}]/u.test(owner))) {
      throw invalid('invalid_request', "a key's owner is 1 to 255 printable characters: the person it belongs to, e.g. an email address");
    }
    if (scopes.length === 0) throw invalid('invalid_request', `a key needs at least one scope: ${SCOPE_LIST}`);
    const bad = scopes.find((s) => !SCOPE_PATTERN.test(s));
    if (bad) throw invalid('invalid_scope', `unknown scope "${bad}": use ${SCOPE_LIST}`, { scope: bad });
  }

  async create(
    actor: Principal,
    name: string,
    scopes: string[],
    opts: { key?: string; owner?: string | null | undefined; expiresAt?: string | null } = {},
  ): Promise<CreatedKey> {
    const owner = opts.owner ?? null;
    this.validate(name, scopes, owner);
    const key = opts.key ?? generateKey();
    const expiresAt = opts.expiresAt ?? null;
    if (expiresAt !== null && Date.parse(expiresAt) <= Date.now()) {
      throw invalid('invalid_expiry', `expires_at ${expiresAt} is in the past; give a time in the future, or none for a key that never expires`);
    }
    const unique = [...new Set(scopes)];
    try {
      const record = await this.db.transaction(async (tx) => {
        // A prefix only for a key made here: the first characters of a key someone chose may be most of its secret.
        const prefix = opts.key === undefined ? key.slice(0, 10) : null;
        const created = await repo.insertKey(tx, { name, owner, prefix, hash: this.hashKey(key), scopes: unique, createdBy: actor.name, expiresAt });
        await recordAudit(tx, actor, { action: 'api_key.created', targetId: created.id, details: { name, owner, scopes: unique, expires_at: expiresAt } });
        return created;
      });
      return { ...record, key };
    } catch (err) {
      if (isUniqueViolation(err)) throw conflict('key_name_taken', `a live API key named "${name}" already exists; pick another name or revoke it first`);
      throw err;
    }
  }

  list(opts: { includeRevoked: boolean; after?: string | undefined; limit: number }): Promise<ApiKeyRecord[]> {
    return repo.listKeys(this.db, opts);
  }

  async revoke(actor: Principal, idOrName: string): Promise<ApiKeyRecord> {
    const found = await repo.findKey(this.db, idOrName);
    if (!found) throw notFound('key_not_found', `no API key "${idOrName}"`);
    if (found.revoked_at) return found;
    const revoked = await this.db.transaction(async (tx) => {
      const admins = await repo.liveAdminKeyIds(tx, new Date().toISOString());
      if (admins.length === 1 && admins[0] === found.id) {
        throw conflict('last_admin_key', `"${found.name}" is the last admin key; create another admin key before revoking it`);
      }
      const row = await repo.revokeKey(tx, found.id);
      if (!row) return undefined;
      await recordAudit(tx, actor, { action: 'api_key.revoked', targetId: found.id, details: { name: found.name } });
      await this.feed.publish(tx, { type: 'api_key.revoked', key_id: found.id });
      return row;
    });
    return revoked ?? { ...found, revoked_at: new Date().toISOString() };
  }

  /**
   * Earlier releases named the environment key `admin-<first 8 hex of its SHA-256>`, which every
   * reader saw as created_by. Give it the plain name from now on (history keeps what it recorded).
   */
  private async renameDerived(found: ApiKeyRecord, adminKey: string, name: string): Promise<void> {
    if (found.name !== `admin-${legacyHashKey(adminKey).slice(0, 8)}` || found.name === name) return;
    try {
      await this.db.transaction(async (tx) => {
        if (!(await repo.renameKey(tx, found.id, name))) return;
        await recordAudit(tx, SYSTEM, { action: 'api_key.renamed', targetId: found.id, details: { from: found.name, name } });
      });
    } catch (err) {
      // Another live key has the name: keep the old one rather than refuse to start.
      if (!isUniqueViolation(err)) throw err;
    }
  }

  /**
   * At start-up: make `adminKey` (from PROMPT_REGISTRY_ADMIN_KEY) a live
   * admin key, or, on a registry with no keys at all, create one to print once.
   */
  async bootstrap(adminKey: string | undefined, name?: string): Promise<CreatedKey | undefined> {
    if (adminKey) {
      if (adminKey.length < 16) throw new Error('PROMPT_REGISTRY_ADMIN_KEY must be at least 16 characters');
      const found = await this.findLive(adminKey);
      if (found) {
        await this.renameDerived(found, adminKey, name ?? 'admin');
        return undefined;
      }
      try {
        // A plain default name: anything derived from the key would show part of it to every reader of created_by.
        await this.create(SYSTEM, name ?? 'admin', ['admin'], { key: adminKey });
      } catch (err) {
        if (!(err instanceof Error && 'code' in err && err.code === 'key_name_taken')) throw err;
        // Another replica starting at the same moment made it; else the name belongs to another key.
        if (!(await this.findLive(adminKey))) {
          throw new Error(
            `PROMPT_REGISTRY_ADMIN_KEY cannot be added: another live key is named "${name ?? 'admin'}". ` +
              'Set PROMPT_REGISTRY_ADMIN_KEY_NAME to another name (it is what created_by records), or revoke that key.',
          );
        }
      }
      return undefined;
    }
    if ((await repo.countLiveKeys(this.db)) > 0) return undefined;
    return this.create(SYSTEM, 'admin', ['admin']);
  }
}

function sameHash(stored: string, computed: string): boolean {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(computed, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
