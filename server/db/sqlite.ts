import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { loadSqliteDriver, type SqliteConnection, type SqliteDriver, type SqliteDriverName, type SqliteStatement } from './sqlite-driver.js';
import { runAfterCommit, stderrAfterCommitErrors, type AfterCommitErrorHandler, type AfterCommitWork } from './after-commit.js';
import { SQLITE_SQL } from './sql.js';
import type { Database, Queryable, Row, Transaction } from './types.js';

interface Prepared {
  statement: SqliteStatement;
  /** For each `?` in the rewritten SQL, the index of its `$n` argument. */
  order: number[];
}

/**
 * Rewrites `$1`-style placeholders to `?`, remembering which argument each
 * takes. A Postgres cast right after a placeholder (`$2::int`, which Postgres
 * needs to type `$2 IS NULL`) means nothing to SQLite and is dropped.
 */
function rewritePlaceholders(sql: string): { text: string; order: number[] } {
  const order: number[] = [];
  const text = sql.replace(/\$(\d+)(?:::[a-z_]+(?:\[\])?)?/g, (_, n: string) => {
    order.push(Number(n) - 1);
    return '?';
  });
  return { text, order };
}

/** SQLite binds numbers, strings, bigints, buffers and null: booleans become 0/1. */
function bindable(value: unknown): unknown {
  if (value === undefined) return null;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return value;
}

class SqliteQueryable implements Queryable {
  readonly dialect = 'sqlite' as const;
  readonly sql = SQLITE_SQL;
  private readonly cache = new Map<string, Prepared>();

  constructor(readonly connection: SqliteConnection) {}

  prepare(sql: string): Prepared {
    let prepared = this.cache.get(sql);
    if (!prepared) {
      const { text, order } = rewritePlaceholders(sql);
      prepared = { statement: this.connection.prepare(text), order };
      this.cache.set(sql, prepared);
    }
    return prepared;
  }

  private args(prepared: Prepared, params: readonly unknown[]): unknown[] {
    return prepared.order.map((i) => bindable(params[i]));
  }

  async all<T = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    const p = this.prepare(sql);
    return p.statement.all(this.args(p, params)) as T[];
  }

  async get<T = Row>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    const p = this.prepare(sql);
    return p.statement.get(this.args(p, params)) as T | undefined;
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    const p = this.prepare(sql);
    return p.statement.run(this.args(p, params));
  }
}

class SqliteTransaction extends SqliteQueryable {
  readonly committed: AfterCommitWork[] = [];
  afterCommit(what: string, fn: () => void): void {
    this.committed.push({ what, fn });
  }
  async exec(script: string): Promise<void> {
    this.connection.exec(script);
  }
  async notify(): Promise<void> {
    // One process owns a SQLite file's server: nobody else to tell.
  }
}

/** The same pragmas on either driver. */
function openConnection(driver: SqliteDriver, path: string, readonly: boolean): SqliteConnection {
  const connection = driver.open(path, { readonly });
  connection.exec('PRAGMA busy_timeout = 5000');
  if (!readonly) {
    connection.exec('PRAGMA journal_mode = WAL');
    // WAL with synchronous=FULL: an acknowledged write survives a power cut.
    connection.exec('PRAGMA synchronous = FULL');
  }
  connection.exec('PRAGMA foreign_keys = ON');
  // better-sqlite3's SQLite is built with a 16 MB page cache, node:sqlite's with SQLite's 2 MB: the same on both.
  connection.exec('PRAGMA cache_size = -16000');
  return connection;
}

/**
 * One writer connection, used by one transaction at a time (an async lock,
 * since a transaction may await between statements), and one reader that
 * sees only committed data (WAL), so a request never reads another's
 * uncommitted writes.
 */
export class SqliteDatabase extends SqliteQueryable implements Database {
  private readonly writer: SqliteTransaction;
  private lock: Promise<void> = Promise.resolve();

  private constructor(
    /** Which driver runs it: node:sqlite or better-sqlite3. */
    readonly driver: SqliteDriverName,
    reader: SqliteConnection,
    writer: SqliteConnection,
  ) {
    super(reader);
    this.writer = new SqliteTransaction(writer);
  }

  static async open(path: string, driver?: SqliteDriver): Promise<SqliteDatabase> {
    const d = driver ?? (await loadSqliteDriver());
    const writer = openConnection(d, path, false);
    try {
      // An in-memory database exists only on its own connection.
      const reader = path === ':memory:' ? writer : openConnection(d, path, true);
      return new SqliteDatabase(d.name, reader, writer);
    } catch (err) {
      writer.close();
      throw err;
    }
  }

  private afterCommitError: AfterCommitErrorHandler = stderrAfterCommitErrors;

  onAfterCommitError(handler: AfterCommitErrorHandler): void {
    this.afterCommitError = handler;
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const previous = this.lock;
    let release!: () => void;
    this.lock = new Promise((resolve) => (release = resolve));
    await previous;
    const tx = this.writer;
    tx.committed.length = 0;
    let result: T;
    try {
      tx.connection.exec('BEGIN IMMEDIATE');
      try {
        result = await fn(tx as unknown as Transaction);
        tx.connection.exec('COMMIT');
      } catch (err) {
        if (tx.connection.inTransaction) {
          try {
            tx.connection.exec('ROLLBACK');
          } catch {
            // SQLite already rolled back on its own (a full disk, say): the error to report is err.
          }
        }
        throw err;
      }
    } finally {
      release();
    }
    runAfterCommit(tx.committed.splice(0), this.afterCommitError);
    return result;
  }

  async writeProblem(): Promise<string | undefined> {
    const main = (await this.all<{ name: string; file: string }>('PRAGMA database_list')).find((d) => d.name === 'main');
    if (!main?.file) return undefined; // in memory
    try {
      await access(main.file, constants.W_OK);
      await access(dirname(main.file), constants.W_OK); // the WAL and journal files are made beside it
    } catch {
      return `${main.file} or its directory is not writable`;
    }
    const fs = await statfs(dirname(main.file));
    return fs.bavail > 0 ? undefined : `the volume holding ${main.file} is full`;
  }

  async listen(): Promise<void> {
    // One process owns a SQLite file's server: in-process invalidation suffices.
  }

  async close(): Promise<void> {
    await this.lock;
    if (this.connection !== this.writer.connection) this.connection.close();
    this.writer.connection.close();
  }
}
