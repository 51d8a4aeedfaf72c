import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { SECURITY_HEADERS } from '../../server/http/security-headers.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type Answer, type TestServer } from '../support/server.js';

// One request a second after a burst of 20: a flood of 200 at once cannot be refilled in time on any machine.
const RATE = 1;
const BURST = 20;

for (const dialect of DIALECTS) {
  describe(`per-credential rate limit (${dialect})`, () => {
    let s: TestServer;
    let flooder: string;
    let other: string;
    before(async () => {
      s = await startTestServer(dialect, { rateLimit: RATE, rateLimitBurst: BURST });
      // The admin key sets up (it has a bucket of its own); the two application keys are measured.
      assert.equal((await s.admin.post('/prompts/p/versions', { content: 'Hi {{n}}' })).status, 201);
      assert.equal((await s.admin.post('/prompts/p/deployments', { version: 1, environment: 'production' })).status, 201);
      flooder = (await s.admin.post('/keys', { name: 'flooder', scopes: ['read'] })).body.key;
      other = (await s.admin.post('/keys', { name: 'other', scopes: ['read'] })).body.key;
    });
    after(() => s.close());

    const isRateLimited = (r: Answer, what: string) => {
      assert.equal(r.status, 429, what);
      assert.equal(r.body.error.code, 'rate_limited', what);
      assert.match(r.body.error.message, /too many requests with this credential; try again in \d+ s/, what);
      const wait = Number(r.headers.get('retry-after'));
      assert.ok(Number.isInteger(wait) && wait >= 1, `${what}: Retry-After ${r.headers.get('retry-after')}`);
      assert.equal(r.body.error.retry_after, wait, what);
      assert.equal(r.body.error.request_id, r.headers.get('x-request-id'), what);
      for (const [name, value] of SECURITY_HEADERS) assert.equal(r.headers.get(name), value, `${what}: ${name}`);
    };

    it('answers a flooding key 429 with Retry-After on the fast path and the routes, while another key gets 200 throughout', async () => {
      // Warm: the resolve cache holds the answer and both keys are verified, so resolves take the fast path.
      assert.equal((await s.as(flooder).get('/prompts/p/latest')).status, 200);
      assert.equal((await s.as(other).get('/prompts/p/latest')).status, 200);
      const flood = Array.from({ length: 200 }, (_, i) => (i % 4 === 3 ? s.as(flooder).get('/prompts') : s.as(flooder).get('/prompts/p/latest')));
      // The other key's requests, sent while the flood is in flight: fewer than its burst, so each must pass.
      const during = Array.from({ length: BURST - 2 }, (_, i) => (i % 2 ? s.as(other).get('/prompts') : s.as(other).get('/prompts/p/latest')));
      const [flooded, others] = await Promise.all([Promise.all(flood), Promise.all(during)]);

      assert.deepEqual(others.map((r) => r.status), others.map(() => 200), 'the other key is never limited');
      const limitedResolves = flooded.filter((r, i) => i % 4 !== 3 && r.status === 429);
      const limitedRoutes = flooded.filter((r, i) => i % 4 === 3 && r.status === 429);
      assert.ok(limitedResolves.length > 0, 'cached resolves are limited (fast path)');
      assert.ok(limitedRoutes.length > 0, 'other routes are limited (Express)');
      assert.deepEqual([...new Set(flooded.map((r) => r.status))].sort(), [200, 429]);
      isRateLimited(limitedResolves[0]!, 'fast path');
      isRateLimited(limitedRoutes[0]!, 'route');
      // A resolve the cache cannot answer goes to the route, which limits it too. The bucket refills one token a
      // second, and on a loaded machine a second may have passed since the flood: of three in a row, one is limited.
      const byRoute: Answer[] = [];
      for (let i = 0; i < 3; i++) byRoute.push(await s.as(flooder).get(`/prompts/p/latest?environment=production&via=route${i}`));
      const limitedByRoute = byRoute.find((r) => r.status === 429);
      assert.ok(limitedByRoute, `resolve by the route: ${byRoute.map((r) => r.status).join(', ')}`);
      isRateLimited(limitedByRoute, 'resolve by the route');

      assert.equal((await s.as(other).get('/prompts/p/latest')).status, 200, 'still 200 after the flood');
      assert.equal((await s.as(null).get('/healthz')).status, 200, 'health needs no credential and is never limited');
    });
  });
}
