import type { Queryable, Transaction } from '../db/index.js';
import { timestamp } from '../db/values.js';

export type RetentionAction = 'delete' | 'redact';

export interface PolicyRow {
  id: string;
  prompt_id: string | null;
  prompt: string | null;
  environment: string | null;
  days: number;
  action: RetentionAction;
  created_at: string;
  created_by: string;
}

/** How specific a policy is: prompt and environment 3, prompt 2, environment 1, the default 0. */
export const SPECIFICITY = 'CASE WHEN r.prompt_id IS NULL THEN 0 ELSE 2 END + CASE WHEN r.environment IS NULL THEN 0 ELSE 1 END';

export function specificity(p: { prompt_id: string | null; environment: string | null }): number {
  return (p.prompt_id === null ? 0 : 2) + (p.environment === null ? 0 : 1);
}

export async function listPolicies(db: Queryable): Promise<PolicyRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT r.id, r.prompt_id, p.name AS prompt, r.environment, r.days, r.action, r.created_at, r.created_by
       FROM retention_policies r LEFT JOIN prompts p ON p.id = r.prompt_id
      ORDER BY ${SPECIFICITY} DESC, p.name, r.environment`,
  );
  return rows.map((r) => ({
    id: String(r.id),
    prompt_id: (r.prompt_id as string | null) ?? null,
    prompt: (r.prompt as string | null) ?? null,
    environment: (r.environment as string | null) ?? null,
    days: Number(r.days),
    action: r.action as RetentionAction,
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
  }));
}

/** Replaces every policy with these. */
export async function replacePolicies(
  tx: Transaction,
  policies: ReadonlyArray<{ promptId: string | null; environment: string | null; days: number; action: RetentionAction }>,
  createdBy: string,
): Promise<void> {
  await tx.run('DELETE FROM retention_policies');
  const createdAt = new Date().toISOString();
  for (const p of policies) {
    await tx.run('INSERT INTO retention_policies (prompt_id, environment, days, action, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6)', [
      p.promptId,
      p.environment,
      p.days,
      p.action,
      createdAt,
      createdBy,
    ]);
  }
}

// The executions a policy governs and has expired: in its scope, older than the
// cutoff, and not in the scope of a more specific policy (which governs them
// instead). A redaction skips executions already redacted.
const GOVERNED = `
  FROM prompt_executions e
 WHERE e.executed_at < $1::timestamptz
   AND ($2::uuid IS NULL OR e.prompt_id = $2::uuid) AND ($3::text IS NULL OR e.environment = $3::text)
   AND NOT EXISTS (SELECT 1 FROM retention_policies r
                    WHERE ${SPECIFICITY} > $4::int
                      AND (r.prompt_id IS NULL OR r.prompt_id = e.prompt_id) AND (r.environment IS NULL OR r.environment = e.environment))
   AND ($5::text = 'delete' OR e.redacted_at IS NULL)`;

const params = (p: PolicyRow, cutoff: string) => [cutoff, p.prompt_id, p.environment, specificity(p), p.action];

/** How many executions the policy would delete or redact now. */
export async function countGoverned(db: Queryable, p: PolicyRow, cutoff: string): Promise<number> {
  const row = await db.get<{ n: number }>(`SELECT COUNT(*) AS n ${GOVERNED}`, params(p, cutoff));
  return Number(row?.n ?? 0);
}

/**
 * Deletes or redacts the next `limit` executions the policy governs, oldest
 * first, from `after` (the executed_at the previous batch reached), while the
 * policy still exists. Answers the executed_at of each row it changed.
 */
export async function applyBatch(tx: Transaction, p: PolicyRow, cutoff: string, after: string | null, limit: number): Promise<string[]> {
  const batch = `SELECT e.id ${GOVERNED}
       AND ($6::timestamptz IS NULL OR e.executed_at >= $6::timestamptz)
       AND EXISTS (SELECT 1 FROM retention_policies WHERE id = $7::uuid)
     ORDER BY e.executed_at LIMIT $8`;
  const values = [...params(p, cutoff), after, p.id, limit];
  const rows =
    p.action === 'delete'
      ? await tx.all<{ executed_at: unknown }>(`DELETE FROM prompt_executions WHERE id IN (${batch}) RETURNING executed_at`, values)
      : await tx.all<{ executed_at: unknown }>(
          `UPDATE prompt_executions SET input_variables = NULL, rendered_prompt = NULL, response = NULL,
                  messages = NULL, response_messages = NULL, tool_calls = NULL, redacted_at = $9::timestamptz
            WHERE id IN (${batch}) RETURNING executed_at`,
          [...values, new Date().toISOString()],
        );
  return rows.map((r) => timestamp(r.executed_at));
}
