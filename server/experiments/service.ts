import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import * as datasetRepo from '../datasets/repository.js';
import type { ItemRow } from '../datasets/repository.js';
import type { Database } from '../db/index.js';
import { MAX_BATCH } from '../executions/ingest-schemas.js';
import type { ExecutionInput } from '../executions/schemas.js';
import { localWakeup, type Wakeup } from '../events.js';
import { AppError, conflict, invalid, notFound } from '../errors.js';
import { compileEvaluator, judgeVerdict, type Evaluation, type Evaluator } from '../evaluators/builtin.js';
import * as metricRepo from '../metrics/repository.js';
import type { MetricRow, ScoreInput } from '../metrics/repository.js';
import type { MetricService } from '../metrics/service.js';
import { BUILTIN_METRICS } from '../metrics/schemas.js';
import type { PromptService, RenderOutput } from '../prompts/service.js';
import type { ProviderService } from '../providers/service.js';
import type { RunBody } from '../runs/schemas.js';
import type { RunService, RunSetup } from '../runs/service.js';
import { TemplateError } from '../../shared/templates/index.js';
import * as repo from './repository.js';
import type { ExperimentDraft, ExperimentRow, ResultRow } from './repository.js';
import type { aggregateSchema, CreateExperimentInput, experimentSchema } from './schemas.js';

export type ExperimentView = z.infer<typeof experimentSchema>;
type Aggregate = z.infer<typeof aggregateSchema>;
/** An aggregate of one column, by its key: a version, or a draft as -(its position + 1). */
type KeyedAggregate = Omit<Aggregate, 'version' | 'draft'> & { version: number };
type Result = Omit<ResultRow, 'version'> & { version: number | null; draft: string | null };

/** The keys of an experiment's columns: its versions, then its drafts as -1, -2, ... */
export function columnKeys(x: { versions: number[]; drafts: unknown[] }): number[] {
  return [...x.versions, ...x.drafts.map((_, i) => -(i + 1))];
}

/** A column's key as the API shows it: `{version: N, draft: null}` or `{version: null, draft: LABEL}`. */
function publicColumn(drafts: ExperimentDraft[], key: number): { version: number | null; draft: string | null } {
  return key > 0 ? { version: key, draft: null } : { version: null, draft: drafts[-key - 1]?.label ?? null };
}

export interface ExperimentOptions {
  /** How long a server holds an experiment without renewing; a dead server's experiment is taken up after it. */
  leaseMs: number;
  /**
   * The fallback poll: how often an idle server looks for experiments although nothing woke it. A queued
   * experiment wakes every replica's runner at once (the change feed's wake-ups); the poll finds a dead
   * server's experiment after its lease, and any wake-up missed.
   */
  pollMs: number;
  /** Experiments one server runs at the same time. */
  maxActive: number;
}

export const DEFAULT_EXPERIMENT_OPTIONS: ExperimentOptions = { leaseMs: 30_000, pollMs: 30_000, maxActive: 2 };

/** A finished run: its result, and the executions it (and its judges) logged, written together. */
type Finished = { result: ResultRow; executions: ExecutionInput[] };

/**
 * Writes results in groups: what finished within a window (200 ms) goes in one transaction (the runs' executions in one batch, their results and scores), so a commit serves
 * many items, and a run's slot moves on to the next item without waiting for its write. On SQLite a
 * commit is an fsync on the event loop (7 ms typical, 40 ms at worst on a loaded disk), during which
 * no provider answer is read: fewer commits, fewer stalls. The window bounds what a crash loses (runs
 * that finished within it are run again on resume) and how late progress shows. Too much queued (the
 * database slower than the runs) makes runs wait.
 */
class ResultWriter {
  private queue: Finished[] = [];
  private writing: Promise<void> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failure: { err: unknown } | undefined;

  constructor(
    private readonly write: (batch: Finished[]) => Promise<void>,
    private readonly windowMs = 200,
    /** A group this large is written at once; a smaller one after `windowMs`. */
    private readonly groupSize = 500,
  ) {}

