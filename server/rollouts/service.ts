import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database, Queryable, Transaction } from '../db/index.js';
import * as deploymentsRepo from '../deployments/repository.js';
import type { ResolvedRow } from '../deployments/repository.js';
import type { DeploymentService, RolloutSplit } from '../deployments/service.js';
import type { DeployPath, LiveChange, StepOutcome } from '../deployments/deploy-path.js';
import type { RequestRow } from '../approvals/repository.js';
import type { RequestView } from '../approvals/schemas.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { ChangeFeed } from '../events.js';
import { findMetric } from '../metrics/repository.js';
import * as prompts from '../prompts/repository.js';
import * as repo from './repository.js';
import type { RolloutRow } from './repository.js';
import { BUILTIN_GUARD_METRICS, type Guard, type RolloutView } from './schemas.js';

function view(r: RolloutRow): RolloutView {
  return {
    id: r.id,
    prompt: r.prompt,
    environment: r.environment,
    candidate: r.candidate,
    live: r.live,
    weight: r.weight,
    guard: r.guard,
    status: r.status,
    started_at: r.started_at,
    started_by: r.started_by,
    updated_at: r.updated_at,
    ended_at: r.ended_at,
    ended_by: r.ended_by,
    end_reason: r.end_reason,
  };
}

export interface RolloutInput {
  candidate: number;
  weight: number;
  guard?: Guard | null | undefined;
  comment?: string | undefined;
}

/** Who the audit log names when a guard aborts a rollout. */
export const GUARD_PRINCIPAL: Principal = { name: 'rollout-guard', person: 'rollout-guard', scopes: [], credential: 'system:rollout-guard' };

/** What a guard saw: each side's measure over its last executions, and whether it crossed. */
export interface GuardReading {
  candidate: { value: number | null; executions: number };
  live: { value: number | null; executions: number } | null;
  crossed: boolean;
  reason: string;
}

const fmt = (n: number) => String(Math.round(n * 10_000) / 10_000);

/** Whether a guard's readings cross it, and the sentence that says so. */
export function judge(guard: Guard, candidate: number, live: number | null): { crossed: boolean; reason: string } {
  const what = `${guard.metric} of the candidate over its last ${guard.window} executions`;
  switch (guard.comparison) {
    case 'above':
      return { crossed: candidate > guard.threshold, reason: `${what} is ${fmt(candidate)}, above the threshold ${fmt(guard.threshold)}` };
    case 'below':
      return { crossed: candidate < guard.threshold, reason: `${what} is ${fmt(candidate)}, below the threshold ${fmt(guard.threshold)}` };
    case 'above_live':
      return {
        crossed: live !== null && candidate - live > guard.threshold,
        reason: `${what} is ${fmt(candidate)}, more than ${fmt(guard.threshold)} above the live version's ${fmt(live ?? 0)}`,
      };
    case 'below_live':
      return {
        crossed: live !== null && live - candidate > guard.threshold,
        reason: `${what} is ${fmt(candidate)}, more than ${fmt(guard.threshold)} below the live version's ${fmt(live ?? 0)}`,
      };
  }
}

/**
 * Gradual rollouts: a candidate version served to a share of the keys beside
 * the live version in an environment, until it is promoted (deployed) or
 * aborted, by a person or by its guard. Starting, changing, promoting and
 * aborting are deploy actions: the environment's deploy scopes, audited, one
 * transaction each, a `rollout.changed` event after commit.
 */
export class RolloutService {
  /** Running guarded rollouts by `${candidate_version_id}\n${environment}`, read again after any rollout change. */
  private guarded: Promise<Map<string, RolloutRow>> | undefined;
  /** Rollouts whose guard is being checked, and those to check again after. */
  private readonly checking = new Set<string>();
  private readonly recheck = new Set<string>();

