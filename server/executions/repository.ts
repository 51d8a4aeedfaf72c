import type { Dialect, Queryable, Transaction } from '../db/index.js';
import { json, listParam, nullableTimestamp, timestamp } from '../db/values.js';
import { INTERVALS, type Interval } from './schemas.js';

/** An execution as stored: every column, resolved and serialised. */
export interface ExecutionRecord {
  id: string;
  prompt_version_id: string;
  prompt_id: string;
  executed_at: string;
  environment: string | null;
  status: 'ok' | 'error';
  error: string | null;
  /** JSON text, or null. */
  input_variables: string | null;
  rendered_prompt: string | null;
  response: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  cost_usd: number | null;
  quality_score: number | null;
  /** JSON text. */
  metadata: string;
  /** JSON text, or null (chat executions; absent: null). */
  messages?: string | null;
  response_messages?: string | null;
  tool_calls?: string | null;
  partials_used?: string | null;
}

const INSERT_COLUMNS =
  'id, prompt_version_id, prompt_id, executed_at, environment, status, error, input_variables, rendered_prompt, response, input_tokens, output_tokens, latency_ms, cost_usd, quality_score, metadata, messages, response_messages, tool_calls, partials_used';

// One SQL text for any batch size on Postgres, so the pg adapter's named
// statements stay few: it unnests one array per column. SQLite binds a
// multi-row VALUES list in a few fixed sizes (its statements are cached by
// text too), which it runs faster than walking a JSON array. An id already
// stored is skipped: a retry stores nothing twice.
const INSERT_POSTGRES = `
  INSERT INTO prompt_executions (${INSERT_COLUMNS})
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                       $9::text[], $10::text[], $11::int[], $12::int[], $13::int[], $14::float8[], $15::float8[], $16::jsonb[],
                       $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::jsonb[])
  ON CONFLICT (id) DO NOTHING`;

const SQLITE_CHUNKS = [250, 50, 10, 1];
const COLUMN_COUNT = 20;

