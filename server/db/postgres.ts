import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import type { Database, Queryable, Row, Transaction } from './types.js';

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

async function runQuery<T>(client: Client, sql: string, params: readonly unknown[]): Promise<pg.QueryResult<T & pg.QueryResultRow>> {
  return client.query<T & pg.QueryResultRow>({ name: statementName(sql), text: sql, values: params as unknown[] });
}

class PgQueryable implements Queryable {
  readonly dialect = 'postgres' as const;
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
  readonly committed: Array<() => void> = [];
  afterCommit(fn: () => void): void {
    this.committed.push(fn);
  }
  async exec(script: string): Promise<void> {
    await this.client.query(script);
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
  private readonly handlers = new Map<string, Array<(payload: string) => void>>();

  constructor(
    private readonly pool: pg.Pool,
    private readonly connectionString: string,
  ) {
    super(pool);
  }

  static open(connectionString: string, options: { max?: number } = {}): PostgresDatabase {
    const pool = new pg.Pool({ connectionString, max: options.max ?? 10 });
    // An idle client that loses its connection must not crash the process.
    pool.on('error', () => undefined);
    return new PostgresDatabase(pool, connectionString);
  }

  async transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const tx = new PgTransaction(client);
    let result: T;
    try {
      await client.query('BEGIN');
      result = await fn(tx as unknown as Transaction);
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      client.release();
      throw err;
    }
    client.release();
    for (const fn of tx.committed) fn();
    return result;
  }

  async listen(channel: string, onNotify: (payload: string) => void): Promise<void> {
    if (!/^[a-z_][a-z0-9_]*$/.test(channel)) throw new Error(`invalid channel name ${channel}`);
    const list = this.handlers.get(channel) ?? [];
    list.push(onNotify);
    this.handlers.set(channel, list);
    if (!this.listener) {
      const client = new pg.Client({ connectionString: this.connectionString });
      client.on('error', () => undefined);
      client.on('notification', (msg) => {
        for (const handler of this.handlers.get(msg.channel) ?? []) handler(msg.payload ?? '');
      });
      await client.connect();
      this.listener = client;
    }
    if (list.length === 1) await this.listener.query(`LISTEN ${channel}`);
  }

  async close(): Promise<void> {
    await this.listener?.end().catch(() => undefined);
    await this.pool.end();
  }
}
