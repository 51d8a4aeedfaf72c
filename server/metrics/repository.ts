import type { Queryable, Transaction } from '../db/index.js';
import { stringArray, timestamp } from '../db/values.js';

export type MetricType = 'numeric' | 'boolean' | 'categorical';

export interface MetricRow {
  id: string;
  name: string;
  type: MetricType;
  min: number | null;
  max: number | null;
  categories: string[] | null;
  description: string | null;
  created_at: string;
  created_by: string;
}

const METRIC_COLUMNS = 'id, name, type, min_value, max_value, categories, description, created_at, created_by';

function toMetric(r: Record<string, unknown>): MetricRow {
  return {
    id: String(r.id),
    name: String(r.name),
    type: r.type as MetricType,
    min: r.min_value === null || r.min_value === undefined ? null : Number(r.min_value),
    max: r.max_value === null || r.max_value === undefined ? null : Number(r.max_value),
    categories: r.categories === null || r.categories === undefined ? null : stringArray(r.categories),
    description: (r.description as string | null) ?? null,
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
  };
}

export async function findMetric(db: Queryable, name: string): Promise<MetricRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${METRIC_COLUMNS} FROM metrics WHERE name = $1`, [name]);
  return row && toMetric(row);
}

export async function insertMetric(tx: Transaction, m: Omit<MetricRow, 'id' | 'created_at'>): Promise<MetricRow> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO metrics (name, type, min_value, max_value, categories, description, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING ${METRIC_COLUMNS}`,
    [m.name, m.type, m.min, m.max, m.categories === null ? null : tx.sql.list(m.categories), m.description, m.created_by],
  );
  return toMetric(row!);
}

export async function listMetrics(db: Queryable, f: { after?: string | undefined; limit: number }): Promise<MetricRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${METRIC_COLUMNS} FROM metrics WHERE ($1::text IS NULL OR name > $1::text) ORDER BY name LIMIT $2`,
    [f.after ?? null, f.limit],
  );
  return rows.map(toMetric);
}

export interface ScoreRow {
  id: string;
  execution_id: string;
  metric: string;
  type: MetricType;
  value: number | boolean | string;
  source: 'human' | 'code' | 'llm';
  comment: string | null;
  scored_at: string;
  scored_by: string;
}

function toScore(r: Record<string, unknown>): ScoreRow {
  const type = r.type as MetricType;
  return {
    id: String(r.id),
    execution_id: String(r.execution_id),
    metric: String(r.name),
    type,
    value: type === 'categorical' ? String(r.category) : type === 'boolean' ? Number(r.value) === 1 : Number(r.value),
    source: r.source as ScoreRow['source'],
    comment: (r.comment as string | null) ?? null,
    scored_at: timestamp(r.scored_at),
    scored_by: String(r.scored_by),
  };
}

const SCORE_COLUMNS = 's.id, s.execution_id, m.name, m.type, s.value, s.category, s.source, s.comment, s.scored_at, s.scored_by';

export async function scoresOf(db: Queryable, executionId: string): Promise<ScoreRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${SCORE_COLUMNS} FROM execution_scores s JOIN metrics m ON m.id = s.metric_id WHERE s.execution_id = $1 ORDER BY m.name, s.source`,
    [executionId],
  );
  return rows.map(toScore);
}

/** Whether the execution exists; on Postgres it is share-locked so retention can't delete it before the commit. */
export async function lockExecution(tx: Transaction, executionId: string): Promise<boolean> {
  return (await tx.get(`SELECT id FROM prompt_executions WHERE id = $1${tx.sql.forShare}`, [executionId])) !== undefined;
}

export async function scoreExists(tx: Transaction, executionId: string, metricId: string, source: string): Promise<boolean> {
  const row = await tx.get('SELECT id FROM execution_scores WHERE execution_id = $1 AND metric_id = $2 AND source = $3', [executionId, metricId, source]);
  return row !== undefined;
}

/**
 * Scores an execution, or replaces the score the same source gave by the same
 * metric. The execution's prompt, version, environment and time are copied
 * onto the score, so statistics read the scores table alone.
 */
export async function upsertScore(
  tx: Transaction,
  s: { executionId: string; metric: MetricRow; value: number | null; category: string | null; source: string; comment: string | null; scoredBy: string },
): Promise<ScoreRow> {
  const row = await tx.get<{ id: string }>(
    `INSERT INTO execution_scores (execution_id, metric_id, value, category, source, comment, scored_at, scored_by,
                                   prompt_id, prompt_version_id, environment, executed_at)
     SELECT e.id, $2::uuid, $3::float, $4::text, $5::text, $6::text, $7::timestamptz, $8::text, e.prompt_id, e.prompt_version_id, e.environment, e.executed_at
       FROM prompt_executions e WHERE e.id = $1
     ON CONFLICT (execution_id, metric_id, source) DO UPDATE
        SET value = excluded.value, category = excluded.category, comment = excluded.comment,
            scored_at = excluded.scored_at, scored_by = excluded.scored_by
     RETURNING id`,
    [s.executionId, s.metric.id, s.value, s.category, s.source, s.comment, new Date().toISOString(), s.scoredBy],
  );
  const full = await tx.get<Record<string, unknown>>(`SELECT ${SCORE_COLUMNS} FROM execution_scores s JOIN metrics m ON m.id = s.metric_id WHERE s.id = $1`, [
    row!.id,
  ]);
  return toScore(full!);
}

