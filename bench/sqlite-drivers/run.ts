/**
 * `npm run bench:sqlite-drivers`: the two SQLite drivers side by side, in one
 * process on one Node.js (24), through the server's own storage layer and
 * services (no HTTP, so the driver is what differs):
 *
 *   - resolve-miss: DeploymentService.resolveAnswer with the resolve cache off,
 *     a random one of the seeded prompts each time (what GET /prompts/{name}/latest
 *     does under --no-cache);
 *   - ingest: ExecutionService.ingest of batches of executions (what POST /executions does
 *     after parsing), at two batch sizes;
 *   - stats: ExecutionService.stats for one prompt's 7-day window in a table of executions.
 *
 * Each driver gets its own database file, seeded alike. The workloads alternate
 * drivers over rounds (A B, then B A, ...) and report the median of the rounds.
 * `speed_ratio` is node:sqlite's speed over better-sqlite3's (above 1: node:sqlite is faster).
 *
 * Run on a Node without node:sqlite (Node 20), it runs itself again on the
 * Node 24 of the VS Code test toolchain (test/extension/setup.ts). better-sqlite3
 * for that Node is built once into a cache folder (./better-sqlite3.ts).
 *
 * Environment:
 *   BENCH_PROMPTS     prompts seeded for resolve (default 10000)
 *   BENCH_ROWS        executions in the table for stats (default 200000)
 *   BENCH_ROUNDS      rounds per workload (default 5)
 *   BENCH_SECONDS     seconds per driver per round for resolve and ingest (default 2)
 *   BENCH_FIRST       the driver seeded first and measured first in the first round (default node)
 */
import { randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import type BetterSqlite3 from 'better-sqlite3';
import { migrate } from '../../server/db/migrate.js';
import { SqliteDatabase } from '../../server/db/sqlite.js';
import { betterSqliteDriver, loadSqliteDriver, type SqliteDriver, type SqliteDriverName } from '../../server/db/sqlite-driver.js';
import type { Database } from '../../server/db/index.js';
import { DeploymentService } from '../../server/deployments/service.js';
import { EnvironmentService } from '../../server/environments/service.js';
import { ChangeFeed } from '../../server/events.js';
import { executionStore, type ExecutionRecord } from '../../server/executions/store/index.js';
import { parseBatch } from '../../server/executions/routes.js';
import { ExecutionService } from '../../server/executions/service.js';
import { MetricService } from '../../server/metrics/service.js';
import { promptName, seedInto } from '../resolve/seed.js';
import { seedStatsPrompts, statsExecution } from '../stats-data.js';
import { betterSqlite3For } from './better-sqlite3.js';

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${raw}: expected a number above 0`);
  return value;
}

const PROMPTS = numberFromEnv('BENCH_PROMPTS', 10_000);
const ROWS = numberFromEnv('BENCH_ROWS', 200_000);
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 5);
const SECONDS = numberFromEnv('BENCH_SECONDS', 2);
const FIRST = process.env.BENCH_FIRST ?? 'node';
if (FIRST !== 'node' && FIRST !== 'better-sqlite3') throw new Error(`BENCH_FIRST=${FIRST}: node or better-sqlite3`);
const STATS_PROMPTS = 10;
const DAY = 86_400_000;

const started = Date.now();
const progress = (message: string) => process.stderr.write(`[bench:sqlite-drivers +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);

const NODE_SQLITE: string = 'node:sqlite';
const hasNodeSqlite = await import(NODE_SQLITE).then(
  () => true,
  () => false,
);

/** On a Node without node:sqlite, run this file again on the toolchain's Node 24 and pass its answer on. */
async function onNode24(): Promise<number> {
  const { ensureToolchain } = await import('../../test/extension/setup.js');
  const { node } = await ensureToolchain();
  progress(`Node.js ${process.versions.node} has no node:sqlite: running on ${node}`);
  return new Promise((resolve) => {
    const child = spawn(node, ['--import', 'tsx', fileURLToPath(import.meta.url)], { stdio: 'inherit' });
    child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0)));
  });
}

interface Subject {
  driver: SqliteDriverName;
  db: Database;
  dir: string;
  deployments: DeploymentService;
  executions: ExecutionService;
  versionIds: string[];
  statsPrompt: string;
}

/** Executions for the stats table: STATS_PROMPTS prompts with three versions each, spread over 28 days. */
async function seedStats(db: Database, now: number): Promise<{ name: string; versions: string[] }> {
  const prompts = await seedStatsPrompts(db, STATS_PROMPTS);
  for (let start = 0; start < ROWS; start += 10_000) {
    const rows: ExecutionRecord[] = [];
    for (let i = start; i < Math.min(ROWS, start + 10_000); i++) {
      rows.push(statsExecution(prompts, i, new Date(now - Math.floor((i / ROWS) * 28 * DAY) - 1).toISOString()));
    }
    await executionStore(db.dialect).insert(db, rows);
  }
  await db.transaction((tx) => tx.exec('ANALYZE'));
  return prompts[0]!;
}

async function subject(driver: SqliteDriver, now: number): Promise<Subject> {
  const dir = mkdtempSync(join(tmpdir(), `pr-bench-${driver.name}-`));
  const db = await SqliteDatabase.open(join(dir, 'registry.db'), driver);
  await migrate(db);
  progress(`${driver.name}: seeding ${PROMPTS.toLocaleString('en')} prompts and ${ROWS.toLocaleString('en')} executions`);
  await seedInto(db, PROMPTS);
  const stats = await seedStats(db, now);
  const feed = new ChangeFeed(db);
  const deployments = new DeploymentService(db, feed, new EnvironmentService(db, ['dev', 'staging', 'production']), 0);
  const executions = new ExecutionService(db, deployments, new MetricService(db));
  const versionIds = (await db.all<{ id: string }>('SELECT id FROM prompt_versions WHERE version_number = 1 LIMIT 100')).map((r) => r.id);
  return { driver: driver.name, db, dir, deployments, executions, versionIds, statsPrompt: stats.name };
}

