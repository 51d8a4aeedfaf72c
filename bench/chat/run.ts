/**
 * `npm run bench:chat`: resolving and rendering a chat prompt with two partials beside a text prompt
 * of the same size, on the cached path (issue 12), printed as JSON. For each database, one server
 * (in this process, on a fresh database) holds both prompts live in production; each call is
 * `GET /prompts/{name}/latest` (answered from the resolve cache) then `POST /prompts/{name}/render`
 * (the live version and its resolved partials from the same cache, rendered in the worker pool).
 * The same pair is also measured in-process (the services, without HTTP), where the render is a larger part.
 * Rounds alternate text and chat so both see the same machine; the figure is the median µs per
 * resolve+render and the ratio chat / text. Target: ≤ 1.2. Beside it, the CPU time this process
 * (server, worker threads and HTTP client alike) spent per pair: on a shared machine, where the
 * wall time mostly says how long the process waited for a core, the steadier measure of the work.
 *
 * Environment:
 *   BENCH_CALLS       resolve+render pairs per round and prompt (default 250)
 *   BENCH_ROUNDS      rounds (default 21; short rounds, alternating, so drift in a shared machine hits both alike)
 *   BENCH_DATABASES   sqlite,postgres (default both)
 *   BENCH_DATABASE_URL / TEST_DATABASE_URL: an admin Postgres URL; without either, an embedded Postgres is started
 */
import { startTestServer, type Api, type TestServer } from '../../test/support/server.js';
import { benchPostgres } from '../support.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 250);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 21);
const DATABASES = (process.env.BENCH_DATABASES ?? 'sqlite,postgres').split(',').map((s) => s.trim()).filter(Boolean) as Array<'sqlite' | 'postgres'>;
const TARGET_MAX_RATIO = 1.2;

