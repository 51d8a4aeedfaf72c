import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database, Queryable, Transaction } from '../db/index.js';
import type { RequestView } from '../approvals/schemas.js';
import type { EnvironmentService } from '../environments/service.js';
import { conflict, notFound } from '../errors.js';
import type { ChangeFeed } from '../events.js';
import { errorBody } from '../http/error-handler.js';
import * as prompts from '../prompts/repository.js';
import { resolvePartials, type ResolvedPartials } from '../prompts/partials.js';
import { fullConfig, type RenderSource } from '../prompts/service.js';
import { AppError, type ErrorCode } from '../errors.js';
import * as repo from './repository.js';
import type { DeploymentRow, ResolvedRow } from './repository.js';
import { answer, ResolveCache, type CachedAnswer } from './resolve-cache.js';
import { assignVariant } from '../rollouts/assign.js';
import type { RolloutInfo } from '../rollouts/schemas.js';
import { BUNDLE_FORMAT, type bundleSchema, type deploymentSchema } from './schemas.js';
import { DeployPath, type PlannedChange } from './deploy-path.js';
import type { z } from 'zod';

export type DeploymentView = z.infer<typeof deploymentSchema>;

function view(prompt: string, d: DeploymentRow): DeploymentView {
  return {
    id: d.id,
    prompt,
    environment: d.environment,
    version: d.version_number,
    version_id: d.prompt_version_id,
    action: d.rollback_of ? 'rollback' : 'deploy',
    previous_version: d.previous_version,
    deployed_at: d.deployed_at,
    deployed_by: d.deployed_by,
    is_active: d.is_active,
    rollback_of: d.rollback_of,
  };
}

/** What is live, ready to render: the version and its partials resolved in the environment. */
export interface LiveSource {
  source: RenderSource;
  config: Record<string, unknown>;
  partials: ResolvedPartials;
}

export function resolvedBody(r: ResolvedRow, environment: string, partials: ResolvedPartials) {
  return {
    prompt: r.prompt,
    environment,
    type: r.type,
    content: r.type === 'chat' ? null : r.content,
    messages: r.messages,
    config: fullConfig(r),
    input_schema: r.input_schema,
    partials: partials.partials,
    model: r.model,
    temperature: r.temperature,
    max_tokens: r.max_tokens,
    variables: r.variables,
    version_number: r.version_number,
    version: r.version_number,
    version_id: r.version_id,
    content_hash: r.content_hash,
    metadata: r.metadata,
    deployed_at: r.deployed_at,
  };
}

function renderSource(r: ResolvedRow): RenderSource {
  return {
    prompt: r.prompt,
    version_id: r.version_id,
    version: r.version_number,
    type: r.type,
    content: r.content,
    messages: r.messages,
    input_schema: r.input_schema,
    includes: r.includes,
  };
}

/** A running rollout on a live version, with its candidate (server/rollouts). */
export interface RolloutSplit {
  rollout: RolloutInfo;
  candidate: ResolvedRow;
}

export type DeployOutcome = { deployment: DeploymentView; created: boolean; request?: undefined } | { request: RequestView; deployment?: undefined };

/** Both answers of a rollout: the live one (for keyless callers too) carrying the candidate's. */
function splitAnswer(live: ResolvedRow, environment: string, split: RolloutSplit, liveSource: LiveSource, candidateSource: LiveSource): CachedAnswer {
  const candidate = { ...answer(200, { ...resolvedBody(split.candidate, environment, candidateSource.partials), variant: 'candidate', rollout: split.rollout }), source: candidateSource };
  return {
    ...answer(200, { ...resolvedBody(live, environment, liveSource.partials), variant: 'live', rollout: split.rollout }),
    source: liveSource,
    split: { rollout: split.rollout, candidate },
  };
}

/** The answer that serves `key`: the candidate's when the rollout assigns it, else the live one. */
function pickVariant(name: string, environment: string, found: CachedAnswer, key: string | undefined): CachedAnswer {
  if (key === undefined || !found.split) return found;
  return assignVariant(name, environment, found.split.rollout, key) === 'candidate' ? found.split.candidate : found;
}

