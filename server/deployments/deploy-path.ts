import type { RequestAction, RequestRow } from '../approvals/repository.js';
import type { RequestView } from '../approvals/schemas.js';
import type { Principal } from '../auth/principal.js';
import type { Database, Queryable, Transaction } from '../db/index.js';
import type { PolicyView } from '../environments/schemas.js';
import type { EnvironmentService } from '../environments/service.js';
import type { Guard } from '../rollouts/schemas.js';
import * as repo from './repository.js';

/** A change waiting for approvals: what its deployment request records. */
export interface PlannedChange {
  promptId: string;
  name: string;
  action: RequestAction;
  version: number;
  /** What is live now: approving refuses the request once this has changed. */
  fromVersion: number | null;
  comment?: string | undefined;
  rollout?: { weight?: number | undefined; guard?: Guard | null | undefined; id?: string | undefined } | undefined;
}

/** One deploy action (a deploy, a rollback, a rollout's start, promotion or abort) as the path runs it. */
export interface DeployStep<T> {
  /** What the actor is doing, for a refusal: "deploy to", "roll back", "start a rollout in". */
  verb: string;
  /** Checks that need no transaction, made once the environment is known. */
  validate?(): Promise<void>;
  /** Applies it now, in the path's transaction. */
  apply(tx: Transaction): Promise<T>;
  /**
   * Where the policy needs approvals: every check as if it were applied now, writing nothing, and the
   * change the request records; or `applied`, when there is nothing to ask (nothing would change).
   */
  plan(tx: Transaction): Promise<{ change: PlannedChange } | { applied: T }>;
}

export type StepOutcome<T> = { applied: T } | { request: RequestView };

/** What changed the live version, for the hooks that run in the same transaction. */
export interface LiveChange {
  promptId: string;
  name: string;
  environment: string;
  version: number;
}

/** The approvals module: makes the pending request for a planned change. */
export type RequestMaker = (tx: Transaction, actor: Principal, policy: PolicyView, change: PlannedChange) => Promise<RequestView>;
/** Applies an approved request of one action in the approval's transaction; answers the deployment it made, if any. */
export type ApprovedApplier = (tx: Transaction, actor: Principal, req: RequestRow, as: { requestedBy: string; details: Record<string, unknown> }) => Promise<string | null>;
/** Runs inside every transaction that changes the live version (rollouts: a deploy outside a rollout ends it). */
export type LiveChangeHook = (tx: Transaction, actor: Principal, change: LiveChange) => Promise<void>;

/**
 * The one way anything changes what an environment serves. `run` takes a deploy action through its
 * environment (asserted once, here), the actor's right to deploy there under the environment's policy,
 * then applies it, or, where the policy needs approvals, checks it as if applied and leaves it as a
 * pending request, which approval applies later through `applyApproved`. The steps call `admit`
 * (the evaluation gate) before a version serves traffic, and `liveChanged` when the live version moves.
 *
 * What plugs in: the approvals module makes the requests (`onRequest`); each action's module says how an
 * approved request of it is applied (`onApproved`: deployments for deploy and rollback, rollouts for
 * theirs); rollouts watch live changes (`onLiveChange`).
 */
export class DeployPath {
  private requests: RequestMaker | undefined;
  private readonly appliers = new Map<RequestAction, ApprovedApplier>();
  private readonly liveChangeHooks: LiveChangeHook[] = [];

  constructor(
    private readonly db: Database,
    readonly environments: EnvironmentService,
  ) {}

  onRequest(make: RequestMaker): void {
    this.requests = make;
  }

  onApproved(action: RequestAction, apply: ApprovedApplier): void {
    this.appliers.set(action, apply);
  }

  onLiveChange(hook: LiveChangeHook): void {
    this.liveChangeHooks.push(hook);
  }

  async run<T>(actor: Principal, environment: string, step: DeployStep<T>): Promise<StepOutcome<T>> {
    this.environments.assert(environment);
    await step.validate?.();
    return this.db.transaction(async (tx) => {
      const policy = await this.environments.policyOf(tx, environment);
      this.environments.requireDeploy(actor, policy, step.verb);
      if (policy.required_approvals === 0) return { applied: await step.apply(tx) };
      const planned = await step.plan(tx);
      if ('applied' in planned) return { applied: planned.applied };
      // Set when the app is put together: missing, the server was wired without approvals.
      if (!this.requests) throw new Error('the deploy path has no approvals module to take requests');
      return { request: await this.requests(tx, actor, policy, planned.change) };
    });
  }

  /** Applies an approved request by its action's applier, in the approval's transaction; answers the deployment made, if any. */
  async applyApproved(tx: Transaction, actor: Principal, req: RequestRow, as: { requestedBy: string; details: Record<string, unknown> }): Promise<string | null> {
    const apply = this.appliers.get(req.action);
    if (!apply) throw new Error(`the deploy path has no applier for ${req.action} requests`);
    return apply(tx, actor, req, as);
  }

  /** The checks before a version serves traffic in an environment: its policy's evaluation gate. */
  admit(tx: Transaction, change: LiveChange): Promise<void> {
    return this.environments.requireEvaluation(tx, change);
  }

  /** Tells the hooks that the live version is changing, inside the change's transaction. */
  async liveChanged(tx: Transaction, actor: Principal, change: LiveChange): Promise<void> {
    for (const hook of this.liveChangeHooks) await hook(tx, actor, change);
  }

  /** The version live in an environment now, if any. */
  async liveVersion(db: Queryable, promptId: string, environment: string): Promise<number | null> {
    return (await repo.activeDeployment(db, promptId, environment))?.version_number ?? null;
  }
}