const insertSqlite = (rows: number) => {
  const tuples = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: COLUMN_COUNT }, (_, c) => `$${r * COLUMN_COUNT + c + 1}`).join(', ')})`);
  return `INSERT INTO prompt_executions (${INSERT_COLUMNS}) VALUES ${tuples.join(', ')} ON CONFLICT (id) DO NOTHING`;
};
const INSERT_SQLITE = new Map(SQLITE_CHUNKS.map((n) => [n, insertSqlite(n)]));

function asTuple(r: ExecutionRecord): unknown[] {
  return [
    r.id,
    r.prompt_version_id,
    r.prompt_id,
    r.executed_at,
    r.environment,
    r.status,
    r.error,
    r.input_variables,
    r.rendered_prompt,
    r.response,
    r.input_tokens,
    r.output_tokens,
    r.latency_ms,
    r.cost_usd,
    r.quality_score,
    r.metadata,
    r.messages ?? null,
    r.response_messages ?? null,
    r.tool_calls ?? null,
    r.partials_used ?? null,
  ];
}

/** Inserts a batch (one statement on Postgres, a few on SQLite); answers how many were new (the others were stored already). */
export async function insertExecutions(tx: Transaction, rows: readonly ExecutionRecord[]): Promise<number> {
  if (rows.length === 0) return 0;
  if (tx.dialect === 'sqlite') {
    let inserted = 0;
    let at = 0;
    for (const size of SQLITE_CHUNKS) {
      for (; rows.length - at >= size; at += size) inserted += await tx.run(INSERT_SQLITE.get(size)!, rows.slice(at, at + size).flatMap(asTuple));
    }
    return inserted;
  }
  return insertExecutionsStatement(tx, rows);
}

/**
 * Postgres: the batch in one INSERT statement. A statement is atomic and, once
 * answered, committed on its own, so this may run outside a transaction: for a
 * single execution that saves the BEGIN and COMMIT round trips (a third more
 * single-row requests a second).
 */
export async function insertExecutionsStatement(db: Queryable, rows: readonly ExecutionRecord[]): Promise<number> {
  if (db.dialect !== 'postgres') throw new Error('one statement per batch is for Postgres: SQLite inserts in chunks, in a transaction');
  if (rows.length === 0) return 0;
  const columns: unknown[][] = Array.from({ length: COLUMN_COUNT }, () => new Array<unknown>(rows.length));
  rows.forEach((row, i) => asTuple(row).forEach((value, c) => (columns[c]![i] = value)));
  return db.run(INSERT_POSTGRES, columns);
}

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

/** Batches this large go through COPY on Postgres; below it, COPY's extra round trip costs more than it saves. */
export const COPY_MIN_ROWS = 50;

/**
 * Postgres: stores a batch with COPY FROM STDIN, the rows streamed while
 * Postgres stores the first ones, so building them costs no time of its own.
 * COPY can't skip an id already stored: the transaction fails with a unique
 * violation, and the caller stores the batch with insertExecutions instead.
 */
export async function copyExecutions(tx: Transaction, rows: readonly ExecutionRecord[]): Promise<number> {
  if (!tx.copyFrom) throw new Error('COPY is for Postgres');
  return tx.copyFrom(`COPY prompt_executions (${INSERT_COLUMNS}) FROM STDIN`, copyChunks(rows));
}

/** A version, the prompt it belongs to, and its number. */
export interface VersionRef {
  id: string;
  prompt_id: string;
  prompt: string;
  version_number: number;
}

function toRef(r: Record<string, unknown>): VersionRef {
  return { id: String(r.id), prompt_id: String(r.prompt_id), prompt: String(r.name), version_number: Number(r.version_number) };
}

const inList = (dialect: Dialect, column: string, n: number, type: string) =>
  dialect === 'postgres' ? `${column} = ANY($${n}::${type}[])` : `${column} IN (SELECT value FROM json_each($${n}))`;

export async function versionsByIds(db: Queryable, ids: readonly string[]): Promise<VersionRef[]> {
  if (ids.length === 0) return [];
  const rows = await db.all<Record<string, unknown>>(
    `SELECT v.id, v.prompt_id, p.name, v.version_number
       FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id
      WHERE ${inList(db.dialect, 'v.id', 1, 'uuid')}`,
    [listParam(db.dialect, ids)],
  );
  return rows.map(toRef);
}

export async function versionsByNumbers(db: Queryable, pairs: ReadonlyArray<{ prompt: string; version: number }>): Promise<VersionRef[]> {
  if (pairs.length === 0) return [];
  const rows =
    db.dialect === 'postgres'
      ? await db.all<Record<string, unknown>>(
          `SELECT v.id, v.prompt_id, p.name, v.version_number
             FROM unnest($1::text[], $2::int[]) AS w(name, n)
             JOIN prompts p ON p.name = w.name
             JOIN prompt_versions v ON v.prompt_id = p.id AND v.version_number = w.n`,
          [pairs.map((p) => p.prompt), pairs.map((p) => p.version)],
        )
      : await db.all<Record<string, unknown>>(
          `SELECT v.id, v.prompt_id, p.name, v.version_number
             FROM json_each($1) AS w
             JOIN prompts p ON p.name = w.value ->> 0
             JOIN prompt_versions v ON v.prompt_id = p.id AND v.version_number = w.value ->> 1`,
          [JSON.stringify(pairs.map((p) => [p.prompt, p.version]))],
        );
  return rows.map(toRef);
}

export async function promptsByNames(db: Queryable, names: readonly string[]): Promise<Array<{ id: string; name: string }>> {
  if (names.length === 0) return [];
  const rows = await db.all<{ id: string; name: string }>(`SELECT id, name FROM prompts WHERE ${inList(db.dialect, 'name', 1, 'text')}`, [
    listParam(db.dialect, names),
  ]);
  return rows.map((r) => ({ id: String(r.id), name: String(r.name) }));
}

export interface DeploymentAt {
  prompt_id: string;
  environment: string;
  version_id: string;
  version_number: number;
  deployed_at: string;
  seq: number;
}

/**
 * The deployments that may have been live in an environment during
 * [first, last]: the last one deployed at or before `first`, and every one
 * after it up to `last`. Ordered by deployment time, then position.
 */
export async function deploymentsDuring(
  db: Queryable,
  windows: ReadonlyArray<{ promptId: string; environment: string; first: string; last: string }>,
): Promise<DeploymentAt[]> {
  if (windows.length === 0) return [];
  const rows =
    db.dialect === 'postgres'
      ? await db.all<Record<string, unknown>>(
          `SELECT d.prompt_id, d.environment, d.prompt_version_id, v.version_number, d.deployed_at, d.seq
             FROM unnest($1::uuid[], $2::text[], $3::timestamptz[], $4::timestamptz[]) AS w(prompt_id, environment, first_at, last_at)
             JOIN prompt_deployments d ON d.prompt_id = w.prompt_id AND d.environment = w.environment AND d.deployed_at <= w.last_at
                  AND d.deployed_at >= COALESCE((SELECT MAX(x.deployed_at) FROM prompt_deployments x
                                                  WHERE x.prompt_id = w.prompt_id AND x.environment = w.environment AND x.deployed_at <= w.first_at), w.first_at)
             JOIN prompt_versions v ON v.id = d.prompt_version_id
            ORDER BY d.deployed_at, d.seq`,
          [windows.map((w) => w.promptId), windows.map((w) => w.environment), windows.map((w) => w.first), windows.map((w) => w.last)],
        )
      : await db.all<Record<string, unknown>>(
          `SELECT d.prompt_id, d.environment, d.prompt_version_id, v.version_number, d.deployed_at, d.seq
             FROM json_each($1) AS w
             JOIN prompt_deployments d ON d.prompt_id = w.value ->> 0 AND d.environment = w.value ->> 1 AND d.deployed_at <= w.value ->> 3
                  AND d.deployed_at >= COALESCE((SELECT MAX(x.deployed_at) FROM prompt_deployments x
                                                  WHERE x.prompt_id = w.value ->> 0 AND x.environment = w.value ->> 1 AND x.deployed_at <= w.value ->> 2), w.value ->> 2)
             JOIN prompt_versions v ON v.id = d.prompt_version_id
            ORDER BY d.deployed_at, d.seq`,
          [JSON.stringify(windows.map((w) => [w.promptId, w.environment, w.first, w.last]))],
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

export interface ExecutionRow {
  id: string;
  prompt: string | null;
  version: number | null;
  prompt_version_id: string | null;
  environment: string | null;
  executed_at: string;
  status: 'ok' | 'error';
  error: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  cost_usd: number | null;
  quality_score: number | null;
  metadata: Record<string, unknown>;
  redacted_at: string | null;
}

export interface ExecutionDetailRow extends ExecutionRow {
  input_variables: Record<string, unknown> | null;
  rendered_prompt: string | null;
  response: string | null;
  messages: Array<Record<string, unknown>> | null;
  response_messages: Array<Record<string, unknown>> | null;
  tool_calls: Array<Record<string, unknown>> | null;
  partials_used: Array<{ prompt: string; version: number; version_id?: string }> | null;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

function toExecution(r: Record<string, unknown>): ExecutionRow {
  return {
    id: String(r.id),
    prompt: (r.prompt as string | null) ?? null,
    version: num(r.version_number),
    prompt_version_id: (r.prompt_version_id as string | null) ?? null,
    environment: (r.environment as string | null) ?? null,
    executed_at: timestamp(r.executed_at),
    status: r.status === 'error' ? 'error' : 'ok',
    error: (r.error as string | null) ?? null,
    input_tokens: num(r.input_tokens),
    output_tokens: num(r.output_tokens),
    latency_ms: num(r.latency_ms),
    cost_usd: num(r.cost_usd),
    quality_score: num(r.quality_score),
    metadata: (json(r.metadata) as Record<string, unknown> | null) ?? {},
    redacted_at: nullableTimestamp(r.redacted_at),
  };
}

const SUMMARY_COLUMNS = `e.id, p.name AS prompt, v.version_number, e.prompt_version_id, e.environment, e.executed_at, e.status, e.error,
  e.input_tokens, e.output_tokens, e.latency_ms, e.cost_usd, e.quality_score, e.metadata, e.redacted_at`;

const FROM_EXECUTIONS = `FROM prompt_executions e
  LEFT JOIN prompt_versions v ON v.id = e.prompt_version_id
  LEFT JOIN prompts p ON p.id = e.prompt_id`;

export interface ExecutionFilter {
  promptId?: string | undefined;
  versionId?: string | undefined;
  environment?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  status?: 'ok' | 'error' | undefined;
  qualityMin?: number | undefined;
  qualityMax?: number | undefined;
  metricId?: string | undefined;
  metricMin?: number | undefined;
  metricMax?: number | undefined;
  /** Executions older than this (executed_at, id): the cursor. */
  before?: [string, string] | undefined;
  limit: number;
}

/** Executions, newest first, without their large text fields. */
export async function listExecutions(db: Queryable, f: ExecutionFilter): Promise<ExecutionRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${SUMMARY_COLUMNS} ${FROM_EXECUTIONS}
      WHERE ($1::uuid IS NULL OR e.prompt_id = $1::uuid) AND ($2::uuid IS NULL OR e.prompt_version_id = $2::uuid)
        AND ($3::text IS NULL OR e.environment = $3::text)
        AND ($4::timestamptz IS NULL OR e.executed_at >= $4::timestamptz) AND ($5::timestamptz IS NULL OR e.executed_at < $5::timestamptz)
        AND ($6::text IS NULL OR e.status = $6::text)
        AND ($7::float IS NULL OR e.quality_score >= $7::float) AND ($8::float IS NULL OR e.quality_score <= $8::float)
        AND ($9::uuid IS NULL OR EXISTS (SELECT 1 FROM execution_scores s
                                         WHERE s.metric_id = $9::uuid AND s.execution_id = e.id
                                           AND ($10::float IS NULL OR s.value >= $10::float) AND ($11::float IS NULL OR s.value <= $11::float)))
        AND ($12::timestamptz IS NULL OR (e.executed_at, e.id) < ($12::timestamptz, $13::uuid))
      ORDER BY e.executed_at DESC, e.id DESC
      LIMIT $14`,
    [
      f.promptId ?? null,
      f.versionId ?? null,
      f.environment ?? null,
      f.from ?? null,
      f.to ?? null,
      f.status ?? null,
      f.qualityMin ?? null,
      f.qualityMax ?? null,
      f.metricId ?? null,
      f.metricMin ?? null,
      f.metricMax ?? null,
      f.before?.[0] ?? null,
      f.before?.[1] ?? null,
      f.limit,
    ],
  );
  return rows.map(toExecution);
}