/** Calls `op` for SECONDS and answers operations per second (`op` answers how many it did). */
async function rate(op: () => Promise<number>): Promise<number> {
  const until = performance.now() + SECONDS * 1000;
  let done = 0;
  const t0 = performance.now();
  while (performance.now() < until) done += await op();
  return done / ((performance.now() - t0) / 1000);
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

/** Runs `measure` for each driver, alternating which goes first, ROUNDS times; medians per driver. */
async function sideBySide(label: string, subjects: Subject[], measure: (s: Subject) => Promise<number>): Promise<Record<SqliteDriverName, number>> {
  const samples: Record<string, number[]> = Object.fromEntries(subjects.map((s) => [s.driver, []]));
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 ? [...subjects].reverse() : subjects;
    for (const s of order) samples[s.driver]!.push(await measure(s));
  }
  const result = Object.fromEntries(subjects.map((s) => [s.driver, median(samples[s.driver]!)])) as Record<SqliteDriverName, number>;
  progress(`${label}: ${subjects.map((s) => `${s.driver} ${round(result[s.driver])}`).join(', ')}`);
  return result;
}

function throughput(unit: string, r: Record<SqliteDriverName, number>) {
  return { unit, node: round(r.node, 0), 'better-sqlite3': round(r['better-sqlite3'], 0), speed_ratio: round(r.node / r['better-sqlite3']) };
}

function latency(r: Record<SqliteDriverName, number>) {
  return { unit: 'ms per call (median of rounds of the p50)', node: round(r.node), 'better-sqlite3': round(r['better-sqlite3']), speed_ratio: round(r['better-sqlite3'] / r.node) };
}

function executionsBatch(s: Subject, size: number): unknown[] {
  return Array.from({ length: size }, (_, i) => ({
    id: randomUUID(),
    prompt_version_id: s.versionIds[i % s.versionIds.length],
    environment: 'production',
    input_variables: { name: `user-${i}`, question: 'where is my order?' },
    rendered_prompt: `You are a support agent. Answer user-${i}: where is my order?`,
    response: 'It ships tomorrow.'.repeat(10),
    input_tokens: 120,
    output_tokens: 40,
    latency_ms: 300 + i,
    cost_usd: 0.0002,
  }));
}

async function main(): Promise<number> {
  if (!hasNodeSqlite) return onNode24();

  const betterDir = await betterSqlite3For(process.execPath);
  const both: SqliteDriver[] = [await loadSqliteDriver('node'), betterSqliteDriver(createRequire(import.meta.url)(betterDir) as typeof BetterSqlite3)];
  // The order they are seeded in, and go first in the first round.
  const drivers = FIRST === 'better-sqlite3' ? both.reverse() : both;
  const now = Date.now();
  const subjects: Subject[] = [];
  try {
    for (const d of drivers) subjects.push(await subject(d, now));
    const versions = Object.fromEntries(
      await Promise.all(subjects.map(async (s) => [s.driver, (await s.db.get<{ v: string }>('SELECT sqlite_version() AS v'))!.v] as const)),
    );

    const resolveMiss = await sideBySide('resolve-miss, resolves/s', subjects, (s) =>
      rate(async () => {
        const answer = await s.deployments.resolveAnswer(promptName(Math.floor(Math.random() * PROMPTS)), 'production');
        if (answer.status !== 200) throw new Error(`resolve answered ${answer.status}`);
        return 1;
      }),
    );
    const ingest = async (size: number) =>
      sideBySide(`ingest, batches of ${size}, executions/s`, subjects, (s) =>
        rate(async () => {
          const result = await s.executions.ingest(parseBatch(executionsBatch(s, size) as unknown[]));
          return result.accepted;
        }),
      );
    const ingest100 = await ingest(100);
    const ingest10 = await ingest(10);
    const to = new Date(now).toISOString();
    const from = new Date(now - 7 * DAY).toISOString();
    const stats = await sideBySide('stats, ms', subjects, async (s) => {
      const samples: number[] = [];
      for (let i = 0; i < 12; i++) {
        const t0 = performance.now();
        await s.executions.stats(s.statsPrompt, { from, to });
        if (i >= 2) samples.push(performance.now() - t0);
      }
      return median(samples);
    });

    process.stdout.write(
      `${JSON.stringify(
        {
          bench: 'sqlite-drivers',
          node: process.version,
          sqlite: { node: versions.node, 'better-sqlite3': versions['better-sqlite3'] },
          speed_ratio: "node:sqlite's speed over better-sqlite3's: above 1, node:sqlite is faster",
          rounds: ROUNDS,
          seconds_per_round: SECONDS,
          resolve_miss: { prompts: PROMPTS, ...throughput('resolves/s', resolveMiss) },
          ingest_batches_of_100: throughput('executions/s', ingest100),
          ingest_batches_of_10: throughput('executions/s', ingest10),
          stats: { rows: ROWS, window: '7 days of one prompt', ...latency(stats) },
        },
        null,
        2,
      )}\n`,
    );
    return 0;
  } finally {
    for (const s of subjects) {
      await s.db.close();
      rmSync(s.dir, { recursive: true, force: true });
    }
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench:sqlite-drivers failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
