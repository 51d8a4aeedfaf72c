/**
 * Client benchmark (prints JSON):
 *  1. a cached `get` + `render` per call, in µs, beside the seed client's way
 *     (a dict lookup and a string replace per variable) in the same run;
 *  2. the time from a deploy to a running client seeing it: with push
 *     (the event stream) and with TTL polling.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { PromptRegistryClient } from '../../client/index.js';
import { DEFAULT_APP_OPTIONS } from '../../server/app.js';
import { startServer } from '../../server/main.js';

const KEY = 'bench-admin-key-0123456789';
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const CALLS = Number(process.env.BENCH_CALLS ?? 100_000);
const DEPLOYS = Number(process.env.BENCH_DEPLOYS ?? 10);
const TEMPLATE = 'You are a support agent for {{company}}. Answer {{name}}\'s question: {{question}}';
const VARIABLES = { company: 'Acme', name: 'Ann', question: 'Where is my order?' };

const log = (msg: string) => process.stderr.write(`${msg}\n`);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const percentile = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(p * xs.length) - 1)]!;

async function timePerCall(fn: () => Promise<unknown> | unknown, calls: number): Promise<number> {
  const start = process.hrtime.bigint();
  for (let i = 0; i < calls; i++) await fn();
  return Number(process.hrtime.bigint() - start) / 1000 / calls;
}

async function main() {
  const dir = mkdtempSync(join(tmpdir(), 'prompt-registry-bench-client-'));
  const server = await startServer(
    { ...DEFAULT_APP_OPTIONS, port: 0, host: '127.0.0.1', databaseUrl: `sqlite:${join(dir, 'r.db')}`, adminKey: KEY, secret: 'bench-server-secret-0123456789abcdef0123456789', logLevel: 'silent', logRequests: false, rateLimit: 0 },
    pino({ level: 'silent' }),
  );
  const call = (method: string, path: string, body?: unknown) =>
    fetch(server.url + path, { method, headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' }, ...(body ? { body: JSON.stringify(body) } : {}) });
  const clients: PromptRegistryClient[] = [];
  try {
    await call('POST', '/prompts/support/versions', { content: TEMPLATE });
    await call('POST', '/prompts/support/versions', { content: `${TEMPLATE} Be brief.` });
    await call('POST', '/prompts/support/deployments', { version: 1, environment: 'production' });

    // 1. Cached get + render.
    log('cached get + render');
    const client = new PromptRegistryClient({ url: server.url, apiKey: KEY, push: false, cacheTtlMs: 3_600_000 });
    clients.push(client);
    const seedCache = new Map<string, { content: string }>();
    seedCache.set('support:production', (await (await call('GET', '/prompts/support/latest')).json()) as { content: string });
    const seed = (name: string, variables: Record<string, string>, environment = 'production') => {
      let template = seedCache.get(`${name}:${environment}`)!.content;
      for (const [k, v] of Object.entries(variables)) template = template.replace(`{{${k}}}`, String(v));
      return template;
    };
    const ours = () => client.render('support', VARIABLES);
    if ((await ours()) !== seed('support', VARIABLES)) throw new Error('the two ways render differently');
    await timePerCall(ours, CALLS / 10);
    await timePerCall(() => seed('support', VARIABLES), CALLS / 10);
    const oursUs: number[] = [];
    const seedUs: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      seedUs.push(await timePerCall(() => seed('support', VARIABLES), CALLS));
      oursUs.push(await timePerCall(ours, CALLS));
    }

    // 2. Deploy to seen.
    const deployToSeen = async (c: PromptRegistryClient): Promise<number[]> => {
      const times: number[] = [];
      let version = (await c.get('support')).version;
      for (let i = 0; i < DEPLOYS; i++) {
        const next = version === 1 ? 2 : 1;
        const start = performance.now();
        await call('POST', '/prompts/support/deployments', { version: next, environment: 'production' });
        while ((await c.get('support')).version !== next) await new Promise((r) => setTimeout(r, 1));
        times.push(performance.now() - start);
        version = next;
        await new Promise((r) => setTimeout(r, 50 + Math.random() * 100));
      }
      return times;
    };
    log('deploy to seen, push');
    const pushed = new PromptRegistryClient({ url: server.url, apiKey: KEY, cacheTtlMs: 3_600_000 });
    clients.push(pushed);
    await pushed.get('support');
    await new Promise((r) => setTimeout(r, 300));
    const pushMs = await deployToSeen(pushed);
    log('deploy to seen, TTL polling (1 s)');
    const polled = new PromptRegistryClient({ url: server.url, apiKey: KEY, push: false, cacheTtlMs: 1_000 });
    clients.push(polled);
    await polled.get('support');
    const pollMs = await deployToSeen(polled);

    const round = (x: number, d = 2) => Number(x.toFixed(d));
    const result = {
      bench: 'client',
      language: 'typescript',
      cached_get_render: {
        calls_per_round: CALLS,
        rounds: ROUNDS,
        ours_us_per_call: round(median(oursUs), 3),
        seed_way_us_per_call: round(median(seedUs), 3),
        ratio_to_seed_way: round(median(oursUs) / median(seedUs)),
        target_us: 5,
        meets_target: median(oursUs) <= 5,
        note: 'the seed way only replaces strings; ours is strict (missing variables throw) and supports the template subset',
      },
      deploy_to_seen_ms: {
        deploys: DEPLOYS,
        push: { median: round(median(pushMs)), p90: round(percentile(pushMs, 0.9)), max: round(Math.max(...pushMs)) },
        ttl_polling_1s: { median: round(median(pollMs)), p90: round(percentile(pollMs, 0.9)), max: round(Math.max(...pollMs)) },
        target_push_ms: 1000,
        meets_target: Math.max(...pushMs) < 1000,
      },
    };
    process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
  } finally {
    for (const c of clients) await c.close(100);
    await server.close(100);
    rmSync(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
