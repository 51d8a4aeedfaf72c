/**
 * `npm run bench:soak`: a registry (its own process, production defaults but the rate limit below)
 * held under a steady mix for BENCH_DURATION seconds on each database, then flooded by one credential.
 *
 * Steady mix, each kind paced and sent with its own API key: cached resolves (50/s), renders (20/s),
 * execution batches of 100 rows (5/s), and a deploy every 3 s (which invalidates the resolve cache).
 * Prints throughput and p50/p99 latency per kind, and the server's RSS and heap (from its Prometheus
 * metrics) after a warm-up and at the end: the bench fails (exit 1) when RSS grew by more than
 * BENCH_MEMORY_BOUND_MB.
 *
 * Flood: a "victim" key resolves at a steady 50/s for BENCH_FLOOD_DURATION seconds alone (its
 * baseline), then again while a "flooder" key (bench/soak/flood.ts, a process of its own) sends as
 * fast as 32 keep-alive connections go. Prints the
 * victim's p50/p99 in both, side by side (ratio), and the flooder's 200s and 429s. The bench fails
 * when the victim gets anything but 200 or the flooder is never limited.
 *
 * Environment:
 *   BENCH_DURATION         seconds of steady mix per database (default 180)
 *   BENCH_FLOOD_DURATION   seconds of each flood phase (default 10)
 *   BENCH_MEMORY_BOUND_MB  largest RSS growth allowed from warm-up to end (default 64)
 *   BENCH_DATABASES        sqlite,postgres (default both)
 *   BENCH_DATABASE_URL / TEST_DATABASE_URL  an admin Postgres URL; else an embedded Postgres
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { freePort } from '../../test/support/postgres.js';
import { benchPostgres } from '../support.js';
import { startChild, stopAllChildren, stopChild, waitHealthy } from '../resolve/children.js';
import { freshPostgres, freshSqlite, type BenchDatabase } from '../resolve/seed.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

function seconds(name: string, fallback: number): number {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${raw}: expected a number above 0`);
  return value;
}

const DURATION = seconds('BENCH_DURATION', 180);
const FLOOD = seconds('BENCH_FLOOD_DURATION', 10);
const MEMORY_BOUND_MB = seconds('BENCH_MEMORY_BOUND_MB', 64);
const DATABASES = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean);
for (const d of DATABASES) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`BENCH_DATABASES: unknown database "${d}" (sqlite, postgres)`);
/** The server's per-credential limit (the default): above each mix key's pace, far below what a flood sends. */
const RATE_LIMIT = 100;
const PROMPTS = 20;
const WARMUP_S = Math.min(10, DURATION / 5);

