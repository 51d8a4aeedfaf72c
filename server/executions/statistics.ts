import type { Database } from '../db/index.js';
import type { DeploymentService } from '../deployments/service.js';
import { invalid, notFound } from '../errors.js';
import * as metricsRepo from '../metrics/repository.js';
import type { MetricType, ScoreAggregate } from '../metrics/repository.js';
import type { BUILTIN_METRICS } from '../metrics/schemas.js';
import * as prompts from '../prompts/repository.js';
import { INTERVALS, MAX_WINDOW_DAYS, type Interval } from './schemas.js';
import { EMPTY_AGGREGATE, statsRows } from './stats-rows.js';
import type { Aggregate, ExecutionStore } from './store/index.js';

const DAY = 86_400_000;
/** The most buckets one statistics answer has. */
const MAX_BUCKETS = 1_000;

/** Rounds a derived figure to 12 significant digits, so both databases answer the same despite summing floats differently. */
export function round(x: number): number {
  return Number(x.toPrecision(12));
}

const mean = (s: { n: number; sum: number }): number | null => (s.n === 0 ? null : round(s.sum / s.n));

export interface MetricStats {
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

/** Statistics of a prompt's executions: per version over a window, and two versions compared. */
export class ExecutionStatistics {
  constructor(
    private readonly db: Database,
    private readonly store: ExecutionStore,
    private readonly deployments: DeploymentService,
  ) {}

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
      statsRows(this.store, this.db, { promptId: prompt.id, environment, from, to }, interval),
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
      this.store.versionAggregates(this.db, { versionIds: [a.id, b.id], environment, from, to }),
      metricsRepo.scoreAggregates(this.db, { promptId: prompt.id, environment, from, to }),
      metricsRepo.allMetrics(this.db),
    ]);
    const aggA = aggregates.get(a.id) ?? EMPTY_AGGREGATE;
    const aggB = aggregates.get(b.id) ?? EMPTY_AGGREGATE;
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