  async add(finished: Finished): Promise<void> {
    this.check();
    this.queue.push(finished);
    this.schedule();
    while (this.queue.length >= 4 * this.groupSize && this.writing) await this.writing;
    this.check();
  }

  /** Writes what is queued now and waits until it is written; throws what a write threw. */
  async drain(): Promise<void> {
    for (;;) {
      this.next();
      if (!this.writing) break;
      await this.writing;
    }
    this.check();
  }

  /** A full group is written now (once the write in progress ends), anything less when its window ends. */
  private schedule(): void {
    if (this.queue.length >= this.groupSize) this.next();
    else if (this.queue.length > 0) this.timer ??= setTimeout(() => this.next(), this.windowMs);
  }

  private check(): void {
    if (this.failure) throw this.failure.err;
  }

  private next(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (this.writing || this.failure || this.queue.length === 0) return;
    const batch = this.queue.splice(0, this.groupSize);
    this.writing = this.write(batch)
      .catch((err: unknown) => void (this.failure = { err }))
      .finally(() => {
        this.writing = undefined;
        this.schedule();
      });
  }
}

/**
 * What an experiment's runs look up (the version or draft, or a judge's rubric, and the provider with
 * its key and prices), per column or judge: looked up once and shared by the runs that start within
 * `maxAgeMs`, then looked up again, so a change (a provider's key or prices, a rubric deployed) reaches
 * the runs that start a second later, as it reached the next run when each looked it up. A lookup
 * that fails is not kept: each run fails with it, and the next looks again.
 */
class RunSetups {
  private readonly entries = new Map<string, { at: number; setup: Promise<RunSetup> }>();

  constructor(
    private readonly runs: RunService,
    private readonly maxAgeMs = 1_000,
  ) {}

  get(key: string, name: string, body: Pick<RunBody, 'version' | 'environment' | 'draft' | 'provider'>): Promise<RunSetup> {
    const now = Date.now();
    const kept = this.entries.get(key);
    if (kept && now - kept.at < this.maxAgeMs) return kept.setup;
    const setup = this.runs.setup(name, body);
    this.entries.set(key, { at: now, setup });
    setup.catch(() => {
      if (this.entries.get(key)?.setup === setup) this.entries.delete(key);
    });
    return setup;
  }
}

/** An item to run on a version (or draft), with its run's lookup and render once begun. */
type ItemRun = { item: ItemRow; version: number; body: RunBody; prepared: Promise<Prepared> | undefined };
type Prepared = { setup: RunSetup; rendered: Promise<RenderOutput> };

type Side = { status: 'ok' | 'error'; passed: boolean; scores: Record<string, number> };
type Change = { item_seq: number; a: Side; b: Side; reasons: string[] };

/** Per item with a result on both: what got worse from a to b, and what got better. */
export function compareResults(results: ResultRow[], a: number, b: number, names: string[]): { compared: number; worse: Change[]; better: Change[] } {
  const side = (r: ResultRow): Side => ({ status: r.status, passed: r.passed, scores: Object.fromEntries(Object.entries(r.scores).map(([k, v]) => [k, v.score])) });
  const ofA = new Map(results.filter((r) => r.version === a).map((r) => [r.item_seq, r]));
  const worse: Change[] = [];
  const better: Change[] = [];
  let compared = 0;
  for (const rb of results.filter((r) => r.version === b).sort((x, y) => x.item_seq - y.item_seq)) {
    const ra = ofA.get(rb.item_seq);
    if (!ra) continue;
    compared++;
    const down: string[] = [];
    const up: string[] = [];
    if (ra.status === 'ok' && rb.status === 'error') down.push('ran -> error');
    if (ra.status === 'error' && rb.status === 'ok') up.push('error -> ran');
    if (ra.passed && !rb.passed) down.push('passed -> failed');
    if (!ra.passed && rb.passed) up.push('failed -> passed');
    // In the experiment's order of evaluators (Postgres keeps JSON keys in an order of its own).
    for (const name of names) {
      const [before, after] = [ra.scores[name]?.score, rb.scores[name]?.score];
      if (before === undefined || after === undefined || before === after) continue;
      (after < before ? down : up).push(`${name}: ${before} -> ${after}`);
    }
    if (down.length) worse.push({ item_seq: rb.item_seq, a: side(ra), b: side(rb), reasons: down });
    else if (up.length) better.push({ item_seq: rb.item_seq, a: side(ra), b: side(rb), reasons: up });
  }
  return { compared, worse, better };
}

