import { randomUUID } from 'node:crypto';
import { isUniqueViolation } from '../db/errors.js';
import type { Database } from '../db/index.js';
import type { DeploymentService } from '../deployments/service.js';
import { AppError, invalid, notFound } from '../errors.js';
import { LruCache } from '../lru.js';
import * as metricsRepo from '../metrics/repository.js';
import type { MetricType, ScoreAggregate, ScoreRow } from '../metrics/repository.js';
import type { BUILTIN_METRICS } from '../metrics/schemas.js';
import type { MetricService } from '../metrics/service.js';
import * as prompts from '../prompts/repository.js';
import * as repo from './repository.js';
import type { Aggregate, ExecutionDetailRow, ExecutionRecord, ExecutionRow, VersionRef } from './repository.js';
import { INTERVALS, MAX_BATCH, MAX_WINDOW_DAYS, type ExecutionInput, type Interval, type ListExecutionsQuery } from './schemas.js';

const DAY = 86_400_000;
/** Clocks differ: an execution may say it ran up to a day in the future. */
const FUTURE_TOLERANCE_MS = DAY;
/** The most buckets one statistics answer has. */
const MAX_BUCKETS = 1_000;

export interface RowIssue {
  index: number;
  issues: Array<{ path: string; message: string }>;
}

/**
 * A batch refused whole: every bad row with its index and what is wrong,
 * also flattened into `issues` (with the index in each path) as other 400s have.
 */
export function invalidRows(rows: RowIssue[], total: number): AppError {
  const sorted = [...rows].sort((a, b) => a.index - b.index);
  const first = sorted[0]!;
  const what = total === 1 ? 'the execution is invalid' : `${sorted.length} of ${total} executions are invalid`;
  return invalid('invalid_executions', `${what}; nothing was stored. [${first.index}] ${first.issues[0]?.path ?? ''}: ${first.issues[0]?.message ?? ''}`, {
    rows: sorted,
    issues: sorted.flatMap((r) => r.issues.map((i) => ({ path: `[${r.index}]${i.path === '(row)' ? '' : `.${i.path}`}`, message: i.message }))),
  });
}

export function emptyBatch(): AppError {
  return invalid('invalid_executions', 'the batch is empty: send one execution, or an array of 1 to 1,000', { rows: [], issues: [] });
}

export function batchTooLarge(count: number): AppError {
  return new AppError('too_large', 'batch_too_large', `a batch holds at most ${MAX_BATCH} executions; this one has ${count}: split it`, {
    max: MAX_BATCH,
    count,
  });
}

/** A batch as the schema left it: each row parsed, or undefined with its problems in `invalid`. */
export interface Batch {
  rows: Array<ExecutionInput | undefined>;
  invalid: RowIssue[];
}

export interface IngestResult {
  accepted: number;
  inserted: number;
  duplicates: number;
  ids: string[];
}

/** Rounds a derived figure to 12 significant digits, so both databases answer the same despite summing floats differently. */
export function round(x: number): number {
  return Number(x.toPrecision(12));
}

const mean = (s: { n: number; sum: number }): number | null => (s.n === 0 ? null : round(s.sum / s.n));

interface MetricStats {
  mean: number | null;
  count: number;
  categories?: Record<string, number>;
}

/** Per version, per metric: the mean (share of true for booleans) and count; categorical metrics count each category. */
function metricStats(rows: readonly ScoreAggregate[]): Map<string, Record<string, MetricStats>> {
  const byVersion = new Map<string, Record<string, MetricStats & { sum: number }>>();
  for (const r of rows) {
    const metrics = byVersion.get(r.version_id) ?? {};
    byVersion.set(r.version_id, metrics);
    const m = (metrics[r.metric] ??= { mean: null, count: 0, sum: 0, ...(r.type === 'categorical' ? { categories: {} } : {}) });
    m.count += r.count;
    m.sum += r.sum;
    if (r.type === 'categorical' && r.category !== null) m.categories![r.category] = (m.categories![r.category] ?? 0) + r.count;
  }
  const result = new Map<string, Record<string, MetricStats>>();
  for (const [version, metrics] of byVersion) {
    result.set(
      version,
      Object.fromEntries(
        Object.entries(metrics)
          .sort(([a], [b]) => (a < b ? -1 : 1))
          .map(([name, { sum, ...m }]) => [name, { ...m, mean: m.categories || m.count === 0 ? null : round(sum / m.count) }]),
      ),
    );
  }
  return result;
}

