import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { PostgresDatabase, type PostgresOptions } from './postgres.js';
import { SqliteDatabase } from './sqlite.js';
import type { Database } from './types.js';

export type { Database, Dialect, PoolStats, Queryable, Transaction } from './types.js';
export type { PostgresOptions } from './postgres.js';

/**
 * Opens a database from a URL: `postgres://...` (or `postgresql://`), or
 * `sqlite:PATH` (`sqlite::memory:` for a throwaway one).
 */
export function openDatabase(url: string, postgres: PostgresOptions = {}): Database {
  if (/^postgres(ql)?:\/\//.test(url)) return PostgresDatabase.open(url, postgres);
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (!path) throw new Error('sqlite: URL needs a path, e.g. sqlite:./data/registry.db');
    if (path !== ':memory:') mkdirSync(dirname(resolve(path)), { recursive: true });
    return SqliteDatabase.open(path);
  }
  throw new Error(`unsupported database URL "${url}": use postgres://... or sqlite:PATH`);
}

/** Says where a database is without its password, for logs. */
export function describeDatabaseUrl(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
