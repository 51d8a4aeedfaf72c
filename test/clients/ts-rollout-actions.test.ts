import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryApi, RegistryError } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

// RegistryApi's rollout actions that say whether they applied or wait for approval (the extension's commands use them).
for (const dialect of DIALECTS) {
  describe(`RegistryApi rollout actions (${dialect})`, () => {
    let s: TestServer;
    let api: RegistryApi;

    before(async () => {
      s = await startTestServer(dialect);
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
      for (const content of ['one {{x}}', 'two {{x}}', 'three {{x}}']) await api.createVersion('ab', { content });
      for (const env of ['production', 'staging']) assert.equal((await api.deploy('ab', 1, env)).kind, 'applied');
      assert.equal((await s.admin.raw('PUT', '/environments/staging/policy', JSON.stringify({ require_approval: true }), { 'Content-Type': 'application/json' })).status, 200);
    });
    after(() => s.close());

    it('starts, re-weights, promotes and aborts where no approval is needed: applied, with the rollout', async () => {
      assert.equal(await api.rolloutIfAny('ab', 'production'), undefined);
      const started = await api.rolloutStart('ab', 'production', { candidate: 2, weight: 10 });
      assert.ok(started.kind === 'applied' && started.created);
      assert.deepEqual([started.rollout.live, started.rollout.candidate, started.rollout.weight, started.rollout.status], [1, 2, 10, 'active']);
      const changed = await api.rolloutStart('ab', 'production', { candidate: 2, weight: 40 });
      assert.ok(changed.kind === 'applied' && !changed.created);
      assert.deepEqual([changed.rollout.id, changed.rollout.weight], [started.rollout.id, 40]);
      assert.equal((await api.rolloutIfAny('ab', 'production'))?.weight, 40);
      const promoted = await api.rolloutPromote('ab', 'production', 'v2 wins');
      assert.ok(promoted.kind === 'applied');
      assert.equal(promoted.rollout.status, 'promoted');
      assert.equal((await api.live('ab', 'production'))?.version, 2);
      const again = await api.rolloutStart('ab', 'production', { candidate: 3, weight: 5 });
      assert.ok(again.kind === 'applied');
      const aborted = await api.rolloutAbort('ab', 'production', 'too slow');
      assert.ok(aborted.kind === 'applied');
      assert.deepEqual([aborted.rollout.status, aborted.rollout.end_reason], ['aborted', 'too slow']);
      assert.equal(await api.rolloutIfAny('ab', 'production'), undefined);
    });

    it('answers the pending request where the environment needs approval, and nothing runs yet', async () => {
      const asked = await api.rolloutStart('ab', 'staging', { candidate: 2, weight: 25, guard: { metric: 'error_rate', window: 50, threshold: 0.1 } });
      assert.ok(asked.kind === 'pending');
      assert.deepEqual([asked.request.action, asked.request.status, asked.request.version, asked.request.from_version, asked.request.rollout?.weight], ['rollout_start', 'pending', 2, 1, 25]);
      assert.equal(await api.rolloutIfAny('ab', 'staging'), undefined);
    });

    it('lists the rollouts running in an environment, a page at a time or all of them', async () => {
      for (const name of ['list-1', 'list-2', 'list-3']) {
        for (const content of ['one', 'two']) await api.createVersion(name, { content: `${name} ${content}` });
        assert.equal((await api.deploy(name, 1, 'production')).kind, 'applied');
        assert.ok((await api.rolloutStart(name, 'production', { candidate: 2, weight: 20 })).kind === 'applied');
      }
      const first = await api.listRollouts('production', { limit: 2 });
      assert.deepEqual(first.items.map((r) => r.prompt), ['list-1', 'list-2']);
      assert.deepEqual(first.items[0], await api.rollout('list-1', 'production'));
      const rest = await api.listRollouts('production', { limit: 2, cursor: first.next_cursor });
      assert.deepEqual([rest.items.map((r) => r.prompt), rest.next_cursor], [['list-3'], null]);
      assert.deepEqual((await api.listRollouts('production', { prompt: 'list-2' })).items.map((r) => [r.prompt, r.candidate, r.weight]), [['list-2', 2, 20]]);
      assert.deepEqual((await api.listRollouts('production', { prompt: 'ab' })).items, []);
      assert.deepEqual((await api.runningRollouts('production'))?.map((r) => r.prompt), ['list-1', 'list-2', 'list-3']);
      // The pending start in staging runs nothing yet.
      assert.deepEqual(await api.runningRollouts('staging'), []);
      await assert.rejects(api.listRollouts('qa'), (err: unknown) => err instanceof RegistryError && err.status === 400 && err.code === 'unknown_environment');
      await assert.rejects(api.runningRollouts('qa'), (err: unknown) => err instanceof RegistryError && err.code === 'unknown_environment');
    });

    it("throws the registry's error, code and message, for what it refuses", async () => {
      await assert.rejects(api.rolloutStart('ab', 'production', { candidate: 2, weight: 10 }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.deepEqual([err.status, err.code], [409, 'candidate_is_live']);
        assert.match(err.message, /version 2 of "ab" is already live in production/);
        return true;
      });
      await assert.rejects(api.rolloutPromote('ab', 'production'), (err: unknown) => err instanceof RegistryError && err.code === 'no_rollout');
      await assert.rejects(api.rolloutIfAny('nope', 'production'), (err: unknown) => err instanceof RegistryError && err.code === 'prompt_not_found');
    });
  });
}