/**
 * Deploys, rollbacks, their history, and resolving what is live. Deploys and rollbacks go through the
 * deploy path (`path`, ./deploy-path.ts), which approvals and rollouts plug into too.
 */
export class DeploymentService {
  readonly cache: ResolveCache;
  readonly path: DeployPath;
  /** Set by the rollouts module: the rollout running on a live version, if any. */
  rolloutSplit: ((db: Queryable, name: string, environment: string, live: ResolvedRow) => Promise<RolloutSplit | undefined>) | undefined;

  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    private readonly envs: EnvironmentService,
    cacheSize: number,
  ) {
    this.cache = new ResolveCache(cacheSize);
    this.path = new DeployPath(db, envs);
    this.path.onApproved('deploy', async (tx, actor, req, as) => {
      return (await this.deployIn(tx, actor, req.prompt, req.version_number, req.environment, { deployedBy: as.requestedBy, details: as.details })).deployment.id;
    });
    this.path.onApproved('rollback', async (tx, actor, req, as) => {
      const opts = { deployedBy: as.requestedBy, details: as.details, fromVersion: req.from_version };
      return (await this.rollbackIn(tx, actor, req.prompt, req.environment, req.version_number, opts)).id;
    });
    feed.subscribe((event) => {
      // Deploys and rollbacks change the answer; a first version turns "no such prompt" into "not deployed".
      if (event.prompt && !event.type.startsWith('deployment_request.')) this.cache.invalidatePrompt(event.prompt);
    });
    feed.onResumed(() => this.cache.clear());
  }

  /** The environments' names and their check, for the modules given only this service (executions, prompt routes, MCP). */
  get environments(): readonly string[] {
    return this.envs.names;
  }

  assertEnvironment(environment: string): void {
    this.envs.assert(environment);
  }

  /** Deploys `version` (POST /prompts/{name}/deployments): now, or as a request where the environment needs approvals. */
  async deploy(actor: Principal, name: string, version: number, environment: string, comment?: string): Promise<DeployOutcome> {
    const outcome = await this.path.run(actor, environment, {
      verb: 'deploy to',
      apply: (tx) => this.deployIn(tx, actor, name, version, environment),
      plan: async (tx) => ({ change: await this.planDeploy(tx, name, version, environment, comment) }),
    });
    return 'request' in outcome ? { request: outcome.request } : outcome.applied;
  }

  /**
   * Rolls back (POST /prompts/{name}/rollback): now, or as a request where the environment needs
   * approvals. A dry run answers what it would do, approvals or not.
   */
  async rollback(
    actor: Principal,
    name: string,
    environment: string,
    version: number | undefined,
    opts: { dryRun?: boolean; comment?: string | undefined } = {},
  ): Promise<{ deployment: DeploymentView; request?: undefined } | { request: RequestView; deployment?: undefined }> {
    const outcome = await this.path.run<DeploymentView>(actor, environment, {
      verb: 'roll back',
      apply: (tx) => this.rollbackIn(tx, actor, name, environment, version, { dryRun: opts.dryRun }),
      plan: async (tx) => {
        // Fix what the rollback restores now, so approvers approve a known version.
        const planned = await this.rollbackIn(tx, actor, name, environment, version, { dryRun: true });
        if (opts.dryRun) return { applied: planned };
        const prompt = (await prompts.findPrompt(tx, name))!;
        const change: PlannedChange = { promptId: prompt.id, name, action: 'rollback', version: planned.version, fromVersion: planned.previous_version, comment: opts.comment };
        return { change };
      },
    });
    return 'request' in outcome ? { request: outcome.request } : { deployment: outcome.applied };
  }

  /**
   * A deploy as a request would record it, checked as if applied now (the prompt and version exist, the
   * version is not live, the evaluation gate passes); nothing written. Rollouts plan their promotion so too.
   */
  async planDeploy(tx: Transaction, name: string, version: number, environment: string, comment?: string): Promise<PlannedChange> {
    const prompt = await this.lockPrompt(tx, name);
    if (!(await prompts.getVersion(tx, prompt.id, version))) throw notFound('version_not_found', `"${name}" has no version ${version}`, { prompt: name, version });
    const live = await this.path.liveVersion(tx, prompt.id, environment);
    if (live === version) throw conflict('already_live', `version ${version} of "${name}" is already live in ${environment}`, { prompt: name, environment, version });
    // The evaluation gate is checked now, and again when the approved deploy is applied.
    await this.path.admit(tx, { promptId: prompt.id, name, environment, version });
    return { promptId: prompt.id, name, action: 'deploy', version, fromVersion: live, comment };
  }

  private async lockPrompt(tx: Transaction, name: string) {
    const prompt = await prompts.lockPrompt(tx, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    return prompt;
  }

  /**
   * Makes `version` the live one in `environment` (what is already live changes nothing),
   * inside the caller's transaction, for an environment the caller has asserted (the deploy path
   * does). `as.deployedBy` records
   * someone other than the actor (an approved request: the requester deploys,
   * the final approver is the audit entry's actor).
   */
  async deployIn(
    tx: Transaction,
    actor: Principal,
    name: string,
    version: number,
    environment: string,
    as: { deployedBy?: string; details?: Record<string, unknown> } = {},
  ): Promise<{ deployment: DeploymentView; created: boolean }> {
    const prompt = await this.lockPrompt(tx, name);
    const target = await prompts.getVersion(tx, prompt.id, version);
    if (!target) throw notFound('version_not_found', `"${name}" has no version ${version}`, { prompt: name, version });
    const current = await repo.activeDeployment(tx, prompt.id, environment);
    if (current && current.prompt_version_id === target.id) return { deployment: view(name, current), created: false };
    await this.path.admit(tx, { promptId: prompt.id, name, environment, version });
    if (current) await repo.deactivate(tx, current.id);
    await this.path.liveChanged(tx, actor, { promptId: prompt.id, name, environment, version });
    const deployment = await repo.insertDeployment(tx, {
      promptId: prompt.id,
      versionId: target.id,
      environment,
      deployedBy: as.deployedBy ?? actor.name,
      seq: await repo.nextSeq(tx, prompt.id),
      rollbackOf: null,
      previousId: current?.id ?? null,
    });
    await recordAudit(tx, actor, {
      action: 'deployment.created',
      prompt: name,
      environment,
      targetId: deployment.id,
      details: { version, previous_version: current?.version_number ?? null, ...as.details },
    });
    await this.feed.publish(tx, { type: 'deployment.created', prompt: name, environment, version });
    return { deployment: view(name, deployment), created: true };
  }

  /**
   * Restores the version live before the current deployment (or, with `version`, the nearest
   * earlier deployment of that version), inside the caller's transaction, for an environment the
   * caller has asserted. Each rollback steps
   * further back through the history; `opts.fromVersion` refuses it if what is live changed since.
   */
  async rollbackIn(
    tx: Transaction,
    actor: Principal,
    name: string,
    environment: string,
    version?: number,
    opts: { dryRun?: boolean; deployedBy?: string; fromVersion?: number | null; details?: Record<string, unknown> } = {},
  ): Promise<DeploymentView> {
    const prompt = await this.lockPrompt(tx, name);
    const current = await repo.activeDeployment(tx, prompt.id, environment);
    if (!current) {
      throw conflict('nothing_to_roll_back', `nothing of "${name}" is deployed to ${environment}, so there is nothing to roll back`, { prompt: name, environment });
    }
    if (opts.fromVersion !== undefined && opts.fromVersion !== current.version_number) {
      throw conflict(
        'request_outdated',
        `version ${current.version_number} of "${name}" is live in ${environment} now, not ${String(opts.fromVersion)} as when this rollback was requested; reject it and request again`,
        { prompt: name, environment, current_version: current.version_number },
      );
    }
    if (version === current.version_number) {
      throw conflict('already_live', `version ${version} of "${name}" is already live in ${environment}`, { prompt: name, environment, version });
    }
    const earlier = current.previous_deployment_id ? await repo.rollbackChain(tx, current.previous_deployment_id) : [];
    const target = version === undefined ? earlier[0] : earlier.find((d) => d.version_number === version);
    if (!target) {
      const message =
        version === undefined
          ? `version ${current.version_number} is the first deployment of "${name}" in ${environment}; there is nothing earlier to roll back to`
          : `version ${version} of "${name}" was not live in ${environment} before version ${current.version_number}; deploy it instead`;
      throw conflict('nothing_to_roll_back', message, { prompt: name, environment, current_version: current.version_number });
    }
    const deployedBy = opts.deployedBy ?? actor.name;
    if (opts.dryRun) {
      // What a rollback would do, without doing it (the transaction writes nothing).
      return {
        ...view(name, current),
        id: '',
        version: target.version_number,
        version_id: target.prompt_version_id,
        action: 'rollback' as const,
        previous_version: current.version_number,
        deployed_at: new Date().toISOString(),
        deployed_by: deployedBy,
        rollback_of: current.id,
      };
    }
    await repo.deactivate(tx, current.id);
    await this.path.liveChanged(tx, actor, { promptId: prompt.id, name, environment, version: target.version_number });
    const deployment = await repo.insertDeployment(tx, {
      promptId: prompt.id,
      versionId: target.prompt_version_id,
      environment,
      deployedBy,
      seq: await repo.nextSeq(tx, prompt.id),
      rollbackOf: current.id,
      previousId: target.previous_deployment_id,
    });
    await recordAudit(tx, actor, {
      action: 'deployment.rolled_back',
      prompt: name,
      environment,
      targetId: deployment.id,
      details: { version: target.version_number, rolled_back_version: current.version_number, rollback_of: current.id, ...opts.details },
    });
    await this.feed.publish(tx, { type: 'deployment.rolled_back', prompt: name, environment, version: target.version_number });
    return view(name, deployment);
  }

  async history(name: string, f: { environment?: string | undefined; beforeSeq?: number | undefined; limit: number }): Promise<Array<DeploymentView & { seq: number }>> {
    if (f.environment) this.envs.assert(f.environment);
    const prompt = await prompts.findPrompt(this.db, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    return (await repo.history(this.db, prompt.id, f)).map((d) => ({ ...view(name, d), seq: d.seq }));
  }

  /**
   * The live version as a ready-to-send answer, from the cache when it can. During a rollout, `key`
   * picks the variant (the cached entry holds both); without one, the live version.
   */
  async resolveAnswer(name: string, environment: string, key?: string): Promise<CachedAnswer> {
    const hit = this.cache.get(name, environment);
    if (hit) {
      this.cache.stats.hits++;
      return pickVariant(name, environment, hit, key);
    }
    this.cache.stats.misses++;
    return pickVariant(name, environment, (await this.lookUp(name, environment)).answer, key);
  }

  /**
   * Reads what is live from the database and caches the answer (with what rendering needs, and
   * the partials it followed, whose changes invalidate it too).
   */
  private async lookUp(name: string, environment: string): Promise<{ answer: CachedAnswer; live?: LiveSource }> {
    this.envs.assert(environment);
    const ticket = this.cache.ticket();
    const row = await repo.resolve(this.db, name, environment);
    let result: CachedAnswer;
    let live: LiveSource | undefined;
    let dependsOn: Iterable<string> = [];
    if (row) {
      let partials: ResolvedPartials | undefined;
      try {
        partials = await resolvePartials(this.db, row.includes, { environment });
      } catch (err) {
        if (!(err instanceof AppError) || err.kind !== 'unprocessable') throw err;
        // Not cached: which partials it would have followed is not known.
        return { answer: answer(422, errorBody(err.code, err.message, err.details)) };
      }
      live = { source: renderSource(row), config: fullConfig(row), partials };
      dependsOn = partials.dependsOn;
      const split = await this.rolloutSplit?.(this.db, name, environment, row);
      if (split) {
        let candidatePartials: ResolvedPartials;
        try {
          candidatePartials = await resolvePartials(this.db, split.candidate.includes, { environment });
        } catch (err) {
          if (!(err instanceof AppError) || err.kind !== 'unprocessable') throw err;
          return { answer: answer(422, errorBody(err.code, err.message, { ...err.details, variant: 'candidate' })) };
        }
        const candidate: LiveSource = { source: renderSource(split.candidate), config: fullConfig(split.candidate), partials: candidatePartials };
        result = splitAnswer(row, environment, split, live, candidate);
        dependsOn = [...partials.dependsOn, ...candidatePartials.dependsOn];
      } else {
        result = { ...answer(200, resolvedBody(row, environment, partials)), source: live };
      }
    } else if (await prompts.findPrompt(this.db, name)) {
      result = answer(404, errorBody('not_deployed', `No deployed prompt '${name}' in ${environment}`, { prompt: name, environment }));
    } else {
      result = answer(404, errorBody('prompt_not_found', `no prompt named "${name}"`, { prompt: name }));
    }
    this.cache.set(name, environment, result, ticket, dependsOn);
    return { answer: result, ...(live ? { live } : {}) };
  }

  /**
   * The live version with its partials resolved, for rendering: from the resolve cache when it
   * holds the answer, else from the database (caching it). 404 when nothing is live, 422 when a
   * partial cannot be resolved.
   */
  async live(name: string, environment: string, key?: string): Promise<LiveSource & { variant?: 'candidate' | 'live'; rollout?: RolloutInfo }> {
    const found = this.cache.get(name, environment) ?? (await this.lookUp(name, environment)).answer;
    const chosen = pickVariant(name, environment, found, key);
    if (chosen.source) {
      const source = chosen.source as LiveSource;
      if (!found.split) return source;
      return { ...source, variant: chosen === found ? 'live' : 'candidate', rollout: found.split.rollout as RolloutInfo };
    }
    const { error } = JSON.parse(found.body.toString('utf8')) as { error: { code: ErrorCode; message: string } & Record<string, unknown> };
    const { code, message, ...details } = error;
    throw new AppError(found.status === 422 ? 'unprocessable' : 'not_found', code, message, details);
  }

  /** Everything live in an environment, as the bundle clients fall back on when the registry is unreachable. */
  async exportBundle(environment: string): Promise<z.infer<typeof bundleSchema>> {
    this.envs.assert(environment);
    const rows = await repo.liveIn(this.db, environment);
    const prompts: Array<[string, ReturnType<typeof resolvedBody>]> = [];
    for (const r of rows) {
      try {
        prompts.push([r.prompt, resolvedBody(r, environment, await resolvePartials(this.db, r.includes, { environment }))]);
      } catch (err) {
        // A prompt whose partials cannot be resolved here is left out of the bundle: clients could not render it.
        if (!(err instanceof AppError) || err.kind !== 'unprocessable') throw err;
      }
    }
    return { format: BUNDLE_FORMAT, environment, exported_at: new Date().toISOString(), prompts: Object.fromEntries(prompts) };
  }

  /**
   * The live version as a row, for rendering. During a rollout, the variant `key` is assigned
   * (without one, the live version), with `variant` and `rollout` set.
   */
  async resolve(name: string, environment: string, key?: string): Promise<ResolvedRow & { variant?: 'candidate' | 'live'; rollout?: RolloutInfo }> {
    this.envs.assert(environment);
    const row = await repo.resolve(this.db, name, environment);
    if (row) {
      const split = await this.rolloutSplit?.(this.db, name, environment, row);
      if (!split) return row;
      const candidate = key !== undefined && assignVariant(name, environment, split.rollout, key) === 'candidate';
      return candidate ? { ...split.candidate, variant: 'candidate', rollout: split.rollout } : { ...row, variant: 'live', rollout: split.rollout };
    }
    if (await prompts.findPrompt(this.db, name)) throw notFound('not_deployed', `No deployed prompt '${name}' in ${environment}`, { prompt: name, environment });
    throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
  }
}
