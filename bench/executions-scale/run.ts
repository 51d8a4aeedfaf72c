/**
 * `npm run bench:scale`: execution logs at scale (issue 16 item 4). Loads a
 * year of executions (BENCH_ROWS, default 10,000,000 on Postgres; 1,000,000
 * on SQLite) and measures, in one run:
 *   - stats: ExecutionService.stats of one prompt over 30 days (the answer of
 *     GET /prompts/{name}/stats: per-version counts, sums, exact percentiles,
 *     a daily series), p50 of BENCH_ITERATIONS calls. Target ≤ 15 ms.
 *   - purge: a retention run whose cutoff is the end of the oldest month
 *     (Postgres: that month's partition dropped whole; SQLite: row by row).
 *     Target ≤ 1 s on Postgres.
 *   - ingest: batches of 1,000 through our ingest path (parseBatch, then
 *     ExecutionService.ingest: checks, references, idempotency probe, COPY,
 *     hourly and daily totals) against a raw batched INSERT of the same kind of rows
 *     into the same table, alternating rounds; rows/s and the ratio.
 * Progress goes to stderr; stdout gets one JSON document.
 *
 * Environment:
 *   BENCH_ROWS          Postgres executions (default 10000000)
 *   BENCH_SQLITE_ROWS   SQLite executions (default 1000000)
 *   BENCH_PROMPTS       prompts (3 versions each) the rows spread over (default 100)
 *   BENCH_ITERATIONS    measured stats calls (default 30, after 5 warm-up calls)
 *   BENCH_BATCHES       ingest batches of 1,000 per side (default 30)
 *   BENCH_DATABASES     sqlite,postgres (default both)
 *   BENCH_DATABASE_URL / TEST_DATABASE_URL  an admin Postgres URL; else an embedded Postgres
 */
import { randomUUID } from 'node:crypto';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { openDatabase, type Database } from '../../server/db/index.js';
import { migrate } from '../../server/db/migrate.js';
import { EnvironmentService } from '../../server/environments/service.js';
import { DeploymentService } from '../../server/deployments/service.js';
import { ChangeFeed } from '../../server/events.js';
import { parseBatch } from '../../server/executions/routes.js';
import { ExecutionService } from '../../server/executions/service.js';
import { asTuple, INSERT_COLUMNS } from '../../server/executions/store/shared.js';
import { executionStore } from '../../server/executions/store/index.js';
import { MetricService } from '../../server/metrics/service.js';
import { replacePolicies } from '../../server/retention/repository.js';
import { RETENTION_JOB, RetentionService } from '../../server/retention/service.js';
import { freshDatabase } from '../../test/support/db.js';
import { seedStatsPrompts, statsExecution, type StatsPrompt } from '../stats-data.js';
import { benchPostgres } from '../support.js';

const DAY = 86_400_000;
const MONTHS = 12;
const int = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const ROWS = { postgres: int('BENCH_ROWS', 10_000_000), sqlite: int('BENCH_SQLITE_ROWS', 1_000_000) };
const PROMPTS = int('BENCH_PROMPTS', 100);
const ITERATIONS = int('BENCH_ITERATIONS', 30);
const BATCHES = int('BENCH_BATCHES', 30);
const DATABASES = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',') as Array<'sqlite' | 'postgres'>;
const progress = (m: string) => process.stderr.write(`${m}\n`);
const r2 = (x: number) => Math.round(x * 100) / 100;

/** The twelve whole months before the current one (UTC): [start, end) each. */
function months(now: number): Array<[number, number]> {
  const d = new Date(now);
  return Array.from({ length: MONTHS }, (_, k) => [
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - MONTHS + k, 1),
    Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - MONTHS + k + 1, 1),
  ]);
}

/** Postgres: each month's rows with one INSERT … SELECT over generate_series (the statement trigger builds the hourly and daily totals). */
async function loadPostgres(db: Database, prompts: StatsPrompt[], span: Array<[number, number]>, rows: number): Promise<void> {
  const versions = prompts.flatMap((p) => p.versions.map((v) => [v, p.id] as const));
  const perMonth = Math.ceil(rows / span.length);
  for (const [from, to] of span) {
    await db.get('SELECT prompt_executions_ensure_month($1::timestamptz)', [new Date(from).toISOString()]);
    const t0 = performance.now();
    await db.run(
      `INSERT INTO prompt_executions (id, prompt_version_id, prompt_id, executed_at, environment, status, input_tokens, output_tokens, latency_ms, cost_usd, quality_score, metadata)
       SELECT gen_random_uuid(), ($4::uuid[])[1 + g % $5], ($6::uuid[])[1 + g % $5],
              $1::timestamptz + ((g::float8 / $3) * $2::float8) * INTERVAL '1 millisecond',
              CASE WHEN g % 5 = 4 THEN 'staging' ELSE 'production' END, CASE WHEN g % 40 = 0 THEN 'error' ELSE 'ok' END,
              100 + g % 400, 50 + g % 300, 200 + (g::bigint * 7919) % 3000, 0.0001 * (g % 50), CASE WHEN g % 3 = 0 THEN NULL ELSE (g % 10) / 10.0 END, '{}'
         FROM generate_series(0, $3 - 1) AS g`,
      [new Date(from).toISOString(), to - from, perMonth, versions.map((v) => v[0]), versions.length, versions.map((v) => v[1])],
    );
    progress(`  ${new Date(from).toISOString().slice(0, 7)}: ${perMonth.toLocaleString('en')} rows in ${Math.round(performance.now() - t0)} ms`);
  }
  await db.run('VACUUM ANALYZE prompt_executions');
  await db.run('VACUUM ANALYZE prompt_execution_hours');
  await db.run('VACUUM ANALYZE prompt_execution_days');
}

