import { randomUUID } from 'node:crypto';
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Logger } from 'pino';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { invalid, notFound } from '../errors.js';
import { executionStore, type ExecutionPartitions } from '../executions/store/index.js';
import * as prompts from '../prompts/repository.js';
import { dropExpiredPartitions } from './partitions.js';
import * as repo from './repository.js';
import type { PolicyRow, RetentionAction } from './repository.js';
import type { PolicyInput } from './schemas.js';

const DAY = 86_400_000;

/** Who the scheduled runs act as, in the audit log. */
export const RETENTION_JOB: Principal = { name: 'system:retention', person: 'system:retention', scopes: ['admin'], credential: 'system' };

export interface PolicyView {
  prompt: string | null;
  environment: string | null;
  days: number;
  action: RetentionAction;
}

export interface RunResult {
  dry_run: boolean;
  deleted: number;
  redacted: number;
  policies: Array<PolicyView & { cutoff: string; count: number }>;
}

const view = (p: PolicyRow): PolicyView => ({ prompt: p.prompt, environment: p.environment, days: p.days, action: p.action });

export interface RetentionOptions {
  /** Executions changed per transaction. */
  batchSize: number;
  /** The environments a policy may name. */
  environments: readonly string[];
  /**
   * Postgres: a month partition wholly past its policies' cutoffs is dropped
   * whole when it holds at least this many executions (default 10,000);
   * smaller ones are deleted row by row, in batches, like the boundary month.
   */
  partitionDropMinRows?: number;
  /** Postgres: month partitions kept created ahead of now (default 3). */
  monthsAhead?: number;
}

/**
 * Retention policies and applying them: delete executions older than N days,
 * or redact their variables, rendered prompt and response. The most specific
 * policy governs an execution. Applying works in small transactions, yielding
 * between them, so a large purge never holds the database for long; each
 * transaction records what it changed in the audit log. Prompts, versions and
 * deployments are never touched. On Postgres, months of executions wholly past
 * their cutoff are dropped as whole partitions first (partitions.ts), and each
 * run creates the months ahead.
 */
export class RetentionService {
  private chain: Promise<unknown> = Promise.resolve();
  private timers: NodeJS.Timeout[] = [];
  private stopping = false;
  private intervalMinutes = 0;

  private readonly partitions: ExecutionPartitions;

  constructor(
    private readonly db: Database,
    private readonly options: RetentionOptions,
  ) {
    this.partitions = executionStore(db.dialect).partitions;
  }