const started = Date.now();
const progress = (message: string) => process.stderr.write(`[soak +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
const ADMIN_KEY = `soak-admin-${randomBytes(12).toString('hex')}`;
const name = (i: number) => `soak-${i}`;

class Latencies {
  readonly ms: number[] = [];
  statuses: Record<string, number> = {};
  record(status: number, ms: number): void {
    this.statuses[status] = (this.statuses[status] ?? 0) + 1;
    if (status < 400) this.ms.push(ms);
  }
  summary(durationS: number) {
    const sorted = [...this.ms].sort((a, b) => a - b);
    const at = (p: number) => (sorted.length ? round(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!) : null);
    return { ok: sorted.length, per_s: round(sorted.length / durationS), p50_ms: at(0.5), p99_ms: at(0.99), statuses: this.statuses };
  }
}

const round = (n: number) => Math.round(n * 100) / 100;

async function call(base: string, key: string, method: string, path: string, body?: unknown): Promise<{ status: number; ms: number; json: any }> {
  const t0 = performance.now();
  const res = await fetch(base + path, {
    method,
    headers: { 'X-API-Key': key, ...(body === undefined ? {} : { 'Content-Type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  const ms = performance.now() - t0;
  return { status: res.status, ms, json: text ? JSON.parse(text) : undefined };
}

/** Sends `send` every 1000/perSecond ms until `until` (an open loop, up to `inFlight` at once), recording each answer. */
async function paced(perSecond: number, until: () => boolean, inFlight: number, into: Latencies, send: () => Promise<{ status: number; ms: number }>): Promise<void> {
  const gap = 1000 / perSecond;
  let next = performance.now();
  const running = new Set<Promise<void>>();
  while (!until()) {
    if (running.size < inFlight) {
      const p: Promise<void> = send().then(
        (r) => into.record(r.status, r.ms),
        () => into.record(0, 0),
      ).finally(() => running.delete(p));
      running.add(p);
    }
    next += gap;
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    else next = performance.now(); // behind: do not burst to catch up
  }
  await Promise.all(running);
}

async function memory(metricsUrl: string): Promise<{ rss_mb: number; heap_used_mb: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const value = (series: string) => Number(text.split('\n').find((l) => l.startsWith(`${series} `))?.slice(series.length + 1));
  return { rss_mb: round(value('prompt_registry_process_resident_memory_bytes') / 2 ** 20), heap_used_mb: round(value('prompt_registry_nodejs_heap_size_used_bytes') / 2 ** 20) };
}

async function soak(db: BenchDatabase) {
  const port = await freePort();
  const metricsPort = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const logDir = mkdtempSync(join(tmpdir(), 'pr-soak-logs-'));
  const env = {
    ...Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('PROMPT_REGISTRY_') && k !== 'DATABASE_URL' && k !== 'PORT')),
    NODE_ENV: 'production',
    PROMPT_REGISTRY_ADMIN_KEY: ADMIN_KEY,
  };
  const args = ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', db.url, '--metrics-port', String(metricsPort), '--no-log-requests', '--rate-limit', String(RATE_LIMIT)];
  const child = startChild(`${db.dialect} registry`, base, args, { cwd: root, env, log: join(logDir, 'server.log') });
  try {
    await waitHealthy(child);
    const metricsUrl = `http://127.0.0.1:${metricsPort}/metrics`;
    const admin = (method: string, path: string, body?: unknown) => call(base, ADMIN_KEY, method, path, body);
    for (let i = 0; i < PROMPTS; i++) {
      for (const content of [`Hello {{name}}, about {{topic}} (${i})`, `Hi {{name}}: {{topic}} (${i}, v2)`]) {
        if ((await admin('POST', `/prompts/${name(i)}/versions`, { content })).status !== 201) throw new Error('could not create a version');
      }
      if ((await admin('POST', `/prompts/${name(i)}/deployments`, { version: 1, environment: 'production' })).status !== 201) throw new Error('could not deploy');
    }
    const key = async (label: string, scopes: string[]) => {
      const r = await admin('POST', '/keys', { name: label, scopes });
      if (r.status !== 201) throw new Error(`could not create key ${label}: ${r.status}`);
      return r.json.key as string;
    };
    const keys = { resolve: await key('mix-resolve', ['read']), render: await key('mix-render', ['read']), ingest: await key('mix-ingest', ['write']), deploy: await key('mix-deploy', ['deploy']), victim: await key('victim', ['read']), flooder: await key('flooder', ['read']) };

    // Steady mix.
    progress(`${db.dialect}: steady mix for ${DURATION}s (memory read after ${WARMUP_S}s)`);
    const kinds = { resolve: new Latencies(), render: new Latencies(), ingest: new Latencies(), deploy: new Latencies() };
    const end = Date.now() + DURATION * 1000;
    const over = () => Date.now() >= end;
    const pick = () => name(Math.floor(Math.random() * PROMPTS));
    let deploys = 0;
    const mix = Promise.all([
      paced(50, over, 32, kinds.resolve, () => call(base, keys.resolve, 'GET', `/prompts/${pick()}/latest?environment=production`)),
      paced(20, over, 16, kinds.render, () => call(base, keys.render, 'POST', `/prompts/${pick()}/render`, { variables: { name: 'Ada', topic: 'billing' } })),
      paced(5, over, 8, kinds.ingest, () =>
        call(base, keys.ingest, 'POST', '/executions', Array.from({ length: 100 }, (_, i) => ({ prompt: pick(), version: 1 + (i % 2), latency_ms: 10 + i, response: 'ok', environment: 'production' }))),
      ),
      paced(1 / 3, over, 1, kinds.deploy, () => call(base, keys.deploy, 'POST', `/prompts/${pick()}/deployments`, { version: 1 + (++deploys % 2), environment: 'production' })),
    ]);
    await sleep(WARMUP_S * 1000);
    const memoryStart = await memory(metricsUrl);
    await mix;
    const memoryEnd = await memory(metricsUrl);
    const rssGrowth = round(memoryEnd.rss_mb - memoryStart.rss_mb);
    const mixSeconds = DURATION;
    const steady = Object.fromEntries(Object.entries(kinds).map(([k, l]) => [k, l.summary(mixSeconds)]));
    progress(`${db.dialect}: RSS ${memoryStart.rss_mb} -> ${memoryEnd.rss_mb} MB; ${JSON.stringify(steady)}`);

    // Flood: the victim alone, then beside a flooder.
    const victimRun = async () => {
      const l = new Latencies();
      const stop = Date.now() + FLOOD * 1000;
      await paced(50, () => Date.now() >= stop, 8, l, () => call(base, keys.victim, 'GET', `/prompts/${pick()}/latest?environment=production`));
      return l.summary(FLOOD);
    };
    progress(`${db.dialect}: victim alone ${FLOOD}s`);
    const alone = await victimRun();
    progress(`${db.dialect}: victim beside a flood ${FLOOD}s`);
    // The flooder in a process of its own, started a little ahead and ending a little after the victim's run.
    const flooder = spawn(process.execPath, ['--import', 'tsx', 'bench/soak/flood.ts', base, keys.flooder, '32', String(FLOOD + 2), ...Array.from({ length: PROMPTS }, (_, i) => `/prompts/${name(i)}/latest?environment=production`)], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
    let floodOut = '';
    flooder.stdout.on('data', (d: Buffer) => (floodOut += d.toString()));
    const flooded = new Promise<void>((resolve) => flooder.once('close', () => resolve()));
    await sleep(1_000);
    const beside = await victimRun();
    await flooded;
    const flood = { statuses: JSON.parse(floodOut || '{}') as Record<string, number> };
    const ratio = (a: number | null, b: number | null) => (a && b ? round(b / a) : null);
    const result = {
      database: db.dialect,
      duration_s: DURATION,
      rate_limit_per_credential: RATE_LIMIT,
      steady,
      memory: { after_warmup: memoryStart, end: memoryEnd, rss_growth_mb: rssGrowth, bound_mb: MEMORY_BOUND_MB, within_bound: rssGrowth <= MEMORY_BOUND_MB },
      flood: {
        duration_s: FLOOD,
        victim_alone: alone,
        victim_during_flood: beside,
        victim_p50_ratio: ratio(alone.p50_ms, beside.p50_ms),
        victim_p99_ratio: ratio(alone.p99_ms, beside.p99_ms),
        flooder_statuses: flood.statuses,
      },
    };
    const problems: string[] = [];
    if (!result.memory.within_bound) problems.push(`RSS grew ${rssGrowth} MB, beyond the bound of ${MEMORY_BOUND_MB} MB`);
    if (Object.keys(beside.statuses).some((s) => s !== '200') || Object.keys(alone.statuses).some((s) => s !== '200')) problems.push('the victim got answers other than 200');
    if (!flood.statuses[429]) problems.push('the flooder was never rate-limited');
    return { result, problems };
  } finally {
    await stopChild(child);
    rmSync(logDir, { recursive: true, force: true });
  }
}

async function main() {
  const postgres = DATABASES.includes('postgres') ? await benchPostgres(progress) : undefined;
  const results = [];
  const problems: string[] = [];
  try {
    for (const dialect of DATABASES) {
      const db = dialect === 'sqlite' ? freshSqlite() : await freshPostgres(process.env.TEST_DATABASE_URL!);
      try {
        const r = await soak(db);
        results.push(r.result);
        problems.push(...r.problems.map((p) => `${dialect}: ${p}`));
      } finally {
        await db.drop();
      }
    }
  } finally {
    await stopAllChildren();
    await postgres?.stop();
  }
  process.stdout.write(`${JSON.stringify({ bench: 'soak', results, problems }, null, 2)}\n`);
  if (problems.length) {
    process.stderr.write(`soak failed: ${problems.join('; ')}\n`);
    process.exit(1);
  }
}

main().catch(async (err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  await stopAllChildren();
  process.exit(1);
});
