import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Database } from './db/index.js';

/** Where the server secret comes from: PROMPT_REGISTRY_SECRET, else PROMPT_REGISTRY_SECRET_FILE, else a file in the data directory. */
export interface SecretSettings {
  value?: string | undefined;
  file?: string | undefined;
  dataDir: string;
}

/**
 * The one secret a server keeps outside its database. Each use gets its own
 * key derived from it (HKDF, by purpose), so API key hashes and, later,
 * encrypted provider keys never share key material.
 */
export interface ServerSecret {
  source: 'environment' | 'file' | 'generated';
  /** The file it was read from or written to. */
  path?: string | undefined;
  derive(purpose: SecretPurpose): Buffer;
}

export type SecretPurpose = 'api-key-hash' | 'fingerprint' | 'webhook-secret' | 'provider-key';

/** Written once, owner-only, in the data directory when nothing else gives a secret. */
export const SECRET_FILE_NAME = 'server-secret';
const MIN_LENGTH = 32;

function fromText(text: string, source: ServerSecret['source'], path?: string): ServerSecret {
  const master = text.trim();
  if (master.length < MIN_LENGTH) {
    const where = path ? `the secret in ${path}` : 'PROMPT_REGISTRY_SECRET';
    throw new Error(`${where} is ${master.length} characters; it must be at least ${MIN_LENGTH} (e.g. openssl rand -base64 32)`);
  }
  const keys = new Map<SecretPurpose, Buffer>();
  return {
    source,
    path,
    derive(purpose) {
      let key = keys.get(purpose);
      if (!key) keys.set(purpose, (key = Buffer.from(hkdfSync('sha256', master, 'prompt-registry', purpose, 32))));
      return key;
    },
  };
}

function readSecretFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (err) {
    throw new Error(`cannot read the server secret file ${path}: ${(err as Error).message}`);
  }
}

/** Reads the secret, or on a first start generates one into `<dataDir>/server-secret`, readable only by its owner (0600). */
export function loadServerSecret(s: SecretSettings): ServerSecret {
  if (s.value) return fromText(s.value, 'environment');
  if (s.file) return fromText(readSecretFile(s.file), 'file', s.file);
  const path = join(s.dataDir, SECRET_FILE_NAME);
  mkdirSync(s.dataDir, { recursive: true, mode: 0o700 });
  try {
    // 'wx': of two processes starting together, one writes and the other reads what it wrote.
    writeFileSync(path, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600, flag: 'wx' });
    return fromText(readSecretFile(path), 'generated', path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw new Error(`cannot write the server secret file ${path}: ${(err as Error).message}`);
  }
  if (process.platform !== 'win32' && (statSync(path).mode & 0o077) !== 0) {
    throw new Error(`the server secret file ${path} is readable by others; make it private (chmod 600 ${path}) and start again`);
  }
  return fromText(readSecretFile(path), 'file', path);
}

/** Shows which secret a database was set up with, without revealing anything of it. */
export function fingerprint(secret: ServerSecret): string {
  return createHmac('sha256', secret.derive('fingerprint')).update('prompt-registry server secret').digest('hex').slice(0, 16);
}

/**
 * Records the secret's fingerprint on first use and refuses a different one
 * afterwards: a replica or CLI with another secret would otherwise refuse
 * every API key (and re-hash none), which looks like everyone was locked out.
 */
export async function checkSecretMatches(db: Database, secret: ServerSecret): Promise<void> {
  const mine = fingerprint(secret);
  const row = await db.transaction(async (tx) => {
    await tx.run("INSERT INTO server_settings (name, value) VALUES ('secret_fingerprint', $1) ON CONFLICT (name) DO NOTHING", [mine]);
    return tx.get<{ value: string }>("SELECT value FROM server_settings WHERE name = 'secret_fingerprint'");
  });
  if (row && row.value !== mine) {
    const from = secret.path ? `the file ${secret.path}` : 'PROMPT_REGISTRY_SECRET';
    throw new Error(
      `this database was set up with a different server secret (fingerprint ${row.value}) than this server's (${mine}, from ${from}). ` +
        'Every server and CLI on one database must use the same secret: set PROMPT_REGISTRY_SECRET, or PROMPT_REGISTRY_SECRET_FILE, ' +
        'to the one the first server uses (see docs/operations.md, "Server secret").',
    );
  }
}