export async function getExecution(db: Queryable, id: string): Promise<ExecutionDetailRow | undefined> {
  const r = await db.get<Record<string, unknown>>(
    `SELECT ${SUMMARY_COLUMNS}, e.input_variables, e.rendered_prompt, e.response, e.messages, e.response_messages, e.tool_calls, e.partials_used
       ${FROM_EXECUTIONS} WHERE e.id = $1`,
    [id],
  );
  if (!r) return undefined;
  return {
    ...toExecution(r),
    input_variables: (json(r.input_variables) as Record<string, unknown> | null) ?? null,
    rendered_prompt: (r.rendered_prompt as string | null) ?? null,
    response: (r.response as string | null) ?? null,
    messages: (json(r.messages) as Array<Record<string, unknown>> | null) ?? null,
    response_messages: (json(r.response_messages) as Array<Record<string, unknown>> | null) ?? null,
    tool_calls: (json(r.tool_calls) as Array<Record<string, unknown>> | null) ?? null,
    partials_used: (json(r.partials_used) as ExecutionDetailRow['partials_used']) ?? null,
  };
}

/** Counts and sums of one group of executions; means are computed from them. */
export interface Aggregate {
  count: number;
  errors: number;
  latency: { n: number; sum: number };
  input_tokens: { n: number; sum: number };
  output_tokens: { n: number; sum: number };
  cost_usd: { n: number; sum: number };
  quality_score: { n: number; sum: number };
}

