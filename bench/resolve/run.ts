/**
 * `npm run bench`: the resolve hot path, GET /prompts/{name}/latest?environment=production,
 * under autocannon load (50 connections, requests spread at random over N
 * prompts), on SQLite and Postgres, with a warm cache and with the cache off,
 * each measured next to a baseline: a bare node:http server sending the same
 * bytes from a Map (bench/resolve/baseline.ts; BENCH_BASELINE=express compares
 * with a plain Express 5 app instead). Every server runs in its own
 * process. Progress goes to stderr; stdout gets one JSON document.
 *
 * Environment:
 *   BENCH_PROMPTS       prompts to seed (default 10000)
 *   BENCH_DURATION      seconds per measurement (default 8), after a warm-up run
 *   BENCH_WARMUP        seconds of the unrecorded warm-up run (default 2)
 *   BENCH_DATABASES     which to run: sqlite,postgres (default both)
 *   BENCH_DATABASE_URL / TEST_DATABASE_URL
 *                       an admin Postgres URL to create a throwaway database on;
 *                       without either, an embedded Postgres is started
 *   BENCH_BASELINE      bare (default: node:http, the same bytes) or express
 *   BENCH_CPU_PROF      a directory: run every server (ours and the baseline) with --cpu-prof, a subdirectory each
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { embeddedPostgres, freePort } from '../../test/support/postgres.js';
import { startChild, stopAllChildren, stopChild, waitHealthy, type Child } from './children.js';
import { fetchAll, runLoad, type Measurement } from './load.js';
import { freshPostgres, freshSqlite, promptName, seed, type BenchDatabase } from './seed.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function numberFromEnv(name: string, fallback: number, { integer = false, min = 0 } = {}): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isFinite(value) || value <= min || (integer && !Number.isInteger(value))) throw new Error(`${name}=${raw}: expected a ${integer ? 'whole ' : ''}number above ${min}`);
  return value;
}

const PROMPTS = numberFromEnv('BENCH_PROMPTS', 10_000, { integer: true });
const DURATION = numberFromEnv('BENCH_DURATION', 8);
const WARMUP = numberFromEnv('BENCH_WARMUP', 2);
const CONNECTIONS = 50;
const DATABASES = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean);
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
for (const d of DATABASES) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`BENCH_DATABASES: unknown database "${d}" (sqlite, postgres)`);

const BASELINE = process.env.BENCH_BASELINE || 'bare';
if (BASELINE !== 'bare' && BASELINE !== 'express') throw new Error(`BENCH_BASELINE=${BASELINE}: bare or express`);
// Issue 16: a warm resolve at 0.8x a bare node:http server (against Express the target was 1.0x).
const TARGETS = BASELINE === 'bare' ? { warm_min_ratio: 0.8, postgres_uncached_min_ratio: 0.3 } : { warm_min_ratio: 1.0, postgres_uncached_min_ratio: 0.45 };

const started = Date.now();
function progress(message: string): void {
  process.stderr.write(`[bench +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
}

const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const HEADERS = { 'X-API-Key': ADMIN_KEY };
const names = Array.from({ length: PROMPTS }, (_, i) => promptName(i));
const paths = names.map((n) => `/prompts/${encodeURIComponent(n)}/latest?environment=production`);

/** Production defaults: nothing from the caller's PROMPT_REGISTRY_* or DATABASE_URL leaks into the servers. */
const childEnv: NodeJS.ProcessEnv = {
  ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROMPT_REGISTRY_') && k !== 'DATABASE_URL' && k !== 'PORT')),
  NODE_ENV: 'production',
  PROMPT_REGISTRY_ADMIN_KEY: ADMIN_KEY,
};

const logDir = mkdtempSync(join(tmpdir(), 'pr-bench-logs-'));
const slug = (s: string) => s.replace(/[^a-z0-9]+/gi, '-').replace(/^-|-$/g, '').toLowerCase();

interface ServerOptions {
  cache: boolean;
  logRequests: boolean;
  /** A log line for each cached resolve too (--log-resolve-hits), not the default count a minute. */
  logHits?: boolean;
}

/** A directory per server: node writes one profile per thread (tsx's loader has its own); the main thread's is the largest. */
const profileArgs = (label: string) => (CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(CPU_PROF, slug(label))}`] : []);

async function startRegistry(db: BenchDatabase, label: string, opts: ServerOptions): Promise<Child> {
  const port = await freePort();
  // One key sends every request: a limit it never reaches keeps the per-credential rate check on the measured path.
  const args = [...profileArgs(label), '--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', db.url, '--rate-limit', '1000000000'];
  if (!opts.cache) args.push('--no-cache');
  if (!opts.logRequests) args.push('--no-log-requests');
  if (opts.logHits) args.push('--log-resolve-hits');
  const child = startChild(label, `http://127.0.0.1:${port}`, args, { cwd: root, env: childEnv, log: join(logDir, `${slug(label)}.log`) });
  await waitHealthy(child);
  return child;
}

