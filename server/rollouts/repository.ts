import type { Queryable, Transaction } from '../db/index.js';
import { json, nullableTimestamp, timestamp } from '../db/values.js';
import type { Guard } from './schemas.js';

export type RolloutStatus = 'active' | 'promoted' | 'aborted' | 'superseded';

export interface RolloutRow {
  id: string;
  prompt_id: string;
  prompt: string;
  environment: string;
  candidate_version_id: string;
  candidate: number;
  live_version_id: string;
  live: number;
  weight: number;
  guard: Guard | null;
  status: RolloutStatus;
  started_at: string;
  started_by: string;
  updated_at: string;
  ended_at: string | null;
  ended_by: string | null;
  end_reason: string | null;
}

const SELECT_ROLLOUT = `
  SELECT r.id, r.prompt_id, p.name AS prompt, r.environment, r.candidate_version_id, cv.version_number AS candidate,
         r.live_version_id, lv.version_number AS live, r.weight, r.guard, r.status, r.started_at, r.started_by,
         r.updated_at, r.ended_at, r.ended_by, r.end_reason
    FROM prompt_rollouts r
    JOIN prompts p ON p.id = r.prompt_id
    JOIN prompt_versions cv ON cv.id = r.candidate_version_id
    JOIN prompt_versions lv ON lv.id = r.live_version_id`;

function toRollout(r: Record<string, unknown>): RolloutRow {
  return {
    id: String(r.id),
    prompt_id: String(r.prompt_id),
    prompt: String(r.prompt),
    environment: String(r.environment),
    candidate_version_id: String(r.candidate_version_id),
    candidate: Number(r.candidate),
    live_version_id: String(r.live_version_id),
    live: Number(r.live),
    weight: Number(r.weight),
    guard: r.guard === null || r.guard === undefined ? null : (json(r.guard) as Guard),
    status: r.status as RolloutStatus,
    started_at: timestamp(r.started_at),
    started_by: String(r.started_by),
    updated_at: timestamp(r.updated_at),
    ended_at: nullableTimestamp(r.ended_at),
    ended_by: (r.ended_by as string | null) ?? null,
    end_reason: (r.end_reason as string | null) ?? null,
  };
}

export async function activeRollout(db: Queryable, promptId: string, environment: string): Promise<RolloutRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`${SELECT_ROLLOUT} WHERE r.prompt_id = $1 AND r.environment = $2 AND r.status = 'active'`, [promptId, environment]);
  return row && toRollout(row);
}

/** The running rollout by prompt name, in one query (resolve asks on every cache miss). */
export async function activeRolloutByName(db: Queryable, name: string, environment: string): Promise<RolloutRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`${SELECT_ROLLOUT} WHERE p.name = $1 AND r.environment = $2 AND r.status = 'active'`, [name, environment]);
  return row && toRollout(row);
}

/**
 * The rollouts running in an environment (of one prompt, with `prompt`), by prompt name, after the
 * name `after`: a page of a list (at most one runs per prompt and environment, so the name is the key).
 */
export async function activeRollouts(db: Queryable, f: { environment: string; prompt?: string | undefined; after?: string | undefined; limit: number }): Promise<RolloutRow[]> {
  const params: unknown[] = [f.environment];
  let where = `r.environment = $1 AND r.status = 'active'`;
  if (f.prompt !== undefined) {
    params.push(f.prompt);
    where += ` AND p.name = $${params.length}`;
  }
  if (f.after !== undefined) {
    params.push(f.after);
    where += ` AND p.name > $${params.length}`;
  }
  params.push(f.limit);
  const rows = await db.all<Record<string, unknown>>(`${SELECT_ROLLOUT} WHERE ${where} ORDER BY p.name LIMIT $${params.length}`, params);
  return rows.map(toRollout);
}

export async function getRollout(db: Queryable, id: string): Promise<RolloutRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`${SELECT_ROLLOUT} WHERE r.id = $1`, [id]);
  return row && toRollout(row);
}

