import type { Queryable, Transaction } from '../db/index.js';
import { bool, json, nullableTimestamp, timestamp } from '../db/values.js';
import type { DraftInput } from '../runs/schemas.js';

export type ExperimentStatus = 'queued' | 'running' | 'completed' | 'cancelled' | 'failed';

export interface ExperimentRow {
  id: string;
  prompt: string;
  dataset: string;
  dataset_id: string;
  dataset_version: number;
  versions: number[];
  /** Unpublished bodies it runs; their results carry the version -1, -2, ... (position, negated). */
  drafts: ExperimentDraft[];
  evaluators: unknown[];
  provider: string | null;
  model: string | null;
  concurrency: number;
  status: ExperimentStatus;
  total: number;
  error: string | null;
  created_at: string;
  created_by: string;
  started_at: string | null;
  finished_at: string | null;
}

export interface ExperimentDraft {
  label: string;
  body: DraftInput;
}

export interface ResultRow {
  item_seq: number;
  /** A version, or a draft as -(its position + 1). */
  version: number;
  status: 'ok' | 'error';
  output: string | null;
  error: string | null;
  latency_ms: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
  execution_id: string | null;
  scores: Record<string, { score: number; passed: boolean; reason: string }>;
  passed: boolean;
}

const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

const SELECT = `SELECT x.id, p.name AS prompt, d.name AS dataset, x.dataset_id, x.dataset_version, x.versions, x.drafts, x.evaluators, x.provider, x.model,
  x.concurrency, x.status, x.total, x.error, x.created_at, x.created_by, x.started_at, x.finished_at
  FROM experiments x JOIN prompts p ON p.id = x.prompt_id JOIN datasets d ON d.id = x.dataset_id`;

function experiment(r: Record<string, unknown>): ExperimentRow {
  return {
    id: String(r.id),
    prompt: String(r.prompt),
    dataset: String(r.dataset),
    dataset_id: String(r.dataset_id),
    dataset_version: Number(r.dataset_version),
    versions: json(r.versions) as number[],
    drafts: json(r.drafts) as ExperimentDraft[],
    evaluators: json(r.evaluators) as unknown[],
    provider: (r.provider as string | null) ?? null,
    model: (r.model as string | null) ?? null,
    concurrency: Number(r.concurrency),
    status: r.status as ExperimentStatus,
    total: Number(r.total),
    error: (r.error as string | null) ?? null,
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
    started_at: nullableTimestamp(r.started_at),
    finished_at: nullableTimestamp(r.finished_at),
  };
}

const RESULT_COLUMNS = 'item_seq, version, status, output, error, latency_ms, input_tokens, output_tokens, cost_usd, execution_id, scores, passed';

function result(r: Record<string, unknown>): ResultRow {
  return {
    item_seq: Number(r.item_seq),
    version: Number(r.version),
    status: r.status === 'error' ? 'error' : 'ok',
    output: (r.output as string | null) ?? null,
    error: (r.error as string | null) ?? null,
    latency_ms: num(r.latency_ms),
    input_tokens: num(r.input_tokens),
    output_tokens: num(r.output_tokens),
    cost_usd: num(r.cost_usd),
    execution_id: (r.execution_id as string | null) ?? null,
    scores: json(r.scores) as ResultRow['scores'],
    passed: bool(r.passed),
  };
}

