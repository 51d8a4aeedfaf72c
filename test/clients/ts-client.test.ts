import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PromptNotFoundError, PromptRegistryClient, RegistryUnreachableError, TemplateError, type ClientOptions } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { freePort } from '../support/process.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

for (const dialect of DIALECTS) {
  describe(`TypeScript client (${dialect})`, () => {
    let s: TestServer;
    const clients: PromptRegistryClient[] = [];
    const client = (options: Partial<ClientOptions> = {}) => {
      const c = new PromptRegistryClient({ url: s.url, apiKey: ADMIN_KEY, ...options });
      clients.push(c);
      return c;
    };
    const publish = async (name: string, content: string) => (await s.admin.post(`/prompts/${name}/versions`, { content })).body.version as number;
    const deploy = async (name: string, version: number, environment = 'production') =>
      assert.equal((await s.admin.post(`/prompts/${name}/deployments`, { version, environment })).status, 201);

    before(async () => {
      s = await startTestServer(dialect);
      await publish('greet', 'Hello {{name}}, from {{company}}.');
      await publish('greet', 'Hi {{name}}! ({{company}})');
      await deploy('greet', 1);
    });
    after(async () => {
      for (const c of clients) await c.close(100);
      await s.close();
    });

    it('gets the live prompt with its settings and renders it strictly', async () => {
      const c = client();
      const p = await c.get('greet');
      assert.equal(p.version, 1);
      assert.equal(p.environment, 'production');
      assert.equal(p.model, 'gpt-4o');
      assert.deepEqual(p.variables, ['name', 'company']);
      assert.equal(p.source, 'registry');
      assert.equal(await c.render('greet', { name: 'Ann', company: 'Acme' }), 'Hello Ann, from Acme.');
      assert.equal(await c.getAndRender('greet', { name: 'Bo', company: 'Acme' }), 'Hello Bo, from Acme.');
      await assert.rejects(c.render('greet', { name: 'Ann' }), (err: unknown) => {
        assert.ok(err instanceof TemplateError);
        assert.equal(err.code, 'missing_variable');
        assert.equal(err.details.variable, 'company');
        assert.match(err.message, /company/);
        return true;
      });
      const v2 = await c.get('greet', { version: 2 });
      assert.equal(v2.content, 'Hi {{name}}! ({{company}})');
    });

    it('throws PromptNotFoundError for an unknown prompt or one not deployed there', async () => {
      const c = client();
      await assert.rejects(c.get('nope'), (err: unknown) => err instanceof PromptNotFoundError && err.code === 'prompt_not_found');
      await assert.rejects(c.get('greet', { environment: 'staging' }), (err: unknown) => err instanceof PromptNotFoundError && err.code === 'not_deployed');
    });

    it('serves from its cache within the TTL', async () => {
      await publish('cached', 'one');
      await publish('cached', 'two');
      await deploy('cached', 1);
      const c = client({ push: false, cacheTtlMs: 3_600_000 });
      assert.equal((await c.get('cached')).version, 1);
      await deploy('cached', 2);
      assert.equal((await c.get('cached')).version, 1, 'no push, TTL not over: the cached version');
    });

    it('sees a deploy and a rollback through push, long before its TTL', async () => {
      await publish('pushed', 'one {{x}}');
      await publish('pushed', 'two {{x}}');
      await deploy('pushed', 1);
      const c = client({ cacheTtlMs: 3_600_000 });
      assert.equal((await c.get('pushed')).version, 1);
      await new Promise((r) => setTimeout(r, 200)); // let the event stream connect
      await deploy('pushed', 2);
      await eventually(async () => (await c.get('pushed')).version === 2, 'the client sees version 2 without waiting for the TTL');
      assert.equal((await s.admin.post('/prompts/pushed/rollback', { environment: 'production' })).status, 201);
      await eventually(async () => (await c.get('pushed')).version === 1, 'the client sees the rollback');
      assert.equal(await c.render('pushed', { x: '!' }), 'one !');
    });

    it('sees a deploy by TTL polling without push, serving the stale prompt while it refreshes', async () => {
      await publish('polled', 'one');
      await publish('polled', 'two');
      await deploy('polled', 1);
      const c = client({ push: false, cacheTtlMs: 150 });
      const first = await c.get('polled');
      assert.equal(first.version, 1);
      await new Promise((r) => setTimeout(r, 200));
      // TTL over, nothing changed: a conditional request answers 304 and the same prompt is kept.
      assert.equal(await c.get('polled'), first);
      await eventually(async () => (await c.get('polled')) === first, '304 keeps the prompt');
      await deploy('polled', 2);
      await eventually(async () => (await c.get('polled')).version === 2, 'the client sees version 2 after the TTL');
    });

    it('keeps serving the last known prompt when the registry stops', async () => {
      const other = await startTestServer(dialect);
      try {
        await other.admin.post('/prompts/kept/versions', { content: 'Kept {{x}}' });
        await other.admin.post('/prompts/kept/deployments', { version: 1, environment: 'production' });
        const errors: Error[] = [];
        const c = client({ url: other.url, push: false, cacheTtlMs: 50, onError: (e) => errors.push(e) });
        assert.equal(await c.render('kept', { x: 'a' }), 'Kept a');
        await other.close();
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(await c.render('kept', { x: 'b' }), 'Kept b');
        await eventually(() => errors.some((e) => e instanceof RegistryUnreachableError), 'the failed refresh is reported');
        assert.equal((await c.get('kept')).source, 'registry');
      } finally {
        await other.close();
      }
    });

    it('starts cold and offline from a bundle written by `GET /export`, or from a fallback in code', async () => {
      await deploy('greet', 2, 'staging');
      const exported = await s.admin.get('/export?environment=staging');
      assert.equal(exported.status, 200);
      assert.equal(exported.body.prompts.greet.version_number, 2);
      const bundlePath = join(tmpdir(), `bundle-${process.pid}-${dialect}.json`);
      writeFileSync(bundlePath, JSON.stringify(exported.body));

      const dead = `http://127.0.0.1:${await freePort()}`;
      const offline = client({ url: dead, environment: 'staging', bundlePath, fallbacks: { other: 'Fallback for {{who}}' } });
      const p = await offline.get('greet');
      assert.equal(p.source, 'bundle');
      assert.equal(p.version, 2);
      assert.equal(await offline.render('greet', { name: 'Cy', company: 'Acme' }), 'Hi Cy! (Acme)');
      const fb = await offline.get('other');
      assert.equal(fb.source, 'fallback');
      assert.deepEqual(fb.variables, ['who']);
      assert.equal(await offline.render('other', { who: 'me' }), 'Fallback for me');

      await assert.rejects(offline.get('missing'), (err: unknown) => {
        assert.ok(err instanceof RegistryUnreachableError);
        assert.match(err.message, /unreachable/);
        assert.match(err.message, /"missing"/);
        return true;
      });
      // The bundle is for staging: production falls through to "unreachable".
      await assert.rejects(offline.get('greet', { environment: 'production' }), RegistryUnreachableError);
    });

    it('refuses a file that is not a bundle with a clear error', () => {
      const path = join(tmpdir(), `not-a-bundle-${process.pid}.json`);
      writeFileSync(path, '{"hello": 1}');
      assert.throws(() => new PromptRegistryClient({ url: s.url, apiKey: 'k', bundlePath: path }), /not a bundle written by `prompt-registry export`/);
    });
  });
}
