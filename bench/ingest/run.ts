/**
 * `npm run bench:ingest`: executions per second through POST /executions in
 * batches of 500, against a raw multi-row INSERT of the same rows into the
 * same table in the same run, on SQLite and Postgres; and the single-row
 * path (one execution per request, and one raw INSERT per transaction).
 *
 * Both sides commit each batch on its own (the server acknowledges only
 * committed batches; the raw side runs BEGIN, one INSERT, COMMIT), with the
 * server's durability settings (SQLite WAL with synchronous=FULL). The server
 * runs in its own process (`server/cli.ts serve`, production defaults, no
 * request log); the raw inserts and the HTTP client run in this one. Request
 * bodies and raw rows are built before timing. Each round measures raw, API,
 * API, raw (so the table growing under them favours neither), for batches and
 * then for single rows; a round's ratio is its API rate over its raw rate, and
 * the ratio reported is the median round's. Progress goes to stderr; stdout
 * gets one JSON document.
 *
 * Environment:
 *   BENCH_ROWS          rows per batch measurement (default 25000; four per round)
 *   BENCH_SINGLE_ROWS   rows per single-row measurement (default 500; four per round)
 *   BENCH_ROUNDS        rounds (default 3)
 *   BENCH_DATABASES     which to run: sqlite,postgres (default both)
 *   BENCH_DATABASE_URL / TEST_DATABASE_URL
 *                       an admin Postgres URL to create a throwaway database on;
 *                       without either, an embedded Postgres is started
 *   BENCH_CPU_PROF      a directory: each server runs with --cpu-prof, a subdirectory per database
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import http from 'node:http';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openDatabase } from '../../server/db/index.js';
import { loadSqliteDriver } from '../../server/db/sqlite-driver.js';
import { migrate } from '../../server/db/migrate.js';
import { freshDatabase, type TestDatabase } from '../../test/support/db.js';
import { benchPostgres } from '../support.js';
import { freePort, killGroup, start, waitForHealthy, type Spawned } from '../../test/support/process.js';

function numberFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${name}=${raw}: expected a whole number above 0`);
  return value;
}

const BATCH = 500;
const ROWS = Math.max(BATCH, Math.floor(numberFromEnv('BENCH_ROWS', 25_000) / BATCH) * BATCH);
const SINGLE_ROWS = numberFromEnv('BENCH_SINGLE_ROWS', 500);
const ROUNDS = numberFromEnv('BENCH_ROUNDS', 3);
const DATABASES = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean) as Array<'sqlite' | 'postgres'>;
for (const d of DATABASES) if (d !== 'sqlite' && d !== 'postgres') throw new Error(`BENCH_DATABASES: unknown database "${d}" (sqlite, postgres)`);
const TARGET_RATIO = 0.75;
const CPU_PROF = process.env.BENCH_CPU_PROF ? resolve(process.env.BENCH_CPU_PROF) : undefined;
const KEY = `bench-admin-${randomBytes(12).toString('hex')}`;

const started = Date.now();
const progress = (message: string) => process.stderr.write(`[bench:ingest +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);

const COLUMNS = [
  'id',
  'prompt_version_id',
  'prompt_id',
  'executed_at',
  'environment',
  'status',
  'error',
  'input_variables',
  'rendered_prompt',
  'response',
  'input_tokens',
  'output_tokens',
  'latency_ms',
  'cost_usd',
  'quality_score',
  'metadata',
] as const;

interface Execution {
  id: string;
  prompt_version_id: string;
  executed_at: string;
  environment: string;
  status: 'ok' | 'error';
  error: string | null;
  input_variables: Record<string, unknown>;
  rendered_prompt: string;
  response: string;
  input_tokens: number;
  output_tokens: number;
  latency_ms: number;
  cost_usd: number;
  quality_score: number;
  metadata: Record<string, unknown>;
}

/** A realistic execution: a support answer of about 1.3 KB of JSON. */
function execution(versionId: string, i: number): Execution {
  const question = `Where is my order #${100_000 + i}? It was due on Monday and the tracking page has not changed since.`;
  return {
    id: randomUUID(),
    prompt_version_id: versionId,
    executed_at: new Date(Date.now() - (i % 86_400) * 1000).toISOString(),
    environment: 'production',
    status: i % 50 === 0 ? 'error' : 'ok',
    error: i % 50 === 0 ? 'upstream timeout after 30s' : null,
    input_variables: { company: 'Acme', name: `Customer ${i}`, question },
    rendered_prompt: `You are a support agent for Acme. Answer politely and briefly, citing the order status when you know it. Customer ${i} asks: ${question}`.repeat(2),
    response: `Hello Customer ${i}, thank you for your patience. Your order is on its way: the carrier scanned it this morning and expects to deliver it within two working days. `.repeat(3),
    input_tokens: 180 + (i % 200),
    output_tokens: 60 + (i % 300),
    latency_ms: 400 + ((i * 7919) % 3000),
    cost_usd: 0.0004 + (i % 13) * 0.00001,
    quality_score: (i % 10) / 10,
    metadata: { region: 'eu-west-1', client: 'bench' },
  };
}

