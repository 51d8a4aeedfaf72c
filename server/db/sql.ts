import type { Dialect } from './types.js';

/**
 * The SQL fragments that differ between the dialects, in one place: a repository writes one query
 * per operation and takes these from `db.sql`. The text of each fragment is fixed per dialect, so a
 * query's text is too (Postgres prepares each text once, SQLite caches each statement).
 *
 * Written the same on both, and so with no helper here: `$n` placeholders (the SQLite adapter
 * rewrites them) and `$n::type` casts (it drops them); `INSERT ... ON CONFLICT (...) DO UPDATE SET
 * x = excluded.x` and `DO NOTHING`; `RETURNING` (SQLite 3.35+); `LIMIT`; JSON written as text (jsonb
 * takes it) and read back through `./values.ts`, which also maps booleans and timestamps.
 */
export interface Sql {
  readonly dialect: Dialect;
  /** Whether several server processes may share the database: replicas on one Postgres; a SQLite file has one server. */
  readonly shared: boolean;
  /** A list parameter's value: a text[] for Postgres, JSON text for SQLite's json_each. */
  list(values: readonly string[]): unknown;
  /** `column` is one of the items of the list parameter `$n` (bound with `list`), items of `type`. */
  inList(column: string, n: number, type: 'uuid' | 'text'): string;
  /** The list column (text[], or JSON text) holds `value`, an SQL expression. */
  has(column: string, value: string): string;
  /** The list column holds every item of the list parameter `$n`. */
  hasAll(column: string, n: number): string;
  /** `expr` matches the LIKE pattern `$n` whatever the case, `\` escaping (on SQLite, case folds for ASCII only). */
  ilike(expr: string, n: number): string;
  /**
   * Appended to a SELECT in a transaction: locks the rows it read until the transaction ends. SQLite
   * has one writer at a time, which already serialises, so there it is nothing.
   */
  readonly forUpdate: string;
  /** As `forUpdate`, but others may lock the rows for share too (they only may not change or delete them). */
  readonly forShare: string;
  /** As `forUpdate`, skipping rows another transaction has locked (a queue's claim); `of`: the alias to lock in a join. */
  forUpdateSkipLocked(of?: string): string;
  /** A column type: a timestamp that defaults to the time of the insert. */
  readonly timestampDefaultNow: string;
}

export const POSTGRES_SQL: Sql = {
  dialect: 'postgres',
  shared: true,
  list: (values) => values,
  inList: (column, n, type) => `${column} = ANY($${n}::${type}[])`,
  has: (column, value) => `${value} = ANY(${column})`,
  hasAll: (column, n) => `${column} @> $${n}::text[]`,
  ilike: (expr, n) => `${expr} ILIKE $${n} ESCAPE '\\'`,
  forUpdate: ' FOR UPDATE',
  forShare: ' FOR SHARE',
  forUpdateSkipLocked: (of) => (of ? ` FOR UPDATE OF ${of} SKIP LOCKED` : ' FOR UPDATE SKIP LOCKED'),
  timestampDefaultNow: 'TIMESTAMPTZ NOT NULL DEFAULT NOW()',
};

export const SQLITE_SQL: Sql = {
  dialect: 'sqlite',
  shared: false,
  list: (values) => JSON.stringify(values),
  inList: (column, n) => `${column} IN (SELECT value FROM json_each($${n}))`,
  has: (column, value) => `EXISTS (SELECT 1 FROM json_each(${column}) WHERE value = ${value})`,
  hasAll: (column, n) => `NOT EXISTS (SELECT 1 FROM json_each($${n}) AS wanted WHERE wanted.value NOT IN (SELECT value FROM json_each(${column})))`,
  // SQLite's LIKE ignores case already (for ASCII).
  ilike: (expr, n) => `${expr} LIKE $${n} ESCAPE '\\'`,
  forUpdate: '',
  forShare: '',
  forUpdateSkipLocked: () => '',
  timestampDefaultNow: "TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
};

export const SQL: Readonly<Record<Dialect, Sql>> = { postgres: POSTGRES_SQL, sqlite: SQLITE_SQL };
