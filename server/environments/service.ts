import { recordAudit } from '../audit/repository.js';
import { grants, SCOPE_PATTERN, type Principal } from '../auth/principal.js';
import type { Database, Queryable } from '../db/index.js';
import { forbidden, invalid } from '../errors.js';
import type { DeploymentService } from '../deployments/service.js';
import * as repo from './repository.js';
import type { PolicyRow } from './repository.js';
import type { PolicyView } from './schemas.js';

export const DEFAULT_APPROVAL_TTL_HOURS = 72;

function view(environment: string, row: PolicyRow | undefined): PolicyView {
  const deployScopes = row?.deploy_scopes.length ? row.deploy_scopes : [`deploy:${environment}`];
  return {
    environment,
    protected: Boolean(row && (row.required_approvals > 0 || row.deploy_scopes.length > 0)),
    require_approval: (row?.required_approvals ?? 0) > 0,
    deploy_scopes: deployScopes,
    required_approvals: row?.required_approvals ?? 0,
    approval_ttl_hours: row?.approval_ttl_hours ?? DEFAULT_APPROVAL_TTL_HOURS,
    updated_at: row?.updated_at ?? null,
    updated_by: row?.updated_by ?? null,
  };
}

/**
 * Per-environment deploy policy: which scopes may deploy (they narrow
 * deploy:ENV, never widen it) and how many other people must approve a
 * deploy or rollback first. Stored in the database and changed by admins
 * only, every change audited.
 */
export class EnvironmentService {
  constructor(
    private readonly db: Database,
    private readonly deployments: DeploymentService,
  ) {}

  get names(): readonly string[] {
    return this.deployments.environments;
  }

  /** The policy in force, read through `db` (a transaction, to decide on what it reads). */
  async policy(environment: string, db: Queryable = this.db): Promise<PolicyView> {
    this.deployments.assertEnvironment(environment);
    return view(environment, await repo.getPolicy(db, environment));
  }

  async list(): Promise<PolicyView[]> {
    const rows = new Map((await repo.listPolicies(this.db)).map((r) => [r.environment, r]));
    return this.names.map((name) => view(name, rows.get(name)));
  }

  async setPolicy(actor: Principal, environment: string, input: { deploy_scopes: string[]; required_approvals: number; approval_ttl_hours: number }): Promise<PolicyView> {
    this.deployments.assertEnvironment(environment);
    const bad = input.deploy_scopes.find((s) => !SCOPE_PATTERN.test(s));
    if (bad !== undefined) throw invalid('invalid_scope', `unknown scope "${bad}": use deploy:${environment}, deploy or admin`, { scope: bad });
    const scopes = [...new Set(input.deploy_scopes)];
    return this.db.transaction(async (tx) => {
      const before = view(environment, await repo.getPolicy(tx, environment));
      const row = await repo.upsertPolicy(tx, {
        environment,
        deployScopes: scopes,
        requiredApprovals: input.required_approvals,
        approvalTtlHours: input.approval_ttl_hours,
        updatedBy: actor.name,
      });
      const after = view(environment, row);
      await recordAudit(tx, actor, {
        action: 'environment.policy_updated',
        environment,
        details: {
          before: { deploy_scopes: before.deploy_scopes, required_approvals: before.required_approvals, approval_ttl_hours: before.approval_ttl_hours },
          after: { deploy_scopes: after.deploy_scopes, required_approvals: after.required_approvals, approval_ttl_hours: after.approval_ttl_hours },
        },
      });
      return after;
    });
  }

  /** Whether `principal` may deploy to the policy's environment: deploy:ENV, and one of the policy's scopes. */
  mayDeploy(principal: Principal, policy: PolicyView): boolean {
    return grants(principal.scopes, `deploy:${policy.environment}`) && policy.deploy_scopes.some((s) => grants(principal.scopes, s));
  }

  requireDeploy(principal: Principal, policy: PolicyView, what = 'deploy to'): void {
    if (this.mayDeploy(principal, policy)) return;
    throw forbidden(
      `"${principal.name}" may not ${what} ${policy.environment}: its policy needs one of ${policy.deploy_scopes.join(', ')} (the credential has: ${principal.scopes.join(', ') || 'none'})`,
      { required_scope: policy.deploy_scopes.join(' | '), environment: policy.environment },
    );
  }
}
