import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

interface Entry {
  id: number;
  occurred_at: string;
  actor: string;
  credential: string;
  action: string;
  prompt: string | null;
  environment: string | null;
}

for (const dialect of DIALECTS) {
  describe(`audit log: filters, pagination, append-only (${dialect})`, () => {
    let s: TestServer;
    let writerId: string;
    let middle: string;
    const list = async (query: string) => {
      const r = await s.admin.get(`/audit?limit=100&${query}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items as Entry[];
    };

    before(async () => {
      s = await startTestServer(dialect);
      const writer = await s.admin.post('/keys', { name: 'writer', scopes: ['write', 'deploy:staging'] });
      writerId = writer.body.id;
      const w = s.as(writer.body.key);
      assert.equal((await w.post('/prompts/a/versions', { content: 'a1' })).status, 201);
      assert.equal((await w.post('/prompts/a/deployments', { version: 1, environment: 'staging' })).status, 201);
      // A few milliseconds either side of `middle`, so no entry shares its millisecond.
      await new Promise((r) => setTimeout(r, 5));
      middle = new Date().toISOString();
      await new Promise((r) => setTimeout(r, 5));
      assert.equal((await s.admin.post('/prompts/b/versions', { content: 'b1' })).status, 201);
      assert.equal((await s.admin.post('/prompts/b/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await s.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 1 }), { 'Content-Type': 'application/json' })).status, 200);
      assert.equal((await s.admin.delete('/keys/writer')).status, 200);
    });
    after(() => s.close());

    it('filters by actor, action, action family, prompt, environment and credential', async () => {
      const byWriter = await list('actor=writer');
      assert.deepEqual(byWriter.map((e) => e.action).sort(), ['deployment.created', 'prompt.created', 'version.created']);
      assert.ok(byWriter.every((e) => e.credential === `key:${writerId}`));
      assert.deepEqual((await list(`credential=key:${writerId}`)).map((e) => e.id), byWriter.map((e) => e.id));
      assert.deepEqual((await list('action=deployment.created')).map((e) => e.prompt).sort(), ['a', 'b']);
      assert.deepEqual((await list('action=api_key.*')).map((e) => e.action).sort(), ['api_key.created', 'api_key.created', 'api_key.revoked']);
      assert.ok((await list('prompt=b')).every((e) => e.prompt === 'b'));
      assert.equal((await list('prompt=b')).length, 3);
      assert.deepEqual((await list('environment=production')).map((e) => e.action).sort(), ['deployment.created', 'environment.policy_updated']);
      assert.deepEqual((await list('actor=writer&environment=staging')).map((e) => e.action), ['deployment.created']);
      assert.deepEqual(await list('actor=nobody'), []);
    });

    it('filters by time, from inclusive and to exclusive', async () => {
      const later = await list(`from=${middle}`);
      assert.ok(later.length >= 4);
      assert.ok(later.every((e) => e.occurred_at >= middle));
      assert.ok(!later.some((e) => e.prompt === 'a'));
      const earlier = await list(`to=${middle}`);
      assert.ok(earlier.some((e) => e.prompt === 'a'));
      assert.ok(earlier.every((e) => e.occurred_at < middle));
      assert.equal(later.length + earlier.length, (await list('')).length);
      const bad = await s.admin.get('/audit?from=yesterday');
      assert.equal(bad.status, 400);
      assert.match(bad.body.error.message, /ISO-8601/);
    });

    it('pages newest first, each entry once', async () => {
      const all = await list('');
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: Entry[]; next_cursor: string | null } } = await s.admin.get(`/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
        seen.push(...page.body.items.map((e) => e.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      assert.deepEqual(seen, all.map((e) => e.id));
      assert.deepEqual([...seen].sort((x, y) => y - x), seen);
      assert.equal((await s.admin.get('/audit?cursor=garbage')).body.error.code, 'invalid_cursor');
    });

    it('is append-only: no route changes it, and the database refuses to', async () => {
      const before = (await list('')).length;
      for (const method of ['DELETE', 'PUT', 'PATCH']) {
        const r = await s.admin.raw(method, '/audit', '{}', { 'Content-Type': 'application/json' });
        assert.equal(r.status, 404, method);
        assert.equal(r.body.error.code, 'route_not_found');
      }
      await assert.rejects(s.running.db.transaction((tx) => tx.run("UPDATE audit_log SET actor = 'someone else'")));
      await assert.rejects(s.running.db.transaction((tx) => tx.run('DELETE FROM audit_log')));
      assert.equal((await list('')).length, before);
      assert.equal((await s.as(null).get('/audit')).status, 401);
    });
  });
}
