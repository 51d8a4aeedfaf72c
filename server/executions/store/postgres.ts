import { isUniqueViolation } from '../../db/errors.js';
import type { Database, Queryable, Transaction } from '../../db/index.js';
import { timestamp } from '../../db/values.js';
import type { Interval } from '../schemas.js';
import { AGGREGATES, asTuple, COLUMN_COUNT, getExecution, INSERT_COLUMNS, listExecutions, toAggregate, toBuckets, toRef, withNumbers } from './shared.js';
import type { Aggregate, BucketAggregate, DeploymentAt, DeploymentWindow, ExecutionRecord, ExecutionStore, LatencyRange, StatsWindow, VersionRef } from './types.js';

// One SQL text for any batch size, so the pg adapter's named statements stay
// few: it unnests one array per column. An id already stored is skipped: a
// retry stores nothing twice.
const INSERT = `
  INSERT INTO prompt_executions (${INSERT_COLUMNS})
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                       $9::text[], $10::text[], $11::int[], $12::int[], $13::int[], $14::float8[], $15::float8[], $16::jsonb[],
                       $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::jsonb[])
  ON CONFLICT (id) DO NOTHING`;

/** Batches this large go through COPY; below it, COPY's extra round trip costs more than it saves. */
export const COPY_MIN_ROWS = 50;

// COPY's text format: a tab between fields, a newline after each row, \N for null, and
// backslash escapes for the four characters that would break that (NUL can't be stored).
const COPY_SPECIAL = /[\\\n\r\t]/;
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\n': '\\n', '\r': '\\r', '\t': '\\t' };
const copyText = (v: string | null) => (v === null ? '\\N' : COPY_SPECIAL.test(v) ? v.replace(/[\\\n\r\t]/g, (c) => COPY_ESCAPES[c]!) : v);
const copyNumber = (v: number | null) => (v === null ? '\\N' : String(v));
const COPY_CHUNK = 64 * 1024;

/** The rows in COPY text format, about 64 KB at a time, built as the connection asks for them. */
function* copyChunks(rows: readonly ExecutionRecord[]): Generator<string> {
  let chunk = '';
  for (const r of rows) {
    chunk += `${r.id}\t${r.prompt_version_id}\t${r.prompt_id}\t${r.executed_at}\t${copyText(r.environment)}\t${r.status}\t${copyText(r.error)}\t${copyText(r.input_variables)}\t${copyText(r.rendered_prompt)}\t${copyText(r.response)}\t${copyNumber(r.input_tokens)}\t${copyNumber(r.output_tokens)}\t${copyNumber(r.latency_ms)}\t${copyNumber(r.cost_usd)}\t${copyNumber(r.quality_score)}\t${copyText(r.metadata)}\t${copyText(r.messages ?? null)}\t${copyText(r.response_messages ?? null)}\t${copyText(r.tool_calls ?? null)}\t${copyText(r.partials_used ?? null)}\n`;
    if (chunk.length >= COPY_CHUNK) {
      yield chunk;
      chunk = '';
    }
  }
  if (chunk) yield chunk;
}

/**
 * The batch in one INSERT statement. A statement is atomic and, once
 * answered, committed on its own, so this may run outside a transaction: for a
 * single execution that saves the BEGIN and COMMIT round trips (a third more
 * single-row requests a second).
 */
export function insertStatement(db: Queryable, rows: readonly ExecutionRecord[]): Promise<number> {
  if (rows.length === 0) return Promise.resolve(0);
  const columns: unknown[][] = Array.from({ length: COLUMN_COUNT }, () => new Array<unknown>(rows.length));
  rows.forEach((row, i) => asTuple(row).forEach((value, c) => (columns[c]![i] = value)));
  return db.run(INSERT, columns);
}

/**
 * COPY FROM STDIN, the rows streamed while Postgres stores the first ones.
 * COPY can't skip an id already stored: the transaction fails with a unique
 * violation, and the caller stores the batch with an INSERT instead.
 */
function copy(tx: Transaction, rows: readonly ExecutionRecord[]): Promise<number> {
  if (!tx.copyFrom) throw new Error('COPY needs a Postgres transaction');
  return tx.copyFrom(`COPY prompt_executions (${INSERT_COLUMNS}) FROM STDIN`, copyChunks(rows));
}

// Buckets start at whole UTC hours or days. date_bin (Postgres 14) is plain arithmetic from a
// UTC-midnight origin; date_trunc with a time zone costs about twice the whole query.
const BUCKET = {
  hour: "date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
  day: "date_bin('1 day', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
} as const;