/** The JSON Schema of a version's config.response_format, if it has one. */
export function responseSchema(config: Record<string, unknown>): Record<string, unknown> | null {
  const format = config.response_format as { type?: unknown; json_schema?: { schema?: unknown } } | undefined;
  const schema = format?.type === 'json_schema' ? format.json_schema?.schema : undefined;
  return schema && typeof schema === 'object' && !Array.isArray(schema) ? (schema as Record<string, unknown>) : null;
}

/** Nearest-rank percentile of sorted values. */
function percentile(sorted: number[], p: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(Math.max(1, Math.ceil(p * sorted.length)), sorted.length) - 1]!;
}

const round = (x: number) => Math.round(x * 1e9) / 1e9;

/**
 * Per version: results and errors; pass rate (results where every evaluator passed, errors
 * counting as failures); each evaluator's mean score over the results that ran; latency
 * p50/p95 (nearest rank) over those; token and cost totals.
 */
export function aggregate(versions: number[], evaluatorNames: string[], results: ResultRow[]): KeyedAggregate[] {
  return versions.map((version) => {
    const mine = results.filter((r) => r.version === version);
    const ran = mine.filter((r) => r.status === 'ok');
    const latencies = ran.map((r) => r.latency_ms).filter((l): l is number => l !== null).sort((a, b) => a - b);
    const mean_scores: Record<string, number | null> = {};
    for (const name of evaluatorNames) {
      const scores = ran.map((r) => r.scores[name]?.score).filter((s): s is number => typeof s === 'number');
      mean_scores[name] = scores.length ? round(scores.reduce((a, b) => a + b, 0) / scores.length) : null;
    }
    return {
      version,
      results: mine.length,
      errors: mine.length - ran.length,
      pass_rate: mine.length ? round(mine.filter((r) => r.passed).length / mine.length) : null,
      mean_scores,
      latency_p50_ms: percentile(latencies, 0.5),
      latency_p95_ms: percentile(latencies, 0.95),
      input_tokens: ran.reduce((n, r) => n + (r.input_tokens ?? 0), 0),
      output_tokens: ran.reduce((n, r) => n + (r.output_tokens ?? 0), 0),
      cost_usd: round(ran.reduce((n, r) => n + (r.cost_usd ?? 0), 0)),
    };
  });
}

async function allItems(db: Database, datasetId: string, version: number): Promise<ItemRow[]> {
  const items: ItemRow[] = [];
  for (let afterSeq: number | undefined; ; ) {
    const page = await datasetRepo.listItems(db, datasetId, { version, afterSeq, limit: 1_000 });
    items.push(...page);
    if (page.length < 1_000) return items;
    afterSeq = page[page.length - 1]!.seq;
  }
}

/**
 * Experiments: every item of a dataset version against every listed version,
 * in the background on whichever server holds the experiment's lease, with
 * bounded concurrency. Each result is stored as it comes (one per item and
 * version, never two), so a server that stops or dies leaves the rest to the
 * next one; cancelling stops the runs in flight.
 */
export class ExperimentService {
  private readonly owner = randomUUID();
  private readonly active = new Map<string, { controller: AbortController; done: Promise<void>; stopping: boolean }>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private ticking = false;
  private again = false;
  private unlisten: (() => void) | undefined;

  constructor(
    private readonly db: Database,
    private readonly prompts: PromptService,
    private readonly providers: ProviderService,
    private readonly runs: RunService,
    private readonly metrics: MetricService,
    private readonly logger: Logger,
    private readonly options: ExperimentOptions = DEFAULT_EXPERIMENT_OPTIONS,
    /** Tells the runners (here and on other replicas) an experiment is waiting; this process alone by default. */
    private readonly queued: Wakeup = localWakeup(),
  ) {}

