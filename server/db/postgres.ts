import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { CONNECTION_FAILED, isDatabaseUnavailable } from './errors.js';
import { runAfterCommit, stderrAfterCommitErrors, type AfterCommitErrorHandler, type AfterCommitWork } from './after-commit.js';
import { POSTGRES_SQL } from './sql.js';
import type { Database, PoolStats, Queryable, Row, Transaction } from './types.js';

// Answer TIMESTAMPTZ and BIGINT as strings we control: timestamps become ISO
// text in the row mappers, counts are parsed where they are read.
pg.types.setTypeParser(pg.types.builtins.TIMESTAMPTZ, (v) => new Date(v).toISOString());
pg.types.setTypeParser(pg.types.builtins.INT8, (v) => Number(v));

const names = new Map<string, string>();

/** Every statement is sent as a named prepared statement, keyed by its text (hashed once per text). */
function statementName(sql: string): string {
  let name = names.get(sql);
  if (!name) {
    name = 'q' + createHash('sha1').update(sql).digest('hex').slice(0, 20);
    names.set(sql, name);
  }
  return name;
}

type Client = pg.Pool | pg.PoolClient;

/**
 * pg throws its own connection failures (connect timeout, connection ended, query read timeout, a closed
 * pool) as plain Errors without a code: give them one, so the error mapping can answer 503 rather than 500.
 * Server errors (DatabaseError), socket errors (which have codes) and programming errors pass as they are.
 */
function classify(err: unknown): unknown {
  if (err instanceof pg.DatabaseError || err instanceof TypeError || err instanceof RangeError) return err;
  if (!(err instanceof Error) || typeof (err as { code?: unknown }).code === 'string') return err;
  return Object.assign(new Error(`database connection failed: ${err.message}`, { cause: err }), { code: CONNECTION_FAILED });
}

async function runQuery<T>(client: Client, sql: string, params: readonly unknown[]): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
  try {
    return await client.query<T & pg.QueryResultRow>({ name: statementName(sql), text: sql, values: params as unknown[] });
  } catch (err) {
    throw classify(err);
  }
}

export interface PostgresOptions {
  /** Pool size. */
  max?: number | undefined;
  /** How long to wait for a connection (a new one, or a free one from a full pool), in ms; 0 forever. */
  connectTimeoutMs?: number | undefined;
  /** The server cancels a statement running longer than this (statement_timeout), in ms; 0 never. */
  statementTimeoutMs?: number | undefined;
}

export const POSTGRES_DEFAULTS = { max: 10, connectTimeoutMs: 5_000, statementTimeoutMs: 30_000 } as const;

function connectionConfig(connectionString: string, options: PostgresOptions): pg.ClientConfig {
  const statementTimeout = options.statementTimeoutMs ?? POSTGRES_DEFAULTS.statementTimeoutMs;
  return {
    connectionString,
    connectionTimeoutMillis: options.connectTimeoutMs ?? POSTGRES_DEFAULTS.connectTimeoutMs,
    keepAlive: true,
    ...(statementTimeout > 0
      ? {
          statement_timeout: statementTimeout,
          // The client's own backstop for a server that stopped answering (a dead host, a dropped route),
          // which statement_timeout, enforced by that server, cannot cover.
          query_timeout: statementTimeout + 5_000,
        }
      : {}),
  };
}

class PgQueryable implements Queryable {
  readonly dialect = 'postgres' as const;
  readonly sql = POSTGRES_SQL;
  constructor(protected readonly client: Client) {}

  async all<T = Row>(sql: string, params: readonly unknown[] = []): Promise<T[]> {
    return (await runQuery<T>(this.client, sql, params)).rows;
  }

  async get<T = Row>(sql: string, params: readonly unknown[] = []): Promise<T | undefined> {
    return (await runQuery<T>(this.client, sql, params)).rows[0];
  }

  async run(sql: string, params: readonly unknown[] = []): Promise<number> {
    return (await runQuery(this.client, sql, params)).rowCount ?? 0;
  }
}

class PgTransaction extends PgQueryable {
  readonly committed: AfterCommitWork[] = [];
  afterCommit(what: string, fn: () => void): void {
    this.committed.push({ what, fn });
  }
  async exec(script: string): Promise<void> {
    await this.client.query(script);
  }
  async notify(channel: string, payload: string): Promise<void> {
    await this.get('SELECT pg_notify($1, $2)', [channel, payload]);
  }
  async copyFrom(sql: string, chunks: Iterable<string>): Promise<number> {
    const copy = (this.client as pg.PoolClient).query(copyFrom(sql));
    // Readable.from pulls the next chunk only when the socket has taken the last, so building
    // the rows overlaps with Postgres storing the ones already sent.
    await pipeline(Readable.from(chunks, { objectMode: false }), copy);
    return copy.rowCount;
  }
}

