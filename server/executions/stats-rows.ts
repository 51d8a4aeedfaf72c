import type { Queryable } from '../db/index.js';
import { concat, parseList, percentiles } from './percentiles.js';
import { INTERVALS, type Interval } from './schemas.js';
import { iso } from './store/shared.js';
import type { Aggregate, ExecutionStore, StatsWindow } from './store/types.js';

export interface VersionStatsRow {
  version_id: string;
  version_number: number;
  aggregate: Aggregate;
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

export interface BucketStatsRow {
  version_id: string;
  version_number: number;
  start: string;
  aggregate: Aggregate;
  p95: number | null;
}

const none = { n: 0, sum: 0 };
export const EMPTY_AGGREGATE: Aggregate = {
  count: 0,
  errors: 0,
  latency: none,
  input_tokens: none,
  output_tokens: none,
  cost_usd: none,
  quality_score: none,
};

export function addAggregates(a: Aggregate, b: Aggregate): Aggregate {
  const add = (x: { n: number; sum: number }, y: { n: number; sum: number }) => ({ n: x.n + y.n, sum: x.sum + y.sum });
  return {
    count: a.count + b.count,
    errors: a.errors + b.errors,
    latency: add(a.latency, b.latency),
    input_tokens: add(a.input_tokens, b.input_tokens),
    output_tokens: add(a.output_tokens, b.output_tokens),
    cost_usd: add(a.cost_usd, b.cost_usd),
    quality_score: add(a.quality_score, b.quality_score),
  };
}

/**
 * Per version, and per version and time bucket, over one prompt's window:
 * counts, sums and nearest-rank latency percentiles. Counts and sums come
 * from the store's bucketAggregates; then each bucket's latencies from the
 * version-time index, ranked here, by the same rule on both dialects.
 */
export async function statsRows(
  store: ExecutionStore,
  db: Queryable,
  w: StatsWindow,
  interval: Interval,
): Promise<{ versions: VersionStatsRow[]; buckets: BucketStatsRow[] }> {
  const groups = new Map<string, { version_id: string; version_number: number; start: string; aggregate: Aggregate }>();
  for (const r of await store.bucketAggregates(db, w, interval)) {
    const key = `${r.version_id} ${r.start}`;
    const group = groups.get(key);
    if (group) group.aggregate = addAggregates(group.aggregate, r.aggregate);
    else groups.set(key, { ...r });
  }
  // In time order, so every sum below adds up in the same order on both dialects.
  const ordered = [...groups.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.version_id < b.version_id ? -1 : 1));
  const step = INTERVALS[interval];
  const lists = await store.latencyLists(
    db,
    ordered.map((g) => ({
      versionId: g.version_id,
      from: g.start < w.from ? w.from : g.start,
      to: iso(Math.min(Date.parse(g.start) + step, Date.parse(w.to))),
    })),
    w.environment,
  );

  const buckets: BucketStatsRow[] = [];
  const byVersion = new Map<string, { row: Omit<VersionStatsRow, 'p50' | 'p95' | 'p99'>; latencies: Float64Array[] }>();
  ordered.forEach((g, i) => {
    const text = lists[i];
    const latencies = text ? parseList(text) : new Float64Array(0);
    buckets.push({ ...g, p95: percentiles(latencies, [0.95])[0]! });
    const entry = byVersion.get(g.version_id);
    if (entry) {
      entry.row.aggregate = addAggregates(entry.row.aggregate, g.aggregate);
      entry.latencies.push(latencies);
    } else {
      byVersion.set(g.version_id, { row: { version_id: g.version_id, version_number: g.version_number, aggregate: g.aggregate }, latencies: [latencies] });
    }
  });
  const versions = [...byVersion.values()].map(({ row, latencies }) => {
    const [p50, p95, p99] = percentiles(concat(latencies), [0.5, 0.95, 0.99]);
    return { ...row, p50: p50!, p95: p95!, p99: p99! };
  });
  return { versions, buckets };
}
