import type { Queryable, Transaction } from '../db/index.js';
import { json, stringArray, timestamp } from '../db/values.js';

/** What a deploy gate requires: a completed experiment of the version on the dataset, passing the threshold. */
export interface EvaluationRequirement {
  dataset: string;
  min_pass_rate: number;
  evaluators?: string[] | undefined;
  max_age_days?: number | undefined;
}

export interface PolicyRow {
  environment: string;
  deploy_scopes: string[];
  required_approvals: number;
  approval_ttl_hours: number;
  evaluation: EvaluationRequirement | null;
  updated_at: string;
  updated_by: string;
}

const COLUMNS = 'environment, deploy_scopes, required_approvals, approval_ttl_hours, evaluation, updated_at, updated_by';

function toPolicy(r: Record<string, unknown>): PolicyRow {
  return {
    environment: String(r.environment),
    deploy_scopes: stringArray(r.deploy_scopes),
    required_approvals: Number(r.required_approvals),
    approval_ttl_hours: Number(r.approval_ttl_hours),
    evaluation: r.evaluation === null || r.evaluation === undefined ? null : (json(r.evaluation) as EvaluationRequirement),
    updated_at: timestamp(r.updated_at),
    updated_by: String(r.updated_by),
  };
}

export async function getPolicy(db: Queryable, environment: string): Promise<PolicyRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM environment_policies WHERE environment = $1`, [environment]);
  return row && toPolicy(row);
}

export async function listPolicies(db: Queryable): Promise<PolicyRow[]> {
  return (await db.all<Record<string, unknown>>(`SELECT ${COLUMNS} FROM environment_policies ORDER BY environment`)).map(toPolicy);
}

export async function upsertPolicy(
  tx: Transaction,
  p: { environment: string; deployScopes: string[]; requiredApprovals: number; approvalTtlHours: number; evaluation: EvaluationRequirement | null; updatedBy: string },
): Promise<PolicyRow> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO environment_policies (environment, deploy_scopes, required_approvals, approval_ttl_hours, evaluation, updated_at, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (environment) DO UPDATE SET deploy_scopes = excluded.deploy_scopes, required_approvals = excluded.required_approvals,
       approval_ttl_hours = excluded.approval_ttl_hours, evaluation = excluded.evaluation, updated_at = excluded.updated_at, updated_by = excluded.updated_by
     RETURNING ${COLUMNS}`,
    [p.environment, tx.sql.list(p.deployScopes), p.requiredApprovals, p.approvalTtlHours, p.evaluation === null ? null : JSON.stringify(p.evaluation), new Date().toISOString(), p.updatedBy],
  );
  return toPolicy(row!);
}