  async create(actor: Principal, input: CreateExperimentInput): Promise<ExperimentView> {
    const evaluators = input.evaluators.map((spec, i) => compileEvaluator(spec, `evaluators[${i}]`));
    const names = new Set<string>();
    evaluators.forEach((e, i) => {
      if (names.has(e.name)) throw invalid('invalid_evaluator', `evaluators[${i}]: a second evaluator named "${e.name}"; give each a distinct name`, { field: `evaluators[${i}].name` });
      names.add(e.name);
    });
    const prompt = await this.prompts.requirePrompt(input.prompt);
    await this.checkJudges(evaluators, input.provider);
    await this.ensureMetrics(actor, evaluators);
    for (const v of input.versions) await this.prompts.getVersion(input.prompt, v);
    const drafts = await this.checkDrafts(input);
    await this.providers.target(input.provider);
    const dataset = await datasetRepo.findDataset(this.db, input.dataset);
    if (!dataset) throw notFound('dataset_not_found', `no dataset named "${input.dataset}"`, { dataset: input.dataset });
    if (dataset.item_count === 0) throw invalid('empty_dataset', `dataset "${input.dataset}" has no items`, { field: 'dataset' });
    const id = await this.db.transaction(async (tx) => {
      const created = await repo.insertExperiment(tx, {
        promptId: prompt.id,
        datasetId: dataset.id,
        datasetVersion: dataset.version,
        versions: input.versions,
        drafts,
        evaluators: evaluators.map((e) => e.spec),
        provider: input.provider ?? null,
        model: input.model ?? null,
        concurrency: input.concurrency,
        total: dataset.item_count * (input.versions.length + drafts.length),
        createdBy: actor.name,
      });
      await recordAudit(tx, actor, { action: 'experiment.created', prompt: input.prompt, targetId: created, details: { dataset: input.dataset, dataset_version: dataset.version, versions: input.versions, drafts: drafts.map((d) => d.label) } });
      return created;
    });
    // Read before waking the runners, so the answer is the experiment as created (queued), not a runner's first claim.
    const created = await this.get(id);
    await this.wakeRunners();
    return created;
  }

  /**
   * Each draft compiles (its partials exist, its schemas are valid), as a run of it would; a draft
   * run is logged against the prompt's latest version, so the prompt needs one.
   */
  private async checkDrafts(input: CreateExperimentInput): Promise<ExperimentDraft[]> {
    if (input.drafts.length === 0) return [];
    const [latest] = await this.prompts.listVersions(input.prompt, { limit: 1 });
    if (!latest) throw conflict('no_base_version', `"${input.prompt}" has no version yet; a draft run is logged against the prompt's latest version, so publish a first version, then evaluate drafts`, { prompt: input.prompt });
    const drafts: ExperimentDraft[] = [];
    for (const [i, { label, ...body }] of input.drafts.entries()) {
      try {
        await this.prompts.draftSource(input.prompt, body);
      } catch (err) {
        if (!(err instanceof AppError) && !(err instanceof TemplateError)) throw err;
        throw invalid('invalid_draft', `drafts[${i}] ("${label}"): ${err.message}`, { field: `drafts[${i}]` });
      }
      drafts.push({ label, body });
    }
    return drafts;
  }

  /**
   * An LLM judge's rubric prompt (and version) must exist, and its provider; a judge naming
   * neither version nor environment is pinned to the rubric's latest version now, so every
   * item is judged by the same rubric.
   */
  private async checkJudges(evaluators: Evaluator[], provider: string | undefined): Promise<void> {
    for (const e of evaluators) {
      if (e.spec.type !== 'llm_judge') continue;
      const j = e.spec;
      if (j.version !== undefined) await this.prompts.getVersion(j.prompt, j.version);
      else if (j.environment === undefined) {
        const [latest] = await this.prompts.listVersions(j.prompt, { limit: 1 });
        if (!latest) throw invalid('invalid_evaluator', `the judge prompt "${j.prompt}" has no version yet`, { field: 'evaluators' });
        j.version = latest.version;
      } else await this.prompts.requirePrompt(j.prompt);
      await this.providers.target(j.provider ?? provider);
    }
  }

