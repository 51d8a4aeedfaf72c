import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SECURITY_HEADERS } from '../../server/http/security-headers.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type Answer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

const hasSecurityHeaders = (r: Answer, what: string) => {
  for (const [name, value] of SECURITY_HEADERS) assert.equal(r.headers.get(name), value, `${what}: ${name}`);
};

for (const dialect of DIALECTS) {
  describe(`hardening: headers, key expiry and last use (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hi {{n}}' })).status, 201);
      assert.equal((await s.admin.post('/prompts/p/deployments', { version: 1, environment: 'production' })).status, 201);
    });
    after(() => s.close());

    it('sends the security headers on every answer: fast path, routes, errors, health', async () => {
      const route = await s.admin.get('/prompts/p/latest?environment=production&via=route');
      const fast = await s.admin.get('/prompts/p/latest?environment=production');
      assert.equal(fast.status, 200);
      assert.deepEqual(fast.body, route.body);
      hasSecurityHeaders(fast, 'fast path');
      hasSecurityHeaders(route, 'route');
      hasSecurityHeaders(await s.as(null).get('/healthz'), 'health');
      hasSecurityHeaders(await s.as(null).get('/prompts'), '401');
      hasSecurityHeaders(await s.admin.get('/nowhere'), '404');
      hasSecurityHeaders(await s.admin.raw('POST', '/prompts/p/versions', '{bad', { 'Content-Type': 'application/json' }), '400');
      hasSecurityHeaders(await s.admin.get('/prompts/p/latest', { 'If-None-Match': fast.headers.get('etag')! }), '304');
    });

    it('creates keys that expire, and refuses an expired key saying so', async () => {
      const made = await s.admin.post('/keys', { name: 'temp', scopes: ['read'], expires_in_days: 30 });
      assert.equal(made.status, 201);
      const days = (Date.parse(made.body.expires_at) - Date.now()) / 86_400_000;
      assert.ok(days > 29.9 && days <= 30, `expires in ${days} days`);
      assert.equal((await s.as(made.body.key).get('/prompts')).status, 200);
      assert.equal((await s.as(made.body.key).get('/me')).body.expires_at, made.body.expires_at);

      const at = new Date(Date.now() + 3_600_000).toISOString();
      const soon = await s.admin.post('/keys', { name: 'soon', scopes: ['read'], expires_at: at });
      assert.equal(soon.body.expires_at, at);
      // Its time passes (set in the database: the test must not wait an hour).
      await s.running.db.transaction((tx) => tx.run('UPDATE api_keys SET expires_at = $2 WHERE id = $1', [soon.body.id, new Date(Date.now() - 1_000).toISOString()]));
      const refused = await s.as(soon.body.key).get('/prompts');
      assert.equal(refused.status, 401);
      assert.equal(refused.body.error.code, 'unauthorized');
      assert.match(refused.body.error.message, /"soon" expired at/);

      const past = await s.admin.post('/keys', { name: 'past', scopes: ['read'], expires_at: '2020-01-01T00:00:00Z' });
      assert.equal(past.status, 400);
      assert.equal(past.body.error.code, 'invalid_expiry');
      const both = await s.admin.post('/keys', { name: 'both', scopes: ['read'], expires_at: at, expires_in_days: 3 });
      assert.equal(both.status, 400);
      assert.match(both.body.error.message, /not both/);
      assert.equal((await s.admin.get('/keys')).body.items.find((k: { name: string }) => k.name === 'past'), undefined, 'nothing half-written');
    });

    it('records when a key was last used', async () => {
      const made = await s.admin.post('/keys', { name: 'tracked', scopes: ['read'] });
      const listed = async () => (await s.admin.get('/keys')).body.items.find((k: { name: string }) => k.name === 'tracked');
      assert.equal((await listed()).last_used_at, null);
      const before = Date.now();
      assert.equal((await s.as(made.body.key).get('/prompts')).status, 200);
      await eventually(async () => (await listed()).last_used_at !== null, 'last_used_at is written');
      assert.ok(Date.parse((await listed()).last_used_at) >= before - 1_000);
    });

    it('does not count an expired admin key when refusing to revoke the last admin key', async () => {
      const spare = await s.admin.post('/keys', { name: 'spare-admin', scopes: ['admin'] });
      await s.running.db.transaction((tx) => tx.run('UPDATE api_keys SET expires_at = $2 WHERE id = $1', [spare.body.id, new Date(Date.now() - 1_000).toISOString()]));
      const keys = (await s.admin.get('/keys')).body.items as Array<{ id: string; name: string; scopes: string[] }>;
      const mine = keys.find((k) => k.scopes.includes('admin') && k.name !== 'spare-admin')!;
      const r = await s.admin.delete(`/keys/${mine.id}`);
      assert.equal(r.status, 409);
      assert.equal(r.body.error.code, 'last_admin_key');
    });
  });

  describe(`hardening: failed authentication is rate-limited per address (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect, { authFailureLimit: 3 });
    });
    after(() => s.close());

    it('answers 429 with Retry-After after the limit, while valid credentials go on working', async () => {
      const wrong = s.as('pr_wrong-key-0000000000');
      for (let i = 0; i < 3; i++) assert.equal((await wrong.get('/prompts')).status, 401, `failure ${i + 1}`);
      const limited = await wrong.get('/prompts');
      assert.equal(limited.status, 429);
      assert.equal(limited.body.error.code, 'too_many_failed_attempts');
      assert.match(limited.body.error.message, /try again in \d+ s/);
      const wait = Number(limited.headers.get('retry-after'));
      assert.ok(wait >= 1 && wait <= 60, `Retry-After ${wait}`);
      assert.equal(limited.body.error.retry_after, wait);
      assert.equal((await s.as(null).get('/prompts')).status, 429, 'no credential counts as a failure too');
      // Successes are never limited: the admin behind the same address still gets in.
      assert.equal((await s.as(ADMIN_KEY).get('/prompts')).status, 200);
      assert.equal((await s.as(null).get('/healthz')).status, 200);
    });
  });
}
