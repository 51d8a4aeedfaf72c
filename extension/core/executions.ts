/**
 * What the execution-log webviews ask for, turned into registry queries.
 * Pure: the host's handlers call these, and the unit tests do too.
 */
import type { ExecutionFilter, StatsInterval } from '../../client/index.js';
import { STATS_RANGES, TIME_RANGES, type ExecutionsFilter, type StatsRange, type TimeRange } from '../../webview/protocol.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const RANGE_MS: Record<Exclude<TimeRange, 'all'>, number> = { '1h': HOUR, '24h': DAY, '7d': 7 * DAY, '30d': 30 * DAY };
const STATS_DAYS: Record<StatsRange, number> = { '24h': 1, '7d': 7, '30d': 30, '90d': 90, '365d': 365 };

export const DEFAULT_RANGE: TimeRange = '24h';
export const DEFAULT_STATS_RANGE: StatsRange = '7d';

const PROMPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const ENVIRONMENT = /^[a-z0-9_-]{1,50}$/;

/**
 * A filter as a webview sent it, checked field by field: anything malformed
 * is dropped (never sent on), so a stale or odd state can't break the list.
 */
export function normalizeFilter(value: unknown): ExecutionsFilter {
  const v = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const range = typeof v.range === 'string' && v.range in TIME_RANGES ? (v.range as TimeRange) : DEFAULT_RANGE;
  const filter: ExecutionsFilter = { range };
  if (typeof v.prompt === 'string' && PROMPT_NAME.test(v.prompt.trim())) filter.prompt = v.prompt.trim();
  if (filter.prompt && typeof v.version === 'number' && Number.isInteger(v.version) && v.version >= 1) filter.version = v.version;
  if (typeof v.environment === 'string' && ENVIRONMENT.test(v.environment)) filter.environment = v.environment;
  if (v.status === 'ok' || v.status === 'error') filter.status = v.status;
  return filter;
}

/** The `GET /executions` query for a filter, its time range ending now. */
export function executionQuery(filter: ExecutionsFilter, now: Date): ExecutionFilter {
  const f = normalizeFilter(filter);
  const q: ExecutionFilter = {};
  if (f.prompt) q.prompt = f.prompt;
  if (f.prompt && f.version) q.version = f.version;
  if (f.environment) q.environment = f.environment;
  if (f.status) q.status = f.status;
  if (f.range !== 'all') q.from = new Date(now.getTime() - RANGE_MS[f.range]).toISOString();
  return q;
}

export function isStatsRange(value: unknown): value is StatsRange {
  return typeof value === 'string' && value in STATS_RANGES;
}

/**
 * The `GET /prompts/{name}/stats` window for a range ending now: hourly
 * buckets up to 7 days (a day's p95 hides a bad hour), daily beyond.
 */
export function statsWindow(range: StatsRange, now: Date): { from: string; to: string; interval: StatsInterval } {
  const days = STATS_DAYS[range];
  return { from: new Date(now.getTime() - days * DAY).toISOString(), to: now.toISOString(), interval: days <= 7 ? 'hour' : 'day' };
}

/**
 * The window from `since` (a rollout's start, ISO-8601) to now, or undefined when `since` is not a
 * time in the past year: hourly buckets up to 7 days, daily beyond, like `statsWindow`.
 */
export function sinceWindow(since: unknown, now: Date): { from: string; to: string; interval: StatsInterval } | undefined {
  if (typeof since !== 'string') return undefined;
  const from = Date.parse(since);
  // A few minutes ahead is the registry's clock running ahead of this one, not a mistake.
  if (!Number.isFinite(from) || from > now.getTime() + 5 * 60_000 || now.getTime() - from > 365 * DAY) return undefined;
  const to = Math.max(now.getTime(), from + 60_000);
  return { from: new Date(from).toISOString(), to: new Date(to).toISOString(), interval: to - from <= 7 * DAY ? 'hour' : 'day' };
}
