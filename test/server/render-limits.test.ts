import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_TEMPLATE_LIMITS } from '../../shared/templates/limits.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS, type TemplatePoolOptions } from '../../server/templates/pool.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type Answer, type TestServer } from '../support/server.js';

const CUBE = '{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}';
const zeros = (n: number) => Array.from({ length: n }, () => 0);
const pool = (o: Partial<Omit<TemplatePoolOptions, 'limits'>> & { limits?: Partial<TemplatePoolOptions['limits']> }): TemplatePoolOptions => ({
  ...DEFAULT_TEMPLATE_POOL_OPTIONS,
  ...o,
  limits: { ...DEFAULT_TEMPLATE_LIMITS, ...o.limits },
});

function assertError(r: Answer, status: number, code: string, limit: string, max: number): void {
  assert.equal(r.status, status, JSON.stringify(r.body));
  assert.equal(r.body.error.code, code);
  assert.equal(r.body.error.limit, limit);
  assert.equal(r.body.error.max, max);
  assert.match(r.body.error.message, new RegExp(`the limit is ${max}`));
}

/**
 * Runs `slow` while another client polls /healthz: answers the slow request, the order things
 * finished in, and the highest resident memory of this process (the server's) seen meanwhile.
 */
async function whilePolling(s: TestServer, slow: () => Promise<Answer>): Promise<{ answer: Answer; order: string[]; peakRss: number }> {
  const order: string[] = [];
  let done = false;
  let peakRss = process.memoryUsage.rss();
  const pending = slow().then((a) => {
    order.push('slow');
    done = true;
    return a;
  });
  const poller = (async () => {
    while (!done) {
      const h = await s.as(null).get('/healthz');
      assert.equal(h.status, 200);
      order.push('healthz');
      peakRss = Math.max(peakRss, process.memoryUsage.rss());
    }
  })();
  const answer = await pending;
  await poller;
  return { answer, order, peakRss };
}

for (const dialect of DIALECTS) {
  describe(`template budgets on the server (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      assert.equal((await s.admin.post('/prompts/cube/versions', { content: CUBE })).status, 201);
    });
    after(() => s.close());

    it('answers the three-level #each over 600 items with 422 render_too_large while /healthz keeps answering first, in bounded memory', async () => {
      const before = process.memoryUsage.rss();
      const { answer, order, peakRss } = await whilePolling(s, () => s.admin.post('/prompts/cube/render', { version: 1, variables: { a: zeros(600) } }));
      assertError(answer, 422, 'render_too_large', 'iterations', 100_000);
      assert.match(answer.body.error.message, /nested \{\{#each\}\}/);
      // Answers to /healthz kept coming while the render ran (on the event loop it would have held them all back).
      assert.ok(order.indexOf('slow') >= 3, `order of completion: ${order.join(', ')}`);
      // The server grew until "heap out of memory"; here the render stops at its budget.
      // Generous bound: a worker thread and its heap (at most 256 MB old generation) plus slack.
      assert.ok(peakRss - before < 512 * 1024 * 1024, `RSS grew by ${Math.round((peakRss - before) / 1048576)} MB`);
      assert.equal((await s.admin.post('/prompts/cube/render', { version: 1, variables: { a: zeros(3) } })).body.rendered, 'x'.repeat(27));
    });

    it('refuses 20,000 nested {{#if a}} at publish with 422 template_too_large (depth), stores nothing, and keeps answering', async () => {
      assert.equal((await s.admin.post('/prompts/deep/versions', { content: 'fine {{a}}' })).status, 201);
      const content = `${'{{#if a}}'.repeat(20_000)}x`; // 180,001 characters: under the size limit
      const { answer, order } = await whilePolling(s, () => s.admin.post('/prompts/deep/versions', { content }));
      assertError(answer, 422, 'template_too_large', 'depth', 32);
      assert.match(answer.body.error.message, /nests blocks more than 32 deep/);
      assert.ok(order.includes('slow'));
      const versions = await s.admin.get('/prompts/deep/versions');
      assert.deepEqual(versions.body.items.map((v: { version: number }) => v.version), [1]);
      assert.equal((await s.as(null).get('/healthz')).status, 200);
    });

    it('refuses "{{a}} " x 20,000 (120 kB) at publish with 422 template_too_large (tags), and a template over 200,000 characters (size)', async () => {
      assertError(await s.admin.post('/prompts/tags/versions', { content: '{{a}} '.repeat(20_000) }), 422, 'template_too_large', 'tags', 5_000);
      assertError(await s.admin.post('/prompts/tags/versions', { content: 'x'.repeat(200_001) }), 422, 'template_too_large', 'size', 200_000);
      assert.equal((await s.admin.get('/prompts/tags')).status, 404, 'no prompt was created');
    });

    it('compiles a version once per worker: a second render of it does not compile again', async () => {
      const one = await startTestServer(dialect, { templates: pool({ threads: 1 }) });
      try {
        assert.equal((await one.admin.post('/prompts/cached/versions', { content: 'Hi {{name}}' })).status, 201);
        const stats = () => one.running.registry.services.templates.stats();
        const before = stats();
        for (const name of ['Ann', 'Bo']) {
          const r = await one.admin.post('/prompts/cached/render', { version: 1, variables: { name } });
          assert.equal(r.body.rendered, `Hi ${name}`);
        }
        const after = stats();
        assert.equal(after.renders - before.renders, 2);
        assert.equal(after.compiles - before.compiles, 1, 'the first render compiled, the second used the cache');
      } finally {
        await one.close();
      }
    });
  });

  describe(`render time limits on the server (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect, { templates: pool({ limits: { timeoutMs: 50 } }) });
    });
    after(() => s.close());

    it('answers a render past its time with 422 render_too_large (time) and keeps serving', async () => {
      // 300 × 300 = 90,300 iterations, each running 40 helpers that print nothing: within the iteration and
      // output budgets, and millions of helper calls, far past 50 ms on any machine (a bare 'x' body was not, on a fast one).
      const body = '{{#if @root.f}}x{{/if}}'.repeat(40);
      assert.equal((await s.admin.post('/prompts/square/versions', { content: `{{#each a}}{{#each @root.a}}${body}x{{/each}}{{/each}}` })).status, 201);
      const r = await s.admin.post('/prompts/square/render', { version: 1, variables: { a: zeros(300), f: false } });
      assertError(r, 422, 'render_too_large', 'time', 50);
      assert.equal((await s.as(null).get('/healthz')).status, 200);
      assert.equal((await s.admin.post('/prompts/square/render', { version: 1, variables: { a: zeros(2), f: false } })).body.rendered, 'xxxx');
    });

    it('terminates a worker that overruns where the render cannot check its clock, and answers the same error', async () => {
      // Compiling 5,000 tags takes far longer than 1 ms + 1 ms, and compiling has no clock check: only the hard timeout stops it.
      assert.equal((await s.admin.post('/prompts/slow/versions', { content: '{{a}} '.repeat(5_000) })).status, 201);
      const strict = await startTestServer(dialect, { templates: pool({ limits: { timeoutMs: 1 }, hardTimeoutGraceMs: 1 }) }, s.database);
      try {
        const r = await strict.admin.post('/prompts/slow/render', { version: 1, variables: { a: 'x' } });
        assertError(r, 422, 'render_too_large', 'time', 1);
        assert.equal(strict.running.registry.services.templates.stats().terminated, 1);
        assert.equal((await strict.as(null).get('/healthz')).status, 200);
      } finally {
        await strict.close();
      }
    });
  });
}