/** A score to store: one metric's value for one execution. */
export interface ScoreInput {
  executionId: string;
  metric: MetricRow;
  value: number | null;
  category: string | null;
  source: string;
  comment: string | null;
  scoredBy: string;
}

// Multi-row statements in a few fixed sizes (statements are cached by their text).
const SCORE_CHUNKS = [100, 10, 1];
const upsertScoresSql = (rows: number) => {
  const tuples = Array.from({ length: rows }, (_, r) => {
    const n = r * 8;
    return `($${n + 1}::uuid, $${n + 2}::uuid, $${n + 3}::float, $${n + 4}::text, $${n + 5}::text, $${n + 6}::text, $${n + 7}::timestamptz, $${n + 8}::text)`;
  });
  // VALUES names its columns column1, column2, ... on both databases; SQLite's upsert wants a WHERE after a SELECT's join.
  return `INSERT INTO execution_scores (execution_id, metric_id, value, category, source, comment, scored_at, scored_by,
                                   prompt_id, prompt_version_id, environment, executed_at)
     SELECT e.id, v.column2, v.column3, v.column4, v.column5, v.column6, v.column7, v.column8, e.prompt_id, e.prompt_version_id, e.environment, e.executed_at
       FROM (VALUES ${tuples.join(', ')}) AS v JOIN prompt_executions e ON e.id = v.column1
      WHERE true
     ON CONFLICT (execution_id, metric_id, source) DO UPDATE
        SET value = excluded.value, category = excluded.category, comment = excluded.comment,
            scored_at = excluded.scored_at, scored_by = excluded.scored_by`;
};
const UPSERT_SCORES = new Map(SCORE_CHUNKS.map((n) => [n, upsertScoresSql(n)]));

/**
 * Stores scores as upsertScore does, up to 100 in a statement, without reading them back (an
 * experiment's group of results). A score of an execution not stored is skipped, as there. At most
 * one score per (execution, metric, source) in one call.
 */
export async function upsertScores(tx: Transaction, scores: readonly ScoreInput[]): Promise<void> {
  const at = new Date().toISOString();
  let i = 0;
  for (const size of SCORE_CHUNKS) {
    for (; scores.length - i >= size; i += size) {
      await tx.run(
        UPSERT_SCORES.get(size)!,
        scores.slice(i, i + size).flatMap((s) => [s.executionId, s.metric.id, s.value, s.category, s.source, s.comment, at, s.scoredBy]),
      );
    }
  }
}

export interface ScoreAggregate {
  version_id: string;
  metric: string;
  type: MetricType;
  /** Categorical metrics: the category; others null. */
  category: string | null;
  count: number;
  /** Sum of values (numeric; boolean as 0/1). */
  sum: number;
}

/** Scores of one prompt's executions, per version, metric and category; bounds optional (null: unbounded). */
export async function scoreAggregates(
  db: Queryable,
  f: { promptId: string; environment: string | null; from: string | null; to: string | null },
): Promise<ScoreAggregate[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT a.version_id, a.category, a.n, a.total, m.name, m.type FROM (
       SELECT prompt_version_id AS version_id, metric_id, category, COUNT(*) AS n, SUM(value) AS total
         FROM execution_scores
        WHERE prompt_id = $1 AND ($2::text IS NULL OR environment = $2::text)
          AND ($3::timestamptz IS NULL OR executed_at >= $3::timestamptz) AND ($4::timestamptz IS NULL OR executed_at < $4::timestamptz)
        GROUP BY prompt_version_id, metric_id, category
     ) a JOIN metrics m ON m.id = a.metric_id`,
    [f.promptId, f.environment, f.from, f.to],
  );
  return rows.map((r) => ({
    version_id: String(r.version_id),
    metric: String(r.name),
    type: r.type as MetricType,
    category: (r.category as string | null) ?? null,
    count: Number(r.n),
    sum: r.total === null || r.total === undefined ? 0 : Number(r.total),
  }));
}

/** Every metric, by name (for comparisons). */
export async function allMetrics(db: Queryable): Promise<MetricRow[]> {
  return (await db.all<Record<string, unknown>>(`SELECT ${METRIC_COLUMNS} FROM metrics ORDER BY name`)).map(toMetric);
}
