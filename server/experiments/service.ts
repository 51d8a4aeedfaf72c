import { randomUUID } from 'node:crypto';
import { setMaxListeners } from 'node:events';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import * as datasetRepo from '../datasets/repository.js';
import type { ItemRow } from '../datasets/repository.js';
import type { Database } from '../db/index.js';
import { AppError, conflict, invalid, notFound } from '../errors.js';
import { compileEvaluator, judgeVerdict, type Evaluation, type Evaluator } from '../evaluators/builtin.js';
import * as metricRepo from '../metrics/repository.js';
import type { MetricRow } from '../metrics/repository.js';
import type { MetricService } from '../metrics/service.js';
import { BUILTIN_METRICS } from '../metrics/schemas.js';
import type { PromptService } from '../prompts/service.js';
import type { ProviderService } from '../providers/service.js';
import type { RunService } from '../runs/service.js';
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
  /** How often idle servers look for experiments to run (queued ones start at once on this server). */
  pollMs: number;
  /** Experiments one server runs at the same time. */
  maxActive: number;
}

export const DEFAULT_EXPERIMENT_OPTIONS: ExperimentOptions = { leaseMs: 30_000, pollMs: 5_000, maxActive: 2 };

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

  constructor(
    private readonly db: Database,
    private readonly prompts: PromptService,
    private readonly providers: ProviderService,
    private readonly runs: RunService,
    private readonly metrics: MetricService,
    private readonly logger: Logger,
    private readonly options: ExperimentOptions = DEFAULT_EXPERIMENT_OPTIONS,
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
    if (!this.stopped) later(() => this.tick());
    return this.get(id);
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
  private async judge(x: ExperimentRow, e: Evaluator, item: ItemRow, output: string | null, executionId: string, signal: AbortSignal): Promise<Evaluation> {
    if (e.spec.type !== 'llm_judge') throw new Error('not a judge');
    const j = e.spec;
    const expected = item.expected === null || item.expected === undefined ? '' : typeof item.expected === 'string' ? item.expected : JSON.stringify(item.expected);
    try {
      const verdict = await this.runs.run(
        j.prompt,
        { version: j.version, environment: j.environment, variables: { input: JSON.stringify(item.input), output: output ?? '', expected }, placeholders: {}, provider: j.provider ?? x.provider ?? undefined, model: j.model, stream: false },
        { signal, metadata: { experiment: x.id, dataset_item: item.seq, judge_of: executionId } },
      );
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

  /** Starts looking for experiments to run: queued ones, and running ones whose server stopped. */
  start(): void {
    this.stopped = false;
    this.timer = setInterval(() => void this.tick(), this.options.pollMs);
    this.timer.unref();
    void this.tick();
  }

  /** Stops the runs in flight (their items are run again by whoever resumes) and lets go of the experiments. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.timer);
    for (const a of this.active.values()) {
      a.stopping = true;
      a.controller.abort();
    }
    await Promise.all([...this.active.values()].map((a) => a.done));
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.ticking) return;
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
      const queue: Array<{ item: ItemRow; version: number }> = [];
      for (const item of items) for (const version of columnKeys(x)) if (!done.has(`${item.seq}:${version}`)) queue.push({ item, version });
      const worker = async () => {
        for (let next = queue.shift(); next && !signal.aborted; next = queue.shift()) await this.runOne(x, evaluators, metrics, next.item, next.version, schemas.get(next.version) ?? null, signal);
      };
      await Promise.all(Array.from({ length: Math.min(x.concurrency, Math.max(1, queue.length)) }, worker));
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

  /** Runs one item on one version (or draft: a negative key) and stores its result; a failed run is a result too (status error), a cancelled one is not. */
  private async runOne(x: ExperimentRow, evaluators: Evaluator[], metrics: Map<string, MetricRow>, item: ItemRow, version: number, responseSchema: Record<string, unknown> | null, signal: AbortSignal): Promise<void> {
    let result: ResultRow;
    const draft = version < 0 ? x.drafts[-version - 1] : undefined;
    try {
      const run = await this.runs.run(
        x.prompt,
        { ...(draft ? { draft: draft.body } : { version }), variables: item.input, placeholders: {}, provider: x.provider ?? undefined, model: x.model ?? undefined, stream: false },
        { signal, metadata: { experiment: x.id, dataset_item: item.seq, ...(draft ? { draft_label: draft.label } : {}) } },
      );
      const output = run.output.text ?? (run.output.message.tool_calls ? JSON.stringify(run.output.message.tool_calls) : null);
      const scores: ResultRow['scores'] = {};
      for (const e of evaluators) {
        scores[e.name] = e.spec.type === 'llm_judge' ? await this.judge(x, e, item, output, run.execution_id, signal) : e.evaluate({ output, expected: item.expected, latency_ms: run.latency_ms, cost_usd: run.cost_usd, response_schema: responseSchema });
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
    // One commit per result: the result, and its scores on the run's execution as custom metrics
    // (where statistics and the panel show them). A metric deleted meanwhile is skipped.
    const scorer = x.created_by;
    await this.db.transaction(async (t) => {
      await repo.insertResult(t, x.id, result);
      if (result.status !== 'ok' || !result.execution_id) return;
      for (const [name, s] of Object.entries(result.scores)) {
        const metric = metrics.get(name);
        if (!metric) continue;
        await metricRepo.upsertScore(t, { executionId: result.execution_id, metric, value: s.score, category: null, source: 'code', comment: s.reason.slice(0, 1000), scoredBy: scorer });
      }
    });
  }
}

/** Runs a promise-returning step without waiting for it; its failure is the step's own to log. */
function later(step: () => Promise<void>): void {
  void step();
}