const AGGREGATES = `COUNT(*) AS n, SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors,
  COUNT(latency_ms) AS latency_n, SUM(latency_ms) AS latency_sum,
  COUNT(input_tokens) AS input_n, SUM(input_tokens) AS input_sum,
  COUNT(output_tokens) AS output_n, SUM(output_tokens) AS output_sum,
  COUNT(cost_usd) AS cost_n, SUM(cost_usd) AS cost_sum,
  COUNT(quality_score) AS quality_n, SUM(quality_score) AS quality_sum`;

const none = { n: 0, sum: 0 };
export const EMPTY_AGGREGATE: Aggregate = {
  count: 0,
  errors: 0,
  latency: none,
  input_tokens: none,
  output_tokens: none,
  cost_usd: none,
  quality_score: none,
};

const zero = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

function toAggregate(r: Record<string, unknown>): Aggregate {
  return {
    count: zero(r.n),
    errors: zero(r.errors),
    latency: { n: zero(r.latency_n), sum: zero(r.latency_sum) },
    input_tokens: { n: zero(r.input_n), sum: zero(r.input_sum) },
    output_tokens: { n: zero(r.output_n), sum: zero(r.output_sum) },
    cost_usd: { n: zero(r.cost_n), sum: zero(r.cost_sum) },
    quality_score: { n: zero(r.quality_n), sum: zero(r.quality_sum) },
  };
}

