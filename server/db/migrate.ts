import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { packageRoot } from '../paths.js';
import type { Database, Transaction } from './types.js';

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/** The numbered SQL files of one dialect, in order: `0001_initial.sql`, ... */
export function loadMigrations(dialect: Database['dialect']): Migration[] {
  const dir = join(packageRoot(), 'migrations', dialect);
  return readdirSync(dir)
    .filter((f) => /^\d{4}_[a-z0-9_]+\.sql$/.test(f))
    .sort()
    .map((file) => ({
      version: Number(file.slice(0, 4)),
      name: file.slice(5, -4),
      sql: readFileSync(join(dir, file), 'utf8'),
    }));
}

// Any constant works: it names the advisory lock replicas take while migrating.
const MIGRATION_LOCK = 7_340_121;

async function ensureTable(tx: Transaction): Promise<void> {
  await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at ${tx.sql.timestampDefaultNow}
  )`);
}

/**
 * Raised when the database records migrations this server does not have: a
 * newer Prompt Registry wrote it. Running on would misread its tables or
 * re-run old migrations over new ones; refusing leaves the data untouched.
 */
export class NewerSchemaError extends Error {
  readonly code = 'schema_too_new';
  constructor(
    readonly databaseVersion: number,
    readonly knownVersion: number,
  ) {
    super(
      `the database was written by a newer version of Prompt Registry: it has schema version ${databaseVersion}, and this server knows up to ${knownVersion}. ` +
        'Upgrade this server (or the VS Code extension) to open it, or point it at another database; nothing was changed.',
    );
    this.name = 'NewerSchemaError';
  }
}

/**
 * Applies the migrations not yet recorded in `schema_migrations`, in one
 * transaction. Replicas starting together wait on an advisory lock (Postgres)
 * or the write lock (SQLite), so each migration runs once. Refuses a database
 * that records a migration this server does not know (NewerSchemaError).
 */
export async function migrate(db: Database, opts: { through?: number } = {}): Promise<Migration[]> {
  // `through` stops at a version: tests build a database as an older release left it.
  const migrations = loadMigrations(db.dialect).filter((m) => m.version <= (opts.through ?? Infinity));
  return db.transaction(async (tx) => {
    if (tx.dialect === 'postgres') {
      // A migration rewriting a large table may take longer than the statement timeout requests get.
      await tx.exec('SET LOCAL statement_timeout = 0');
      await tx.run('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    }
    await ensureTable(tx);
    const rows = await tx.all<{ version: number }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((r) => Number(r.version)));
    const known = new Set(migrations.map((m) => m.version));
    const unknown = [...applied].filter((v) => !known.has(v));
    if (unknown.length) throw new NewerSchemaError(Math.max(...unknown), Math.max(0, ...known));
    const pending = migrations.filter((m) => !applied.has(m.version));
    for (const m of pending) {
      await tx.exec(m.sql);
      await tx.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [m.version, m.name]);
    }
    return pending;
  });
}

const latestKnown = new Map<Database['dialect'], number>();

/** Whether every migration this build knows has been applied (a replica behind an upgrade is not ready). */
export async function migrationsCurrent(db: Database): Promise<{ current: boolean; applied: number; known: number }> {
  let known = latestKnown.get(db.dialect);
  if (known === undefined) latestKnown.set(db.dialect, (known = Math.max(0, ...loadMigrations(db.dialect).map((m) => m.version))));
  const row = await db.get<{ v: number | null }>('SELECT MAX(version) AS v FROM schema_migrations');
  const applied = Number(row?.v ?? 0);
  return { current: applied >= known, applied, known };
}
