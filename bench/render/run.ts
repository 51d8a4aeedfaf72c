/**
 * The cost of rendering in the worker pool (prints JSON): a normal render of a cached template
 * in-process (what the server did before issue 18, on its event loop) beside the same render
 * through TemplatePool (structured clone to a worker thread and back), one at a time and
 * 16 at a time, per render in µs, and the ratios.
 */
import { compileTemplate } from '../../shared/templates/index.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS, TemplatePool } from '../../server/templates/pool.js';

const CALLS = Number(process.env.BENCH_CALLS ?? 5_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CONCURRENCY = 16;
const TEMPLATE =
  'You are a support agent for {{company}}. Answer {{name}}\'s question: {{question}}\n' +
  '{{#each history}}{{role}}: {{text}}\n{{/each}}{{#if vip}}Be extra kind.{{/if}}';
const VARIABLES = {
  company: 'Acme',
  name: 'Ann',
  question: 'Where is my order?',
  history: Array.from({ length: 5 }, (_, i) => ({ role: i % 2 ? 'assistant' : 'user', text: `message ${i}` })),
  vip: true,
};

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function perCall(fn: () => unknown, calls: number, concurrency = 1): Promise<number> {
  const start = process.hrtime.bigint();
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next++ < calls) await fn();
    }),
  );
  return Number(process.hrtime.bigint() - start) / 1000 / calls;
}

async function main() {
  const template = compileTemplate(TEMPLATE);
  const pool = new TemplatePool(DEFAULT_TEMPLATE_POOL_OPTIONS);
  try {
    const expected = template.render(VARIABLES);
    if ((await pool.render(TEMPLATE, VARIABLES)) !== expected) throw new Error('the pool renders differently');
    // Warm up both paths (JIT, every worker started and holding the compiled template).
    await perCall(() => template.render(VARIABLES), CALLS);
    await perCall(() => pool.render(TEMPLATE, VARIABLES), CALLS, CONCURRENCY);
    const inProcess: number[] = [];
    const sequential: number[] = [];
    const concurrent: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      inProcess.push(await perCall(() => template.render(VARIABLES), CALLS));
      sequential.push(await perCall(() => pool.render(TEMPLATE, VARIABLES), CALLS));
      concurrent.push(await perCall(() => pool.render(TEMPLATE, VARIABLES), CALLS, CONCURRENCY));
    }
    const inProcessUs = median(inProcess);
    const sequentialUs = median(sequential);
    const concurrentUs = median(concurrent);
    const round = (x: number) => Math.round(x * 100) / 100;
    process.stdout.write(
      `${JSON.stringify(
        {
          template_chars: TEMPLATE.length,
          output_chars: expected.length,
          calls: CALLS,
          rounds: ROUNDS,
          threads: DEFAULT_TEMPLATE_POOL_OPTIONS.threads,
          in_process_us: round(inProcessUs),
          pooled_one_at_a_time_us: round(sequentialUs),
          [`pooled_${CONCURRENCY}_at_a_time_us`]: round(concurrentUs),
          ratio_one_at_a_time: round(sequentialUs / inProcessUs),
          [`ratio_${CONCURRENCY}_at_a_time`]: round(concurrentUs / inProcessUs),
          compiles: pool.stats().compiles,
        },
        null,
        2,
      )}\n`,
    );
  } finally {
    await pool.close();
  }
}

await main();
