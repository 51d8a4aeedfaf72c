import type { Queryable, Transaction } from '../db/index.js';
import { listParam, stringArray, timestamp } from '../db/values.js';

export interface PolicyRow {
  environment: string;
  deploy_scopes: string[];
  required_approvals: number;
  approval_ttl_hours: number;
  updated_at: string;
  updated_by: string;
}

const COLUMNS = 'environment, deploy_scopes, required_approvals, approval_ttl_hours, updated_at, updated_by';

function toPolicy(r: Record<string, unknown>): PolicyRow {
  return {
    environment: String(r.environment),
    deploy_scopes: stringArray(r.deploy_scopes),
    required_approvals: Number(r.required_approvals),
    approval_ttl_hours: Number(r.approval_ttl_hours),
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
  p: { environment: string; deployScopes: string[]; requiredApprovals: number; approvalTtlHours: number; updatedBy: string },
): Promise<PolicyRow> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO environment_policies (environment, deploy_scopes, required_approvals, approval_ttl_hours, updated_at, updated_by)
     VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (environment) DO UPDATE SET deploy_scopes = excluded.deploy_scopes, required_approvals = excluded.required_approvals,
       approval_ttl_hours = excluded.approval_ttl_hours, updated_at = excluded.updated_at, updated_by = excluded.updated_by
     RETURNING ${COLUMNS}`,
    [p.environment, listParam(tx.dialect, p.deployScopes), p.requiredApprovals, p.approvalTtlHours, new Date().toISOString(), p.updatedBy],
  );
  return toPolicy(row!);
}