  private readonly path: DeployPath;

  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    private readonly deployments: DeploymentService,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    this.path = deployments.path;
    deployments.rolloutSplit = (db, name, environment, live) => this.split(db, name, environment, live);
    // A deploy or rollback outside the rollout changes what it was measured against: the rollout ends.
    this.path.onLiveChange((tx, actor, change) => this.supersede(tx, actor, change));
    this.path.onApproved('rollout_start', async (tx, actor, req, as) => {
      const input = { candidate: req.version_number, weight: req.rollout_weight!, guard: req.rollout_guard, comment: req.comment ?? undefined };
      await this.startIn(tx, actor, req.prompt, req.environment, input, { startedBy: as.requestedBy, details: as.details });
      return null;
    });
    this.path.onApproved('rollout_abort', async (tx, actor, req, as) => {
      await this.applyAbort(tx, actor, req, as.details);
      return null;
    });
    feed.subscribe((event) => {
      if (event.type === 'rollout.changed') this.guarded = undefined;
    });
    feed.onResumed(() => (this.guarded = undefined));
  }

  async get(name: string, environment: string): Promise<RolloutView> {
    this.path.environments.assert(environment);
    const prompt = await prompts.findPrompt(this.db, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    const rollout = await repo.activeRollout(this.db, prompt.id, environment);
    if (!rollout) throw notFound('no_rollout', `no rollout of "${name}" is running in ${environment}`, { prompt: name, environment });
    return view(rollout);
  }

  /** The rollouts running in an environment (of one prompt, with `prompt`), a page by prompt name; the caller fetches limit + 1. */
  async list(f: { environment: string; prompt?: string | undefined; after?: string | undefined; limit: number }): Promise<RolloutView[]> {
    this.path.environments.assert(f.environment);
    return (await repo.activeRollouts(this.db, f)).map(view);
  }

  /**
   * Starts a rollout, or changes the weight (and guard) of the one running for the same candidate.
   * Everything is checked before anything is written. Where the environment needs approvals, the
   * change waits as a deployment request (rollout_start) and happens when it is approved.
   */
  async start(
    actor: Principal,
    name: string,
    environment: string,
    input: RolloutInput,
  ): Promise<{ rollout: RolloutView; created: boolean; request?: undefined } | { request: RequestView; rollout?: undefined; created?: undefined }> {
    const guard = input.guard ?? null;
    const outcome = await this.path.run<{ rollout: RolloutView; created: boolean }>(actor, environment, {
      verb: 'start a rollout in',
      validate: async () => {
        if (!guard || (BUILTIN_GUARD_METRICS as readonly string[]).includes(guard.metric)) return;
        const metric = await findMetric(this.db, guard.metric);
        if (!metric) throw invalid('unknown_metric', `guard.metric: no metric named "${guard.metric}"; use error_rate, latency_ms, quality_score or a numeric metric`, { field: 'guard.metric' });
        if (metric.type !== 'numeric') throw invalid('unknown_metric', `guard.metric: "${guard.metric}" is a ${metric.type} metric; a guard watches a numeric one`, { field: 'guard.metric' });
      },
      apply: (tx) => this.startIn(tx, actor, name, environment, input),
      plan: async (tx) => {
        // Checked as if it happened now, so a request that cannot be applied is refused at once.
        const planned = await this.startIn(tx, actor, name, environment, input, { dryRun: true });
        if (!planned.changes) return { applied: planned };
        const change = { promptId: planned.promptId, name, action: 'rollout_start' as const, version: input.candidate, fromVersion: planned.live, comment: input.comment, rollout: { weight: input.weight, guard } };
        return { change };
      },
    });
    return 'request' in outcome ? { request: outcome.request } : { rollout: outcome.applied.rollout, created: outcome.applied.created };
  }

  /**
   * Starts or changes a rollout inside the caller's transaction. `dryRun`: every check, nothing written;
   * `changes` says whether it would write, `live` what is live.
   */
  private async startIn(
    tx: Transaction,
    actor: Principal,
    name: string,
    environment: string,
    input: RolloutInput,
    opts: { dryRun?: boolean; startedBy?: string; details?: Record<string, unknown> } = {},
  ): Promise<{ rollout: RolloutView; created: boolean; changes: boolean; live: number; promptId: string }> {
    const guard = input.guard ?? null;
    const prompt = await prompts.lockPrompt(tx, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    const candidate = await prompts.getVersion(tx, prompt.id, input.candidate);
    if (!candidate) throw notFound('version_not_found', `candidate: "${name}" has no version ${input.candidate}`, { prompt: name, field: 'candidate', version: input.candidate });
    const live = await deploymentsRepo.activeDeployment(tx, prompt.id, environment);
    if (!live) {
      throw conflict('nothing_live', `nothing of "${name}" is live in ${environment}: deploy a version first, then roll the candidate out beside it`, { prompt: name, environment });
    }
    const at = new Date().toISOString();
    const details = { comment: input.comment ?? null, ...opts.details };
    const running = await repo.activeRollout(tx, prompt.id, environment);
    if (running) {
      if (running.candidate !== input.candidate) {
        throw conflict(
          'rollout_exists',
          `a rollout of version ${running.candidate} of "${name}" is already running in ${environment}; promote or abort it before rolling out version ${input.candidate}`,
          { prompt: name, environment, rollout_id: running.id, candidate: running.candidate },
        );
      }
      const unchanged = running.weight === input.weight && JSON.stringify(running.guard) === JSON.stringify(guard);
      if (unchanged || opts.dryRun) return { rollout: view(running), created: false, changes: !unchanged, live: live.version_number, promptId: prompt.id };
      const updated = await repo.updateRollout(tx, running.id, { weight: input.weight, guard, at });
      await recordAudit(tx, actor, {
        action: 'rollout.updated',
        prompt: name,
        environment,
        targetId: running.id,
        details: { candidate: running.candidate, live: running.live, weight: input.weight, previous_weight: running.weight, guard, ...details },
      });
      await this.publish(tx, updated);
      return { rollout: view(updated), created: false, changes: true, live: live.version_number, promptId: prompt.id };
    }
    if (live.prompt_version_id === candidate.id) {
      throw conflict('candidate_is_live', `candidate: version ${input.candidate} of "${name}" is already live in ${environment}; roll out another version`, {
        prompt: name,
        environment,
        field: 'candidate',
        version: input.candidate,
      });
    }
    // A candidate serves real traffic: the environment's evaluation gate applies (when asked, and again when applied).
    await this.path.admit(tx, { promptId: prompt.id, name, environment, version: input.candidate });
    if (opts.dryRun) {
      const planned = { id: '', prompt: name, environment, candidate: input.candidate, live: live.version_number, weight: input.weight, guard };
      const rollout: RolloutView = { ...planned, status: 'active', started_at: at, started_by: actor.name, updated_at: at, ended_at: null, ended_by: null, end_reason: null };
      return { rollout, created: true, changes: true, live: live.version_number, promptId: prompt.id };
    }
    const created = await repo.insertRollout(tx, {
      promptId: prompt.id,
      environment,
      candidateId: candidate.id,
      liveId: live.prompt_version_id,
      weight: input.weight,
      guard,
      startedBy: opts.startedBy ?? actor.name,
      at,
    });
    await recordAudit(tx, actor, {
      action: 'rollout.started',
      prompt: name,
      environment,
      targetId: created.id,
      details: { candidate: created.candidate, live: created.live, weight: created.weight, guard, ...details },
    });
    await this.publish(tx, created);
    return { rollout: view(created), created: true, changes: true, live: live.version_number, promptId: prompt.id };
  }

  /**
   * The candidate becomes the live version (a deploy, recorded as one) and the rollout ends. Where the
   * environment needs approvals, the promotion is a deployment request for the candidate instead: the
   * rollout runs on until the request is applied, and ends as promoted then.
   */
  async promote(actor: Principal, name: string, environment: string, comment?: string): Promise<{ rollout: RolloutView; request?: undefined } | { request: RequestView; rollout?: undefined }> {
    const outcome = await this.path.run(actor, environment, {
      verb: 'promote a rollout in',
      apply: (tx) => this.promoteIn(tx, actor, name, environment, comment),
      plan: async (tx) => {
        const rollout = await this.lockRunning(tx, name, environment);
        return { change: await this.deployments.planDeploy(tx, name, rollout.candidate, environment, comment ?? `promote the rollout of version ${rollout.candidate}`) };
      },
    });
    return this.answer(outcome);
  }

  private async promoteIn(tx: Transaction, actor: Principal, name: string, environment: string, comment?: string): Promise<RolloutView> {
    const rollout = await this.lockRunning(tx, name, environment);
    const at = new Date().toISOString();
    await repo.endRollout(tx, rollout.id, { status: 'promoted', by: actor.name, reason: comment ?? null, at });
    const { deployment } = await this.deployments.deployIn(tx, actor, name, rollout.candidate, environment, { details: { rollout_id: rollout.id } });
    await recordAudit(tx, actor, {
      action: 'rollout.promoted',
      prompt: name,
      environment,
      targetId: rollout.id,
      details: { candidate: rollout.candidate, live: rollout.live, weight: rollout.weight, deployment_id: deployment.id, comment: comment ?? null },
    });
    const ended = (await repo.getRollout(tx, rollout.id))!;
    await this.publish(tx, ended);
    return view(ended);
  }

  /**
   * Back to the live version for every key, and the rollout ends with its reason. Where the environment
   * needs approvals, the abort waits as a deployment request (rollout_abort). A guard aborts at once.
   */
  async abort(actor: Principal, name: string, environment: string, reason?: string): Promise<{ rollout: RolloutView; request?: undefined } | { request: RequestView; rollout?: undefined }> {
    const outcome = await this.path.run(actor, environment, {
      verb: 'abort a rollout in',
      apply: async (tx) => {
        const rollout = await this.lockRunning(tx, name, environment);
        await this.end(tx, actor, rollout, { status: 'aborted', reason: reason ?? 'aborted by hand', details: {} });
        return view((await repo.getRollout(tx, rollout.id))!);
      },
      plan: async (tx) => {
        const rollout = await this.lockRunning(tx, name, environment);
        const change = { promptId: rollout.prompt_id, name, action: 'rollout_abort' as const, version: rollout.candidate, fromVersion: rollout.live, comment: reason, rollout: { id: rollout.id } };
        return { change };
      },
    });
    return this.answer(outcome);
  }

  private answer(outcome: StepOutcome<RolloutView>): { rollout: RolloutView; request?: undefined } | { request: RequestView; rollout?: undefined } {
    return 'request' in outcome ? { request: outcome.request } : { rollout: outcome.applied };
  }

  /** Applies an approved rollout_abort request, in the approval's transaction. */
  private async applyAbort(tx: Transaction, actor: Principal, req: RequestRow, details: Record<string, unknown>): Promise<void> {
    const rollout = await this.lockRunning(tx, req.prompt, req.environment);
    if (rollout.id !== req.rollout_id) {
      throw conflict('request_outdated', `the rollout this abort was requested for has ended; reject the request`, { prompt: req.prompt, environment: req.environment });
    }
    await this.end(tx, actor, rollout, { status: 'aborted', reason: req.comment ?? 'aborted by an approved request', details });
  }

  /** The split resolve answers with: the running rollout on `live` (a version id), with its candidate. */
  private async split(db: Queryable, name: string, environment: string, live: ResolvedRow): Promise<RolloutSplit | undefined> {
    const rollout = await repo.activeRolloutByName(db, name, environment);
    if (!rollout || rollout.live_version_id !== live.version_id) return undefined;
    const candidate = (await prompts.getVersion(db, rollout.prompt_id, rollout.candidate))!;
    return {
      rollout: { id: rollout.id, candidate: rollout.candidate, live: rollout.live, weight: rollout.weight },
      candidate: {
        prompt: name,
        version_id: candidate.id,
        version_number: candidate.version_number,
        type: candidate.type,
        content: candidate.content!,
        messages: candidate.messages ?? null,
        config: candidate.config,
        input_schema: candidate.input_schema,
        includes: candidate.includes,
        content_hash: candidate.content_hash,
        model: candidate.model,
        temperature: candidate.temperature,
        max_tokens: candidate.max_tokens,
        variables: candidate.variables,
        metadata: candidate.metadata,
        deployment_id: live.deployment_id,
        deployed_at: rollout.started_at,
      },
    };
  }

  /**
   * Checks the guards of the rollouts whose candidate these executions ran, after they are stored.
   * Never throws: a failure goes to onError.
   */
  executionsStored(records: ReadonlyArray<{ prompt_version_id: string; environment: string | null }>): void {
    void (async () => {
      const guarded = await (this.guarded ??= repo.guardedRollouts(this.db).then((rows) => new Map(rows.map((r) => [`${r.candidate_version_id}\n${r.environment}`, r]))));
      if (guarded.size === 0) return;
      const due = new Set<RolloutRow>();
      for (const e of records) {
        const rollout = e.environment === null ? undefined : guarded.get(`${e.prompt_version_id}\n${e.environment}`);
        if (rollout) due.add(rollout);
      }
      await Promise.all([...due].map((r) => this.checkGuard(r)));
    })().catch((err: unknown) => {
      this.guarded = undefined;
      this.onError(err);
    });
  }

  /** What a rollout's guard reads now (for the check, and for tests and docs). */
  async readGuard(rollout: RolloutRow): Promise<GuardReading | undefined> {
    const guard = rollout.guard;
    if (!guard) return undefined;
    const side = (versionId: string) =>
      repo.measure(this.db, { versionId, environment: rollout.environment, since: rollout.started_at, metric: guard.metric, window: guard.window });
    const candidate = await side(rollout.candidate_version_id);
    const relative = guard.comparison === 'above_live' || guard.comparison === 'below_live';
    const live = relative ? await side(rollout.live_version_id) : null;
    const reading = { candidate: { value: candidate.value, executions: candidate.count }, live: live && { value: live.value, executions: live.count } };
    // Judged once the candidate has a full window, against a live version that has run too.
    if (candidate.count < guard.window || candidate.value === null || (relative && (live === null || live.count === 0 || live.value === null))) {
      return { ...reading, crossed: false, reason: 'not enough executions yet' };
    }
    return { ...reading, ...judge(guard, candidate.value, live?.value ?? null) };
  }

  private async checkGuard(rollout: RolloutRow): Promise<void> {
    if (this.checking.has(rollout.id)) {
      this.recheck.add(rollout.id);
      return;
    }
    this.checking.add(rollout.id);
    try {
      do {
        this.recheck.delete(rollout.id);
        const reading = await this.readGuard(rollout);
        if (!reading?.crossed) continue;
        await this.db.transaction(async (tx) => {
          await prompts.lockPrompt(tx, rollout.prompt);
          const current = await repo.getRollout(tx, rollout.id);
          if (current?.status !== 'active') return; // ended meanwhile (by hand, or another replica's check)
          await this.end(tx, GUARD_PRINCIPAL, current, {
            status: 'aborted',
            reason: `guard: ${reading.reason}`,
            details: { automatic: true, guard: current.guard, candidate_reading: reading.candidate, live_reading: reading.live },
          });
        });
        return;
      } while (this.recheck.has(rollout.id));
    } finally {
      this.checking.delete(rollout.id);
      this.recheck.delete(rollout.id);
    }
  }

  /**
   * Ends the rollout running on an environment whose live version a deploy or rollback just changed:
   * promoted when the candidate went live (an approved promotion), else superseded.
   */
  private async supersede(tx: Transaction, actor: Principal, change: LiveChange): Promise<void> {
    const rollout = await repo.activeRollout(tx, change.promptId, change.environment);
    if (!rollout) return;
    if (change.version === rollout.candidate) {
      await this.end(tx, actor, rollout, { status: 'promoted', reason: `version ${change.version}, the candidate, was deployed`, details: {} });
    } else {
      await this.end(tx, actor, rollout, { status: 'superseded', reason: `version ${change.version} went live in ${change.environment} outside the rollout`, details: {} });
    }
  }

  private async end(
    tx: Transaction,
    actor: Principal,
    rollout: RolloutRow,
    e: { status: 'aborted' | 'superseded' | 'promoted'; reason: string; details: Record<string, unknown> },
  ): Promise<void> {
    await repo.endRollout(tx, rollout.id, { status: e.status, by: actor.name, reason: e.reason, at: new Date().toISOString() });
    await recordAudit(tx, actor, {
      action: `rollout.${e.status}`,
      prompt: rollout.prompt,
      environment: rollout.environment,
      targetId: rollout.id,
      details: { candidate: rollout.candidate, live: rollout.live, weight: rollout.weight, reason: e.reason, ...e.details },
    });
    await this.publish(tx, { ...rollout, status: e.status });
  }

  private async lockRunning(tx: Transaction, name: string, environment: string): Promise<RolloutRow> {
    const prompt = await prompts.lockPrompt(tx, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    const rollout = await repo.activeRollout(tx, prompt.id, environment);
    if (!rollout) throw notFound('no_rollout', `no rollout of "${name}" is running in ${environment}`, { prompt: name, environment });
    return rollout;
  }

  private async publish(tx: Transaction, r: RolloutRow): Promise<void> {
    await this.feed.publish(tx, {
      type: 'rollout.changed',
      prompt: r.prompt,
      environment: r.environment,
      version: r.candidate,
      rollout_id: r.id,
      status: r.status,
      weight: r.weight,
    });
  }
}