/** Executions on Postgres: arrays for lists, COPY for large batches. */
export class PostgresExecutionStore implements ExecutionStore {
  /**
   * Large batches by COPY in a transaction, unless a retry brought ids stored
   * already; the rest with one INSERT statement, atomic on its own.
   */
  async insert(db: Database, records: readonly ExecutionRecord[]): Promise<number> {
    if (records.length >= COPY_MIN_ROWS) {
      try {
        return await db.transaction((tx) => copy(tx, records));
      } catch (err) {
        // Some id is stored already (the client is retrying): nothing was, so store what is new.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    return insertStatement(db, records);
  }

  async versionsByIds(db: Queryable, ids: readonly string[]): Promise<VersionRef[]> {
    if (ids.length === 0) return [];
    const rows = await db.all<Record<string, unknown>>(
      `SELECT v.id, v.prompt_id, p.name, v.version_number
         FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id
        WHERE v.id = ANY($1::uuid[])`,
      [ids],
    );
    return rows.map(toRef);
  }

  async versionsByNumbers(db: Queryable, pairs: ReadonlyArray<{ prompt: string; version: number }>): Promise<VersionRef[]> {
    if (pairs.length === 0) return [];
    const rows = await db.all<Record<string, unknown>>(
      `SELECT v.id, v.prompt_id, p.name, v.version_number
         FROM unnest($1::text[], $2::int[]) AS w(name, n)
         JOIN prompts p ON p.name = w.name
         JOIN prompt_versions v ON v.prompt_id = p.id AND v.version_number = w.n`,
      [pairs.map((p) => p.prompt), pairs.map((p) => p.version)],
    );
    return rows.map(toRef);
  }

  async promptsByNames(db: Queryable, names: readonly string[]): Promise<Array<{ id: string; name: string }>> {
    if (names.length === 0) return [];
    const rows = await db.all<{ id: string; name: string }>('SELECT id, name FROM prompts WHERE name = ANY($1::text[])', [names]);
    return rows.map((r) => ({ id: String(r.id), name: String(r.name) }));
  }

  async deploymentsDuring(db: Queryable, windows: readonly DeploymentWindow[]): Promise<DeploymentAt[]> {
    if (windows.length === 0) return [];
    const rows = await db.all<Record<string, unknown>>(
      `SELECT d.prompt_id, d.environment, d.prompt_version_id, v.version_number, d.deployed_at, d.seq
         FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(prompt_id, environment, first_at, last_at)
         JOIN prompt_deployments d ON d.prompt_id = w.prompt_id AND d.environment = w.environment AND d.deployed_at <= w.last_at
              AND d.deployed_at >= COALESCE((SELECT MAX(x.deployed_at) FROM prompt_deployments x
                                              WHERE x.prompt_id = w.prompt_id AND x.environment = w.environment AND x.deployed_at <= w.first_at), w.first_at)
         JOIN prompt_versions v ON v.id = d.prompt_version_id
        ORDER BY d.deployed_at, d.seq`,
      [windows.map((w) => w.promptId), windows.map((w) => w.environment), windows.map((w) => w.first), windows.map((w) => w.last)],
    );
    return rows.map((r) => ({
      prompt_id: String(r.prompt_id),
      environment: String(r.environment),
      version_id: String(r.prompt_version_id),
      version_number: Number(r.version_number),
      deployed_at: timestamp(r.deployed_at),
      seq: Number(r.seq),
    }));
  }

  list = listExecutions;
  get = getExecution;

  /** Postgres adds up the rows of the window. */
  async bucketAggregates(db: Queryable, w: StatsWindow, interval: Interval): Promise<BucketAggregate[]> {
    const rows = await db.all<Record<string, unknown>>(
      withNumbers(`SELECT prompt_version_id AS version_id, ${BUCKET[interval]} AS bucket, ${AGGREGATES}
                     FROM prompt_executions
                    WHERE prompt_id = $1 AND executed_at >= $2::timestamptz AND executed_at < $3::timestamptz AND ($4::text IS NULL OR environment = $4::text)
                    GROUP BY prompt_version_id, bucket`),
      [w.promptId, w.from, w.to, w.environment],
    );
    return toBuckets(rows);
  }

  async latencyLists(db: Queryable, ranges: readonly LatencyRange[], environment: string | null): Promise<Array<string | null>> {
    if (ranges.length === 0) return [];
    const rows = await db.all<{ latencies: string | null }>(
      `SELECT (SELECT string_agg(e.latency_ms::text, ',') FROM prompt_executions e
                WHERE e.prompt_version_id = w.version_id AND e.executed_at >= w.from_at AND e.executed_at < w.to_at
                  AND ($4::text IS NULL OR e.environment = $4::text)) AS latencies
         FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(version_id, from_at, to_at, ord)
        ORDER BY w.ord`,
      [ranges.map((r) => r.versionId), ranges.map((r) => r.from), ranges.map((r) => r.to), environment],
    );
    return rows.map((r) => r.latencies);
  }

  async versionAggregates(
    db: Queryable,
    f: { versionIds: readonly string[]; environment: string | null; from: string | null; to: string | null },
  ): Promise<Map<string, Aggregate>> {
    const rows = await db.all<Record<string, unknown>>(
      `SELECT prompt_version_id AS version_id, ${AGGREGATES}
         FROM prompt_executions
        WHERE prompt_version_id = ANY($1::uuid[])
          AND ($2::text IS NULL OR environment = $2::text)
          AND ($3::timestamptz IS NULL OR executed_at >= $3::timestamptz) AND ($4::timestamptz IS NULL OR executed_at < $4::timestamptz)
        GROUP BY prompt_version_id`,
      [f.versionIds, f.environment, f.from, f.to],
    );
    return new Map(rows.map((r) => [String(r.version_id), toAggregate(r)]));
  }
}