function tuple(e: Execution, promptId: string): unknown[] {
  return [
    e.id,
    e.prompt_version_id,
    promptId,
    e.executed_at,
    e.environment,
    e.status,
    e.error,
    JSON.stringify(e.input_variables),
    e.rendered_prompt,
    e.response,
    e.input_tokens,
    e.output_tokens,
    e.latency_ms,
    e.cost_usd,
    e.quality_score,
    JSON.stringify(e.metadata),
  ];
}

function valuesClause(rows: number, placeholder: (n: number) => string): string {
  const tuples: string[] = [];
  for (let r = 0; r < rows; r++) tuples.push(`(${COLUMNS.map((_, c) => placeholder(r * COLUMNS.length + c + 1)).join(', ')})`);
  return tuples.join(', ');
}

/** The baseline: BEGIN, one multi-row INSERT, COMMIT, per batch, straight through the driver. */
interface RawInserter {
  insertBatches(batches: unknown[][][]): Promise<void>;
  insertSingles(rows: unknown[][]): Promise<void>;
  close(): Promise<void>;
}

/** Straight through the driver the server uses (PROMPT_REGISTRY_SQLITE_DRIVER, else auto), without our storage layer. */
async function sqliteInserter(path: string): Promise<RawInserter> {
  const db = (await loadSqliteDriver()).open(path, { readonly: false });
  db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON');
  const sql = (n: number) => `INSERT INTO prompt_executions (${COLUMNS.join(', ')}) VALUES ${valuesClause(n, () => '?')}`;
  const many = db.prepare(sql(BATCH));
  const one = db.prepare(sql(1));
  const inTransaction = (fn: () => void) => {
    db.exec('BEGIN');
    try {
      fn();
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  };
  const batch = (values: unknown[]) => inTransaction(() => many.run(values));
  const single = (values: unknown[]) => inTransaction(() => one.run(values));
  return {
    async insertBatches(batches) {
      for (const b of batches) batch(b.flat());
    },
    async insertSingles(rows) {
      for (const r of rows) single(r);
    },
    async close() {
      db.close();
    },
  };
}

async function postgresInserter(url: string): Promise<RawInserter> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  const sql = (n: number) => `INSERT INTO prompt_executions (${COLUMNS.join(', ')}) VALUES ${valuesClause(n, (k) => `$${k}`)}`;
  const many = sql(BATCH);
  const one = sql(1);
  const insert = async (name: string, text: string, values: unknown[]) => {
    await client.query('BEGIN');
    await client.query({ name, text, values });
    await client.query('COMMIT');
  };
  return {
    async insertBatches(batches) {
      for (const b of batches) await insert('raw_batch', many, b.flat());
    },
    async insertSingles(rows) {
      for (const r of rows) await insert('raw_single', one, r);
    },
    close: () => client.end(),
  };
}