async function startBaseline(label: string, dataFile: string): Promise<Child> {
  const port = await freePort();
  const args = [...profileArgs(label), '--import', 'tsx', 'bench/resolve/baseline.ts', '--port', String(port), '--data', dataFile, '--kind', BASELINE];
  const child = startChild(label, `http://127.0.0.1:${port}`, args, { cwd: root, env: childEnv, log: join(logDir, `${slug(label)}.log`) });
  await waitHealthy(child);
  return child;
}

/** A warm-up run (not recorded), then the measured run. */
async function measure(label: string, child: Child): Promise<Measurement> {
  progress(`${label}: warm-up ${WARMUP}s`);
  await runLoad(child.url, paths, HEADERS, CONNECTIONS, WARMUP);
  progress(`${label}: measuring ${DURATION}s`);
  const m = await runLoad(child.url, paths, HEADERS, CONNECTIONS, DURATION);
  const trouble = m.errors || m.non_2xx ? `, ${m.errors} errors, ${m.non_2xx} non-2xx` : '';
  progress(`${label}: ${m.req_per_s} req/s, p50 ${m.p50_ms} ms, p99 ${m.p99_ms} ms${trouble}`);
  return m;
}

/** Every answer from `child` byte-equal to the expected one (all names, or a sample). */
async function checkBodies(child: Child, expected: readonly string[], sample?: number): Promise<void> {
  const picked = sample === undefined ? names.map((_, i) => i) : Array.from({ length: Math.min(sample, names.length) }, () => Math.floor(Math.random() * names.length));
  const bodies = await fetchAll(child.url, picked.map((i) => paths[i]!), HEADERS);
  picked.forEach((i, k) => {
    if (bodies[k] !== expected[i]) throw new Error(`${child.name} answered ${names[i]} with a different body:\n  got      ${bodies[k]}\n  expected ${expected[i]}`);
  });
}

interface CaseSpec {
  name: string;
  cache: boolean;
  logRequests: boolean;
  logHits?: boolean;
  targetRatio: number | null;
}

function casesFor(dialect: BenchDatabase['dialect']): CaseSpec[] {
  if (dialect === 'sqlite') {
    return [
      { name: 'sqlite warm', cache: true, logRequests: true, targetRatio: TARGETS.warm_min_ratio },
      // Not the default: shows what a log line per cached resolve costs.
      { name: 'sqlite warm (--log-resolve-hits)', cache: true, logRequests: true, logHits: true, targetRatio: null },
      { name: 'sqlite uncached', cache: false, logRequests: true, targetRatio: null },
    ];
  }
  return [
    { name: 'postgres warm', cache: true, logRequests: true, targetRatio: TARGETS.warm_min_ratio },
    { name: 'postgres uncached', cache: false, logRequests: true, targetRatio: TARGETS.postgres_uncached_min_ratio },
  ];
}

const round = (n: number, digits: number) => Math.round(n * 10 ** digits) / 10 ** digits;
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

function caseResult(spec: CaseSpec, dialect: string, m: Measurement, baselines: Measurement[]) {
  const baselineRps = mean(baselines.map((b) => b.req_per_s));
  const ratio = baselineRps > 0 ? round(m.req_per_s / baselineRps, 3) : null;
  const problems: string[] = [];
  if (m.errors) problems.push(`${m.errors} errors (${m.timeouts} timeouts)`);
  if (m.non_2xx) problems.push(`${m.non_2xx} non-2xx answers`);
  baselines.forEach((b) => {
    if (b.errors || b.non_2xx) problems.push(`an adjacent baseline run had ${b.errors} errors and ${b.non_2xx} non-2xx answers`);
  });
  const ok = problems.length === 0;
  return {
    name: spec.name,
    database: dialect,
    cache: spec.cache,
    request_log: spec.logRequests,
    req_per_s: m.req_per_s,
    p50_ms: m.p50_ms,
    p99_ms: m.p99_ms,
    requests: m.requests,
    baseline_req_per_s: round(baselineRps, 1),
    baseline_p50_ms: round(mean(baselines.map((b) => b.p50_ms)), 2),
    baseline_p99_ms: round(mean(baselines.map((b) => b.p99_ms)), 2),
    baseline_runs: baselines.map((b) => ({ req_per_s: b.req_per_s, p50_ms: b.p50_ms, p99_ms: b.p99_ms, errors: b.errors, non_2xx: b.non_2xx })),
    ratio,
    target_ratio: spec.targetRatio,
    meets_target: spec.targetRatio === null ? null : ok && ratio !== null && ratio >= spec.targetRatio,
    errors: m.errors,
    timeouts: m.timeouts,
    non_2xx: m.non_2xx,
    ok,
    ...(ok ? {} : { failure: `failed measurement: ${problems.join('; ')}` }),
  };
}

type CaseResult = ReturnType<typeof caseResult>;

/**
 * One database: migrate (a server start), seed, then the cases in turn, each
 * measured between two baseline runs: B, case 1, B, case 2, B, ...
 */
