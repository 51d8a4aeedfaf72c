import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PostgresDatabase, type PostgresOptions } from './postgres.js';
import { SqliteDatabase } from './sqlite.js';
import { loadSqliteDriver, sqliteDriverChoice, type SqliteDriverChoice } from './sqlite-driver.js';
import type { Database } from './types.js';

export type { Database, Dialect, PoolStats, Queryable, Transaction } from './types.js';
export type { PostgresOptions } from './postgres.js';
export type { SqliteDriverChoice, SqliteDriverName } from './sqlite-driver.js';

export interface OpenOptions {
  /** For `sqlite:` URLs: which driver (default: PROMPT_REGISTRY_SQLITE_DRIVER, else auto). */
  sqliteDriver?: SqliteDriverChoice | undefined;
  /** For `postgres:` URLs: pool size and timeouts. */
  postgres?: PostgresOptions | undefined;
}

/**
 * Opens a database from a URL: `postgres://...` (or `postgresql://`), or
 * `sqlite:PATH` (`sqlite::memory:` for a throwaway one).
 */
export async function openDatabase(url: string, options: OpenOptions = {}): Promise<Database> {
  if (/^postgres(ql)?:\/\//.test(url)) return PostgresDatabase.open(url, options.postgres);
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new Error('sqlite: URL needs a path, e.g. sqlite:./data/registry.db');
    const driver = await loadSqliteDriver(options.sqliteDriver ?? sqliteDriverChoice());
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    return SqliteDatabase.open(path, driver);
  }
  throw new Error(`unsupported database URL "${url}": use postgres://... or sqlite:PATH`);
}

/** Says where a database is without its password, for logs. */
export function describeDatabaseUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