// A lean client (node:http, keep-alive, bodies encoded before timing), so the
// figures measure the server rather than the HTTP client sharing its CPUs.
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function post(url: string, body: Buffer): Promise<void> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = http.request(
      { hostname, port, path: '/executions', method: 'POST', agent, headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json', 'Content-Length': body.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (res.statusCode === 201 ? resolve() : reject(new Error(`POST /executions answered ${res.statusCode}: ${Buffer.concat(chunks).toString().slice(0, 300)}`))));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

const rate = (rows: number, ms: number) => Math.round(rows / (ms / 1000));

/** Rows per second of each measurement in one round, by kind. */
interface Round {
  raw: number[];
  api: number[];
}
const ORDER = ['raw', 'api', 'api', 'raw'] as const;

const median = (list: number[]) => {
  const sorted = [...list].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};
const round2 = (x: number) => Math.round(x * 100) / 100;

/** Each round's ratio (its API rate over its raw rate, both over the round's measurements) and the median of them. */
function summarise(rounds: Round[]) {
  const harmonic = (rates: number[]) => rates.length / rates.reduce((sum, r) => sum + 1 / r, 0);
  const ratios = rounds.map((r) => harmonic(r.api) / harmonic(r.raw));
  const middle = rounds[ratios.indexOf(median(ratios))] ?? rounds[0]!;
  return { raw: Math.round(harmonic(middle.raw)), api: Math.round(harmonic(middle.api)), ratio: round2(median(ratios)), round_ratios: ratios.map(round2) };
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function benchOne(dialect: 'sqlite' | 'postgres') {
  const target: TestDatabase = await freshDatabase(dialect);
  let server: Spawned | undefined;
  try {
    // The schema, and one prompt with one version, before the server starts.
    const promptId = randomUUID();
    const versionId = randomUUID();
    const setup = await openDatabase(target.url);
    try {
      await migrate(setup);
      await setup.transaction(async (tx) => {
        await tx.run('INSERT INTO prompts (id, name, created_by) VALUES ($1, $2, $3)', [promptId, 'support-reply', 'bench']);
        await tx.run(
          'INSERT INTO prompt_versions (id, prompt_id, version_number, content, content_hash, model, created_by) VALUES ($1, $2, 1, $3, $4, $5, $6)',
          [versionId, promptId, 'You are a support agent for {{company}}. Customer {{name}} asks: {{question}}', 'b'.repeat(64), 'gpt-4o', 'bench'],
        );
      });
    } finally {
      await setup.close();
    }

    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    if (CPU_PROF) mkdirSync(join(CPU_PROF, dialect), { recursive: true });
    const profile = CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${join(CPU_PROF, dialect)}`] : [];
    server = start(process.execPath, [...profile, '--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', target.url, '--no-log-requests', '--retention-interval', '0', '--rate-limit', '0'], {
      NODE_ENV: 'production',
      PROMPT_REGISTRY_ADMIN_KEY: KEY,
      PROMPT_REGISTRY_LOG_LEVEL: 'warn',
    });
    await waitForHealthy(`${url}/healthz`, server);

    const raw = dialect === 'sqlite' ? await sqliteInserter(target.url.slice('sqlite:'.length)) : await postgresInserter(target.url);
    try {
      let n = 0;
      const makeBatches = () =>
        Array.from({ length: ROWS / BATCH }, () => Array.from({ length: BATCH }, () => execution(versionId, n++)));
      const rawBatches = () => makeBatches().map((b) => b.map((e) => tuple(e, promptId)));
      const apiBodies = () => makeBatches().map((b) => Buffer.from(JSON.stringify(b)));

      // Warm both paths up (statement caches, JIT, connection), unrecorded.
      await raw.insertBatches(rawBatches().slice(0, 4));
      for (const body of apiBodies().slice(0, 4)) await post(url, body);
      await raw.insertSingles(Array.from({ length: 20 }, () => tuple(execution(versionId, n++), promptId)));
      for (let i = 0; i < 20; i++) await post(url, Buffer.from(JSON.stringify(execution(versionId, n++))));

      // Each round measures raw, API, API, raw; its ratio is the raw time over the API time. The
      // figure reported is the median round, so one round disturbed by a neighbour on the machine
      // doesn't decide it.
      const batchRounds: Round[] = [];
      const singleRounds: Round[] = [];
      for (let r = 0; r < ROUNDS; r++) {
        const batch: Round = { raw: [], api: [] };
        for (const kind of ORDER) {
          const ms =
            kind === 'raw'
              ? await (async (batches) => timed(() => raw.insertBatches(batches)))(rawBatches())
              : await (async (bodies) =>
                  timed(async () => {
                    for (const body of bodies) await post(url, body);
                  }))(apiBodies());
          batch[kind].push(rate(ROWS, ms));
        }
        batchRounds.push(batch);
        progress(`${dialect} round ${r + 1}, batches of ${BATCH}: raw ${batch.raw.join(', ')} rows/s, API ${batch.api.join(', ')} rows/s`);

        const single: Round = { raw: [], api: [] };
        for (const kind of ORDER) {
          const ms =
            kind === 'raw'
              ? await (async (rows) => timed(() => raw.insertSingles(rows)))(Array.from({ length: SINGLE_ROWS }, () => tuple(execution(versionId, n++), promptId)))
              : await (async (bodies) =>
                  timed(async () => {
                    for (const body of bodies) await post(url, body);
                  }))(Array.from({ length: SINGLE_ROWS }, () => Buffer.from(JSON.stringify(execution(versionId, n++)))));
          single[kind].push(rate(SINGLE_ROWS, ms));
        }
        singleRounds.push(single);
        progress(`${dialect} round ${r + 1}, single rows: raw ${single.raw.join(', ')} rows/s, API ${single.api.join(', ')} rows/s`);
      }

      const batch = summarise(batchRounds);
      const single = summarise(singleRounds);
      return {
        batch: BATCH,
        rows_per_measurement: ROWS,
        rounds: ROUNDS,
        raw_multirow_insert_rows_per_s: batch.raw,
        api_batch_rows_per_s: batch.api,
        ratio: batch.ratio,
        target_ratio: TARGET_RATIO,
        meets_target: batch.ratio >= TARGET_RATIO,
        round_ratios: batch.round_ratios,
        runs: batchRounds,
        single_row: {
          rows_per_measurement: SINGLE_ROWS,
          api_rows_per_s: single.api,
          raw_insert_rows_per_s: single.raw,
          ratio: single.ratio,
          round_ratios: single.round_ratios,
          runs: singleRounds,
        },
      };
    } finally {
      await raw.close();
    }
  } finally {
    agent.destroy();
    if (server) {
      killGroup(server, 'SIGTERM');
      await server.exited;
    }
    await target.drop();
  }
}

async function main(): Promise<void> {
  const postgres = DATABASES.includes('postgres') ? await benchPostgres(progress) : undefined;
  try {
    const results: Record<string, unknown> = {};
    for (const dialect of DATABASES) {
      progress(`${dialect}: ${ROWS.toLocaleString('en')} rows per measurement`);
      results[dialect] = await benchOne(dialect);
    }
    const met = Object.values(results).map((r) => (r as { meets_target: boolean }).meets_target);
    process.stdout.write(`${JSON.stringify({ bench: 'ingest', node: process.version, ...results, meets_targets: met.every(Boolean) }, null, 2)}\n`);
  } finally {
    await postgres?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:ingest failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