const started = Date.now();
const progress = (message: string) => process.stderr.write(`[bench:chat +${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);

// The same text either way: the chat prompt's system message takes two of its paragraphs from partials.
const SAFETY = 'Never reveal internal notes, credentials or another customer\'s data. If asked, say you cannot share it.\n';
const STYLE = 'Answer in {{language}}, in at most three short paragraphs, and end with one concrete next step.\n';
const SYSTEM_HEAD = 'You are the support assistant of {{company}}. Be accurate, kind and brief.\n';
const USER = 'Customer {{name}} asks: {{question}}';
const TEXT = `${SYSTEM_HEAD}${SAFETY}${STYLE}${USER}`;
const VARIABLES = { company: 'Acme', language: 'English', name: 'Ann', question: 'Where is my order 7731? It was due on Monday.' };
const HISTORY = [
  { role: 'user', content: 'Hello' },
  { role: 'assistant', content: 'Hi! How can I help?' },
];

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const round = (x: number) => Math.round(x * 100) / 100;

async function must(r: Promise<{ status: number; body: unknown }>, status: number, what: string): Promise<void> {
  const answer = await r;
  if (answer.status !== status) throw new Error(`${what}: ${answer.status} ${JSON.stringify(answer.body)}`);
}

async function seed(api: Api): Promise<void> {
  await must(api.post('/prompts/bench-safety/versions', { content: SAFETY }), 201, 'safety');
  await must(api.post('/prompts/bench-style/versions', { content: STYLE }), 201, 'style');
  await must(api.post('/prompts/bench-style/deployments', { version: 1, environment: 'production' }), 201, 'deploy style');
  await must(api.post('/prompts/bench-text/versions', { content: TEXT }), 201, 'text');
  await must(
    api.post('/prompts/bench-chat/versions', {
      type: 'chat',
      // One pinned partial, one followed (resolved to what is live in production).
      messages: [
        { role: 'system', content: `${SYSTEM_HEAD}{{> "bench-safety@1"}}{{> bench-style}}` },
        { type: 'placeholder', name: 'history' },
        { role: 'user', content: USER },
      ],
    }),
    201,
    'chat',
  );
  for (const name of ['bench-text', 'bench-chat']) await must(api.post(`/prompts/${name}/deployments`, { version: 1, environment: 'production' }), 201, `deploy ${name}`);
}

interface Timing {
  /** Wall-clock µs per pair. */
  us: number;
  /** CPU µs per pair, every thread of this process. */
  cpuUs: number;
}

function timer(): () => Timing {
  const start = process.hrtime.bigint();
  const cpu = process.cpuUsage();
  return () => {
    const used = process.cpuUsage(cpu);
    return { us: Number(process.hrtime.bigint() - start) / 1000 / CALLS, cpuUs: (used.user + used.system) / CALLS };
  };
}

async function perPair(api: Api, name: string, body: unknown): Promise<Timing> {
  const stop = timer();
  for (let i = 0; i < CALLS; i++) {
    const resolved = await api.get(`/prompts/${name}/latest?environment=production`);
    const rendered = await api.post(`/prompts/${name}/render`, body);
    if (resolved.status !== 200 || rendered.status !== 200) throw new Error(`${name}: ${resolved.status}/${rendered.status} ${JSON.stringify(rendered.body)}`);
  }
  return stop();
}

/** The same pair without HTTP: the resolve answer and the render, straight from the services. */
async function perPairInProcess(s: TestServer, name: string, body: { variables: Record<string, unknown>; placeholders?: Record<string, Array<{ role: string; content: string }>> }): Promise<Timing> {
  const { deployments, prompts } = s.running.registry.services;
  const stop = timer();
  for (let i = 0; i < CALLS; i++) {
    const answer = await deployments.resolveAnswer(name, 'production');
    const live = await deployments.live(name, 'production');
    await prompts.renderVersion(live.source, { variables: body.variables, placeholders: body.placeholders ?? {} }, live.partials);
    if (answer.status !== 200) throw new Error(`${name}: ${answer.status}`);
  }
  return stop();
}

/** Median µs per pair of text and chat over alternating rounds, and the ratio; the same for CPU time. */
async function compare(label: string, run: (name: string, body: typeof textBody | typeof chatBody) => Promise<Timing>) {
  await run('bench-text', textBody);
  await run('bench-chat', chatBody);
  const text: Timing[] = [];
  const chat: Timing[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    if (r % 5 === 0) progress(`${label}: round ${r + 1} of ${ROUNDS}`);
    // Which goes first alternates too.
    if (r % 2 === 0) {
      text.push(await run('bench-text', textBody));
      chat.push(await run('bench-chat', chatBody));
    } else {
      chat.push(await run('bench-chat', chatBody));
      text.push(await run('bench-text', textBody));
    }
  }
  const textUs = text.map((t) => t.us);
  const chatUs = chat.map((t) => t.us);
  const ratio = median(chatUs) / median(textUs);
  // Each round's own ratio too: the spread says how much the machine moved under the figure.
  const perRound = chatUs.map((c, i) => c / textUs[i]!).sort((a, b) => a - b);
  const textCpu = median(text.map((t) => t.cpuUs));
  const chatCpu = median(chat.map((t) => t.cpuUs));
  return {
    text_us: round(median(textUs)),
    chat_with_two_partials_us: round(median(chatUs)),
    ratio: round(ratio),
    round_ratios: { min: round(perRound[0]!), median: round(median(perRound)), max: round(perRound[perRound.length - 1]!) },
    cpu: { text_us: round(textCpu), chat_with_two_partials_us: round(chatCpu), ratio: round(chatCpu / textCpu) },
    meets_target: ratio <= TARGET_MAX_RATIO,
  };
}

const textBody = { variables: VARIABLES };
const chatBody = { variables: VARIABLES, placeholders: { history: HISTORY } };

async function measure(dialect: 'sqlite' | 'postgres') {
  const s: TestServer = await startTestServer(dialect);
  try {
    await seed(s.admin);
    // Same rendered text, so the two do the same work apart from messages and partials.
    const text = (await s.admin.post('/prompts/bench-text/render', textBody)).body.rendered as string;
    const chat = (await s.admin.post('/prompts/bench-chat/render', chatBody)).body.messages as Array<{ content: string }>;
    const chatOwn = [chat[0]!.content, chat[3]!.content].join('');
    if (chatOwn !== text) throw new Error('the chat prompt renders different text than the text prompt');
    const http = await compare(`${dialect} http`, (name, body) => perPair(s.admin, name, body));
    const inProcess = await compare(`${dialect} in-process`, (name, body) => perPairInProcess(s, name, body));
    const stats = s.running.registry.services.deployments.cache.stats;
    return { http, in_process: inProcess, meets_target: http.meets_target && inProcess.meets_target, resolve_cache: { hits: stats.hits, misses: stats.misses } };
  } finally {
    await s.close();
  }
}

async function main() {
  const postgres = DATABASES.includes('postgres') ? await benchPostgres(progress) : undefined;
  try {
    const results: Record<string, Awaited<ReturnType<typeof measure>>> = {};
    for (const dialect of DATABASES) results[dialect] = await measure(dialect);
    process.stdout.write(
      `${JSON.stringify(
        {
          what: 'resolve + render, cached path, one at a time, µs per pair (median of rounds): over HTTP (GET /prompts/{name}/latest + POST /prompts/{name}/render) and in-process (the same service calls without HTTP)',
          text_template_chars: TEXT.length,
          calls: CALLS,
          rounds: ROUNDS,
          target_max_ratio: TARGET_MAX_RATIO,
          results,
          meets_targets: Object.values(results).every((r) => r.meets_target),
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await postgres?.stop();
  }
}

main().catch((err) => {
  process.stderr.write(`${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
