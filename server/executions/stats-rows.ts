import type { Queryable } from '../db/index.js';
import { concat, parseList, percentiles } from './percentiles.js';
import type { Interval } from './schemas.js';
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
 * counts, sums and nearest-rank latency percentiles. The store's
 * bucketAggregates answers each part of a bucket with its counts, sums and
 * latencies (read from the version-time index); the parts add up here and
 * the latencies are ranked here, by the same rule on both dialects.
 */
export async function statsRows(
  store: ExecutionStore,
  db: Queryable,
  w: StatsWindow,
  interval: Interval,
): Promise<{ versions: VersionStatsRow[]; buckets: BucketStatsRow[] }> {
  const groups = new Map<string, { version_id: string; version_number: number; start: string; aggregate: Aggregate; lists: Float64Array[] }>();
  for (const r of await store.bucketAggregates(db, w, interval)) {
    const key = `${r.version_id} ${r.start}`;
    const latencies = r.latencies ? parseList(r.latencies) : new Float64Array(0);
    const group = groups.get(key);
    if (group) {
      group.aggregate = addAggregates(group.aggregate, r.aggregate);
      group.lists.push(latencies);
    } else groups.set(key, { version_id: r.version_id, version_number: r.version_number, start: r.start, aggregate: r.aggregate, lists: [latencies] });
  }
  // In time order, so every sum below adds up in the same order on both dialects.
  const ordered = [...groups.values()].sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.version_id < b.version_id ? -1 : 1));

  const buckets: BucketStatsRow[] = [];
  const byVersion = new Map<string, { row: Omit<VersionStatsRow, 'p50' | 'p95' | 'p99'>; latencies: Float64Array[] }>();
  for (const { lists, ...g } of ordered) {
    const latencies = lists.length === 1 ? lists[0]! : concat(lists);
    buckets.push({ ...g, p95: percentiles(latencies, [0.95])[0]! });
    const entry = byVersion.get(g.version_id);
    if (entry) {
      entry.row.aggregate = addAggregates(entry.row.aggregate, g.aggregate);
      entry.latencies.push(latencies);
    } else {
      byVersion.set(g.version_id, { row: { version_id: g.version_id, version_number: g.version_number, aggregate: g.aggregate }, latencies: [latencies] });
    }
  }
  const versions = [...byVersion.values()].map(({ row, latencies }) => {
    const [p50, p95, p99] = percentiles(concat(latencies), [0.5, 0.95, 0.99]);
    return { ...row, p50: p50!, p95: p95!, p99: p99! };
  });
  return { versions, buckets };
}