/** Logging executions, and reading them back: lists, statistics, comparisons. */
export class ExecutionService {
  // Versions never change and are never deleted, so what a reference resolves to can be kept.
  private readonly byId = new LruCache<string, VersionRef>(20_000);
  private readonly byNumber = new LruCache<string, VersionRef>(20_000);
  private readonly promptIds = new LruCache<string, string>(20_000);

  constructor(
    private readonly db: Database,
    private readonly deployments: DeploymentService,
    private readonly metrics: MetricService,
  ) {}

  /**
   * Stores a batch with one statement, in one transaction: all of it or
   * nothing. Every reference is resolved first; any bad row refuses the
   * batch, naming each bad row. An id already stored is not stored again.
   */
  /** Batches stored, rows inserted and duplicate rows skipped since start, for the operator metrics. */
  readonly ingested = { batches: 0, rows: 0, duplicates: 0 };

  async ingest(batch: Batch): Promise<IngestResult> {
    if (batch.rows.length > MAX_BATCH) throw batchTooLarge(batch.rows.length);
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const problems = new Map<number, RowIssue['issues']>(batch.invalid.map((r) => [r.index, [...r.issues]]));
    const flag = (index: number, path: string, message: string) => {
      const list = problems.get(index) ?? [];
      list.push({ path, message });
      problems.set(index, list);
    };
    // Rows the schema refused take no further part; they are reported with the rest.
    const inputs = batch.rows;
    const executedAt = inputs.map((e) => e?.executed_at ?? nowIso);
    inputs.forEach((e, i) => {
      if (!e || problems.has(i)) return;
      if (e.environment !== undefined && !this.deployments.environments.includes(e.environment)) {
        flag(i, 'environment', `unknown environment "${e.environment}"; this registry has: ${this.deployments.environments.join(', ')}`);
      }
      if (Date.parse(executedAt[i]!) > now + FUTURE_TOLERANCE_MS) flag(i, 'executed_at', 'is more than a day in the future');
    });

    const refs = await this.resolve(inputs, executedAt, problems.size ? new Set(problems.keys()) : undefined, flag);
    if (problems.size) throw invalidRows([...problems].map(([index, issues]) => ({ index, issues })), inputs.length);

    const records: ExecutionRecord[] = inputs.map((input, i) => {
      const [e, ref] = [input!, refs[i]!];
      return {
        id: e.id ?? randomUUID(),
        prompt_version_id: ref.id,
        prompt_id: ref.prompt_id,
        executed_at: executedAt[i]!,
        environment: e.environment ?? null,
        status: e.status ?? (e.error ? 'error' : 'ok'),
        error: e.error ?? null,
        input_variables: e.input_variables ?? null,
        rendered_prompt: e.rendered_prompt ?? null,
        response: e.response ?? null,
        input_tokens: e.input_tokens ?? null,
        output_tokens: e.output_tokens ?? null,
        latency_ms: e.latency_ms ?? null,
        cost_usd: e.cost_usd ?? null,
        quality_score: e.quality_score ?? null,
        metadata: e.metadata ?? '{}',
        messages: e.messages ?? null,
        response_messages: e.response_messages ?? null,
        tool_calls: e.tool_calls ?? null,
        partials_used: e.partials_used ?? null,
      };
    });
    const inserted = await this.store(records);
    this.ingested.batches++;
    this.ingested.rows += inserted;
    this.ingested.duplicates += records.length - inserted;
    return { accepted: records.length, inserted, duplicates: records.length - inserted, ids: records.map((r) => r.id) };
  }

  /**
   * Stores the records, all or none. On Postgres, large batches by COPY in a
   * transaction, unless a retry brought ids stored already; the rest with one
   * INSERT statement, atomic on its own. On SQLite, a few INSERTs in a transaction.
   */
  private async store(records: ExecutionRecord[]): Promise<number> {
    if (this.db.dialect === 'sqlite') return this.db.transaction((tx) => repo.insertExecutions(tx, records));
    if (records.length >= repo.COPY_MIN_ROWS) {
      try {
        return await this.db.transaction((tx) => repo.copyExecutions(tx, records));
      } catch (err) {
        // Some id is stored already (the client is retrying): nothing was, so store what is new.
        if (!isUniqueViolation(err)) throw err;
      }
    }
    return repo.insertExecutionsStatement(this.db, records);
  }