/** Every running rollout with a guard (few: read again whenever a rollout changes). */
export async function guardedRollouts(db: Queryable): Promise<RolloutRow[]> {
  const rows = await db.all<Record<string, unknown>>(`${SELECT_ROLLOUT} WHERE r.status = 'active' AND r.guard IS NOT NULL`);
  return rows.map(toRollout);
}

export async function insertRollout(
  tx: Transaction,
  r: { promptId: string; environment: string; candidateId: string; liveId: string; weight: number; guard: Guard | null; startedBy: string; at: string },
): Promise<RolloutRow> {
  const inserted = await tx.get<{ id: string }>(
    `INSERT INTO prompt_rollouts (prompt_id, environment, candidate_version_id, live_version_id, weight, guard, started_by, started_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING id`,
    [r.promptId, r.environment, r.candidateId, r.liveId, r.weight, r.guard === null ? null : JSON.stringify(r.guard), r.startedBy, r.at],
  );
  return (await getRollout(tx, inserted!.id))!;
}

export async function updateRollout(tx: Transaction, id: string, r: { weight: number; guard: Guard | null; at: string }): Promise<RolloutRow> {
  await tx.run('UPDATE prompt_rollouts SET weight = $2, guard = $3, updated_at = $4 WHERE id = $1', [id, r.weight, r.guard === null ? null : JSON.stringify(r.guard), r.at]);
  return (await getRollout(tx, id))!;
}

/** Ends a running rollout; answers false when it had already ended (another replica, another request). */
export async function endRollout(tx: Transaction, id: string, e: { status: Exclude<RolloutStatus, 'active'>; by: string; reason: string | null; at: string }): Promise<boolean> {
  const changed = await tx.run(
    `UPDATE prompt_rollouts SET status = $2, ended_by = $3, end_reason = $4, ended_at = $5, updated_at = $5 WHERE id = $1 AND status = 'active'`,
    [id, e.status, e.by, e.reason, e.at],
  );
  return changed > 0;
}

/** A version's row as resolve answers it (the candidate of a rollout). */
export interface CandidateRow {
  version_id: string;
  version_number: number;
  content: string;
  content_hash: string;
  model: string;
  temperature: number;
  max_tokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
}

/**
 * One side of a guard: `metric` over the version's last `window` executions in
 * the environment since `since` (error_rate: the share with status error; latency_ms and
 * quality_score: their mean; another name: the mean of that numeric metric's scores).
 * `count` is how many executions it saw; `value` null when none had the measure.
 */
export async function measure(
  db: Queryable,
  m: { versionId: string; environment: string; since: string; metric: string; window: number },
): Promise<{ count: number; value: number | null }> {
  const recent = `SELECT id, status, latency_ms, quality_score FROM prompt_executions
                   WHERE prompt_version_id = $1 AND environment = $2 AND executed_at >= $3::timestamptz
                   ORDER BY executed_at DESC LIMIT $4`;
  const params = [m.versionId, m.environment, m.since, m.window];
  let sql: string;
  if (m.metric === 'error_rate') {
    sql = `SELECT COUNT(*) AS n, AVG(CASE WHEN e.status = 'error' THEN 1.0 ELSE 0.0 END) AS v FROM (${recent}) e`;
  } else if (m.metric === 'latency_ms' || m.metric === 'quality_score') {
    sql = `SELECT COUNT(*) AS n, AVG(e.${m.metric}) AS v FROM (${recent}) e`;
  } else {
    sql = `SELECT COUNT(*) AS n, AVG(s.value) AS v FROM (${recent}) e
             LEFT JOIN execution_scores s ON s.execution_id = e.id AND s.metric_id = (SELECT id FROM metrics WHERE name = $5)`;
    params.push(m.metric);
  }
  const row = await db.get<{ n: unknown; v: unknown }>(sql, params);
  return { count: Number(row?.n ?? 0), value: row?.v === null || row?.v === undefined ? null : Number(row.v) };
}
