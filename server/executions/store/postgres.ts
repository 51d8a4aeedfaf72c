import { isUniqueViolation } from '../../db/errors.js';
import type { Database, Queryable, Transaction } from '../../db/index.js';
import type { Interval } from '../schemas.js';
import { AGGREGATES, asTuple, COLUMN_COUNT, getExecution, INSERT_COLUMNS, listExecutions, ROLLUP_SUMS, toAggregate, toBuckets, toDeploymentAt, toRef, windowParts, withNumbers } from './shared.js';
import type {
  Aggregate,
  BucketAggregate,
  DeploymentAt,
  DeploymentWindow,
  ExecutionPartitions,
  ExecutionRecord,
  ExecutionStore,
  Partition,
  PartitionCount,
  StatsWindow,
  VersionRef,
} from './types.js';

// A partitioned table's primary key must hold the partition key, (id, executed_at): an id
// is kept stored once by looking for it in the executions within REPLAY_WINDOW of the row,
// which touches at most three month partitions. A retry that reuses an id with a new
// executed_at (the server stamps rows sent without one) is within it.
const REPLAY_WINDOW = "INTERVAL '840 hours'";
const STORED_ALREADY = (id: string, at: string) =>
  `EXISTS (SELECT 1 FROM prompt_executions e WHERE e.id = ${id} AND e.executed_at > ${at} - ${REPLAY_WINDOW} AND e.executed_at < ${at} + ${REPLAY_WINDOW})`;

// One SQL text for any batch size, so the pg adapter's named statements stay
// few: it unnests one array per column. An id already stored is skipped: a
// retry stores nothing twice.
const INSERT = `
  INSERT INTO prompt_executions (${INSERT_COLUMNS})
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                       $9::text[], $10::text[], $11::int[], $12::int[], $13::int[], $14::float8[], $15::float8[], $16::jsonb[],
                       $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::jsonb[])
                AS u(${INSERT_COLUMNS})
   WHERE NOT ${STORED_ALREADY('u.id', 'u.executed_at')}
  ON CONFLICT DO NOTHING`;

/** Whether any of the batch's ids is stored already (then COPY, which can't skip, is not used). */
const ANY_STORED = `SELECT 1 AS found FROM unnest($1::uuid[], $2::timestamptz[]) AS u(id, at) WHERE ${STORED_ALREADY('u.id', 'u.at')} LIMIT 1`;

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
function insertStatement(db: Queryable, rows: readonly ExecutionRecord[]): Promise<number> {
  if (rows.length === 0) return Promise.resolve(0);
  const columns: unknown[][] = Array.from({ length: COLUMN_COUNT }, () => new Array<unknown>(rows.length));
  rows.forEach((row, i) => asTuple(row).forEach((value, c) => (columns[c]![i] = value)));
  return db.run(INSERT, columns);
}

/**
 * COPY FROM STDIN, the rows streamed while Postgres stores the first ones.
 * COPY can't skip an id already stored: when one is (a retry), it answers
 * undefined and stores nothing, and the caller stores the batch with an INSERT.
 * A retry racing its original fails on the primary key, with the same outcome.
 */
async function copy(tx: Transaction, rows: readonly ExecutionRecord[]): Promise<number | undefined> {
  if (!tx.copyFrom) throw new Error('COPY needs a Postgres transaction');
  if (await tx.get(ANY_STORED, [rows.map((r) => r.id), rows.map((r) => r.executed_at)])) return undefined;
  return tx.copyFrom(`COPY prompt_executions (${INSERT_COLUMNS}) FROM STDIN`, copyChunks(rows));
}

/** The first row of each id: a batch naming an id twice stores it once, as a retry would. */
function firstOfEachId(rows: readonly ExecutionRecord[]): readonly ExecutionRecord[] {
  const seen = new Set<string>();
  const out = rows.filter((r) => !seen.has(r.id) && seen.add(r.id));
  return out.length === rows.length ? rows : out;
}

/** 23514 with this message: the row's month has no partition (dropped by another replica since we looked). */
const isNoPartition = (err: unknown) => (err as { code?: string }).code === '23514' && /no partition/.test(String((err as Error).message));

const MONTH = /^(\d{4})_(\d{2})$/;
const monthStart = (year: number, month: number) => new Date(Date.UTC(year, month - 1, 1)).toISOString();
/** The month (YYYY-MM, UTC) of an ISO time. */
const monthOf = (at: string) => (at.length === 24 && at.endsWith('Z') ? at : new Date(at).toISOString()).slice(0, 7);

/** Month partitions, created on demand (ingest, the retention sweep) by prompt_executions_ensure_month (migration 0011). */
class MonthPartitions implements ExecutionPartitions {
  /** Per database, the months known to have a partition. */
  private readonly known = new WeakMap<Queryable, Set<string>>();