  /** The version each row names: by id, by prompt and number, or by what was live in its environment when it ran. */
  private async resolve(
    inputs: ReadonlyArray<ExecutionInput | undefined>,
    executedAt: readonly string[],
    skip: Set<number> | undefined,
    flag: (index: number, path: string, message: string) => void,
  ): Promise<Array<VersionRef | undefined>> {
    const refs: Array<VersionRef | undefined> = new Array(inputs.length);
    const wanted = (i: number) => inputs[i] !== undefined && !skip?.has(i);
    const numberKey = (prompt: string, version: number) => `${prompt}\u0000${version}`;

    // 1. Fetch what the caches lack, in bulk: ids, (prompt, number) pairs, prompt names.
    const ids = new Set<string>();
    const pairs = new Map<string, { prompt: string; version: number }>();
    const names = new Set<string>();
    inputs.forEach((e, i) => {
      if (!e || !wanted(i)) return;
      if (e.prompt_version_id !== undefined) {
        if (!this.byId.get(e.prompt_version_id)) ids.add(e.prompt_version_id);
      } else if (e.version !== undefined) {
        const key = numberKey(e.prompt!, e.version);
        if (!this.byNumber.get(key)) pairs.set(key, { prompt: e.prompt!, version: e.version });
      } else if (!this.promptIds.get(e.prompt!)) {
        names.add(e.prompt!);
      }
    });
    const remember = (ref: VersionRef) => {
      this.byId.set(ref.id, ref);
      this.byNumber.set(numberKey(ref.prompt, ref.version_number), ref);
      this.promptIds.set(ref.prompt, ref.prompt_id);
    };
    const [byIds, byNumbers, byNames] = await Promise.all([
      repo.versionsByIds(this.db, [...ids]),
      repo.versionsByNumbers(this.db, [...pairs.values()]),
      repo.promptsByNames(this.db, [...names]),
    ]);
    for (const ref of [...byIds, ...byNumbers]) remember(ref);
    for (const p of byNames) this.promptIds.set(p.name, p.id);

    // 2. Rows naming a version, by id or number.
    const missingPrompts = new Set<string>();
    const byEnvironment: number[] = [];
    inputs.forEach((e, i) => {
      if (!e || !wanted(i)) return;
      if (e.prompt_version_id !== undefined) {
        const ref = this.byId.get(e.prompt_version_id);
        if (!ref) return flag(i, 'prompt_version_id', `no version has the id ${e.prompt_version_id}`);
        if (e.prompt !== undefined && e.prompt !== ref.prompt) return flag(i, 'prompt', `version ${e.prompt_version_id} belongs to "${ref.prompt}", not "${e.prompt}"`);
        if (e.version !== undefined && e.version !== ref.version_number) {
          return flag(i, 'version', `version ${e.prompt_version_id} is version ${ref.version_number} of "${ref.prompt}", not ${e.version}`);
        }
        refs[i] = ref;
      } else if (e.version !== undefined) {
        const ref = this.byNumber.get(numberKey(e.prompt!, e.version));
        if (ref) refs[i] = ref;
        else missingPrompts.add(e.prompt!);
      } else if (!this.promptIds.get(e.prompt!)) {
        flag(i, 'prompt', `no prompt named "${e.prompt}"`);
      } else {
        byEnvironment.push(i);
      }
    });
    if (missingPrompts.size) {
      const known = new Set((await repo.promptsByNames(this.db, [...missingPrompts])).map((p) => p.name));
      inputs.forEach((e, i) => {
        if (!e || !wanted(i) || refs[i] || e.prompt_version_id !== undefined || e.version === undefined) return;
        flag(i, known.has(e.prompt!) ? 'version' : 'prompt', known.has(e.prompt!) ? `"${e.prompt}" has no version ${e.version}` : `no prompt named "${e.prompt}"`);
      });
    }

    // 3. Rows naming an environment: the deployment there with the latest deployed_at at or before executed_at.
    if (byEnvironment.length) {
      const windows = new Map<string, { promptId: string; environment: string; first: string; last: string }>();
      for (const i of byEnvironment) {
        const e = inputs[i]!;
        const promptId = this.promptIds.get(e.prompt!)!;
        const key = `${promptId}\u0000${e.environment}`;
        const at = executedAt[i]!;
        const w = windows.get(key);
        if (!w) windows.set(key, { promptId, environment: e.environment!, first: at, last: at });
        else {
          if (at < w.first) w.first = at;
          if (at > w.last) w.last = at;
        }
      }
      const history = new Map<string, repo.DeploymentAt[]>();
      for (const d of await repo.deploymentsDuring(this.db, [...windows.values()])) {
        const key = `${d.prompt_id}\u0000${d.environment}`;
        history.set(key, [...(history.get(key) ?? []), d]);
      }
      for (const i of byEnvironment) {
        const e = inputs[i]!;
        const promptId = this.promptIds.get(e.prompt!)!;
        const list = history.get(`${promptId}\u0000${e.environment}`) ?? [];
        const at = executedAt[i]!;
        let live: repo.DeploymentAt | undefined;
        for (const d of list) if (d.deployed_at <= at) live = d;
        if (!live) {
          flag(i, 'environment', `nothing of "${e.prompt}" was deployed to ${e.environment} at ${at}; name the version instead`);
          continue;
        }
        refs[i] = { id: live.version_id, prompt_id: promptId, prompt: e.prompt!, version_number: live.version_number };
      }
    }
    return refs;
  }

