import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`auth and API keys (${dialect})`, () => {
    let s: TestServer;
    const key = async (name: string, scopes: string[]) => {
      const r = await s.admin.post('/keys', { name, scopes });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body.key as string;
    };
    before(async () => {
      s = await startTestServer(dialect);
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hi {{n}}' })).status, 201);
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hello {{n}}' })).status, 201);
    });
    after(() => s.close());

    it('needs a key on every route but /healthz', async () => {
      const anonymous = s.as(null);
      assert.equal((await anonymous.get('/healthz')).status, 200);
      for (const [method, path] of [
        ['get', '/prompts'],
        ['get', '/prompts/p'],
        ['get', '/prompts/p/latest'],
        ['get', '/prompts/p/versions'],
        ['get', '/openapi.json'],
        ['get', '/keys'],
        ['post', '/prompts/p/versions'],
        ['post', '/prompts/p/deployments'],
      ] as const) {
        const r = method === 'get' ? await anonymous.get(path) : await anonymous.post(path, {});
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.equal(r.body.error.code, 'unauthorized');
      }
      const wrong = await s.as('pr_not-a-real-key').get('/prompts');
      assert.equal(wrong.status, 401);
    });

    it('grants by scope: read, write, deploy:ENV, admin', async () => {
      const reader = s.as(await key('reader', ['read']));
      const writer = s.as(await key('writer', ['write']));
      const stager = s.as(await key('stager', ['deploy:staging']));
      const deployer = s.as(await key('deployer', ['deploy']));

      assert.equal((await reader.get('/prompts/p')).status, 200);
      const denied = await reader.post('/prompts/p/versions', { content: 'x' });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.code, 'forbidden');
      assert.match(denied.body.error.message, /write/);

      const created = await writer.post('/prompts/p/versions', { content: 'by writer' });
      assert.equal(created.status, 201);
      assert.equal(created.body.created_by, 'writer', 'created_by is the key name');
      assert.equal((await writer.get('/prompts/p')).status, 200, 'write includes read');
      assert.equal((await writer.post('/prompts/p/deployments', { version: 1, environment: 'dev' })).status, 403);

      const staged = await stager.post('/prompts/p/deployments', { version: 1, environment: 'staging' });
      assert.equal(staged.status, 201);
      assert.equal(staged.body.deployed_by, 'stager');
      assert.equal((await stager.post('/prompts/p/deployments', { version: 1, environment: 'production' })).status, 403);
      assert.equal((await stager.post('/prompts/p/rollback', { environment: 'production' })).status, 403);
      assert.equal((await stager.get('/keys')).status, 403);

      assert.equal((await deployer.post('/prompts/p/deployments', { version: 2, environment: 'production' })).status, 201);
      assert.equal((await deployer.post('/prompts/p/versions', { content: 'nope' })).status, 403);
    });

    it('creates keys shown once and stored hashed, lists them without the key, and revokes them', async () => {
      const created = await s.admin.post('/keys', { name: 'ci', scopes: ['read', 'write'] });
      assert.equal(created.status, 201);
      assert.match(created.body.key, /^pr_/);
      const list = await s.admin.get('/keys');
      const listed = list.body.items.find((k: { name: string }) => k.name === 'ci');
      assert.ok(listed);
      assert.equal(listed.key, undefined);
      assert.ok(!JSON.stringify(list.body).includes(created.body.key));
      assert.ok(created.body.key.startsWith(listed.key_prefix));

      // The database holds a SHA-256 hash, never the key.
      const rows = await s.running.db.all<{ key_hash: string }>('SELECT key_hash FROM api_keys');
      assert.ok(rows.every((r) => /^[0-9a-f]{64}$/.test(r.key_hash)));
      assert.ok(!rows.some((r) => r.key_hash.includes(created.body.key)));

      const ci = s.as(created.body.key);
      assert.equal((await ci.get('/prompts')).status, 200);
      const revoked = await s.admin.delete(`/keys/${created.body.id}`);
      assert.equal(revoked.status, 200);
      assert.ok(revoked.body.revoked_at);
      assert.equal((await ci.get('/prompts')).status, 401, 'a revoked key stops working at once');
      assert.ok(!(await s.admin.get('/keys')).body.items.some((k: { id: string }) => k.id === created.body.id));
      assert.ok((await s.admin.get('/keys?include_revoked=true')).body.items.some((k: { id: string }) => k.id === created.body.id));
    });

    it('refuses bad key requests with 4xx', async () => {
      const dup = await s.admin.post('/keys', { name: 'reader', scopes: ['read'] });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'key_name_taken');
      const scope = await s.admin.post('/keys', { name: 'x', scopes: ['superuser'] });
      assert.equal(scope.status, 400);
      assert.equal(scope.body.error.code, 'invalid_scope');
      assert.equal((await s.admin.post('/keys', { name: 'x', scopes: [] })).status, 400);
      assert.equal((await s.admin.delete('/keys/00000000-0000-4000-8000-000000000000')).status, 404);
    });

    it('refuses to revoke the last admin key', async () => {
      const keys = (await s.admin.get('/keys')).body.items as Array<{ id: string; scopes: string[] }>;
      const admins = keys.filter((k) => k.scopes.includes('admin'));
      assert.equal(admins.length, 1);
      const r = await s.admin.delete(`/keys/${admins[0]!.id}`);
      assert.equal(r.status, 409);
      assert.equal(r.body.error.code, 'last_admin_key');
      assert.equal((await s.admin.get('/keys')).status, 200);
    });

    it('records every change in the audit log with who and which credential', async () => {
      const log = await s.admin.get('/audit?limit=100');
      assert.equal(log.status, 200);
      const actions = new Set(log.body.items.map((e: { action: string }) => e.action));
      for (const a of ['prompt.created', 'version.created', 'deployment.created', 'api_key.created', 'api_key.revoked']) assert.ok(actions.has(a), a);
      const deploy = log.body.items.find((e: { action: string; actor: string }) => e.action === 'deployment.created' && e.actor === 'stager');
      assert.equal(deploy.environment, 'staging');
      assert.match(deploy.credential, /^key:/);
      const filtered = await s.admin.get('/audit?action=version.created&prompt=p');
      assert.ok(filtered.body.items.length >= 3);
      assert.ok(filtered.body.items.every((e: { action: string }) => e.action === 'version.created'));
    });
  });
}