async function benchDatabase(db: BenchDatabase, workDir: string, results: CaseResult[]): Promise<void> {
  progress(`${db.dialect}: running the migrations (a server start)`);
  await stopChild(await startRegistry(db, `${db.dialect} migrate`, { cache: true, logRequests: true }));

  const t0 = Date.now();
  await seed(db.url, PROMPTS);
  progress(`${db.dialect}: seeded ${PROMPTS} prompts in ${((Date.now() - t0) / 1000).toFixed(1)}s`);

  const specs = casesFor(db.dialect);
  let expected: string[] | undefined;
  let baseline: Child | undefined;
  let previous: Measurement | undefined;
  for (const spec of specs) {
    const server = await startRegistry(db, spec.name, spec);
    try {
      if (!expected) {
        // The first server's answers are what the baseline serves; fetching them all also warms its cache.
        progress(`${spec.name}: fetching all ${PROMPTS} answers (warms the cache, builds the baseline's map)`);
        expected = await fetchAll(server.url, paths, HEADERS);
        const dataFile = join(workDir, `${db.dialect}-answers.json`);
        writeFileSync(dataFile, JSON.stringify(Object.fromEntries(names.map((n, i) => [n, JSON.parse(expected![i]!)]))));
        baseline = await startBaseline(`${db.dialect} baseline`, dataFile);
        progress(`${db.dialect} baseline: checking it answers the same bytes for all ${PROMPTS} names`);
        await checkBodies(baseline, expected);
      } else if (spec.cache) {
        progress(`${spec.name}: warming the cache with all ${PROMPTS} names`);
        await checkBodies(server, expected);
      } else {
        await checkBodies(server, expected, 200);
      }
      previous ??= await measure(`${db.dialect} baseline`, baseline!);
      const m = await measure(spec.name, server);
      await stopChild(server);
      const after = await measure(`${db.dialect} baseline`, baseline!);
      results.push(caseResult(spec, db.dialect, m, [previous, after]));
      previous = after;
    } finally {
      await stopChild(server);
    }
  }
  if (baseline) await stopChild(baseline);
}

let cleaning: Promise<void> | undefined;
const cleanups: Array<() => Promise<void>> = [];
function cleanup(): Promise<void> {
  return (cleaning ??= (async () => {
    await stopAllChildren();
    for (const fn of cleanups.reverse()) {
      try {
        await fn();
      } catch (err) {
        progress(`cleanup: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  })());
}

async function main(): Promise<number> {
  const results: CaseResult[] = [];
  let fatal: unknown;
  const workDir = mkdtempSync(join(tmpdir(), 'pr-bench-'));
  cleanups.push(async () => rmSync(workDir, { recursive: true, force: true }));
  if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
  progress(`${PROMPTS} prompts, ${CONNECTIONS} connections, ${DURATION}s per measurement after a ${WARMUP}s warm-up; logs in ${logDir}`);
  try {
    for (const dialect of DATABASES) {
      let db: BenchDatabase;
      if (dialect === 'sqlite') {
        db = freshSqlite();
      } else {
        let adminUrl = process.env.BENCH_DATABASE_URL || process.env.TEST_DATABASE_URL;
        if (!adminUrl) {
          progress('postgres: starting an embedded server (set BENCH_DATABASE_URL or TEST_DATABASE_URL to use your own)');
          const embedded = await embeddedPostgres();
          cleanups.push(() => embedded.stop());
          adminUrl = embedded.url;
        }
        db = await freshPostgres(adminUrl);
      }
      cleanups.push(async () => {
        await stopAllChildren(); // nothing may hold the database open while it is dropped
        await db.drop();
      });
      await benchDatabase(db, workDir, results);
    }
  } catch (err) {
    fatal = err;
    progress(`failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
  } finally {
    await cleanup();
  }

  const withTarget = results.filter((c) => c.target_ratio !== null);
  const meets: Record<string, boolean> = Object.fromEntries(withTarget.map((c) => [c.name, c.meets_target === true]));
  const valid = fatal === undefined && results.every((c) => c.ok);
  const report = {
    bench: 'resolve',
    request: 'GET /prompts/{name}/latest?environment=production',
    baseline: BASELINE === 'bare' ? 'bare node:http, the same bytes' : 'plain Express 5, res.json',
    prompts: PROMPTS,
    connections: CONNECTIONS,
    duration_s: DURATION,
    warmup_s: WARMUP,
    machine: { cpus: cpus().length, node: process.version },
    targets: {
      ...TARGETS,
      note: 'ratio = case req/s / mean req/s of the baseline runs just before and after it; warm targets apply to warm cases with the default request log',
    },
    cases: results,
    meets_targets: { ...meets, all: fatal === undefined && withTarget.length > 0 && Object.values(meets).every(Boolean) },
    valid,
    ...(fatal === undefined ? {} : { error: fatal instanceof Error ? fatal.message : String(fatal) }),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);

  if (valid) rmSync(logDir, { recursive: true, force: true });
  else progress(`server logs kept in ${logDir}`);
  return valid ? 0 : 1;
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => {
    progress(`${signal}: stopping the servers and removing the databases`);
    void cleanup().finally(() => {
      rmSync(logDir, { recursive: true, force: true });
      process.exit(130);
    });
  });
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    void cleanup().finally(() => process.exit(1));
  },
);