  /** Runs an LLM judge on one output: its verdict, or a failed evaluation saying why it could not judge. */
  private async judge(
    x: ExperimentRow,
    e: Evaluator,
    item: ItemRow,
    output: string | null,
    executionId: string,
    signal: AbortSignal,
    deferLog: (row: ExecutionInput) => void,
    setups: RunSetups,
  ): Promise<Evaluation> {
    if (e.spec.type !== 'llm_judge') throw new Error('not a judge');
    const j = e.spec;
    const expected = item.expected === null || item.expected === undefined ? '' : typeof item.expected === 'string' ? item.expected : JSON.stringify(item.expected);
    try {
      const body = { version: j.version, environment: j.environment, variables: { input: JSON.stringify(item.input), output: output ?? '', expected }, placeholders: {}, provider: j.provider ?? x.provider ?? undefined, model: j.model, stream: false };
      const setup = await setups.get(`judge ${e.name}`, j.prompt, body);
      const verdict = await this.runs.run(j.prompt, body, { signal, metadata: { experiment: x.id, dataset_item: item.seq, judge_of: executionId }, deferLog, setup });
      return judgeVerdict(verdict.output.text, j.pass_threshold);
    } catch (err) {
      if (signal.aborted) throw err;
      if (!(err instanceof AppError) && !(err instanceof TemplateError)) throw err;
      return { score: 0, passed: false, reason: `the judge could not run: ${err.message}` };
    }
  }

  /**
   * Each evaluator's scores are a custom metric of its name (numeric, 0 to 1), created when
   * missing; a metric of that name that cannot hold them refuses the experiment.
   */
  private async ensureMetrics(actor: Principal, evaluators: Evaluator[]): Promise<void> {
    for (const [i, e] of evaluators.entries()) {
      const field = `evaluators[${i}].name`;
      if ((BUILTIN_METRICS as readonly string[]).includes(e.name)) {
        throw invalid('invalid_evaluator', `${field}: "${e.name}" is a built-in statistic; name the evaluator differently`, { field });
      }
      let metric = await this.metrics.requireMetric(e.name).catch(() => undefined);
      if (!metric) {
        try {
          metric = await this.metrics.create(actor, { name: e.name, type: 'numeric', min: 0, max: 1, description: `Scores of the built-in evaluator ${e.spec.type}, written by experiments` });
        } catch (err) {
          if (!(err instanceof AppError && err.code === 'metric_exists')) throw err;
          metric = await this.metrics.requireMetric(e.name);
        }
      }
      if (metric.type !== 'numeric' || (metric.min !== null && metric.min > 0) || (metric.max !== null && metric.max < 1)) {
        throw invalid('invalid_evaluator', `${field}: the metric "${e.name}" exists as a ${metric.type} metric that cannot hold scores from 0 to 1; name the evaluator differently`, { field });
      }
    }
  }

  private async require(id: string): Promise<ExperimentRow> {
    const row = await repo.findExperiment(this.db, id);
    if (!row) throw notFound('experiment_not_found', `no experiment ${id}`, { id });
    return row;
  }

  async get(id: string): Promise<ExperimentView> {
    const row = await this.require(id);
    const results = await repo.allResults(this.db, id);
    const names = row.evaluators.map((spec) => compileEvaluator(spec).name);
    const { dataset_id: _d, total, drafts, ...rest } = row;
    return {
      ...rest,
      drafts: drafts.map((d) => d.label),
      progress: { done: results.length, total },
      aggregates: aggregate(columnKeys(row), names, results).map((a) => ({ ...a, ...publicColumn(drafts, a.version) })),
    };
  }

  /** The key of a column named in a query (a version number, or draft:LABEL), if the experiment ran it. */
  private keyOf(row: ExperimentRow, column: number | string, field: string): number {
    const ran = [...row.versions.map(String), ...row.drafts.map((d) => `draft:${d.label}`)].join(', ');
    const key = typeof column === 'number' ? (row.versions.includes(column) ? column : undefined) : -(row.drafts.findIndex((d) => `draft:${d.label}` === column) + 1) || undefined;
    if (key === undefined) {
      const what = typeof column === 'number' ? `version ${column}` : `the draft "${column.slice('draft:'.length)}"`;
      throw invalid('version_not_in_experiment', `${what} is not one this experiment ran (it ran ${ran})`, { field });
    }
    return key;
  }

