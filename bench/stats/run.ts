/**
 * `npm run bench:stats`: the statistics query (what GET /prompts/{name}/stats
 * runs: per-version counts, sums, latency percentiles, custom metrics and the
 * daily series) for one prompt over a 7-day window holding ~25,000
 * executions, in a table of 1,000,000, on SQLite and Postgres. The service is
 * called in process (no HTTP). Progress goes to stderr; stdout gets one JSON
 * document.
 *
 * Environment:
 *   BENCH_ROWS          executions in the table (default 1000000)
 *   BENCH_PROMPTS       prompts they are spread over (default 10); over 28 days,
 *                       so one prompt's 7-day window holds ROWS / PROMPTS / 4
 *   BENCH_ITERATIONS    measured calls per database (default 50), after 5 warm-up calls
 *   BENCH_DATABASES     which to run: sqlite,postgres (default both)
 *   BENCH_DATABASE_URL / TEST_DATABASE_URL
 *                       an admin Postgres URL to create a throwaway database on;
 *                       without either, an embedded Postgres is started
 */
import { performance } from 'node:perf_hooks';
import { openDatabase, type Database } from '../../server/db/index.js';
import { migrate } from '../../server/db/migrate.js';
import { DeploymentService } from '../../server/deployments/service.js';
import { EnvironmentService } from '../../server/environments/service.js';
import { ChangeFeed } from '../../server/events.js';
import { statsRows } from '../../server/executions/stats-rows.js';
import { executionStore, type ExecutionRecord } from '../../server/executions/store/index.js';
import { ExecutionService } from '../../server/executions/service.js';
import { MetricService } from '../../server/metrics/service.js';
import { freshDatabase, type TestDatabase } from '../../test/support/db.js';
import { seedStatsPrompts, statsExecution, type StatsPrompt } from '../stats-data.js';
import { benchPostgres } from '../support.js';

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${raw}: expected a whole number above 0`);
  return value;
}

const ROWS = numberFromEnv('BENCH_ROWS', 1_000_000);
const PROMPTS = numberFromEnv('BENCH_PROMPTS', 10);
const ITERATIONS = numberFromEnv('BENCH_ITERATIONS', 50);
const WARMUP = 5;
const DATABASES = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean) as Array<'sqlite' | 'postgres'>;
for (const d of DATABASES) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`BENCH_DATABASES: unknown database "${d}" (sqlite, postgres)`);
const TARGET_MS = { postgres: 15, sqlite: 5 };
const DAYS = 28;
const DAY = 86_400_000;
const LOAD_CHUNK = 10_000;

const started = Date.now();
const progress = (message: string) => process.stderr.write(`[bench:stats +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);

/** ROWS executions over the 28 days before `now`, round-robin over prompts, loaded with the server's own multi-row insert. */
async function load(db: Database, prompts: StatsPrompt[], now: number): Promise<number> {
  const t0 = performance.now();
  for (let start = 0; start < ROWS; start += LOAD_CHUNK) {
    const rows: ExecutionRecord[] = [];
    for (let i = start; i < Math.min(ROWS, start + LOAD_CHUNK); i++) {
      // Newest first, evenly spread: row i ran i/ROWS of the way back through the 28 days.
      rows.push(statsExecution(prompts, i, new Date(now - Math.floor((i / ROWS) * DAYS * DAY) - 1).toISOString()));
    }
    await executionStore(db.dialect).insert(db, rows);
    if ((start / LOAD_CHUNK) % 10 === 9) progress(`  loaded ${(start + LOAD_CHUNK).toLocaleString('en')} rows`);
  }
  return ROWS / ((performance.now() - t0) / 1000);
}

function summary(samples: number[]) {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)]!;
  const r = (x: number) => Math.round(x * 100) / 100;
  return { p50: r(at(0.5)), p90: r(at(0.9)), min: r(sorted[0]!), mean: r(samples.reduce((a, b) => a + b, 0) / samples.length) };
}

async function measure(label: string, fn: () => Promise<unknown>) {
  for (let i = 0; i < WARMUP; i++) await fn();
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await fn();
    samples.push(performance.now() - t0);
  }
  const s = summary(samples);
  progress(`  ${label}: p50 ${s.p50} ms, min ${s.min} ms`);
  return s;
}

async function benchOne(dialect: 'sqlite' | 'postgres') {
  const target: TestDatabase = await freshDatabase(dialect);
  const db = await openDatabase(target.url);
  try {
    await migrate(db);
    const prompts = await seedStatsPrompts(db, PROMPTS);
    const now = Date.now();
    progress(`${dialect}: loading ${ROWS.toLocaleString('en')} executions`);
    const loadRate = await load(db, prompts, now);
    progress(`${dialect}: ${Math.round(loadRate).toLocaleString('en')} rows/s; analysing`);
    if (dialect === 'postgres') await db.run('VACUUM ANALYZE prompt_executions');
    else await db.transaction((tx) => tx.exec('ANALYZE'));

    const feed = new ChangeFeed(db);
    const deployments = new DeploymentService(db, feed, new EnvironmentService(db, ['dev', 'staging', 'production']), 0);
    const service = new ExecutionService(db, deployments, new MetricService(db));
    const name = 'stats-prompt-1';
    const to = new Date(now).toISOString();
    const from = new Date(now - 7 * DAY).toISOString();
    const answer = await service.stats(name, { from, to });
    const windowRows = answer.versions.reduce((n, v) => n + v.count, 0);
    progress(`${dialect}: ${windowRows.toLocaleString('en')} executions in the window`);

    const stats = await measure(`${dialect} stats (whole answer)`, () => service.stats(name, { from, to }));
    const production = await measure(`${dialect} stats, environment=production`, () => service.stats(name, { from, to, environment: 'production' }));
    const query = await measure(`${dialect} the aggregate query alone`, () => statsRows(executionStore(db.dialect), db, { promptId: prompts[0]!.id, environment: null, from, to }, 'day'));
    return {
      rows: ROWS,
      window_rows: windowRows,
      load_rows_per_s: Math.round(loadRate),
      stats_ms: stats,
      stats_production_only_ms: production,
      aggregate_query_ms: query,
      target_ms: TARGET_MS[dialect],
      meets_target: stats.p50 <= TARGET_MS[dialect],
    };
  } finally {
    await db.close();
    await target.drop();
  }
}

async function main(): Promise<void> {
  const postgres = DATABASES.includes('postgres') ? await benchPostgres(progress) : undefined;
  try {
    const results: Record<string, unknown> = {};
    for (const dialect of DATABASES) results[dialect] = await benchOne(dialect);
    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'stats',
          query:
            'ExecutionService.stats(prompt, 7-day window ending now, so cut mid-hour): per-version counts and sums (SQLite: hourly totals for whole hours, rows for the part-hours), nearest-rank p50/p95/p99 from the version-time index, custom metrics, daily series',
          iterations: ITERATIONS,
          node: process.version,
          ...results,
          meets_targets: Object.values(results).every((r) => (r as { meets_target: boolean }).meets_target),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await postgres?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:stats failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
