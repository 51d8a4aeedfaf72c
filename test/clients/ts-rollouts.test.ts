import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { PromptRegistryClient, RegistryApi } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

const KEYS = (JSON.parse(readFileSync(new URL('../vectors/rollout-assignment.json', import.meta.url), 'utf8')) as { cases: Array<{ key: string }> }).cases
  .map((c) => c.key)
  .slice(0, 200);

for (const dialect of DIALECTS) {
  describe(`TypeScript client during a rollout (${dialect})`, () => {
    let s: TestServer;
    const clients: PromptRegistryClient[] = [];
    const client = () => {
      const c = new PromptRegistryClient({ url: s.url, apiKey: ADMIN_KEY, cacheTtlMs: 3_600_000, logging: { flushIntervalMs: 50 } });
      clients.push(c);
      return c;
    };
    const rollout = (body: unknown) => s.admin.raw('PUT', '/prompts/ab/rollouts/production', JSON.stringify(body));

    before(async () => {
      s = await startTestServer(dialect);
      for (const content of ['live {{x}}', 'candidate {{x}}']) assert.equal((await s.admin.post('/prompts/ab/versions', { content })).status, 201);
      assert.equal((await s.admin.post('/prompts/ab/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await rollout({ candidate: 2, weight: 10 })).status, 201);
    });
    after(async () => {
      for (const c of clients) await c.close(100);
      await s.close();
    });

    it('assigns every key locally, as the registry does, with no request per key', async () => {
      const c = client();
      const live = await c.get('ab');
      assert.equal(live.variant, 'live');
      assert.equal(live.rollout?.weight, 10);
      await c.get('ab', { version: 2 }); // let the candidate's prefetch land before counting
      const expected = new Map<string, string>();
      for (const key of KEYS) expected.set(key, (await s.admin.get(`/prompts/ab/latest?key=${encodeURIComponent(key)}`)).body.variant);
      const realFetch = globalThis.fetch;
      let requests = 0;
      globalThis.fetch = (...args: Parameters<typeof fetch>) => {
        requests++;
        return realFetch(...args);
      };
      try {
        for (const key of KEYS) {
          const p = await c.get('ab', { key });
          assert.equal(p.variant, expected.get(key), key);
          assert.equal(p.version, expected.get(key) === 'candidate' ? 2 : 1);
          assert.equal((await c.get('ab', { key })).variant, p.variant, 'the same key, the same variant');
        }
      } finally {
        globalThis.fetch = realFetch;
      }
      assert.equal(requests, 0);
      assert.ok([...expected.values()].includes('candidate'));
    });

    it('logs the variant with each execution', async () => {
      const c = client();
      const key = KEYS[0]!;
      const served = await c.get('ab', { key });
      await c.execute('ab', { x: '1' }, async ({ text }) => text, { key, extract: (text) => ({ response: text ?? '' }) });
      await c.flush();
      await eventually(async () => (await s.admin.get('/executions?prompt=ab')).body.items.length > 0, 'the execution is stored');
      const [logged] = (await s.admin.get('/executions?prompt=ab')).body.items;
      assert.equal(logged.version, served.version);
      assert.equal(logged.metadata.variant, served.variant);
      assert.equal(logged.metadata.rollout_id, served.rollout?.id);
    });

    it('sees a weight change and an abort through the push, long before its TTL', async () => {
      const c = client();
      assert.equal((await c.get('ab')).rollout?.weight, 10);
      await new Promise((r) => setTimeout(r, 200)); // let the event stream connect
      const api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
      const changed = await api.startRollout('ab', 'production', { candidate: 2, weight: 60 });
      assert.equal(changed.weight, 60);
      assert.equal((await api.rollout('ab', 'production')).weight, 60);
      await eventually(async () => (await c.get('ab')).rollout?.weight === 60, 'the client sees the new weight');
      let candidateKey: string | undefined;
      for (const key of KEYS) if (!candidateKey && (await c.get('ab', { key })).variant === 'candidate') candidateKey = key;
      assert.ok(candidateKey);
      assert.equal((await api.abortRollout('ab', 'production', 'done')).status, 'aborted');
      await eventually(async () => (await c.get('ab')).rollout === undefined, 'the client sees the abort');
      assert.equal((await c.get('ab', { key: candidateKey })).version, 1);
    });
  });
}