  async list(q: ListExecutionsQuery, before: [string, string] | undefined, limit: number): Promise<ExecutionRow[]> {
    if (q.environment) this.deployments.assertEnvironment(q.environment);
    let promptId: string | undefined;
    let versionId: string | undefined;
    if (q.prompt !== undefined) {
      const prompt = await prompts.findPrompt(this.db, q.prompt);
      if (!prompt) throw notFound('prompt_not_found', `no prompt named "${q.prompt}"`, { prompt: q.prompt });
      promptId = prompt.id;
      if (q.version !== undefined) {
        const version = await prompts.getVersion(this.db, prompt.id, q.version);
        if (!version) throw notFound('version_not_found', `"${q.prompt}" has no version ${q.version}`, { prompt: q.prompt, version: q.version });
        versionId = version.id;
      }
    }
    const metricId = q.metric === undefined ? undefined : (await this.metrics.requireMetric(q.metric)).id;
    return repo.listExecutions(this.db, {
      promptId,
      versionId,
      environment: q.environment,
      from: q.from,
      to: q.to,
      status: q.status,
      qualityMin: q.quality_min,
      qualityMax: q.quality_max,
      metricId,
      metricMin: q.metric_min,
      metricMax: q.metric_max,
      before,
      limit,
    });
  }

  async get(id: string): Promise<ExecutionDetailRow & { scores: ScoreRow[] }> {
    const execution = await repo.getExecution(this.db, id);
    if (!execution) throw notFound('execution_not_found', `no execution ${id}`, { execution: id });
    return { ...execution, scores: await metricsRepo.scoresOf(this.db, id) };
  }