/** SQLite: through the store's insert, 10,000 rows a transaction (the triggers keep the totals). */
async function loadSqlite(db: Database, prompts: StatsPrompt[], span: Array<[number, number]>, rows: number): Promise<void> {
  const store = executionStore('sqlite');
  const [start, end] = [span[0]![0], span[span.length - 1]![1]];
  for (let at = 0; at < rows; at += 10_000) {
    const chunk = Array.from({ length: Math.min(10_000, rows - at) }, (_, k) => {
      const i = at + k;
      return statsExecution(prompts, i, new Date(start + Math.floor((i / rows) * (end - start))).toISOString());
    });
    await store.insert(db, chunk);
    if ((at / 10_000) % 20 === 19) progress(`  ${(at + 10_000).toLocaleString('en')} rows`);
  }
  await db.transaction((tx) => tx.exec('ANALYZE'));
}

async function statsLatency(service: ExecutionService, name: string, to: number) {
  const q = { from: new Date(to - 30 * DAY).toISOString(), to: new Date(to).toISOString() };
  const answer = await service.stats(name, q);
  for (let i = 0; i < 5; i++) await service.stats(name, q);
  const samples: number[] = [];
  for (let i = 0; i < ITERATIONS; i++) {
    const t0 = performance.now();
    await service.stats(name, q);
    samples.push(performance.now() - t0);
  }
  samples.sort((a, b) => a - b);
  return {
    window_rows: answer.versions.reduce((n, v) => n + v.count, 0),
    versions: answer.versions.length,
    p50_ms: r2(samples[Math.floor(samples.length / 2)]!),
    min_ms: r2(samples[0]!),
    max_ms: r2(samples[samples.length - 1]!),
  };
}

/** Our ingest path against a raw batched INSERT, alternating batches of 1,000. */
async function ingestRatio(db: Database, service: ExecutionService, prompts: StatsPrompt[]) {
  const raw = db.dialect === 'postgres' ? rawPostgres : rawSqlite;
  const body = () =>
    Array.from({ length: 1_000 }, (_, k) => {
      const p = prompts[k % prompts.length]!;
      return {
        id: randomUUID(),
        prompt_version_id: p.versions[k % 3]!,
        environment: 'production',
        executed_at: new Date(Date.now() - k).toISOString(),
        latency_ms: 200 + k,
        input_tokens: 100,
        output_tokens: 50,
        cost_usd: 0.001,
        status: 'ok',
        metadata: { source: 'bench' },
      };
    });
  const ours: number[] = [];
  const baseline: number[] = [];
  for (let b = 0; b < BATCHES + 2; b++) {
    const [a, c] = [body(), body()];
    let t0 = performance.now();
    await service.ingest(parseBatch(JSON.parse(JSON.stringify(a)) as unknown[]));
    const oursMs = performance.now() - t0;
    const records = c.map((e) => {
      const p = prompts.find((x) => x.versions.includes(e.prompt_version_id))!;
      return { ...e, prompt_id: p.id, error: null, input_variables: null, rendered_prompt: null, response: null, quality_score: null, metadata: JSON.stringify(e.metadata), status: 'ok' as const };
    });
    t0 = performance.now();
    await raw(db, records);
    const rawMs = performance.now() - t0;
    if (b >= 2) {
      ours.push(oursMs);
      baseline.push(rawMs);
    }
  }
  const rate = (ms: number[]) => Math.round((ms.length * 1_000) / (ms.reduce((a, b) => a + b, 0) / 1000));
  return { batch: 1_000, batches: BATCHES, ours_rows_per_s: rate(ours), raw_insert_rows_per_s: rate(baseline), ratio: r2(rate(ours) / rate(baseline)) };
}

