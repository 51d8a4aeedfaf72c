import type { Queryable, Transaction } from '../db/index.js';
import { json, nullableTimestamp, timestamp } from '../db/values.js';
import type { Guard } from '../rollouts/schemas.js';

export type RequestStatus = 'pending' | 'rejected' | 'expired' | 'applied';

export type RequestAction = 'deploy' | 'rollback' | 'rollout_start' | 'rollout_abort';

export interface RequestRow {
  id: string;
  prompt: string;
  environment: string;
  action: RequestAction;
  version_number: number;
  from_version: number | null;
  comment: string | null;
  requested_by: string;
  /** The person who asked (rows before 0005: the credential name). */
  requested_person: string;
  requested_credential: string;
  requested_at: string;
  expires_at: string;
  required_approvals: number;
  /** As stored: a pending request past its expiry is still 'pending' here until something touches it. */
  status: RequestStatus;
  decided_at: string | null;
  deployment_id: string | null;
  /** What is live in the request's environment now (null: nothing). */
  live_version: number | null;
  /** rollout_start: the weight and guard asked for; rollout_abort: the rollout to end. */
  rollout_weight: number | null;
  rollout_guard: Guard | null;
  rollout_id: string | null;
}

export interface DecisionRow {
  request_id: string;
  actor: string;
  /** The person who decided (rows before 0005: the credential name). */
  person: string;
  credential: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  decided_at: string;
}

const SELECT_REQUEST = `
  SELECT r.id, p.name AS prompt, r.environment, r.action, r.version_number, r.from_version, r.comment, r.requested_by,
         COALESCE(r.requested_person, r.requested_by) AS requested_person, r.requested_credential, r.requested_at, r.expires_at, r.required_approvals, r.status, r.decided_at, r.deployment_id,
         r.rollout_weight, r.rollout_guard, r.rollout_id,
         (SELECT lv.version_number FROM prompt_deployments ld JOIN prompt_versions lv ON lv.id = ld.prompt_version_id
           WHERE ld.prompt_id = r.prompt_id AND ld.environment = r.environment AND ld.is_active) AS live_version
    FROM deployment_requests r JOIN prompts p ON p.id = r.prompt_id`;

function toRequest(r: Record<string, unknown>): RequestRow {
  return {
    id: String(r.id),
    prompt: String(r.prompt),
    environment: String(r.environment),
    action: r.action as RequestRow['action'],
    version_number: Number(r.version_number),
    from_version: r.from_version === null || r.from_version === undefined ? null : Number(r.from_version),
    comment: (r.comment as string | null) ?? null,
    requested_by: String(r.requested_by),
    requested_person: String(r.requested_person),
    requested_credential: String(r.requested_credential),
    requested_at: timestamp(r.requested_at),
    expires_at: timestamp(r.expires_at),
    required_approvals: Number(r.required_approvals),
    status: r.status as RequestStatus,
    decided_at: nullableTimestamp(r.decided_at),
    deployment_id: (r.deployment_id as string | null) ?? null,
    live_version: r.live_version === null || r.live_version === undefined ? null : Number(r.live_version),
    rollout_weight: r.rollout_weight === null || r.rollout_weight === undefined ? null : Number(r.rollout_weight),
    rollout_guard: r.rollout_guard === null || r.rollout_guard === undefined ? null : (json(r.rollout_guard) as Guard),
    rollout_id: (r.rollout_id as string | null) ?? null,
  };
}

