import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { oidcConfig } from '../../server/config.js';
import { openDatabase } from '../../server/db/index.js';
import { migrate } from '../../server/db/migrate.js';
import { listParam } from '../../server/db/values.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { ADMIN_KEY, startTestServer, TEST_SECRET, type Api, type TestServer } from '../support/server.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

for (const dialect of DIALECTS) {
  describe(`key material, execution scopes and key owners (${dialect})`, () => {
    let s: TestServer;
    const key = async (name: string, scopes: string[], owner?: string) => {
      const r = await s.admin.post('/keys', { name, scopes, ...(owner ? { owner } : {}) });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return { api: s.as(r.body.key as string), key: r.body.key as string, body: r.body };
    };
    const row = (name: string) =>
      s.running.db.get<{ key_hash: string; hash_scheme: string; key_prefix: string }>(
        'SELECT key_hash, hash_scheme, key_prefix FROM api_keys WHERE name = $1 AND revoked_at IS NULL',
        [name],
      );

    before(async () => {
      s = await startTestServer(dialect);
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hello {{who}}' })).status, 201);
    });
    after(() => s.close());

    it('names the environment key plainly and keeps no prefix of it: nothing of the key shows in GET /keys or in created_by/deployed_by', async () => {
      const keys = (await s.admin.get('/keys')).body.items as Array<{ name: string; key_prefix: string | null; created_by: string }>;
      assert.equal(keys.length, 1);
      assert.equal(keys[0]!.name, 'admin');
      assert.equal(keys[0]!.key_prefix, null);
      assert.equal((await row('admin'))!.key_prefix, '', 'no prefix stored either');
      const deployed = await s.admin.post('/prompts/p/deployments', { version: 1, environment: 'dev' });
      assert.equal(deployed.status, 201);
      const version = await s.admin.get('/prompts/p/versions/1');
      assert.equal(version.body.created_by, 'admin');
      assert.equal(deployed.body.deployed_by, 'admin');
      const shown = JSON.stringify([keys, version.body, deployed.body, (await s.admin.get('/audit')).body]);
      assert.ok(!shown.includes(sha256(ADMIN_KEY).slice(0, 8)), 'no part of the key hash');
      assert.ok(!shown.includes(ADMIN_KEY.slice(0, 6)), 'no part of the key');
    });

    it('stores generated keys as HMAC-SHA256 under the server secret, with a prefix', async () => {
      const { key: made, body } = await key('hashed', ['read']);
      assert.equal(body.key_prefix, made.slice(0, 10));
      const stored = (await row('hashed'))!;
      assert.notEqual(stored.key_hash, sha256(made), 'not the unkeyed SHA-256 of the key');
      assert.equal(stored.hash_scheme, 'hmac-sha256');
      assert.match(stored.key_hash, /^[0-9a-f]{64}$/);
      assert.notEqual((await row('admin'))!.key_hash, sha256(ADMIN_KEY));
    });

    it('executions:write logs executions and nothing more', async () => {
      const { api: logger } = await key('logger', ['executions:write']);
      const logged = await logger.post('/executions', { prompt: 'p', environment: 'dev', rendered_prompt: 'Hello Ann', response: 'Hi' });
      assert.equal(logged.status, 201, JSON.stringify(logged.body));
      const publish = await logger.post('/prompts/p/versions', { content: 'Bye {{who}}' });
      assert.equal(publish.status, 403);
      assert.equal(publish.body.error.required_scope, 'write');
      const read = await logger.get(`/executions/${logged.body.ids[0]}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.rendered_prompt, null, 'logging is not reading payloads');
      // write keeps logging
      const { api: writer } = await key('writer', ['write']);
      assert.equal((await writer.post('/executions', { prompt: 'p', environment: 'dev' })).status, 201);
    });

    it('read alone sees statistics and metadata but no payloads; executions:read sees them', async () => {
      const logged = await s.admin.post('/executions', {
        prompt: 'p',
        environment: 'dev',
        input_variables: { who: 'Ann Example' },
        rendered_prompt: 'Hello Ann Example',
        response: 'Hi Ann',
        latency_ms: 12,
        metadata: { region: 'eu' },
      });
      const id = logged.body.ids[0] as string;
      const { api: reader } = await key('reader', ['read']);
      const hidden = await reader.get(`/executions/${id}`);
      assert.equal(hidden.status, 200);
      assert.deepEqual([hidden.body.input_variables, hidden.body.rendered_prompt, hidden.body.response], [null, null, null]);
      assert.equal(hidden.body.payload_withheld, true);
      assert.equal(hidden.body.latency_ms, 12);
      assert.deepEqual(hidden.body.metadata, { region: 'eu' });
      assert.equal((await reader.get('/prompts/p/stats')).status, 200);
      assert.equal((await reader.get('/me')).body.can.read_execution_payloads, false);

      const { api: payloads } = await key('payload-reader', ['read', 'executions:read']);
      const shown = await payloads.get(`/executions/${id}`);
      assert.deepEqual(shown.body.input_variables, { who: 'Ann Example' });
      assert.equal(shown.body.rendered_prompt, 'Hello Ann Example');
      assert.equal(shown.body.response, 'Hi Ann');
      assert.equal(shown.body.payload_withheld, false);
      assert.equal((await s.admin.get(`/executions/${id}`)).body.response, 'Hi Ann', 'admin reads payloads');
    });

    it('accepts the execution scopes in OpenID Connect role maps', () => {
      const config = oidcConfig(
        { oidcIssuer: 'https://idp.example.com', oidcAudience: 'a', oidcRoleMap: '{"apps":["executions:write"],"analysts":["read","executions:read"]}' },
        {},
      );
      assert.deepEqual(config!.roleMap.analysts, ['read', 'executions:read']);
    });

    it('names the person a key belongs to, and one owner with two keys cannot approve their own deploy', async () => {
      const policy = await s.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 1 }), { 'Content-Type': 'application/json' });
      assert.equal(policy.status, 200);
      const laptop = await key('ann-laptop', ['read', 'deploy:production'], 'ann@example.com');
      const ci = await key('ann-ci', ['deploy:production'], 'ann@example.com');
      const bob = await key('bob', ['deploy:production']);
      assert.equal(laptop.body.owner, 'ann@example.com');
      const listed = (await s.admin.get('/keys')).body.items as Array<{ name: string; owner: string | null }>;
      assert.equal(listed.find((k) => k.name === 'ann-ci')!.owner, 'ann@example.com');
      assert.equal(listed.find((k) => k.name === 'bob')!.owner, null);
      assert.equal((await ci.api.get('/me')).body.person, 'ann@example.com');

      const asked = await laptop.api.post('/prompts/p/deployments', { version: 1, environment: 'production' });
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      const self = await ci.api.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(self.status, 403, JSON.stringify(self.body));
      assert.equal(self.body.error.code, 'self_approval');
      assert.match(self.body.error.message, /ann@example\.com/);
      const other = await bob.api.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(other.status, 200, JSON.stringify(other.body));
      assert.equal(other.body.status, 'applied');

      const badOwner = await s.admin.post('/keys', { name: 'x', scopes: ['read'], owner: '' });
      assert.equal(badOwner.status, 400);
    });
  });

  describe(`keys stored before the server secret (${dialect})`, () => {
    let database: TestDatabase;
    let s: TestServer;
    const OLD_READ_KEY = 'pr_old-read-key-0123456789abcdefghij';
    const OLD_WRITE_KEY = 'pr_old-write-key-0123456789abcdefghij';

    before(async () => {
      // The database as release 0004 left it: unkeyed SHA-256 hashes, the environment key named from its hash with its first characters as a prefix.
      database = await freshDatabase(dialect);
      const db = await openDatabase(database.url);
      await migrate(db, { through: 4 });
      await db.transaction(async (tx) => {
        const insert = 'INSERT INTO api_keys (name, key_prefix, key_hash, scopes, created_by) VALUES ($1, $2, $3, $4, $5)';
        await tx.run(insert, [`admin-${sha256(ADMIN_KEY).slice(0, 8)}`, ADMIN_KEY.slice(0, 10), sha256(ADMIN_KEY), listParam(dialect, ['admin']), 'system']);
        await tx.run(insert, ['old-reader', OLD_READ_KEY.slice(0, 10), sha256(OLD_READ_KEY), listParam(dialect, ['read']), 'admin']);
        await tx.run(insert, ['old-writer', OLD_WRITE_KEY.slice(0, 10), sha256(OLD_WRITE_KEY), listParam(dialect, ['write']), 'admin']);
      });
      await db.close();
      s = await startTestServer(dialect, {}, database);
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hello {{who}}' })).status, 201);
      assert.equal((await s.admin.post('/prompts/p/deployments', { version: 1, environment: 'dev' })).status, 201);
    });
    after(async () => {
      await s.close();
      await database.drop();
    });

    const stored = (name: string) =>
      s.running.db.get<{ key_hash: string; hash_scheme: string; key_prefix: string }>('SELECT key_hash, hash_scheme, key_prefix FROM api_keys WHERE name = $1', [name]);

    it('still accepts an old key, and re-hashes it with the server secret on first use', async () => {
      assert.equal((await stored('old-reader'))!.key_hash, sha256(OLD_READ_KEY));
      const reader = s.as(OLD_READ_KEY);
      assert.equal((await reader.get('/prompts')).status, 200);
      const after = (await stored('old-reader'))!;
      assert.equal(after.hash_scheme, 'hmac-sha256');
      assert.notEqual(after.key_hash, sha256(OLD_READ_KEY));
      // and keeps working from the new hash (a second service instance has no cache of it)
      const again = await startTestServer(dialect, {}, database);
      try {
        assert.equal((await again.as(OLD_READ_KEY).get('/prompts')).status, 200);
      } finally {
        await again.running.close(1_000);
      }
      // The environment admin key was re-hashed at start-up, its prefix (part of the key) is gone,
      // and its name, derived from its hash, is the plain default now.
      const admin = (await stored('admin'))!;
      assert.equal(admin.hash_scheme, 'hmac-sha256');
      assert.equal(admin.key_prefix, '');
      assert.equal(await stored(`admin-${sha256(ADMIN_KEY).slice(0, 8)}`), undefined);
      assert.equal((await s.admin.post('/prompts/q/versions', { content: 'x' })).body.created_by, 'admin');
      assert.equal((await stored('old-reader'))!.key_prefix, OLD_READ_KEY.slice(0, 10), 'a generated key keeps its prefix');
    });

    it('lets an existing read key keep reading payloads, and an existing write key keep logging', async () => {
      const writer = s.as(OLD_WRITE_KEY);
      const logged = await writer.post('/executions', { prompt: 'p', environment: 'dev', response: 'kept', rendered_prompt: 'asked' });
      assert.equal(logged.status, 201, JSON.stringify(logged.body));
      const read: Api = s.as(OLD_READ_KEY);
      const e = await read.get(`/executions/${logged.body.ids[0]}`);
      assert.equal(e.body.response, 'kept');
      assert.equal(e.body.payload_withheld, false);
      const keys = (await s.admin.get('/keys')).body.items as Array<{ name: string; scopes: string[] }>;
      assert.deepEqual(keys.find((k) => k.name === 'old-reader')!.scopes, ['read', 'executions:read']);
    });

    it('refuses to start with a different server secret than the database was set up with', async () => {
      await assert.rejects(
        startTestServer(dialect, { secret: `${TEST_SECRET}-other` }, database),
        /different server secret .*PROMPT_REGISTRY_SECRET/s,
      );
    });
  });
}
