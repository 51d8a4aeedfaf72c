import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULT_TEMPLATE_LIMITS, PromptRegistryClient, TemplateError, type ClientOptions } from '../../client/index.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS } from '../../server/templates/pool.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

const isBudgetError = (code: string, limit: string) => (err: unknown) =>
  err instanceof TemplateError && err.code === code && err.details.limit === limit;

for (const dialect of DIALECTS) {
  describe(`TypeScript client: template budgets (${dialect})`, () => {
    let s: TestServer;
    const clients: PromptRegistryClient[] = [];
    const client = (options: Partial<ClientOptions> = {}) => {
      const c = new PromptRegistryClient({ url: s.url, apiKey: ADMIN_KEY, push: false, ...options });
      clients.push(c);
      return c;
    };

    before(async () => {
      // A registry configured with deeper nesting than the clients' default: it stores what a client refuses.
      s = await startTestServer(dialect, { templates: { ...DEFAULT_TEMPLATE_POOL_OPTIONS, limits: { ...DEFAULT_TEMPLATE_LIMITS, maxDepth: 100 } } });
      const publish = async (name: string, content: string) => {
        const r = await s.admin.post(`/prompts/${name}/versions`, { content });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        assert.equal((await s.admin.post(`/prompts/${name}/deployments`, { version: 1, environment: 'production' })).status, 201);
      };
      await publish('cube', '{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}');
      await publish('deep', `${'{{#if a}}'.repeat(40)}x${'{{/if}}'.repeat(40)}`);
      await publish('list', '{{#each items}}{{this}}{{/each}}');
    });
    after(async () => {
      for (const c of clients) await c.close(100);
      await s.close();
    });

    it('gives render_too_large for the three nested loops over 600 items instead of stalling', async () => {
      const c = client();
      await assert.rejects(c.render('cube', { a: Array.from({ length: 600 }, () => 0) }), isBudgetError('render_too_large', 'iterations'));
      assert.equal(await c.render('cube', { a: [0, 0] }), 'x'.repeat(8));
    });

    it('refuses a template served beyond its compile limits with template_too_large', async () => {
      await assert.rejects(client().render('deep', { a: true }), isBudgetError('template_too_large', 'depth'));
      assert.equal(await client({ templateLimits: { maxDepth: 40 } }).render('deep', { a: true }), 'x');
    });

    it('lets the application set its own budget', async () => {
      const items = ['a', 'b', 'c'];
      assert.equal(await client().render('list', { items }), 'abc');
      await assert.rejects(client({ templateLimits: { maxIterations: 2 } }).render('list', { items }), (err: unknown) => {
        assert.ok(isBudgetError('render_too_large', 'iterations')(err));
        assert.equal((err as TemplateError).details.max, 2);
        return true;
      });
      await assert.rejects(client({ templateLimits: { maxOutputChars: 2 } }).render('list', { items }), isBudgetError('render_too_large', 'output'));
      assert.throws(() => client({ templateLimits: { maxIterations: -1 } }), RangeError);
    });
  });
}
