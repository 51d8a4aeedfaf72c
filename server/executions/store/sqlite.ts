import type { Database, Queryable, Transaction } from '../../db/index.js';
import type { Interval } from '../schemas.js';
import { AGGREGATES, asTuple, COLUMN_COUNT, getExecution, INSERT_COLUMNS, listExecutions, ROLLUP_SUMS, toAggregate, toBuckets, toDeploymentAt, toRef, windowParts, withNumbers } from './shared.js';
import type { Aggregate, BucketAggregate, DeploymentAt, DeploymentWindow, ExecutionPartitions, ExecutionRecord, ExecutionStore, StatsWindow, VersionRef } from './types.js';

/** SQLite keeps one table: retention deletes row by row. */
const NO_PARTITIONS: ExecutionPartitions = {
  ensure: () => Promise.resolve(),
  list: () => Promise.resolve([]),
  counts: () => Promise.resolve([]),
  drop: () => Promise.reject(new Error('SQLite has no partitions')),
};

// A multi-row VALUES list in a few fixed sizes (statements are cached by text),
// which SQLite runs faster than walking a JSON array. An id already stored is
// skipped: a retry stores nothing twice.
const CHUNKS = [250, 50, 10, 1];
const insertSql = (rows: number) => {
  const tuples = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: COLUMN_COUNT }, (_, c) => `$${r * COLUMN_COUNT + c + 1}`).join(', ')})`);
  return `INSERT INTO prompt_executions (${INSERT_COLUMNS}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`;
};
const INSERT = new Map(CHUNKS.map((n) => [n, insertSql(n)]));

/** Inserts a batch in a few statements, in the caller's transaction; answers how many were new. */
export async function insertRows(tx: Transaction, rows: readonly ExecutionRecord[]): Promise<number> {
  let inserted = 0;
  let at = 0;
  for (const size of CHUNKS) {
    for (; rows.length - at >= size; at += size) inserted += await tx.run(INSERT.get(size)!, rows.slice(at, at + size).flatMap(asTuple));
  }
  return inserted;
}

// Buckets come back as the same ISO text as on Postgres.
const BUCKET = { hour: "substr(executed_at, 1, 13) || ':00:00.000Z'", day: "substr(executed_at, 1, 10) || 'T00:00:00.000Z'" } as const;
/** The bucket of an hour of prompt_execution_hours ('2026-01-31T12'). */
const HOUR_BUCKET = { hour: "hour || ':00:00.000Z'", day: "substr(hour, 1, 10) || 'T00:00:00.000Z'" } as const;

/**
 * Whole hours (or, for a daily series, whole days: '2026-01-31') of a window from the totals,
 * which leave draft runs out, each with the latencies of its part of the bucket ([$5, $6) cut
 * to the bucket) read from the version-time index, which holds them: no table row is read.
 */
const fromTotals = (table: 'prompt_execution_hours' | 'prompt_execution_days', bucket: string, time: 'hour' | 'day', step: string) =>
  `SELECT t.*, v.version_number,
          (SELECT group_concat(e.latency_ms) FROM prompt_executions e
            WHERE e.prompt_version_id = t.version_id AND e.executed_at >= max(t.bucket, $5)
              AND e.executed_at < min(strftime('%Y-%m-%dT%H:%M:%fZ', t.bucket, '${step}'), $6)
              AND ($4::text IS NULL OR e.environment = $4::text) AND NOT e.draft) AS latencies
     FROM (SELECT prompt_version_id AS version_id, ${bucket} AS bucket, ${ROLLUP_SUMS}
             FROM ${table} WHERE prompt_id = $1 AND ${time} >= $2 AND ${time} < $3 AND ($4::text IS NULL OR environment = $4::text)
            GROUP BY prompt_version_id, bucket) t
     JOIN prompt_versions v ON v.id = t.version_id`;
const FROM_HOURS = {
  hour: fromTotals('prompt_execution_hours', HOUR_BUCKET.hour, 'hour', '+1 hour'),
  day: fromTotals('prompt_execution_hours', HOUR_BUCKET.day, 'hour', '+1 day'),
};
const FROM_DAYS = fromTotals('prompt_execution_days', "day || 'T00:00:00.000Z'", 'day', '+1 day');

const inList = (column: string, n: number) => `${column} IN (SELECT value FROM json_each($${n}))`;

/** Executions on SQLite: JSON text for lists, hourly and daily totals kept by triggers. */
export class SqliteExecutionStore implements ExecutionStore {
  readonly partitions = NO_PARTITIONS;

  insert(db: Database, records: readonly ExecutionRecord[]): Promise<number> {
    return db.transaction((tx) => insertRows(tx, records));
  }

  insertWith<T>(db: Database, records: readonly ExecutionRecord[], more: (tx: Transaction) => Promise<T>): Promise<{ inserted: number; result: T }> {
    return db.transaction(async (tx) => {
      const inserted = await insertRows(tx, records);
      return { inserted, result: await more(tx) };
    });
  }

  async versionsByIds(db: Queryable, ids: readonly string[]): Promise<VersionRef[]> {
    if (ids.length === 0) return [];
    const rows = await db.all<Record<string, unknown>>(
      `SELECT v.id, v.prompt_id, p.name, v.version_number
         FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id
        WHERE ${inList('v.id', 1)}`,
      [JSON.stringify(ids)],
    );
    return rows.map(toRef);
  }

  async versionsByNumbers(db: Queryable, pairs: ReadonlyArray<{ prompt: string; version: number }>): Promise<VersionRef[]> {
    if (pairs.length === 0) return [];
    const rows = await db.all<Record<string, unknown>>(
      `SELECT v.id, v.prompt_id, p.name, v.version_number
         FROM json_each($1) AS w
         JOIN prompts p ON p.name = w.value ->> 0
         JOIN prompt_versions v ON v.prompt_id = p.id AND v.version_number = w.value ->> 1`,
      [JSON.stringify(pairs.map((p) => [p.prompt, p.version]))],
    );
    return rows.map(toRef);
  }

  async promptsByNames(db: Queryable, names: readonly string[]): Promise<Array<{ id: string; name: string }>> {
    if (names.length === 0) return [];
    const rows = await db.all<{ id: string; name: string }>(`SELECT id, name FROM prompts WHERE ${inList('name', 1)}`, [JSON.stringify(names)]);
    return rows.map((r) => ({ id: String(r.id), name: String(r.name) }));
  }

  async deploymentsDuring(db: Queryable, windows: readonly DeploymentWindow[]): Promise<DeploymentAt[]> {
    if (windows.length === 0) return [];
    const rows = await db.all<Record<string, unknown>>(
      `SELECT d.prompt_id, d.environment, d.prompt_version_id, v.version_number, d.deployed_at, d.seq
         FROM json_each($1) AS w
         JOIN prompt_deployments d ON d.prompt_id = w.value ->> 0 AND d.environment = w.value ->> 1 AND d.deployed_at <= w.value ->> 3
              AND d.deployed_at >= COALESCE((SELECT MAX(x.deployed_at) FROM prompt_deployments x
                                              WHERE x.prompt_id = w.value ->> 0 AND x.environment = w.value ->> 1 AND x.deployed_at <= w.value ->> 2), w.value ->> 2)
         JOIN prompt_versions v ON v.id = d.prompt_version_id
        ORDER BY d.deployed_at, d.seq`,
      [JSON.stringify(windows.map((w) => [w.promptId, w.environment, w.first, w.last]))],
    );
    return rows.map(toDeploymentAt);
  }

  list = listExecutions;
  get = getExecution;

  /**
   * Whole days from prompt_execution_days (daily series), whole hours from
   * prompt_execution_hours, the part-hours at either end from the rows; each
   * part with its latencies.
   */
  async bucketAggregates(db: Queryable, w: StatsWindow, interval: Interval): Promise<BucketAggregate[]> {
    const { days, hours, edges } = windowParts(w, interval);
    // The totals' keys are the first 13 (hour) or 10 (day) characters of an ISO time.
    const totals = (sql: string, [from, to]: [string, string], key: number) =>
      db.all<Record<string, unknown>>(sql, [w.promptId, from.slice(0, key), to.slice(0, key), w.environment, from, to]).then(toBuckets);
    const parts = edges.map(([from, to]) => this.fromRows(db, w, interval, from, to));
    for (const range of hours) parts.push(totals(FROM_HOURS[interval], range, 13));
    if (days) parts.push(totals(FROM_DAYS, days, 10));
    return (await Promise.all(parts)).flat();
  }

  private async fromRows(db: Queryable, w: StatsWindow, interval: Interval, from: string, to: string): Promise<BucketAggregate[]> {
    const rows = await db.all<Record<string, unknown>>(
      withNumbers(`SELECT prompt_version_id AS version_id, ${BUCKET[interval]} AS bucket, ${AGGREGATES}, group_concat(latency_ms) AS latencies
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
        WHERE ${inList('prompt_version_id', 1)}
          AND ($2::text IS NULL OR environment = $2::text)
          AND ($3::timestamptz IS NULL OR executed_at >= $3::timestamptz) AND ($4::timestamptz IS NULL OR executed_at < $4::timestamptz) AND NOT draft
        GROUP BY prompt_version_id`,
      [JSON.stringify(f.versionIds), f.environment, f.from, f.to],
    );
    return new Map(rows.map((r) => [String(r.version_id), toAggregate(r)]));
  }
}