export function addAggregates(a: Aggregate, b: Aggregate): Aggregate {
  const add = (x: { n: number; sum: number }, y: { n: number; sum: number }) => ({ n: x.n + y.n, sum: x.sum + y.sum });
  return {
    count: a.count + b.count,
    errors: a.errors + b.errors,
    latency: add(a.latency, b.latency),
    input_tokens: add(a.input_tokens, b.input_tokens),
    output_tokens: add(a.output_tokens, b.output_tokens),
    cost_usd: add(a.cost_usd, b.cost_usd),
    quality_score: add(a.quality_score, b.quality_score),
  };
}

export interface StatsWindow {
  promptId: string;
  environment: string | null;
  from: string;
  to: string;
}

export interface VersionStatsRow {
  version_id: string;
  version_number: number;
  aggregate: Aggregate;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface BucketStatsRow {
  version_id: string;
  version_number: number;
  start: string;
  aggregate: Aggregate;
  p95: number | null;
}

/**
 * Nearest-rank percentile of an ascending list: the value at position
 * ceil(p·n), computed in double precision as Postgres's percentile_disc does.
 */
export function nearestRank(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(p * n));
  return sorted[Math.min(rank, n) - 1]!;
}

/** Numbers from group_concat's comma-separated text; whole non-negative ones (the API's latencies) without making a string each. */
function parseList(text: string): Float64Array {
  let count = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) count++;
    else if (c < 48 || c > 57) return new Float64Array(text.split(',').map(Number));
  }
  const out = new Float64Array(count);
  let k = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out[k++] = value;
      value = 0;
    } else value = value * 10 + (c - 48);
  }
  out[k] = value;
  return out;
}

/**
 * Rearranges a[lo..hi] so that a[k] holds the value an ascending sort would
 * put there, with none larger before it and none smaller after (Hoare's
 * selection, pivot the median of three): linear on average, where a sort of
 * every bucket cost more than the queries.
 */
function select(a: Float64Array, k: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const [x0, x1, x2] = [a[lo]!, a[mid]!, a[hi]!];
    const pivot = x0 < x1 ? (x1 < x2 ? x1 : x0 < x2 ? x2 : x0) : x0 < x2 ? x0 : x1 < x2 ? x2 : x1;
    let [i, j] = [lo, hi];
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (pivot < a[j]!) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return a[k]!;
}

/** Nearest-rank percentiles (ascending ps) of values in any order, which it reorders; null for none. */
export function percentiles(values: Float64Array, ps: readonly number[]): Array<number | null> {
  const n = values.length;
  let lo = 0;
  return ps.map((p) => {
    if (n === 0) return null;
    const k = Math.min(Math.max(1, Math.ceil(p * n)), n) - 1;
    const value = select(values, k, lo, n - 1);
    lo = k;
    return value;
  });
}

function concat(lists: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of lists) {
    out.set(l, at);
    at += l.length;
  }
  return out;
}

