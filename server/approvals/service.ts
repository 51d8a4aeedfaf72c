import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database, Transaction } from '../db/index.js';
import { AppError, conflict, notFound } from '../errors.js';
import type { ChangeFeed } from '../events.js';
import type { DeployPath, PlannedChange } from '../deployments/deploy-path.js';
import type { EnvironmentService } from '../environments/service.js';
import type { PolicyView } from '../environments/schemas.js';
import * as prompts from '../prompts/repository.js';
import * as repo from './repository.js';
import type { DecisionRow, RequestFilter, RequestRow } from './repository.js';
import type { RequestView } from './schemas.js';

function view(r: RequestRow, decisions: DecisionRow[], now = Date.now()): RequestView {
  const mine = decisions.filter((d) => d.request_id === r.id);
  // A pending request past its expiry is expired, whether or not anything has written that yet.
  const status = r.status === 'pending' && Date.parse(r.expires_at) <= now ? 'expired' : r.status;
  return {
    id: r.id,
    prompt: r.prompt,
    environment: r.environment,
    action: r.action,
    version: r.version_number,
    from_version: r.from_version,
    comment: r.comment,
    requested_by: r.requested_by,
    requested_credential: r.requested_credential,
    requested_at: r.requested_at,
    expires_at: r.expires_at,
    status,
    required_approvals: r.required_approvals,
    approvals: mine.filter((d) => d.decision === 'approve').length,
    decisions: mine.map(({ request_id: _id, person: _person, ...d }) => d),
    decided_at: r.decided_at,
    deployment_id: r.deployment_id,
    live_version: r.live_version,
    // What approvers were shown ("from_version -> version") is no longer what approving would do.
    outdated: status === 'pending' && r.live_version !== r.from_version,
    ...(r.action === 'rollout_start' || r.action === 'rollout_abort' ? { rollout: { weight: r.rollout_weight, guard: r.rollout_guard, id: r.rollout_id } } : {}),
  };
}

/** 409 request_outdated: something else went live since the request was made (`live`: what is live now). */
function outdated(req: RequestRow, live: number | null) {
  const now = live === null ? 'nothing' : `version ${live}`;
  const then = req.from_version === null ? 'nothing' : `version ${req.from_version}`;
  return conflict(
    'request_outdated',
    `${now} of "${req.prompt}" is live in ${req.environment} now, not ${then} as when this ${req.action} to version ${req.version_number} was requested; reject it and request again`,
    { prompt: req.prompt, environment: req.environment, current_version: live, from_version: req.from_version, version: req.version_number },
  );
}

/**
 * Deployment requests: where an environment's policy needs approvals, the deploy path (deploys,
 * rollbacks, rollout changes) leaves the change here as a pending request, and it takes effect when
 * enough other people approve it. The final approval applies it through the deploy path in its own
 * transaction, with the request row locked, so two approvers at once apply it once.
 */
