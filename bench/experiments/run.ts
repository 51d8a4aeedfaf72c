/**
 * Experiment throughput (prints JSON): a dataset run against one version on a registry over
 * SQLite (or Postgres with BENCH_DIALECT=postgres), every call answered by a mock provider after
 * 50 ms, with concurrency 16. The ideal is concurrency / latency items a second; the run's rate
 * is items over the time between the experiment's start and its end, as the server recorded them.
 * The mock provider runs in its own process (bench/experiments/mock-process.ts), as a provider would.
 *
 * On a shared machine the ideal is out of reach for reasons that are not the runner's, so two more
 * figures: a baseline, the same calls with the same concurrency made straight to the mock from this
 * process (a keep-alive node:http client, as the runner's), measured before and after the experiment;
 * and the CPU time the process spent per item during the experiment (all its threads: runner, template
 * workers, SQLite; the bench's own polling of GET /experiments/{id} too), which load does not inflate
 * the way it does elapsed time.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { Agent, request } from 'node:http';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { freshDatabase } from '../../test/support/db.js';
import { startTestServer } from '../../test/support/server.js';
import { benchPostgres } from '../support.js';

const ITEMS = Number(process.env.BENCH_ITEMS ?? 480);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const LATENCY_MS = 50;
const WARMUP_ITEMS = Number(process.env.BENCH_WARMUP_ITEMS ?? 64);
const DIALECT = process.env.BENCH_DIALECT === 'postgres' ? 'postgres' : 'sqlite';

/** The mock provider in a child process: its base URL, its call count, and a way to stop it. */
async function startMock(): Promise<{ base: string; calls: () => Promise<number>; close: () => Promise<void> }> {
  const child: ChildProcess = fork(fileURLToPath(new URL('./mock-process.ts', import.meta.url)), { env: { ...process.env, MOCK_DELAY_MS: String(LATENCY_MS) } });
  const [{ base }] = (await once(child, 'message')) as [{ base: string }];
  return {
    base,
    async calls() {
      child.send({ type: 'calls' });
      const [{ calls }] = (await once(child, 'message')) as [{ calls: number }];
      return calls;
    },
    async close() {
      child.send({ type: 'close' });
      await once(child, 'exit');
    },
  };
}

/** The baseline: ITEMS chat-completion calls straight to the mock, CONCURRENCY at a time; items a second. */
async function baseline(base: string): Promise<number> {
  const agent = new Agent({ keepAlive: true });
  const url = new URL(`${base}/chat/completions`);
  const call = (q: string) =>
    new Promise<void>((resolve, reject) => {
      const body = JSON.stringify({ model: 'mock', messages: [{ role: 'user', content: `What is ${q}?` }] });
      const req = request(url, { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { choices: unknown[] }).choices.length ? resolve() : reject(new Error('no choices')));
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(body);
    });
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < ITEMS) await call(`item ${next++}`);
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  agent.destroy();
  return ITEMS / seconds;
}

type Admin = Awaited<ReturnType<typeof startTestServer>>['admin'];

/** Runs the bench prompt over a dataset as an experiment and answers the experiment once it ended. */
async function runExperiment(a: Admin, dataset: string) {
  const created = await a.post('/experiments', { prompt: 'bench', versions: [1], dataset, provider: 'mock', concurrency: CONCURRENCY, evaluators: [{ type: 'exact_match' }] });
  if (created.status !== 201) throw new Error(`POST /experiments: ${created.status} ${JSON.stringify(created.body)}`);
  let x = created.body;
  while (x.status === 'queued' || x.status === 'running') {
    await new Promise((resolve) => setTimeout(resolve, 100));
    x = (await a.get(`/experiments/${created.body.id}`)).body;
  }
  return x;
}

async function main() {
  const postgres = DIALECT === 'postgres' ? await benchPostgres((m) => process.stderr.write(`${m}\n`)) : undefined;
  const mock = await startMock();
  const db = await freshDatabase(DIALECT);
  const s = await startTestServer(DIALECT, { experiments: { leaseMs: 30_000, pollMs: 1_000, maxActive: 1 } }, db);
  try {
    const a = s.admin;
    await a.post('/prompts/bench/versions', { content: 'What is {{q}}?', model: 'mock' });
    await a.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.base, prices: { mock: { input_per_million: 1, output_per_million: 1 } } });
    await a.post('/datasets', { name: 'bench' });
    const lines = Array.from({ length: ITEMS }, (_, i) => JSON.stringify({ input: { q: `item ${i}` }, expected: '42' }));
    await a.raw('POST', '/datasets/bench/import', lines.join('\n'), { 'Content-Type': 'application/x-ndjson' });
    // A warm-up experiment first, as on a server that has been running: the template workers started and
    // their code compiled, the provider's connections open, the runner's code optimised. The timed run then
    // measures the steady state, not start-up (which under tsx costs about a second of CPU per worker thread).
    await a.post('/datasets', { name: 'warmup' });
    const warmLines = Array.from({ length: WARMUP_ITEMS }, (_, i) => JSON.stringify({ input: { q: `warm ${i}` }, expected: '42' }));
    await a.raw('POST', '/datasets/warmup/import', warmLines.join('\n'), { 'Content-Type': 'application/x-ndjson' });
    await runExperiment(a, 'warmup');
    const baselineBefore = await baseline(mock.base);
    const callsBefore = await mock.calls();
    const load = loadavg();
    const cpuBefore = process.cpuUsage();
    // BENCH_CPU_PROF_WINDOW (with node --cpu-prof): the experiment's window in the profile's clock (µs), for picking its samples out.
    const windowStart = process.hrtime.bigint() / 1000n;
    const x = await runExperiment(a, 'bench');
    const cpu = process.cpuUsage(cpuBefore);
    if (process.env.BENCH_CPU_PROF_WINDOW) process.stderr.write(`experiment window (µs): ${windowStart} ${process.hrtime.bigint() / 1000n}\n`);
    const providerCalls = (await mock.calls()) - callsBefore;
    const baselineAfter = await baseline(mock.base);
    if (x.status !== 'completed' || x.progress.done !== ITEMS) throw new Error(`the experiment ended ${x.status} with ${x.progress.done} of ${ITEMS}`);
    const seconds = (Date.parse(x.finished_at) - Date.parse(x.started_at)) / 1000;
    const ideal = CONCURRENCY / (LATENCY_MS / 1000);
    const achieved = ITEMS / seconds;
    const round = (n: number) => Math.round(n * 100) / 100;
    const baselineRate = (baselineBefore + baselineAfter) / 2;
    process.stdout.write(
      `${JSON.stringify(
        {
          dialect: DIALECT,
          items: ITEMS,
          concurrency: CONCURRENCY,
          provider_latency_ms: LATENCY_MS,
          seconds: round(seconds),
          ideal_items_per_second: round(ideal),
          items_per_second: round(achieved),
          ratio_to_ideal: round(achieved / ideal),
          baseline_items_per_second: round(baselineRate),
          baseline_before_after: [round(baselineBefore), round(baselineAfter)],
          ratio_to_baseline: round(achieved / baselineRate),
          cpu_ms_per_item: round((cpu.user + cpu.system) / 1000 / ITEMS),
          load_average: load.map(round),
          provider_calls: providerCalls,
          pass_rate: x.aggregates[0].pass_rate,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await s.close();
    await db.drop();
    await mock.close();
    await postgres?.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