  /** Which items got worse (and better) from column a to column b (each a version, or draft:LABEL). */
  async compare(id: string, a: number | string, b: number | string) {
    const row = await this.require(id);
    const [ka, kb] = [this.keyOf(row, a, 'a'), this.keyOf(row, b, 'b')];
    const names = row.evaluators.map((spec) => compileEvaluator(spec).name);
    return { a, b, ...compareResults(await repo.allResults(this.db, id), ka, kb, names) };
  }

  /** A page of results, of one version or draft when asked; the page's cursor is over (item, key). */
  async results(id: string, f: { version?: number | undefined; draft?: string | undefined; after?: readonly [number, number] | undefined; limit: number }): Promise<Array<Result & { key: number }>> {
    const row = await this.require(id);
    const key = f.draft !== undefined ? this.keyOf(row, `draft:${f.draft}`, 'draft') : f.version;
    const rows = await repo.listResults(this.db, id, { version: key, after: f.after, limit: f.limit });
    return rows.map((r) => ({ ...r, ...publicColumn(row.drafts, r.version), key: r.version }));
  }

  async cancel(actor: Principal, id: string): Promise<ExperimentView> {
    const row = await this.require(id);
    await this.db.transaction(async (t) => {
      if (!(await repo.cancel(t, id, new Date().toISOString()))) {
        throw invalid('experiment_finished', `experiment ${id} is ${row.status}; only a queued or running experiment can be cancelled`, { status: row.status });
      }
      await recordAudit(t, actor, { action: 'experiment.cancelled', prompt: row.prompt, targetId: id });
    });
    this.active.get(id)?.controller.abort();
    return this.get(id);
  }

  /** An experiment is waiting (queued, or let go by a stopping server): every runner looks now. */
  private async wakeRunners(): Promise<void> {
    try {
      await this.queued.notify();
    } catch (err) {
      // This server's runner still looks; the others find it at their poll.
      this.logger.warn({ err }, 'could not wake the other servers\' experiment runners');
      if (!this.stopped) later(() => this.tick());
    }
  }

