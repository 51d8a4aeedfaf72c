/** The statistics view's table and chart data, from the registry's answer. Pure. */
import type { Comparison, PromptStats, SeriesPoint, VersionStats } from '../../client/api.js';
import { formatCost, formatCount, formatDifference, formatLatency, formatPercent, formatScore, NONE } from '../format.js';

/** What a chart plots per version over time. */
export const MEASURES = {
  latency_p95: { title: 'Latency p95', unit: 'ms', value: (p: SeriesPoint) => p.latency_ms.p95, format: formatLatency },
  cost_mean: { title: 'Cost per execution (mean)', unit: 'USD', value: (p: SeriesPoint) => p.cost_usd.mean, format: formatCost },
  quality_mean: { title: 'Quality (mean)', unit: '', value: (p: SeriesPoint) => p.quality_score.mean, format: formatScore },
  count: { title: 'Executions', unit: '', value: (p: SeriesPoint) => p.count, format: formatCount, whole: true },
} as const;
export type Measure = keyof typeof MEASURES;

/**
 * Aligned columns, as uPlot takes them: the bucket starts (Unix seconds) of
 * the whole window, and per version its value in each bucket, null where it
 * had none, so a quiet hour shows as a gap rather than a zero.
 */
export interface ChartData {
  x: number[];
  series: Array<{ version: number; values: Array<number | null> }>;
  /** The window, in Unix seconds, for the x scale. */
  range: [number, number];
  /** Whether any version has a value at all (an empty chart says so instead). */
  hasData: boolean;
}

export function chartData(stats: Pick<PromptStats, 'from' | 'to' | 'series'>, measure: Measure): ChartData {
  const value = MEASURES[measure].value;
  const starts = [...new Set(stats.series.map((p) => Date.parse(p.start)))].sort((a, b) => a - b);
  const index = new Map(starts.map((t, i) => [t, i]));
  const versions = [...new Set(stats.series.map((p) => p.version))].sort((a, b) => a - b);
  const series = versions.map((version) => ({ version, values: starts.map((): number | null => null) }));
  const byVersion = new Map(series.map((s) => [s.version, s]));
  let hasData = false;
  for (const p of stats.series) {
    const v = value(p);
    byVersion.get(p.version)!.values[index.get(Date.parse(p.start))!] = v;
    if (v !== null) hasData = true;
  }
  // A window starting within a bucket (a rollout's start) still shows that bucket's points.
  const from = Math.min(Date.parse(stats.from), starts[0] ?? Infinity);
  return { x: starts.map((t) => t / 1000), series, range: [from / 1000, Date.parse(stats.to) / 1000], hasData };
}

export interface Column {
  title: string;
  /** Numbers align right. */
  numeric: boolean;
  cell: (v: VersionStats) => string;
}

/** A custom metric's cell: its mean, or for a categorical one its categories by count. */
function metricCell(name: string) {
  return (v: VersionStats): string => {
    const m = v.metrics[name];
    if (!m || m.count === 0) return NONE;
    if (m.categories) {
      return Object.entries(m.categories)
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .map(([c, n]) => `${c} ${n}`)
        .join(' · ');
    }
    return `${formatScore(m.mean)} (${formatCount(m.count)})`;
  };
}

/** The per-version table's columns: the built-in measures, then each custom metric any version has. */
export function versionColumns(stats: Pick<PromptStats, 'versions'>): Column[] {
  const metrics = [...new Set(stats.versions.flatMap((v) => Object.keys(v.metrics)))].sort();
  return [
    { title: 'Version', numeric: false, cell: (v) => `v${v.version}` },
    { title: 'Executions', numeric: true, cell: (v) => formatCount(v.count) },
    { title: 'Error rate', numeric: true, cell: (v) => formatPercent(v.error_rate) },
    { title: 'p50', numeric: true, cell: (v) => formatLatency(v.latency_ms.p50) },
    { title: 'p95', numeric: true, cell: (v) => formatLatency(v.latency_ms.p95) },
    { title: 'p99', numeric: true, cell: (v) => formatLatency(v.latency_ms.p99) },
    { title: 'Tokens in', numeric: true, cell: (v) => formatCount(v.input_tokens.mean) },
    { title: 'Tokens out', numeric: true, cell: (v) => formatCount(v.output_tokens.mean) },
    { title: 'Cost (mean)', numeric: true, cell: (v) => formatCost(v.cost_usd.mean) },
    { title: 'Cost (total)', numeric: true, cell: (v) => formatCost(v.cost_usd.sum) },
    { title: 'Quality', numeric: true, cell: (v) => formatScore(v.quality_score.mean) },
    ...metrics.map((name) => ({ title: name, numeric: false, cell: metricCell(name) })),
  ];
}

const BUILTIN_FORMAT: Record<string, (v: number) => string> = {
  latency_ms: formatLatency,
  input_tokens: formatCount,
  output_tokens: formatCount,
  cost_usd: formatCost,
  quality_score: formatScore,
  error_rate: formatPercent,
};

const BUILTIN_TITLE: Record<string, string> = {
  latency_ms: 'Latency (mean)',
  input_tokens: 'Tokens in (mean)',
  output_tokens: 'Tokens out (mean)',
  cost_usd: 'Cost (mean)',
  quality_score: 'Quality (mean)',
  error_rate: 'Error rate',
};

/** The comparison's rows: measure, a's mean, b's mean, the difference (b − a). */
export function comparisonRows(c: Comparison): Array<[string, string, string, string]> {
  return c.metrics.map((m) => {
    const format = BUILTIN_FORMAT[m.name] ?? formatScore;
    const side = (s: Comparison['metrics'][number]['a']) =>
      s.categories ? Object.entries(s.categories).map(([k, n]) => `${k} ${n}`).join(' · ') || NONE : s.mean === null ? NONE : `${format(s.mean)} (${formatCount(s.count)})`;
    return [(m.kind === 'builtin' ? BUILTIN_TITLE[m.name] : undefined) ?? m.name, side(m.a), side(m.b), formatDifference(m.difference, format)];
  });
}