export class PostgresDatabase extends PgQueryable implements Database {
  readonly driver = 'pg';
  private listener: pg.Client | undefined;
  private readonly resumed: Array<() => void> = [];
  private retry: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly handlers = new Map<string, Array<(payload: string) => void>>();

  private idleErrors = 0;

  static open(connectionString: string, options: PostgresOptions = {}): PostgresDatabase {
    const config = connectionConfig(connectionString, options);
    const pool = new pg.Pool({ ...config, max: options.max ?? POSTGRES_DEFAULTS.max });
    const db = new PostgresDatabase(pool, config);
    // An idle client that loses its connection must not crash the process; it is counted for the metrics.
    pool.on('error', () => db.idleErrors++);
    return db;
  }

  constructor(
    private readonly pool: pg.Pool,
    private readonly config: pg.ClientConfig,
  ) {
    super(pool);
  }

  poolStats(): PoolStats {
    return { total: this.pool.totalCount, idle: this.pool.idleCount, waiting: this.pool.waitingCount, max: this.pool.options.max, idleErrors: this.idleErrors };
  }

  private afterCommitError: AfterCommitErrorHandler = stderrAfterCommitErrors;

  onAfterCommitError(handler: AfterCommitErrorHandler): void {
    this.afterCommitError = handler;
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    let client: pg.PoolClient;
    try {
      client = await this.pool.connect();
    } catch (err) {
      throw classify(err);
    }
    // pg-pool drops its error listener while a client is checked out: a connection lost between two
    // statements would be an uncaught 'error' event, ending the process. The next statement fails anyway.
    const ignore = () => undefined;
    client.on('error', ignore);
    const tx = new PgTransaction(client);
    let result: T;
    try {
      await client.query('BEGIN');
      result = await fn(tx as unknown as Transaction);
      await client.query('COMMIT');
    } catch (err) {
      const failure = classify(err);
      await client.query('ROLLBACK').catch(() => undefined);
      // A connection that failed goes, rather than back to the pool for the next request to find broken.
      client.off('error', ignore);
      client.release(isDatabaseUnavailable(failure));
      throw failure;
    }
    client.off('error', ignore);
    client.release();
    runAfterCommit(tx.committed.splice(0), this.afterCommitError);
    return result;
  }

  async writeProblem(): Promise<string | undefined> {
    const row = await this.get<{ ro: string }>("SELECT current_setting('transaction_read_only') AS ro");
    return row?.ro === 'on' ? 'the database is read-only (a standby, or default_transaction_read_only)' : undefined;
  }

  async listen(channel: string, onNotify: (payload: string) => void, onResumed?: () => void): Promise<void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
    const list = this.handlers.get(channel) ?? [];
    list.push(onNotify);
    this.handlers.set(channel, list);
    if (onResumed) this.resumed.push(onResumed);
    this.listener ??= await this.openListener();
    if (list.length === 1) await this.listener.query(`LISTEN ${channel}`);
  }

  private async openListener(): Promise<pg.Client> {
    const client = new pg.Client({ ...this.config, query_timeout: undefined, statement_timeout: undefined });
    client.on('error', () => undefined);
    client.on('notification', (msg) => {
      for (const handler of this.handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
    });
    await client.connect();
    client.once('end', () => {
      if (this.listener !== client || this.closed) return;
      this.listener = undefined;
      this.relisten(1_000);
    });
    return client;
  }

  /**
   * The LISTEN connection was lost (the database restarted or was unreachable): reconnect, backing off
   * up to 30 s, and tell the `onResumed` callbacks, since notifications sent meanwhile were missed.
   */
  private relisten(delayMs: number): void {
    this.retry = setTimeout(() => {
      this.openListener().then(
        async (client) => {
          try {
            for (const channel of this.handlers.keys()) await client.query(`LISTEN ${channel}`);
          } catch {
            await client.end().catch(() => undefined);
            return this.relisten(Math.min(delayMs * 2, 30_000));
          }
          if (this.closed) return void (await client.end().catch(() => undefined));
          this.listener = client;
          for (const fn of this.resumed) fn();
        },
        () => this.relisten(Math.min(delayMs * 2, 30_000)),
      );
    }, delayMs);
    this.retry.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
