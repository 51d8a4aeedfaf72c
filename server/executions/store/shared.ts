import type { Queryable } from '../../db/index.js';
import { json, nullableTimestamp, timestamp } from '../../db/values.js';
import type { Interval } from '../schemas.js';
import type { Aggregate, BucketAggregate, DeploymentAt, ExecutionDetailRow, ExecutionFilter, ExecutionRecord, ExecutionRow, VersionRef } from './types.js';

// What both dialects run alike: the columns, the list and detail queries, and
// the aggregate expressions. Each dialect's store adds what differs.

export const INSERT_COLUMNS =
  'id, prompt_version_id, prompt_id, executed_at, environment, status, error, input_variables, rendered_prompt, response, input_tokens, output_tokens, latency_ms, cost_usd, quality_score, metadata, messages, response_messages, tool_calls, partials_used';
export const COLUMN_COUNT = 20;

export function asTuple(r: ExecutionRecord): unknown[] {
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

export function toRef(r: Record<string, unknown>): VersionRef {
  return { id: String(r.id), prompt_id: String(r.prompt_id), prompt: String(r.name), version_number: Number(r.version_number) };
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

/** The counts and sums of a group of rows of prompt_executions, named as toAggregate reads them. */
export const AGGREGATES = `COUNT(*) AS n, SUM(CASE WHEN status = 'error' THEN 1 ELSE 0 END) AS errors,
  COUNT(latency_ms) AS latency_n, SUM(latency_ms) AS latency_sum,
  COUNT(input_tokens) AS input_n, SUM(input_tokens) AS input_sum,
  COUNT(output_tokens) AS output_n, SUM(output_tokens) AS output_sum,
  COUNT(cost_usd) AS cost_n, SUM(cost_usd) AS cost_sum,
  COUNT(quality_score) AS quality_n, SUM(quality_score) AS quality_sum`;

/** The same from rows of the hourly rollups. */
export const ROLLUP_SUMS = `SUM(n) AS n, SUM(errors) AS errors, SUM(latency_n) AS latency_n, SUM(latency_sum) AS latency_sum,
  SUM(input_n) AS input_n, SUM(input_sum) AS input_sum, SUM(output_n) AS output_n, SUM(output_sum) AS output_sum,
  SUM(cost_n) AS cost_n, SUM(cost_sum) AS cost_sum, SUM(quality_n) AS quality_n, SUM(quality_sum) AS quality_sum`;

const zero = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));

export function toAggregate(r: Record<string, unknown>): Aggregate {
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

/** Rows of (version_id, version_number, bucket, sums, latencies) as BucketAggregates. */
export function toBuckets(rows: ReadonlyArray<Record<string, unknown>>): BucketAggregate[] {
  return rows.map((r) => ({
    version_id: String(r.version_id),
    version_number: Number(r.version_number),
    start: timestamp(r.bucket),
    aggregate: toAggregate(r),
    latencies: r.latencies === null || r.latencies === undefined ? null : String(r.latencies),
  }));
}

export const withNumbers = (sql: string) => `SELECT a.*, v.version_number FROM (${sql}) a JOIN prompt_versions v ON v.id = a.version_id`;

export const HOUR = 3_600_000;
export const DAY = 86_400_000;
export const iso = (ms: number) => new Date(ms).toISOString();

/**
 * How a stats window splits: for a daily series, the whole UTC days the daily
 * totals answer ([first, last), null when there are none); the whole hours
 * around them (or in the whole window) the hourly totals answer; and the
 * part-hours at either end that are added up from the rows. Every part is
 * [from, to), and together they cover the window once.
 */
export function windowParts(
  w: { from: string; to: string },
  interval: Interval,
): { days: [string, string] | null; hours: Array<[string, string]>; edges: Array<[string, string]> } {
  const [from, to] = [Date.parse(w.from), Date.parse(w.to)];
  const [first, last] = [Math.ceil(from / HOUR) * HOUR, Math.floor(to / HOUR) * HOUR];
  if (first >= last) return { days: null, hours: [], edges: [[w.from, w.to]] };
  const edges: Array<[string, string]> = [];
  if (from < first) edges.push([w.from, iso(first)]);
  if (last < to) edges.push([iso(last), w.to]);
  const [dayFirst, dayLast] = [Math.ceil(first / DAY) * DAY, Math.floor(last / DAY) * DAY];
  if (interval === 'hour' || dayFirst >= dayLast) return { days: null, hours: [[iso(first), iso(last)]], edges };
  const hours: Array<[string, string]> = [];
  if (first < dayFirst) hours.push([iso(first), iso(dayFirst)]);
  if (dayLast < last) hours.push([iso(dayLast), iso(last)]);
  return { days: [iso(dayFirst), iso(dayLast)], hours, edges };
}

/** A deployment row as deploymentsDuring answers it, the same on both databases. */
export function toDeploymentAt(r: Record<string, unknown>): DeploymentAt {
  return {
    prompt_id: String(r.prompt_id),
    environment: String(r.environment),
    version_id: String(r.prompt_version_id),
    version_number: Number(r.version_number),
    deployed_at: timestamp(r.deployed_at),
    seq: Number(r.seq),
  };
}