// Buckets start at whole UTC hours or days, and come back as the same ISO text on both dialects.
// date_bin (Postgres 14) is plain arithmetic from a UTC-midnight origin; date_trunc with a time
// zone costs about twice the whole query.
const BUCKET = {
  postgres: {
    hour: "date_bin('1 hour', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
    day: "date_bin('1 day', executed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
  },
  sqlite: { hour: "substr(executed_at, 1, 13) || ':00:00.000Z'", day: "substr(executed_at, 1, 10) || 'T00:00:00.000Z'" },
} as const;
/** The bucket of an hour of prompt_execution_hours ('2026-01-31T12'). */
const HOUR_BUCKET = { hour: "hour || ':00:00.000Z'", day: "substr(hour, 1, 10) || 'T00:00:00.000Z'" } as const;

const FROM_ROWS = 'FROM prompt_executions WHERE prompt_id = $1 AND executed_at >= $2::timestamptz AND executed_at < $3::timestamptz AND ($4::text IS NULL OR environment = $4::text)';

const HOUR_SUMS = `SUM(n) AS n, SUM(errors) AS errors, SUM(latency_n) AS latency_n, SUM(latency_sum) AS latency_sum,
  SUM(input_n) AS input_n, SUM(input_sum) AS input_sum, SUM(output_n) AS output_n, SUM(output_sum) AS output_sum,
  SUM(cost_n) AS cost_n, SUM(cost_sum) AS cost_sum, SUM(quality_n) AS quality_n, SUM(quality_sum) AS quality_sum`;

const withNumbers = (sql: string) => `SELECT a.*, v.version_number FROM (${sql}) a JOIN prompt_versions v ON v.id = a.version_id`;

const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** Counts and sums per version and bucket, from the rows. */
const bucketsFromRows = (db: Queryable, w: StatsWindow, interval: Interval, from: string, to: string) =>
  db.all<Record<string, unknown>>(
    withNumbers(`SELECT prompt_version_id AS version_id, ${BUCKET[db.dialect][interval]} AS bucket, ${AGGREGATES} ${FROM_ROWS} GROUP BY prompt_version_id, bucket`),
    [w.promptId, from, to, w.environment],
  );

/**
 * Counts and sums per version and bucket over the window. SQLite reads the
 * whole hours from prompt_execution_hours and adds up only the rows of the
 * part-hours at either end; Postgres adds up the rows.
 */
async function bucketAggregates(db: Queryable, w: StatsWindow, interval: Interval): Promise<Record<string, unknown>[]> {
  if (db.dialect === 'postgres') return bucketsFromRows(db, w, interval, w.from, w.to);
  const [from, to] = [Date.parse(w.from), Date.parse(w.to)];
  const [first, last] = [Math.ceil(from / HOUR) * HOUR, Math.floor(to / HOUR) * HOUR];
  if (first >= last) return bucketsFromRows(db, w, interval, w.from, w.to);
  const parts = [
    db.all<Record<string, unknown>>(
      withNumbers(`SELECT prompt_version_id AS version_id, ${HOUR_BUCKET[interval]} AS bucket, ${HOUR_SUMS}
                     FROM prompt_execution_hours WHERE prompt_id = $1 AND hour >= $2 AND hour < $3 AND ($4::text IS NULL OR environment = $4::text)
                    GROUP BY prompt_version_id, bucket`),
      [w.promptId, iso(first).slice(0, 13), iso(last).slice(0, 13), w.environment],
    ),
  ];
  if (from < first) parts.push(bucketsFromRows(db, w, interval, w.from, iso(first)));
  if (last < to) parts.push(bucketsFromRows(db, w, interval, iso(last), w.to));
  return (await Promise.all(parts)).flat();
}

