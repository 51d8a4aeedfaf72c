import type { Principal } from '../auth/principal.js';
import type { Queryable, Transaction } from '../db/index.js';
import { json, timestamp } from '../db/values.js';

export interface AuditEntry {
  action: string;
  prompt?: string | undefined;
  environment?: string | undefined;
  targetId?: string | undefined;
  details?: Record<string, unknown>;
}

/** Records a change in the same transaction as the change, so neither exists without the other. */
export async function recordAudit(tx: Transaction, actor: Principal, entry: AuditEntry): Promise<void> {
  await tx.run(
    `INSERT INTO audit_log (actor, credential, action, prompt_name, environment, target_id, details)
     VALUES ($1, $2, $3, $4, $5, $6, $7)`,
    [actor.name, actor.credential, entry.action, entry.prompt ?? null, entry.environment ?? null, entry.targetId ?? null, JSON.stringify(entry.details ?? {})],
  );
}

export interface AuditRecord {
  id: number;
  occurred_at: string;
  actor: string;
  credential: string | null;
  action: string;
  prompt: string | null;
  environment: string | null;
  target_id: string | null;
  details: Record<string, unknown>;
}

export interface AuditFilter {
  actor?: string | undefined;
  /** An action, or a family of them: `deployment_request.*`. */
  action?: string | undefined;
  credential?: string | undefined;
  prompt?: string | undefined;
  environment?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  /** Entries older than this id (cursor). */
  before?: number | undefined;
  limit: number;
}

export async function listAudit(db: Queryable, f: AuditFilter): Promise<AuditRecord[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT id, occurred_at, actor, credential, action, prompt_name, environment, target_id, details
       FROM audit_log
      WHERE ($1::text IS NULL OR actor = $1::text) AND ($2::text IS NULL OR action = $2::text)
        AND ($9::text IS NULL OR substr(action, 1, length($9::text)) = $9::text) AND ($10::text IS NULL OR credential = $10::text)
        AND ($3::text IS NULL OR prompt_name = $3::text) AND ($4::text IS NULL OR environment = $4::text)
        AND ($5::timestamptz IS NULL OR occurred_at >= $5::timestamptz) AND ($6::timestamptz IS NULL OR occurred_at < $6::timestamptz)
        AND ($7::bigint IS NULL OR id < $7::bigint)
      ORDER BY id DESC
      LIMIT $8`,
    [
      f.actor ?? null,
      f.action?.endsWith('.*') ? null : (f.action ?? null),
      f.prompt ?? null,
      f.environment ?? null,
      f.from ?? null,
      f.to ?? null,
      f.before ?? null,
      f.limit,
      f.action?.endsWith('.*') ? f.action.slice(0, -1) : null,
      f.credential ?? null,
    ],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    occurred_at: timestamp(r.occurred_at),
    actor: String(r.actor),
    credential: (r.credential as string | null) ?? null,
    action: String(r.action),
    prompt: (r.prompt_name as string | null) ?? null,
    environment: (r.environment as string | null) ?? null,
    target_id: (r.target_id as string | null) ?? null,
    details: json(r.details) as Record<string, unknown>,
  }));
}