  private async requirePrompt(name: string) {
    const prompt = await prompts.findPrompt(this.db, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    return prompt;
  }

  /**
   * Per-version statistics of a prompt over a window (default: the 7 days
   * to now), and a series per version and hour or day for charts.
   */
  async stats(name: string, q: { environment?: string | undefined; from?: string | undefined; to?: string | undefined; interval?: Interval | undefined }) {
    if (q.environment) this.deployments.assertEnvironment(q.environment);
    const prompt = await this.requirePrompt(name);
    const to = q.to ?? new Date().toISOString();
    const from = q.from ?? new Date(Date.parse(to) - 7 * DAY).toISOString();
    const span = Date.parse(to) - Date.parse(from);
    if (span <= 0) throw invalid('invalid_window', 'from must be before to', { from, to });
    if (span > MAX_WINDOW_DAYS * DAY) throw invalid('invalid_window', `a window is at most ${MAX_WINDOW_DAYS} days`, { from, to });
    const interval: Interval = q.interval ?? (span <= 2 * DAY ? 'hour' : 'day');
    if (span / INTERVALS[interval] > MAX_BUCKETS) {
      throw invalid('invalid_window', `that window has more than ${MAX_BUCKETS} ${interval}s: use a longer interval or a shorter window`, { from, to, interval });
    }
    const environment = q.environment ?? null;
    const [rows, scores] = await Promise.all([
      repo.statsRows(this.db, { promptId: prompt.id, environment, from, to }, interval),
      metricsRepo.scoreAggregates(this.db, { promptId: prompt.id, environment, from, to }),
    ]);
    const metrics = metricStats(scores);
    const versions = rows.versions
      .sort((a, b) => a.version_number - b.version_number)
      .map((v) => {
        const a = v.aggregate;
        return {
          version: v.version_number,
          version_id: v.version_id,
          count: a.count,
          errors: a.errors,
          error_rate: a.count === 0 ? 0 : round(a.errors / a.count),
          latency_ms: { p50: v.p50, p95: v.p95, p99: v.p99, mean: mean(a.latency) },
          input_tokens: { mean: mean(a.input_tokens), sum: a.input_tokens.sum },
          output_tokens: { mean: mean(a.output_tokens), sum: a.output_tokens.sum },
          cost_usd: { sum: round(a.cost_usd.sum), mean: mean(a.cost_usd) },
          quality_score: { mean: mean(a.quality_score) },
          metrics: metrics.get(v.version_id) ?? {},
        };
      });
    const series = rows.buckets
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.version_number - b.version_number))
      .map((b) => ({
        start: b.start,
        version: b.version_number,
        count: b.aggregate.count,
        errors: b.aggregate.errors,
        error_rate: b.aggregate.count === 0 ? 0 : round(b.aggregate.errors / b.aggregate.count),
        latency_ms: { p95: b.p95, mean: mean(b.aggregate.latency) },
        cost_usd: { sum: round(b.aggregate.cost_usd.sum), mean: mean(b.aggregate.cost_usd) },
        quality_score: { mean: mean(b.aggregate.quality_score) },
      }));
    return { prompt: name, environment, from, to, interval, versions, series };
  }

  /**
   * Two versions of a prompt side by side on every measure: the built-in ones
   * and each custom metric, with the difference of means (b − a) and counts.
   * Without from and to, over all time.
   */
  async compare(name: string, q: { a: number; b: number; environment?: string | undefined; from?: string | undefined; to?: string | undefined }) {
    if (q.environment) this.deployments.assertEnvironment(q.environment);
    const prompt = await this.requirePrompt(name);
    const version = async (n: number) => {
      const v = await prompts.getVersion(this.db, prompt.id, n);
      if (!v) throw notFound('version_not_found', `"${name}" has no version ${n}`, { prompt: name, version: n });
      return v;
    };
    const [a, b] = [await version(q.a), await version(q.b)];
    const from = q.from ?? null;
    const to = q.to ?? null;
    if (from !== null && to !== null && from >= to) throw invalid('invalid_window', 'from must be before to', { from, to });
    const environment = q.environment ?? null;
    const [aggregates, scores, definitions] = await Promise.all([
      repo.versionAggregates(this.db, { versionIds: [a.id, b.id], environment, from, to }),
      metricsRepo.scoreAggregates(this.db, { promptId: prompt.id, environment, from, to }),
      metricsRepo.allMetrics(this.db),
    ]);
    const aggA = aggregates.get(a.id) ?? repo.EMPTY_AGGREGATE;
    const aggB = aggregates.get(b.id) ?? repo.EMPTY_AGGREGATE;
    const difference = (x: number | null, y: number | null) => (x === null || y === null ? null : round(y - x));
    const side = (s: { n: number; sum: number }) => ({ mean: mean(s), count: s.n });
    const builtin = (metric: (typeof BUILTIN_METRICS)[number], pick: (g: Aggregate) => { n: number; sum: number }) => {
      const [sa, sb] = [side(pick(aggA)), side(pick(aggB))];
      return { name: metric, kind: 'builtin' as const, type: 'numeric' as MetricType, a: sa, b: sb, difference: difference(sa.mean, sb.mean) };
    };
    const custom = metricStats(scores);
    const customSide = (versionId: string, metric: string, type: MetricType): MetricStats =>
      custom.get(versionId)?.[metric] ?? { mean: null, count: 0, ...(type === 'categorical' ? { categories: {} } : {}) };
    return {
      prompt: name,
      environment,
      from,
      to,
      a: { version: a.version_number, count: aggA.count },
      b: { version: b.version_number, count: aggB.count },
      metrics: [
        builtin('latency_ms', (g) => g.latency),
        builtin('input_tokens', (g) => g.input_tokens),
        builtin('output_tokens', (g) => g.output_tokens),
        builtin('cost_usd', (g) => g.cost_usd),
        builtin('quality_score', (g) => g.quality_score),
        builtin('error_rate', (g) => ({ n: g.count, sum: g.errors })),
        ...definitions.map((m) => {
          const [sa, sb] = [customSide(a.id, m.name, m.type), customSide(b.id, m.name, m.type)];
          return { name: m.name, kind: 'custom' as const, type: m.type, a: sa, b: sb, difference: difference(sa.mean, sb.mean) };
        }),
      ],
    };
  }
}