  /** Creates the month partitions from this month to `monthsAhead` ahead (Postgres; nothing on SQLite). */
  async createAhead(now = Date.now()): Promise<void> {
    const d = new Date(now);
    const months = Array.from({ length: (this.options.monthsAhead ?? 3) + 1 }, (_, k) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + k, 1)).toISOString());
    await this.partitions.ensure(this.db, months);
  }

  async get(): Promise<{ policies: PolicyView[]; updated_at: string | null; updated_by: string | null; interval_minutes: number }> {
    const rows = await repo.listPolicies(this.db);
    const latest = rows.reduce<PolicyRow | undefined>((a, p) => (a === undefined || p.created_at > a.created_at ? p : a), undefined);
    return { policies: rows.map(view), updated_at: latest?.created_at ?? null, updated_by: latest?.created_by ?? null, interval_minutes: this.intervalMinutes };
  }

  /** Replaces every policy, in one transaction, recorded in the audit log with what it replaced. */
  async put(actor: Principal, input: readonly PolicyInput[]): Promise<Awaited<ReturnType<RetentionService['get']>>> {
    const seen = new Set<string>();
    for (const [i, p] of input.entries()) {
      if (p.environment != null && !this.options.environments.includes(p.environment)) {
        throw invalid('unknown_environment', `policies[${i}]: unknown environment "${p.environment}"; this registry has: ${this.options.environments.join(', ')}`, {
          environment: p.environment,
          environments: this.options.environments,
        });
      }
      const scope = `${p.prompt ?? ''}\u0000${p.environment ?? ''}`;
      if (seen.has(scope)) {
        throw invalid('duplicate_policy', `policies[${i}]: a policy for ${describe(p)} is given twice; one policy per scope`, { index: i });
      }
      seen.add(scope);
    }
    await this.db.transaction(async (tx) => {
      const before = await repo.listPolicies(tx);
      const resolved = [];
      for (const p of input) {
        let promptId: string | null = null;
        if (p.prompt != null) {
          const prompt = await prompts.findPrompt(tx, p.prompt);
          if (!prompt) throw notFound('prompt_not_found', `no prompt named "${p.prompt}"`, { prompt: p.prompt });
          promptId = prompt.id;
        }
        resolved.push({ promptId, environment: p.environment ?? null, days: p.days, action: p.action });
      }
      await repo.replacePolicies(tx, resolved, actor.name);
      await recordAudit(tx, actor, {
        action: 'retention.updated',
        details: {
          before: before.map(view),
          after: input.map((p) => ({ prompt: p.prompt ?? null, environment: p.environment ?? null, days: p.days, action: p.action })),
        },
      });
    });
    return this.get();
  }

  /**
   * Applies every policy now, or with `dryRun` counts what it would change.
   * Runs in this process take turns.
   */
  run(actor: Principal, opts: { dryRun: boolean; now?: number }): Promise<RunResult> {
    const next = this.chain.then(() => this.runNow(actor, opts));
    this.chain = next.catch(() => undefined);
    return next;
  }

  private async runNow(actor: Principal, { dryRun, now = Date.now() }: { dryRun: boolean; now?: number }): Promise<RunResult> {
    const runId = randomUUID();
    const result: RunResult = { dry_run: dryRun, deleted: 0, redacted: 0, policies: [] };
    const policies = await repo.listPolicies(this.db);
    const cutoffOf = (policy: PolicyRow) => new Date(now - policy.days * DAY).toISOString();
    let dropped = new Map<string, number>();
    if (!dryRun) {
      await this.createAhead(now);
      dropped = await dropExpiredPartitions(this.db, this.partitions, {
        policies,
        cutoffOf,
        minRows: this.options.partitionDropMinRows ?? 10_000,
        actor,
        runId,
        stopping: () => this.stopping,
      });
    }
    for (const policy of policies) {
      const cutoff = cutoffOf(policy);
      let count = dropped.get(policy.id) ?? 0;
      if (dryRun) {
        count = await repo.countGoverned(this.db, policy, cutoff);
      } else {
        let after: string | null = null;
        while (!this.stopping) {
          const changed = await this.db.transaction(async (tx) => {
            const ats = await repo.applyBatch(tx, policy, cutoff, after, this.options.batchSize);
            if (ats.length) {
              await recordAudit(tx, actor, {
                action: policy.action === 'delete' ? 'executions.deleted' : 'executions.redacted',
                prompt: policy.prompt ?? undefined,
                environment: policy.environment ?? undefined,
                details: { run_id: runId, count: ats.length, policy: view(policy), cutoff },
              });
            }
            return ats;
          });
          count += changed.length;
          for (const at of changed) if (after === null || at > after) after = at;
          if (changed.length < this.options.batchSize) break;
          // Let requests waiting for the database (or the event loop) go first.
          await yieldToEventLoop();
        }
      }
      if (policy.action === 'delete') result.deleted += count;
      else result.redacted += count;
      result.policies.push({ ...view(policy), cutoff, count });
    }
    return result;
  }

  /** Applies the policies every `minutes` (the first time after a minute at most); 0 never. */
  start(minutes: number, logger: Logger): void {
    this.intervalMinutes = minutes;
    // The months ahead exist from the start, whatever the schedule.
    // In the chain, so stop() waits for it.
    this.chain = this.chain
      .then(() => this.createAhead())
      .catch((err: unknown) => logger.error({ err }, 'creating the month partitions ahead failed; ingest creates a missing month itself'));
    if (minutes <= 0) return;
    const every = Math.max(1, Math.round(minutes * 60_000));
    const tick = () => {
      if (this.stopping) return;
      this.run(RETENTION_JOB, { dryRun: false }).then(
        (r) => {
          if (r.deleted || r.redacted) logger.info({ deleted: r.deleted, redacted: r.redacted }, 'retention applied');
        },
        (err: unknown) => logger.error({ err }, 'retention run failed; it will be tried again'),
      );
    };
    const first = setTimeout(tick, Math.min(every, 60_000));
    const interval = setInterval(tick, every);
    first.unref();
    interval.unref();
    this.timers.push(first, interval);
  }

  /** Stops the schedule; a run in progress stops after its current batch. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await this.chain;
  }
}

function describe(p: PolicyInput): string {
  if (p.prompt != null && p.environment != null) return `"${p.prompt}" in ${p.environment}`;
  if (p.prompt != null) return `"${p.prompt}"`;
  if (p.environment != null) return p.environment;
  return 'the default';
}
