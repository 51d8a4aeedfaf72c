import { recordAudit } from '../audit/repository.js';
import { grants, SCOPE_PATTERN, type Principal } from '../auth/principal.js';
import type { Database, Queryable } from '../db/index.js';
import { conflict, forbidden, invalid } from '../errors.js';
import * as datasetRepo from '../datasets/repository.js';
import * as experimentRepo from '../experiments/repository.js';
import { aggregate } from '../experiments/service.js';
import * as repo from './repository.js';
import type { EvaluationRequirement, PolicyRow } from './repository.js';
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
    evaluation: row?.evaluation ?? null,
    updated_at: row?.updated_at ?? null,
    updated_by: row?.updated_by ?? null,
  };
}

/**
 * The environments versions are deployed to (configured at start) and their
 * deploy policies: which scopes may deploy (they narrow deploy:ENV, never
 * widen it), how many other people must approve a deploy or rollback first,
 * and the evaluation a version must have passed (the deploy gate). Policies
 * are stored in the database and changed by admins only, every change
 * audited. Deployments, approvals and rollouts ask here.
 */
export class EnvironmentService {
  constructor(
    private readonly db: Database,
    readonly names: readonly string[],
  ) {}

  /** Refuses a name that is not one of this registry's environments (400 unknown_environment). */
  assert(environment: string): void {
    if (!this.names.includes(environment)) {
      throw invalid('unknown_environment', `unknown environment "${environment}"; this registry has: ${this.names.join(', ')}`, {
        environment,
        environments: this.names,
      });
    }
  }

  /** The policy in force, read through `db` (a transaction, to decide on what it reads). */
  async policy(environment: string, db: Queryable = this.db): Promise<PolicyView> {
    this.assert(environment);
    return this.policyOf(db, environment);
  }

  /** The policy of an environment the caller has asserted, read through `db`. */
  async policyOf(db: Queryable, environment: string): Promise<PolicyView> {
    return view(environment, await repo.getPolicy(db, environment));
  }

  async list(): Promise<PolicyView[]> {
    const rows = new Map((await repo.listPolicies(this.db)).map((r) => [r.environment, r]));
    return this.names.map((name) => view(name, rows.get(name)));
  }

  async setPolicy(
    actor: Principal,
    environment: string,
    input: { deploy_scopes: string[]; required_approvals: number; approval_ttl_hours: number; evaluation: EvaluationRequirement | null },
  ): Promise<PolicyView> {
    this.assert(environment);
    const bad = input.deploy_scopes.find((s) => !SCOPE_PATTERN.test(s));
    if (bad !== undefined) throw invalid('invalid_scope', `unknown scope "${bad}": use deploy:${environment}, deploy or admin`, { scope: bad });
    const scopes = [...new Set(input.deploy_scopes)];
    const evaluation = input.evaluation && { ...input.evaluation, ...(input.evaluation.evaluators ? { evaluators: [...new Set(input.evaluation.evaluators)] } : {}) };
    return this.db.transaction(async (tx) => {
      if (evaluation && !(await datasetRepo.findDataset(tx, evaluation.dataset))) {
        throw invalid('dataset_not_found', `evaluation.dataset: no dataset named "${evaluation.dataset}"; create it first`, { field: 'evaluation.dataset' });
      }
      const before = view(environment, await repo.getPolicy(tx, environment));
      const row = await repo.upsertPolicy(tx, {
        environment,
        deployScopes: scopes,
        requiredApprovals: input.required_approvals,
        approvalTtlHours: input.approval_ttl_hours,
        evaluation,
        updatedBy: actor.name,
      });
      const after = view(environment, row);
      await recordAudit(tx, actor, {
        action: 'environment.policy_updated',
        environment,
        details: {
          before: { deploy_scopes: before.deploy_scopes, required_approvals: before.required_approvals, approval_ttl_hours: before.approval_ttl_hours, evaluation: before.evaluation },
          after: { deploy_scopes: after.deploy_scopes, required_approvals: after.required_approvals, approval_ttl_hours: after.approval_ttl_hours, evaluation: after.evaluation },
        },
      });
      return after;
    });
  }

  /**
   * The deploy gate: where the environment's policy requires an evaluation, `version` of the prompt
   * may go live only if a completed experiment on the policy's dataset (any dataset version; within
   * max_age_days when set) ran it with a pass rate of at least min_pass_rate, and with each named
   * evaluator's mean score at least min_pass_rate too. Else a 409 evaluation_required saying what is
   * missing and the best pass rate found. Read through `db` (the deploy's transaction); the environment
   * is the caller's to have asserted.
   */
  async requireEvaluation(db: Queryable, change: { promptId: string; name: string; environment: string; version: number }): Promise<void> {
    const policy = await this.policyOf(db, change.environment);
    const need = policy.evaluation;
    if (!need) return;
    const names = need.evaluators ?? [];
    const wanted =
      `a completed experiment on dataset "${need.dataset}" with a pass rate of at least ${need.min_pass_rate}` +
      (names.length ? ` and a mean score of at least ${need.min_pass_rate} on ${names.map((n) => `"${n}"`).join(', ')}` : '') +
      (need.max_age_days ? `, finished within ${need.max_age_days} days` : '');
    const details = { environment: change.environment, prompt: change.name, version: change.version, dataset: need.dataset, min_pass_rate: need.min_pass_rate, evaluators: names, max_age_days: need.max_age_days ?? null };
    const refuse = (found: string, best: { pass_rate: number | null; experiment_id: string } | null) =>
      conflict('evaluation_required', `version ${change.version} of "${change.name}" may not be deployed to ${change.environment}: its policy requires ${wanted}; ${found}`, {
        ...details,
        best_pass_rate: best?.pass_rate ?? null,
        best_experiment_id: best?.experiment_id ?? null,
      });
    const dataset = await datasetRepo.findDataset(db, need.dataset);
    if (!dataset) throw refuse(`the dataset "${need.dataset}" no longer exists`, null);
    const since = need.max_age_days ? new Date(Date.now() - need.max_age_days * 86_400_000).toISOString() : null;
    const candidates = (await experimentRepo.passingCandidates(db, change.promptId, dataset.id, since)).filter((x) => x.versions.includes(change.version));
    let best: { pass_rate: number | null; experiment_id: string } | null = null;
    for (const x of candidates) {
      const [agg] = aggregate([change.version], names, await experimentRepo.allResults(db, x.id));
      const rate = agg?.pass_rate ?? null;
      if (rate !== null && rate >= need.min_pass_rate && names.every((n) => (agg!.mean_scores[n] ?? -1) >= need.min_pass_rate)) return;
      if (!best || (rate ?? -1) > (best.pass_rate ?? -1)) best = { pass_rate: rate, experiment_id: x.id };
    }
    if (!best) throw refuse(`no such experiment ran version ${change.version}`, null);
    throw refuse(`the best found is a pass rate of ${best.pass_rate ?? 'none'} (experiment ${best.experiment_id})${names.length ? ', or a named evaluator fell short or did not run' : ''}`, best);
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