  /** Starts looking for experiments to run: queued ones, and running ones whose server stopped. */
  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.options.pollMs);
    this.timer.unref();
    this.unlisten ??= this.queued.listen(() => {
      if (!this.stopped) later(() => this.tick());
    });
    void this.tick();
  }

  /** Stops the runs in flight (their items are run again by whoever resumes) and lets go of the experiments. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    this.unlisten?.();
    this.unlisten = undefined;
    const released = this.active.size > 0;
    for (const a of this.active.values()) {
      a.stopping = true;
      a.controller.abort();
    }
    await Promise.all([...this.active.values()].map((a) => a.done));
    // Another replica takes up what this one let go at once, not after its poll.
    if (released) await this.wakeRunners();
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    if (this.ticking) {
      // Woken mid-look (an experiment queued after this look's claim found none): look once more after.
      this.again = true;
      return;
    }
    this.ticking = true;
    try {
      while (!this.stopped && this.active.size < this.options.maxActive) {
        const now = Date.now();
        const id = await this.db.transaction((t) => repo.claim(t, this.owner, new Date(now).toISOString(), new Date(now + this.options.leaseMs).toISOString()));
        if (!id) break;
        const entry = { controller: new AbortController(), done: Promise.resolve(), stopping: false };
        entry.done = this.execute(id, entry).finally(() => {
          this.active.delete(id);
          later(() => this.tick());
        });
        this.active.set(id, entry);
      }
    } catch (err) {
      this.logger.warn({ err }, 'could not look for experiments to run; trying again later');
    } finally {
      this.ticking = false;
      if (this.again) {
        this.again = false;
        later(() => this.tick());
      }
    }
  }

  private async execute(id: string, entry: { controller: AbortController; stopping: boolean }): Promise<void> {
    const signal = entry.controller.signal;
    // Every run in flight listens to it.
    setMaxListeners(Math.max(10, 4 * 32), signal);
    const renew = setInterval(() => {
      void (async () => {
        await this.db.transaction((t) => repo.renew(t, id, this.owner, new Date(Date.now() + this.options.leaseMs).toISOString()));
        if ((await repo.statusOf(this.db, id)) !== 'running') entry.controller.abort();
      })().catch((err: unknown) => this.logger.warn({ err, experiment: id }, 'could not renew an experiment lease'));
    }, Math.max(50, Math.floor(this.options.leaseMs / 3)));
    try {
      const x = await this.require(id);
      const evaluators = x.evaluators.map((spec) => compileEvaluator(spec));
      const metrics = new Map<string, MetricRow>();
      for (const e of evaluators) {
        const m = await metricRepo.findMetric(this.db, e.name);
        if (m) metrics.set(e.name, m);
      }
      // The JSON-Schema evaluator's default: each version's response_format schema.
      const schemas = new Map<number, Record<string, unknown> | null>();
      for (const v of x.versions) schemas.set(v, responseSchema((await this.prompts.renderSource(x.prompt, v)).config));
      for (const [i, d] of x.drafts.entries()) schemas.set(-(i + 1), responseSchema((await this.prompts.draftSource(x.prompt, d.body)).config));
      const items = await allItems(this.db, x.dataset_id, x.dataset_version);
      const done = await repo.doneKeys(this.db, id);
      const queue: ItemRun[] = [];
      for (const item of items) for (const version of columnKeys(x)) if (!done.has(`${item.seq}:${version}`)) queue.push({ item, version, body: this.runBody(x, item, version), prepared: undefined });
      const writer = new ResultWriter((batch) => this.writeResults(x, metrics, batch));
      const setups = new RunSetups(this.runs);
      // A render is a trip to the template workers: begun ahead (the item a slot takes, and the one
      // `concurrency` places after it, most likely that slot's next), it overlaps the provider calls
      // in flight instead of coming between a slot's calls.
      const prepare = (i: number) => {
        const r = queue[i];
        if (r && !r.prepared) r.prepared = this.prepare(x, r, setups);
      };
      let taken = 0;
      const worker = async () => {
        while (taken < queue.length && !signal.aborted) {
          const i = taken++;
          prepare(i);
          prepare(i + x.concurrency);
          const r = queue[i]!;
          await this.runOne(x, evaluators, r, schemas.get(r.version) ?? null, signal, writer, setups);
          r.prepared = undefined; // its render is not kept until the end
        }
      };
      const ran = await Promise.allSettled(Array.from({ length: Math.min(x.concurrency, Math.max(1, queue.length)) }, worker));
      // The runs that finished are stored, also when stopping (so a server that resumes need not run them again).
      await writer.drain();
      for (const r of ran) if (r.status === 'rejected') throw r.reason;
      if (entry.stopping) await this.db.transaction((t) => repo.release(t, id, this.owner));
      else if (!signal.aborted) await this.db.transaction((t) => repo.finish(t, id, 'completed', null, new Date().toISOString()));
    } catch (err) {
      this.logger.error({ err, experiment: id }, 'experiment failed');
      if (entry.stopping) await this.db.transaction((t) => repo.release(t, id, this.owner)).catch(() => undefined);
      else await this.db.transaction((t) => repo.finish(t, id, 'failed', 'the experiment stopped on an internal error; the server log has the details', new Date().toISOString())).catch(() => undefined);
    } finally {
      clearInterval(renew);
    }
  }

  /** The run of one item on one version (or draft: a negative key). */
  private runBody(x: ExperimentRow, item: ItemRow, version: number): RunBody {
    const draft = version < 0 ? x.drafts[-version - 1] : undefined;
    return { ...(draft ? { draft: draft.body } : { version }), variables: item.input, placeholders: {}, provider: x.provider ?? undefined, model: x.model ?? undefined, stream: false };
  }

  /** An item's lookup and render, begun: its failure is the item's, when it runs (and nobody's if it never does). */
  private prepare(x: ExperimentRow, r: ItemRun, setups: RunSetups): Promise<Prepared> {
    const prepared = setups.get(`column ${r.version}`, x.prompt, r.body).then((setup) => {
      const rendered = this.runs.render(setup, r.body);
      rendered.catch(() => undefined);
      return { setup, rendered };
    });
    prepared.catch(() => undefined);
    return prepared;
  }

  /** Runs one item on one version (or draft: a negative key) and queues its result; a failed run is a result too (status error), a cancelled one is not. */
  private async runOne(
    x: ExperimentRow,
    evaluators: Evaluator[],
    r: ItemRun,
    responseSchema: Record<string, unknown> | null,
    signal: AbortSignal,
    writer: ResultWriter,
    setups: RunSetups,
  ): Promise<void> {
    let result: ResultRow;
    const { item, version, body } = r;
    const draft = version < 0 ? x.drafts[-version - 1] : undefined;
    const executions: ExecutionInput[] = [];
    const deferLog = (row: ExecutionInput) => void executions.push(row);
    try {
      const { setup, rendered } = await (r.prepared ?? this.prepare(x, r, setups));
      const run = await this.runs.run(x.prompt, body, { signal, metadata: { experiment: x.id, dataset_item: item.seq, ...(draft ? { draft_label: draft.label } : {}) }, deferLog, setup, rendered });
      const output = run.output.text ?? (run.output.message.tool_calls ? JSON.stringify(run.output.message.tool_calls) : null);
      const scores: ResultRow['scores'] = {};
      for (const e of evaluators) {
        scores[e.name] = e.spec.type === 'llm_judge' ? await this.judge(x, e, item, output, run.execution_id, signal, deferLog, setups) : e.evaluate({ output, expected: item.expected, latency_ms: run.latency_ms, cost_usd: run.cost_usd, response_schema: responseSchema });
      }
      result = {
        item_seq: item.seq,
        version,
        status: 'ok',
        output,
        error: null,
        latency_ms: run.latency_ms,
        input_tokens: run.usage.input_tokens,
        output_tokens: run.usage.output_tokens,
        cost_usd: run.cost_usd,
        execution_id: run.execution_id,
        scores,
        passed: Object.values(scores).every((s) => s.passed),
      };
    } catch (err) {
      if (signal.aborted) return;
      if (!(err instanceof AppError) && !(err instanceof TemplateError)) throw err;
      const executionId = err instanceof AppError && typeof err.details.execution_id === 'string' ? err.details.execution_id : null;
      result = { item_seq: item.seq, version, status: 'error', output: null, error: `${err.code}: ${err.message}`, latency_ms: null, input_tokens: null, output_tokens: null, cost_usd: null, execution_id: executionId, scores: {}, passed: false };
    }
    await writer.add({ result, executions });
  }

  /**
   * Stores finished runs in one transaction: their executions (one batch), each result, and its
   * scores on the run's execution as custom metrics (where statistics and the panel show them), a
   * few statements for the whole group. A metric missing when the experiment started is skipped.
   */
  private async writeResults(x: ExperimentRow, metrics: Map<string, MetricRow>, batch: Finished[]): Promise<void> {
    const executions = batch.flatMap((f) => f.executions);
    // An ingest takes at most 1,000 rows (a run logs one execution, and one more per judge): a larger group is written in halves.
    if (executions.length > MAX_BATCH && batch.length > 1) {
      const half = Math.ceil(batch.length / 2);
      await this.writeResults(x, metrics, batch.slice(0, half));
      await this.writeResults(x, metrics, batch.slice(half));
      return;
    }
    const scores: ScoreInput[] = [];
    for (const { result } of batch) {
      if (result.status !== 'ok' || !result.execution_id) continue;
      for (const [name, s] of Object.entries(result.scores)) {
        const metric = metrics.get(name);
        if (metric) scores.push({ executionId: result.execution_id, metric, value: s.score, category: null, source: 'code', comment: s.reason.slice(0, 1000), scoredBy: x.created_by });
      }
    }
    await this.runs.logExecutions(executions, async (t) => {
      await repo.insertResults(t, x.id, batch.map((f) => f.result));
      await metricRepo.upsertScores(t, scores);
    });
  }
}

/** Runs a promise-returning step without waiting for it; its failure is the step's own to log. */
function later(step: () => Promise<void>): void {
  void step();
}
