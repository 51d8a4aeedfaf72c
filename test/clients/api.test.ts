import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryApi, RegistryError } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`RegistryApi, the authoring client (${dialect})`, () => {
    let s: TestServer;
    let api: RegistryApi;
    before(async () => {
      s = await startTestServer(dialect);
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
    });
    after(() => s.close());

    it('publishes, lists, deploys, rolls back and reads history', async () => {
      assert.equal((await api.health()).status, 'ok');
      assert.deepEqual(await api.environments(), ['dev', 'staging', 'production']);
      const v1 = await api.createVersion('authoring', { content: 'A {{x}}', tags: ['t1'], description: 'desc' });
      assert.equal(v1.version, 1);
      assert.equal(v1.created, true);
      const v2 = await api.createVersion('authoring', { content: 'B {{x}}', temperature: 0.4, message: 'second' });
      assert.equal(v2.version, 2);
      const same = await api.createVersion('authoring', { content: 'B {{x}}', temperature: 0.4 }, { idempotent: true });
      assert.equal(same.created, false);
      await assert.rejects(api.createVersion('authoring', { content: 'B {{x}}', temperature: 0.4 }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.status, 409);
        assert.equal(err.code, 'duplicate_version');
        assert.equal(err.details.existing_version, 2);
        return true;
      });

      const page = await api.listPrompts({ search: 'author', tags: ['t1'] });
      assert.deepEqual(page.items.map((p) => p.name), ['authoring']);
      assert.equal((await api.listVersions('authoring', { limit: 1 })).next_cursor !== null, true);
      assert.equal((await api.getVersion('authoring', 1)).content, 'A {{x}}');

      const first = await api.deploy('authoring', 1, 'staging');
      assert.ok(first.kind === 'applied' && first.created && first.deployment.version === 1, JSON.stringify(first));
      const second = await api.deploy('authoring', 2, 'staging');
      assert.ok(second.kind === 'applied' && second.deployment.version === 2);
      const again = await api.deploy('authoring', 2, 'staging');
      assert.ok(again.kind === 'applied' && !again.created, 'deploying what is live changes nothing');
      assert.equal((await api.live('authoring', 'staging'))?.version, 2);
      assert.equal(await api.live('authoring', 'production'), undefined);
      const preview = await api.rollback('authoring', 'staging', { dryRun: true });
      assert.equal(preview.version, 1);
      assert.equal((await api.live('authoring', 'staging'))?.version, 2, 'a dry run changes nothing');
      assert.deepEqual((await api.listPrompts({ environment: 'staging' })).items.map((p) => p.name), ['authoring']);
      const back = await api.rollback('authoring', 'staging');
      assert.ok(back.kind === 'applied');
      assert.equal(back.deployment.action, 'rollback');
      assert.equal(back.deployment.version, 1);
      const history = await api.history('authoring', { environment: 'staging' });
      assert.deepEqual(history.items.map((d) => d.version), [1, 2, 1]);
    });
  });
}