export async function insertRequest(
  tx: Transaction,
  r: {
    promptId: string;
    environment: string;
    action: RequestRow['action'];
    version: number;
    fromVersion: number | null;
    comment: string | null;
    requestedBy: string;
    requestedPerson: string;
    credential: string;
    requestedAt: string;
    expiresAt: string;
    requiredApprovals: number;
    rollout?: { weight?: number | undefined; guard?: Guard | null | undefined; id?: string | undefined } | undefined;
  },
): Promise<RequestRow> {
  const inserted = await tx.get<{ id: string }>(
    `INSERT INTO deployment_requests (prompt_id, environment, action, version_number, from_version, comment, requested_by, requested_credential,
       requested_at, expires_at, required_approvals, requested_person, rollout_weight, rollout_guard, rollout_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
    [
      r.promptId,
      r.environment,
      r.action,
      r.version,
      r.fromVersion,
      r.comment,
      r.requestedBy,
      r.credential,
      r.requestedAt,
      r.expiresAt,
      r.requiredApprovals,
      r.requestedPerson,
      r.rollout?.weight ?? null,
      r.rollout?.guard ? JSON.stringify(r.rollout.guard) : null,
      r.rollout?.id ?? null,
    ],
  );
  return (await getRequest(tx, inserted!.id))!;
}

export async function getRequest(db: Queryable, id: string): Promise<RequestRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`${SELECT_REQUEST} WHERE r.id = $1`, [id]);
  return row && toRequest(row);
}

/**
 * A pending, unexpired request for the same change from the same live version,
 * so asking twice answers the first request (but an outdated one is not reused).
 */
export async function findPending(
  tx: Transaction,
  r: { promptId: string; environment: string; action: RequestRow['action']; version: number; fromVersion: number | null; now: string; rolloutWeight?: number | undefined },
): Promise<RequestRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(
    `${SELECT_REQUEST} WHERE r.prompt_id = $1 AND r.environment = $2 AND r.action = $3 AND r.version_number = $4
        AND r.status = 'pending' AND r.expires_at > $5::timestamptz
        AND (r.from_version = $6::integer OR (r.from_version IS NULL AND $6::integer IS NULL))
        AND (r.rollout_weight = $7::integer OR (r.rollout_weight IS NULL AND $7::integer IS NULL))
      ORDER BY r.requested_at LIMIT 1`,
    [r.promptId, r.environment, r.action, r.version, r.now, r.fromVersion, r.rolloutWeight ?? null],
  );
  return row && toRequest(row);
}

/** Locks the request row until the transaction ends (SQLite's one writer already serialises), then reads it with its joins. */
export async function lockRequest(tx: Transaction, id: string): Promise<RequestRow | undefined> {
  await tx.get(`SELECT id FROM deployment_requests WHERE id = $1${tx.sql.forUpdate}`, [id]);
  return getRequest(tx, id);
}

export async function setStatus(tx: Transaction, id: string, status: RequestStatus, at: string, deploymentId: string | null = null): Promise<void> {
  await tx.run('UPDATE deployment_requests SET status = $2, decided_at = $3, deployment_id = $4 WHERE id = $1', [id, status, at, deploymentId]);
}

export async function insertDecision(
  tx: Transaction,
  d: { requestId: string; actor: string; person: string; credential: string; decision: DecisionRow['decision']; comment: string | null; at: string },
): Promise<void> {
  await tx.run(
    'INSERT INTO deployment_approvals (request_id, actor, person, credential, decision, comment, decided_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
    [d.requestId, d.actor, d.person, d.credential, d.decision, d.comment, d.at],
  );
}

export async function decisionsFor(db: Queryable, ids: readonly string[]): Promise<DecisionRow[]> {
  if (ids.length === 0) return [];
  const rows = await db.all<Record<string, unknown>>(
    `SELECT request_id, actor, COALESCE(person, actor) AS person, credential, decision, comment, decided_at FROM deployment_approvals
      WHERE ${db.sql.inList('request_id', 1, 'uuid')} ORDER BY id`,
    [db.sql.list(ids)],
  );
  return rows.map((r) => ({
    request_id: String(r.request_id),
    actor: String(r.actor),
    person: String(r.person),
    credential: String(r.credential),
    decision: r.decision as DecisionRow['decision'],
    comment: (r.comment as string | null) ?? null,
    decided_at: timestamp(r.decided_at),
  }));
}

export interface RequestFilter {
  /** 'pending' and 'expired' are judged against `now`. */
  status?: RequestStatus | undefined;
  prompt?: string | undefined;
  environment?: string | undefined;
  requestedBy?: string | undefined;
  now: string;
  /** Requests older than this (requested_at, id) cursor. */
  before?: [string, string] | undefined;
  limit: number;
}

export async function listRequests(db: Queryable, f: RequestFilter): Promise<RequestRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `${SELECT_REQUEST}
      WHERE ($1::text IS NULL
             OR ($1::text = 'pending' AND r.status = 'pending' AND r.expires_at > $5::timestamptz)
             OR ($1::text = 'expired' AND (r.status = 'expired' OR (r.status = 'pending' AND r.expires_at <= $5::timestamptz)))
             OR ($1::text NOT IN ('pending', 'expired') AND r.status = $1::text))
        AND ($2::text IS NULL OR p.name = $2::text) AND ($3::text IS NULL OR r.environment = $3::text)
        AND ($4::text IS NULL OR r.requested_by = $4::text)
        AND ($6::timestamptz IS NULL OR r.requested_at < $6::timestamptz OR (r.requested_at = $6::timestamptz AND r.id < $7::uuid))
      ORDER BY r.requested_at DESC, r.id DESC
      LIMIT $8`,
    [f.status ?? null, f.prompt ?? null, f.environment ?? null, f.requestedBy ?? null, f.now, f.before?.[0] ?? null, f.before?.[1] ?? null, f.limit],
  );
  return rows.map(toRequest);
}