/** Each (version, time range)'s latencies, as comma-separated text (null: none), from the version-time index alone. */
async function latencyLists(db: Queryable, ranges: ReadonlyArray<{ versionId: string; from: string; to: string }>, environment: string | null): Promise<Array<string | null>> {
  if (ranges.length === 0) return [];
  const rows =
    db.dialect === 'postgres'
      ? await db.all<{ latencies: string | null }>(
          `SELECT (SELECT string_agg(e.latency_ms::text, ',') FROM prompt_executions e
                    WHERE e.prompt_version_id = w.version_id AND e.executed_at >= w.from_at AND e.executed_at < w.to_at
                      AND ($4::text IS NULL OR e.environment = $4::text)) AS latencies
             FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS w(version_id, from_at, to_at, ord)
            ORDER BY w.ord`,
          [ranges.map((r) => r.versionId), ranges.map((r) => r.from), ranges.map((r) => r.to), environment],
        )
      : await db.all<{ latencies: string | null }>(
          `SELECT (SELECT group_concat(latency_ms) FROM prompt_executions
                    WHERE prompt_version_id = w.value ->> 0 AND executed_at >= w.value ->> 1 AND executed_at < w.value ->> 2
                      AND ($2::text IS NULL OR environment = $2::text)) AS latencies
             FROM json_each($1) AS w ORDER BY w.key`,
          [JSON.stringify(ranges.map((r) => [r.versionId, r.from, r.to])), environment],
        );
  return rows.map((r) => r.latencies);
}

/**
 * Per version, and per version and time bucket, over one prompt's window:
 * counts, sums and nearest-rank latency percentiles. Counts and sums come
 * from bucketAggregates; then each bucket's latencies from the version-time
 * index, ranked here, by the same rule on both dialects.
 */
export async function statsRows(db: Queryable, w: StatsWindow, interval: Interval): Promise<{ versions: VersionStatsRow[]; buckets: BucketStatsRow[] }> {
  const groups = new Map<string, { version_id: string; version_number: number; start: string; aggregate: Aggregate }>();
  for (const r of await bucketAggregates(db, w, interval)) {
    const start = timestamp(r.bucket);
    const key = `${String(r.version_id)} ${start}`;
    const group = groups.get(key);
    if (group) group.aggregate = addAggregates(group.aggregate, toAggregate(r));
    else groups.set(key, { version_id: String(r.version_id), version_number: Number(r.version_number), start, aggregate: toAggregate(r) });
  }
  // In time order, so every sum below adds up in the same order on both dialects.
  const ordered = [...groups.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.version_id < b.version_id ? -1 : 1));
  const step = INTERVALS[interval];
  const lists = await latencyLists(
    db,
    ordered.map((g) => ({
      versionId: g.version_id,
      from: g.start < w.from ? w.from : g.start,
      to: iso(Math.min(Date.parse(g.start) + step, Date.parse(w.to))),
    })),
    w.environment,
  );

  const buckets: BucketStatsRow[] = [];
  const byVersion = new Map<string, { row: Omit<VersionStatsRow, 'p50' | 'p95' | 'p99'>; latencies: Float64Array[] }>();
  ordered.forEach((g, i) => {
    const text = lists[i];
    const latencies = text ? parseList(text) : new Float64Array(0);
    buckets.push({ ...g, p95: percentiles(latencies, [0.95])[0]! });
    const entry = byVersion.get(g.version_id);
    if (entry) {
      entry.row.aggregate = addAggregates(entry.row.aggregate, g.aggregate);
      entry.latencies.push(latencies);
    } else {
      byVersion.set(g.version_id, { row: { version_id: g.version_id, version_number: g.version_number, aggregate: g.aggregate }, latencies: [latencies] });
    }
  });
  const versions = [...byVersion.values()].map(({ row, latencies }) => {
    const [p50, p95, p99] = percentiles(concat(latencies), [0.5, 0.95, 0.99]);
    return { ...row, p50: p50!, p95: p95!, p99: p99! };
  });
  return { versions, buckets };
}

/** Per version totals for some versions of a prompt; bounds optional (null: unbounded). */
export async function versionAggregates(
  db: Queryable,
  f: { versionIds: readonly string[]; environment: string | null; from: string | null; to: string | null },
): Promise<Map<string, Aggregate>> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT prompt_version_id AS version_id, ${AGGREGATES}
       FROM prompt_executions
      WHERE ${inList(db.dialect, 'prompt_version_id', 1, 'uuid')}
        AND ($2::text IS NULL OR environment = $2::text)
        AND ($3::timestamptz IS NULL OR executed_at >= $3::timestamptz) AND ($4::timestamptz IS NULL OR executed_at < $4::timestamptz)
      GROUP BY prompt_version_id`,
    [listParam(db.dialect, f.versionIds), f.environment, f.from, f.to],
  );
  return new Map(rows.map((r) => [String(r.version_id), toAggregate(r)]));
}