  async ensure(db: Queryable, times: readonly string[]): Promise<void> {
    let known = this.known.get(db);
    if (!known) this.known.set(db, (known = new Set()));
    const missing = new Set<string>();
    for (const at of times) {
      const month = monthOf(at);
      if (!known.has(month)) missing.add(month);
    }
    for (const month of missing) {
      await db.get('SELECT prompt_executions_ensure_month($1::timestamptz)', [`${month}-01T00:00:00.000Z`]);
      known.add(month);
    }
  }

  /** Forgets what it knew of a database's months (another replica may have dropped one). */
  forget(db: Queryable): void {
    this.known.delete(db);
  }

  async list(db: Queryable): Promise<Partition[]> {
    const rows = await db.all<{ name: string }>(
      `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
        WHERE i.inhparent = 'prompt_executions'::regclass ORDER BY c.relname`,
    );
    return rows.flatMap(({ name }) => {
      const m = MONTH.exec(name.slice('prompt_executions_p'.length));
      if (!m) return [];
      const [year, month] = [Number(m[1]), Number(m[2])];
      return [{ name, from: monthStart(year, month), to: monthStart(year, month + 1) }];
    });
  }

  /** The month's executions per prompt and environment, from its daily totals (and its rows without a prompt). */
  async counts(tx: Transaction, p: Partition): Promise<PartitionCount[]> {
    await tx.exec(`LOCK TABLE ${quoteIdent(p.name)} IN SHARE MODE`);
    const rows = await tx.all<{ prompt_id: string | null; environment: string; n: unknown }>(
      `SELECT prompt_id, environment, SUM(n) AS n FROM prompt_execution_days
        WHERE day >= $1::timestamptz AND day < $2::timestamptz GROUP BY prompt_id, environment
       UNION ALL
       SELECT NULL, COALESCE(environment, ''), COUNT(*) FROM ${quoteIdent(p.name)} WHERE prompt_id IS NULL GROUP BY environment`,
      [p.from, p.to],
    );
    return rows.map((r) => ({ prompt_id: r.prompt_id, environment: r.environment === '' ? null : r.environment, count: Number(r.n) }));
  }

  /** The month's executions, hourly and daily totals dropped whole (migration 0013), and its executions' scores deleted. */
  async drop(tx: Transaction, p: Partition): Promise<void> {
    await tx.run('DELETE FROM execution_scores WHERE executed_at >= $1::timestamptz AND executed_at < $2::timestamptz', [p.from, p.to]);
    const month = p.name.slice('prompt_executions'.length);
    for (const parent of ['prompt_executions', 'prompt_execution_hours', 'prompt_execution_days']) {
      const part = quoteIdent(`${parent}${month}`);
      await tx.exec(`ALTER TABLE ${parent} DETACH PARTITION ${part}; DROP TABLE ${part}`);
    }
  }
}

const quoteIdent = (name: string) => {
  if (!/^prompt_execution(s|_hours|_days)_p\d{4}_\d{2}$/.test(name)) throw new Error(`not a month partition of the executions: ${name}`);
  return `"${name}"`;
};

// Buckets start at whole UTC hours or days. date_bin (Postgres 14) is plain arithmetic from a
// UTC-midnight origin; date_trunc with a time zone costs about twice the whole query.
const BUCKET = {
  hour: "date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
  day: "date_bin('1 day', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
} as const;
/** The bucket of an hour of prompt_execution_hours. */
const HOUR_BUCKET = { hour: 'hour', day: "date_bin('1 day', hour, TIMESTAMPTZ '2000-01-01 00:00:00+00')" } as const;

/**
 * Whole hours (or, for a daily series, whole days) of a window from the totals, draft runs left
 * out, each with the latencies of its part of the bucket ([$2, $3) cut to the bucket) read
 * from the version-time index, which holds them: no table row is read.
 */
const fromTotals = (table: 'prompt_execution_hours' | 'prompt_execution_days', bucket: string, time: 'hour' | 'day', step: string) =>
  `SELECT t.*, v.version_number,
          (SELECT string_agg(e.latency_ms::text, ',') FROM prompt_executions e
            WHERE e.prompt_version_id = t.version_id AND e.executed_at >= GREATEST(t.bucket, $2::timestamptz)
              AND e.executed_at < LEAST(t.bucket + INTERVAL '${step}', $3::timestamptz)
              AND ($4::text IS NULL OR e.environment = $4::text) AND NOT e.draft) AS latencies
     FROM (SELECT prompt_version_id AS version_id, ${bucket} AS bucket, ${ROLLUP_SUMS}
             FROM ${table}
            WHERE prompt_id = $1 AND ${time} >= $2::timestamptz AND ${time} < $3::timestamptz AND ($4::text IS NULL OR environment = $4::text) AND NOT draft
            GROUP BY prompt_version_id, bucket) t
     JOIN prompt_versions v ON v.id = t.version_id`;