export async function insertExperiment(
  tx: Transaction,
  x: { promptId: string; datasetId: string; datasetVersion: number; versions: number[]; drafts: ExperimentDraft[]; evaluators: unknown[]; provider: string | null; model: string | null; concurrency: number; total: number; createdBy: string },
): Promise<string> {
  const row = await tx.get<{ id: string }>(
    `INSERT INTO experiments (prompt_id, dataset_id, dataset_version, versions, drafts, evaluators, provider, model, concurrency, total, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
    [x.promptId, x.datasetId, x.datasetVersion, JSON.stringify(x.versions), JSON.stringify(x.drafts), JSON.stringify(x.evaluators), x.provider, x.model, x.concurrency, x.total, x.createdBy],
  );
  return String(row!.id);
}

export async function findExperiment(db: Queryable, id: string): Promise<ExperimentRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`${SELECT} WHERE x.id = $1`, [id]);
  return row && experiment(row);
}

export async function statusOf(db: Queryable, id: string): Promise<ExperimentStatus | undefined> {
  const row = await db.get<{ status: ExperimentStatus }>('SELECT status FROM experiments WHERE id = $1', [id]);
  return row?.status;
}

/** Takes one experiment that is queued, or running with its lease run out (its server stopped or died). */
export async function claim(tx: Transaction, owner: string, now: string, leaseUntil: string): Promise<string | undefined> {
  const row = await tx.get<{ id: string }>(
    `SELECT id FROM experiments WHERE status IN ('queued', 'running') AND (lease_until IS NULL OR lease_until < $1) ORDER BY created_at LIMIT 1${tx.sql.forUpdateSkipLocked()}`,
    [now],
  );
  if (!row) return undefined;
  await tx.run(
    `UPDATE experiments SET status = 'running', lease_owner = $2, lease_until = $3, started_at = COALESCE(started_at, $4) WHERE id = $1`,
    [row.id, owner, leaseUntil, now],
  );
  return String(row.id);
}

export async function renew(db: Transaction, id: string, owner: string, leaseUntil: string): Promise<void> {
  await db.run(`UPDATE experiments SET lease_until = $3 WHERE id = $1 AND lease_owner = $2 AND status = 'running'`, [id, owner, leaseUntil]);
}

/** Lets go of an experiment still running (this server is stopping): another takes it up at once. */
export async function release(db: Transaction, id: string, owner: string): Promise<void> {
  await db.run(`UPDATE experiments SET lease_until = NULL, lease_owner = NULL WHERE id = $1 AND lease_owner = $2 AND status = 'running'`, [id, owner]);
}

export async function finish(db: Transaction, id: string, status: 'completed' | 'failed', error: string | null, at: string): Promise<void> {
  await db.run(`UPDATE experiments SET status = $2, error = $3, finished_at = $4, lease_until = NULL WHERE id = $1 AND status = 'running'`, [id, status, error, at]);
}

export async function cancel(db: Transaction, id: string, at: string): Promise<boolean> {
  return (await db.run(`UPDATE experiments SET status = 'cancelled', finished_at = $2, lease_until = NULL WHERE id = $1 AND status IN ('queued', 'running')`, [id, at])) > 0;
}

// Multi-row statements in a few fixed sizes (statements are cached by their text).
const RESULT_CHUNKS = [100, 10, 1];
const insertResultsSql = (rows: number) => {
  const tuples = Array.from({ length: rows }, (_, r) => `(${Array.from({ length: 13 }, (_, c) => `$${r * 13 + c + 1}`).join(', ')})`);
  return `INSERT INTO experiment_results (experiment_id, ${RESULT_COLUMNS}) VALUES ${tuples.join(', ')}
     ON CONFLICT (experiment_id, item_seq, version) DO NOTHING`;
};
const INSERT_RESULTS = new Map(RESULT_CHUNKS.map((n) => [n, insertResultsSql(n)]));

/** Stores results, up to 100 in a statement (a group of finished runs); a result stored already is kept as it is. */
export async function insertResults(db: Transaction, experimentId: string, results: readonly ResultRow[]): Promise<void> {
  let i = 0;
  for (const size of RESULT_CHUNKS) {
    for (; results.length - i >= size; i += size) {
      await db.run(
        INSERT_RESULTS.get(size)!,
        results.slice(i, i + size).flatMap((r) => [experimentId, r.item_seq, r.version, r.status, r.output, r.error, r.latency_ms, r.input_tokens, r.output_tokens, r.cost_usd, r.execution_id, JSON.stringify(r.scores), r.passed]),
      );
    }
  }
}

export async function doneKeys(db: Queryable, experimentId: string): Promise<Set<string>> {
  const rows = await db.all<{ item_seq: number; version: number }>('SELECT item_seq, version FROM experiment_results WHERE experiment_id = $1', [experimentId]);
  return new Set(rows.map((r) => `${Number(r.item_seq)}:${Number(r.version)}`));
}

export async function allResults(db: Queryable, experimentId: string): Promise<ResultRow[]> {
  const rows = await db.all<Record<string, unknown>>(`SELECT ${RESULT_COLUMNS} FROM experiment_results WHERE experiment_id = $1 ORDER BY item_seq, version`, [experimentId]);
  return rows.map(result);
}

export async function listResults(db: Queryable, experimentId: string, f: { version?: number | undefined; after?: readonly [number, number] | undefined; limit: number }): Promise<ResultRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${RESULT_COLUMNS} FROM experiment_results
      WHERE experiment_id = $1 AND ($2::int IS NULL OR version = $2::int)
        AND ($3::int IS NULL OR item_seq > $3::int OR (item_seq = $3::int AND version > $4::int))
      ORDER BY item_seq, version LIMIT $5`,
    [experimentId, f.version ?? null, f.after?.[0] ?? null, f.after?.[1] ?? null, f.limit],
  );
  return rows.map(result);
}

/** The completed experiments of a prompt on a dataset that ran `version`, newest first (finished at or after `since`, when given). */
export async function passingCandidates(db: Queryable, promptId: string, datasetId: string, since: string | null): Promise<Array<{ id: string; versions: number[]; finished_at: string | null }>> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT id, versions, finished_at FROM experiments
     WHERE prompt_id = $1 AND dataset_id = $2 AND status = 'completed' AND ($3::timestamptz IS NULL OR finished_at >= $3::timestamptz)
     ORDER BY finished_at DESC`,
    [promptId, datasetId, since],
  );
  return rows.map((r) => ({ id: String(r.id), versions: json(r.versions) as number[], finished_at: r.finished_at === null ? null : timestamp(r.finished_at) }));
}