const RAW_POSTGRES = `INSERT INTO prompt_executions (${INSERT_COLUMNS})
  SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::jsonb[],
                       $9::text[], $10::text[], $11::int[], $12::int[], $13::int[], $14::float8[], $15::float8[], $16::jsonb[],
                       $17::jsonb[], $18::jsonb[], $19::jsonb[], $20::jsonb[])`;
type Raw = Parameters<typeof asTuple>[0];
async function rawPostgres(db: Database, rows: Raw[]) {
  const columns: unknown[][] = Array.from({ length: 20 }, () => []);
  for (const r of rows) asTuple(r).forEach((v, c) => columns[c]!.push(v));
  await db.run(RAW_POSTGRES, columns);
}
async function rawSqlite(db: Database, rows: Raw[]) {
  const tuple = (r: number) => `(${Array.from({ length: 20 }, (_, c) => `$${r * 20 + c + 1}`).join(', ')})`;
  const sql = `INSERT INTO prompt_executions (${INSERT_COLUMNS}) VALUES ${Array.from({ length: 250 }, (_, r) => tuple(r)).join(', ')}`;
  await db.transaction(async (tx) => {
    for (let at = 0; at < rows.length; at += 250) await tx.run(sql, rows.slice(at, at + 250).flatMap(asTuple));
  });
}

async function benchOne(dialect: 'sqlite' | 'postgres') {
  const target = await freshDatabase(dialect);
  // No statement timeout: a month of rows is one statement.
  const db = await openDatabase(target.url, { postgres: { statementTimeoutMs: 0 } });
  try {
    await migrate(db);
    const prompts = await seedStatsPrompts(db, PROMPTS);
    const now = Date.now();
    const span = months(now);
    const rows = ROWS[dialect];
    progress(`${dialect}: loading ${rows.toLocaleString('en')} executions over ${MONTHS} months, ${PROMPTS} prompts × 3 versions (load ${loadavg().map(r2).join(' ')})`);
    const t0 = performance.now();
    await (dialect === 'postgres' ? loadPostgres : loadSqlite)(db, prompts, span, rows);
    const loadS = (performance.now() - t0) / 1000;
    const feed = new ChangeFeed(db);
    const deployments = new DeploymentService(db, feed, new EnvironmentService(db, ['dev', 'staging', 'production']), 0);
    const service = new ExecutionService(db, deployments, new MetricService(db));

    progress(`${dialect}: stats over 30 days`);
    const stats = await statsLatency(service, prompts[0]!.name, span[span.length - 1]![1]);
    progress(`  ${JSON.stringify(stats)}`);

    progress(`${dialect}: ingest against a raw batched INSERT`);
    const ingest = await ingestRatio(db, service, prompts);
    progress(`  ${JSON.stringify(ingest)}`);

    // A delete policy of 30 days, run at a `now` that puts its cutoff at the oldest month's end.
    progress(`${dialect}: purging the oldest month`);
    const [oldest, oldestEnd] = span[0]!;
    const before = Number((await db.get<{ n: unknown }>('SELECT COUNT(*) AS n FROM prompt_executions WHERE executed_at < $1', [new Date(oldestEnd).toISOString()]))!.n);
    await db.transaction((tx) => replacePolicies(tx, [{ promptId: null, environment: null, days: 30, action: 'delete' }], 'bench'));
    const retention = new RetentionService(db, { batchSize: 1_000, environments: ['dev', 'staging', 'production'] });
    const p0 = performance.now();
    const purged = await retention.run(RETENTION_JOB, { dryRun: false, now: oldestEnd + 30 * DAY });
    const purgeMs = performance.now() - p0;
    const purge = { month: new Date(oldest).toISOString().slice(0, 7), rows_in_month: before, deleted: purged.deleted, ms: Math.round(purgeMs) };
    progress(`  ${JSON.stringify(purge)}`);
    await feed.shutdown();
    return {
      rows,
      load_seconds: Math.round(loadS),
      stats_30_days: { ...stats, target_ms: 15, meets_target: stats.p50_ms <= 15 },
      purge_month: { ...purge, target_ms: 1_000, meets_target: purgeMs <= 1_000 },
      ingest,
    };
  } finally {
    await db.close();
    await target.drop();
  }
}

async function main() {
  const postgres = DATABASES.includes('postgres') ? await benchPostgres(progress) : undefined;
  const results: Record<string, unknown> = {};
  try {
    for (const dialect of DATABASES) results[dialect] = await benchOne(dialect);
  } finally {
    await postgres?.stop();
  }
  process.stdout.write(
    `${JSON.stringify({ bench: 'executions-scale', load_average_1_5_15: loadavg().map(r2), cores: (await import('node:os')).cpus().length, prompts: PROMPTS, results }, null, 2)}\n`,
  );
}

await main();