const FROM_HOURS = {
  hour: fromTotals('prompt_execution_hours', HOUR_BUCKET.hour, 'hour', '1 hour'),
  day: fromTotals('prompt_execution_hours', HOUR_BUCKET.day, 'hour', '24 hours'),
};
const FROM_DAYS = fromTotals('prompt_execution_days', 'day', 'day', '24 hours');

/** Executions on Postgres: month partitions, arrays for lists, COPY for large batches, hourly and daily totals kept by triggers. */
export class PostgresExecutionStore implements ExecutionStore {
  readonly partitions = new MonthPartitions();

  /**
   * Large batches by COPY in a transaction, unless a retry brought ids stored
   * already; the rest with one INSERT statement, atomic on its own.
   */
  async insert(db: Database, records: readonly ExecutionRecord[]): Promise<number> {
    const rows = firstOfEachId(records);
    await this.partitions.ensure(db, rows.map((r) => r.executed_at));
    try {
      return await this.store(db, rows);
    } catch (err) {
      if (!isNoPartition(err)) throw err;
      // Another replica dropped a month this one knew of: look again, and store once more (nothing was stored).
      this.partitions.forget(db);
      await this.partitions.ensure(db, rows.map((r) => r.executed_at));
      return this.store(db, rows);
    }
  }

  /** One INSERT statement in the transaction `more` continues: a group of rows is small, and COPY would cost a round trip more. */
  async insertWith<T>(db: Database, records: readonly ExecutionRecord[], more: (tx: Transaction) => Promise<T>): Promise<{ inserted: number; result: T }> {
    const rows = firstOfEachId(records);
    const write = () =>
      db.transaction(async (tx) => {
        const inserted = await insertStatement(tx, rows);
        return { inserted, result: await more(tx) };
      });
    await this.partitions.ensure(db, rows.map((r) => r.executed_at));
    try {
      return await write();
    } catch (err) {
      if (!isNoPartition(err)) throw err;
      // As in insert: a month dropped by another replica since we looked; nothing was stored.
      this.partitions.forget(db);
      await this.partitions.ensure(db, rows.map((r) => r.executed_at));
      return write();
    }
  }

  private async store(db: Database, rows: readonly ExecutionRecord[]): Promise<number> {
    if (rows.length >= COPY_MIN_ROWS) {
      try {
        const copied = await db.transaction((tx) => copy(tx, rows));
        if (copied !== undefined) return copied;
      } catch (err) {
        // A retry racing its original: nothing was stored, so store what is new.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    return insertStatement(db, rows);
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
    return rows.map(toDeploymentAt);
  }

  list = listExecutions;
  get = getExecution;

  /**
   * Whole days from prompt_execution_days (daily series), whole hours from
   * prompt_execution_hours, the part-hours at either end from the rows; each
   * part with its latencies, in as many statements as parts, run side by side.
   */
  async bucketAggregates(db: Queryable, w: StatsWindow, interval: Interval): Promise<BucketAggregate[]> {
    const { days, hours, edges } = windowParts(w, interval);
    const totals = (sql: string, [from, to]: [string, string]) => db.all<Record<string, unknown>>(sql, [w.promptId, from, to, w.environment]).then(toBuckets);
    const parts = edges.map(([from, to]) => this.fromRows(db, w, interval, from, to));
    for (const range of hours) parts.push(totals(FROM_HOURS[interval], range));
    if (days) parts.push(totals(FROM_DAYS, days));
    return (await Promise.all(parts)).flat();
  }

  private async fromRows(db: Queryable, w: StatsWindow, interval: Interval, from: string, to: string): Promise<BucketAggregate[]> {
    const rows = await db.all<Record<string, unknown>>(
      withNumbers(`SELECT prompt_version_id AS version_id, ${BUCKET[interval]} AS bucket, ${AGGREGATES}, string_agg(latency_ms::text, ',') AS latencies
                     FROM prompt_executions
                    WHERE prompt_id = $1 AND executed_at >= $2::timestamptz AND executed_at < $3::timestamptz AND ($4::text IS NULL OR environment = $4::text) AND NOT draft
                    GROUP BY prompt_version_id, bucket`),
      [w.promptId, from, to, w.environment],
    );
    return toBuckets(rows);
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
          AND ($3::timestamptz IS NULL OR executed_at >= $3::timestamptz) AND ($4::timestamptz IS NULL OR executed_at < $4::timestamptz) AND NOT draft
        GROUP BY prompt_version_id`,
      [f.versionIds, f.environment, f.from, f.to],
    );
    return new Map(rows.map((r) => [String(r.version_id), toAggregate(r)]));
  }
}