export class ApprovalService {
  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    private readonly environments: EnvironmentService,
    private readonly path: DeployPath,
  ) {
    path.onRequest((tx, actor, policy, change) => this.request(tx, actor, policy, change));
  }

  /** A pending request for the change, in the deploy path's transaction. */
  private async request(tx: Transaction, actor: Principal, policy: PolicyView, r: PlannedChange): Promise<RequestView> {
    const now = new Date();
    // Asking again for what is already waiting (a retried CI job, a double click) answers the waiting request.
    const waiting = await repo.findPending(tx, {
      promptId: r.promptId,
      environment: policy.environment,
      action: r.action,
      version: r.version,
      fromVersion: r.fromVersion,
      now: now.toISOString(),
      rolloutWeight: r.rollout?.weight,
    });
    if (waiting) return view(waiting, await repo.decisionsFor(tx, [waiting.id]));
    const row = await repo.insertRequest(tx, {
      promptId: r.promptId,
      environment: policy.environment,
      action: r.action,
      version: r.version,
      fromVersion: r.fromVersion,
      comment: r.comment ?? null,
      requestedBy: actor.name,
      requestedPerson: actor.person,
      credential: actor.credential,
      requestedAt: now.toISOString(),
      expiresAt: new Date(now.getTime() + policy.approval_ttl_hours * 3_600_000).toISOString(),
      requiredApprovals: policy.required_approvals,
      rollout: r.rollout,
    });
    await recordAudit(tx, actor, {
      action: 'deployment_request.created',
      prompt: r.name,
      environment: policy.environment,
      targetId: row.id,
      details: { request_action: r.action, version: r.version, from_version: r.fromVersion, required_approvals: policy.required_approvals, expires_at: row.expires_at },
    });
    await this.feed.publish(tx, { type: 'deployment_request.created', prompt: r.name, environment: policy.environment, version: r.version, request_id: row.id, status: 'pending' });
    return view(row, []);
  }

  async get(id: string): Promise<RequestView> {
    const row = await repo.getRequest(this.db, id);
    if (!row) throw notFound('request_not_found', `no deployment request ${id}`);
    return view(row, await repo.decisionsFor(this.db, [id]));
  }

  async list(f: Omit<RequestFilter, 'now'>): Promise<RequestView[]> {
    const rows = await repo.listRequests(this.db, { ...f, now: new Date().toISOString() });
    const decisions = await repo.decisionsFor(this.db, rows.map((r) => r.id));
    const now = Date.now();
    return rows.map((r) => view(r, decisions, now));
  }

  approve(actor: Principal, id: string, comment?: string): Promise<RequestView> {
    return this.decide(actor, id, 'approve', comment);
  }

  reject(actor: Principal, id: string, comment?: string): Promise<RequestView> {
    return this.decide(actor, id, 'reject', comment);
  }

  /**
   * Refuses to approve a request whose environment changed since it was made
   * (deploys and rollbacks alike): the approver was shown "from_version ->
   * version". The prompt stays locked until the transaction ends, so nothing
   * goes live between this check and the deployment the approval makes.
   */
  private async assertCurrent(tx: Transaction, req: RequestRow): Promise<void> {
    const prompt = await prompts.lockPrompt(tx, req.prompt);
    const live = prompt ? await this.path.liveVersion(tx, prompt.id, req.environment) : null;
    if (live !== req.from_version) throw outdated(req, live);
  }

  private async decide(actor: Principal, id: string, decision: 'approve' | 'reject', comment: string | undefined): Promise<RequestView> {
    // An expired request is marked so in a transaction that commits, then refused.
    const outcome = await this.db.transaction(async (tx) => {
      const req = await repo.lockRequest(tx, id);
      if (!req) throw notFound('request_not_found', `no deployment request ${id}`);
      // People, not credentials: one person's second key (or their sign-in) is still them.
      const own = actor.person === req.requested_person;
      // The requester may withdraw; everyone else needs the right to deploy there, checked before anything
      // about the request's state is answered or recorded in their name.
      if (!own) this.environments.requireDeploy(actor, await this.environments.policy(req.environment, tx), decision === 'approve' ? 'approve deploys to' : 'reject deploys to');
      const at = new Date().toISOString();
      if (req.status === 'pending' && Date.parse(req.expires_at) <= Date.now()) {
        await repo.setStatus(tx, id, 'expired', at);
        await recordAudit(tx, actor, { action: 'deployment_request.expired', prompt: req.prompt, environment: req.environment, targetId: id });
        return { expired: req as RequestRow | undefined };
      }
      if (req.status !== 'pending') {
        throw conflict('request_not_pending', `this request is already ${req.status}; nothing more can be decided on it`, { status: req.status });
      }
      if (decision === 'approve') await this.assertCurrent(tx, req);

      if (own && decision === 'approve') {
        const via = actor.name === req.requested_by ? '' : ` (as "${req.requested_by}")`;
        throw new AppError('forbidden', 'self_approval', `"${actor.person}" asked for this ${req.action}${via}; it needs approval from someone else`);
      }
      const earlier = await repo.decisionsFor(tx, [id]);
      if (earlier.some((d) => d.person === actor.person)) {
        throw conflict('already_decided', `"${actor.person}" has already decided on this request`);
      }
      await repo.insertDecision(tx, { requestId: id, actor: actor.name, person: actor.person, credential: actor.credential, decision, comment: comment ?? null, at });
      const approvers = [...earlier.filter((d) => d.decision === 'approve').map((d) => d.actor), ...(decision === 'approve' ? [actor.name] : [])];
      await recordAudit(tx, actor, {
        action: decision === 'approve' ? 'deployment_request.approved' : 'deployment_request.rejected',
        prompt: req.prompt,
        environment: req.environment,
        targetId: id,
        details: { approvals: approvers.length, required_approvals: req.required_approvals, comment: comment ?? null },
      });
      let status: repo.RequestStatus = 'pending';
      let deploymentId: string | null = null;
      if (decision === 'reject') {
        status = 'rejected';
      } else if (approvers.length >= req.required_approvals) {
        // The requester deploys; the final approver is who the audit entry names, with everyone who approved.
        const details = { request_id: id, requested_by: req.requested_by, approved_by: approvers };
        deploymentId = await this.path.applyApproved(tx, actor, req, { requestedBy: req.requested_by, details });
        status = 'applied';
      }
      if (status !== 'pending') {
        await repo.setStatus(tx, id, status, at, deploymentId);
        await this.feed.publish(tx, { type: 'deployment_request.decided', prompt: req.prompt, environment: req.environment, version: req.version_number, request_id: id, status });
      }
      return { expired: undefined };
    });
    if (outcome.expired) {
      throw conflict('request_expired', `this request expired at ${outcome.expired.expires_at}; ask for the ${outcome.expired.action} again`, { status: 'expired' });
    }
    return this.get(id);
  }
}
