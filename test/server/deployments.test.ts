import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`deployments, rollback and resolve (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      for (let i = 1; i <= 4; i++) {
        assert.equal((await s.admin.post('/prompts/support/versions', { content: `v${i}: Hi {{name}}`, temperature: i / 10 })).status, 201);
      }
    });
    after(() => s.close());

    const deploy = (version: number, environment: string, name = 'support') => s.admin.post(`/prompts/${name}/deployments`, { version, environment });
    const rollback = (environment: string, version?: number) => s.admin.post('/prompts/support/rollback', { environment, ...(version ? { version } : {}) });
    const live = async (environment: string) => (await s.admin.get(`/prompts/support/latest?environment=${environment}`)).body.version_number as number;

    it('answers 404 naming the prompt and environment when nothing is deployed', async () => {
      const r = await s.admin.get('/prompts/support/latest');
      assert.equal(r.status, 404);
      assert.equal(r.body.error.code, 'not_deployed');
      assert.match(r.body.error.message, /support/);
      assert.match(r.body.error.message, /production/);
      const none = await s.admin.get('/prompts/ghost/latest');
      assert.equal(none.status, 404);
      assert.equal(none.body.error.code, 'prompt_not_found');
    });

    it('deploys a version and resolves it with the documented fields (production by default)', async () => {
      const d = await deploy(2, 'production');
      assert.equal(d.status, 201);
      assert.equal(d.body.version, 2);
      assert.equal(d.body.environment, 'production');
      assert.equal(d.body.is_active, true);
      assert.equal(d.body.rollback_of, null);
      assert.ok(d.body.deployed_by);

      const r = await s.admin.get('/prompts/support/latest');
      assert.equal(r.status, 200);
      for (const field of ['content', 'model', 'temperature', 'max_tokens', 'variables', 'version_number', 'version_id', 'content_hash', 'metadata', 'environment', 'deployed_at']) {
        assert.ok(field in r.body, `missing ${field}`);
      }
      assert.equal(r.body.content, 'v2: Hi {{name}}');
      assert.equal(r.body.version_number, 2);
      assert.equal(r.body.temperature, 0.2);
      assert.equal(r.body.environment, 'production');
      assert.deepEqual(r.body.variables, ['name']);
    });

    it('answers 304 to If-None-Match with the current ETag, and a new ETag after a deploy', async () => {
      const first = await s.admin.get('/prompts/support/latest');
      const etag = first.headers.get('etag');
      assert.ok(etag);
      const again = await s.admin.get('/prompts/support/latest', { 'If-None-Match': etag });
      assert.equal(again.status, 304);
      await deploy(3, 'production');
      const changed = await s.admin.get('/prompts/support/latest', { 'If-None-Match': etag });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.version_number, 3);
      assert.notEqual(changed.headers.get('etag'), etag);
    });

    it('answers the same from the cache fast path as from the route', async () => {
      const viaRoute = await s.admin.get('/prompts/support/latest?environment=production&x=1'); // not the plain form: the route
      const cached = await s.admin.get('/prompts/support/latest?environment=production'); // the plain form: the fast path
      const again = await s.admin.get('/prompts/support/latest');
      assert.equal(cached.status, 200);
      assert.deepEqual(cached.body, viaRoute.body);
      assert.deepEqual(again.body, viaRoute.body);
      for (const h of ['etag', 'content-type', 'cache-control']) assert.equal(cached.headers.get(h), viaRoute.headers.get(h), h);
      assert.ok(cached.headers.get('x-request-id'));
      assert.equal((await s.admin.get('/prompts/support/latest', { 'If-None-Match': `W/${cached.headers.get('etag')}` })).status, 304);
      // A key the fast path has not seen, or a revoked one, is checked by the route.
      assert.equal((await s.as('pr_unknown').get('/prompts/support/latest')).status, 401);
      const temp = await s.admin.post('/keys', { name: 'fast-path-reader', scopes: ['read'] });
      assert.equal((await s.as(temp.body.key).get('/prompts/support/latest')).status, 200);
      assert.equal((await s.admin.delete('/keys/fast-path-reader')).status, 200);
      assert.equal((await s.as(temp.body.key).get('/prompts/support/latest')).status, 401);
    });

    it('answers 200 and changes nothing when deploying the version already live', async () => {
      const before = await s.admin.get('/prompts/support/deployments?environment=production');
      const same = await deploy(3, 'production');
      assert.equal(same.status, 200);
      assert.equal(same.body.version, 3);
      const afterwards = await s.admin.get('/prompts/support/deployments?environment=production');
      assert.equal(afterwards.body.items.length, before.body.items.length);
    });

    it('rolls back through history, step by step, and refuses when nothing is earlier', async () => {
      // production history so far: 2, 3. Add 4, and stage something elsewhere.
      assert.equal((await deploy(4, 'production')).status, 201);
      assert.equal((await deploy(1, 'staging')).status, 201);

      const r1 = await rollback('production');
      assert.equal(r1.status, 201);
      assert.equal(r1.body.version, 3);
      assert.equal(r1.body.action, 'rollback');
      assert.equal(r1.body.previous_version, 4);
      assert.ok(r1.body.rollback_of);
      assert.equal(await live('production'), 3);

      const r2 = await rollback('production');
      assert.equal(r2.status, 201);
      assert.equal(r2.body.version, 2, 'rolling back again walks further back, not back to 4');
      assert.equal(await live('production'), 2);

      const r3 = await rollback('production');
      assert.equal(r3.status, 409);
      assert.equal(r3.body.error.code, 'nothing_to_roll_back');
      assert.equal(await live('production'), 2);

      // Other environments are untouched.
      assert.equal(await live('staging'), 1);
    });

    it('records rollback_of as the deployment it undid, and keeps the whole history newest first', async () => {
      const h = await s.admin.get('/prompts/support/deployments?environment=production');
      assert.equal(h.status, 200);
      const versions = h.body.items.map((d: { version: number }) => d.version);
      assert.deepEqual(versions, [2, 3, 4, 3, 2]);
      const actions = h.body.items.map((d: { action: string }) => d.action);
      assert.deepEqual(actions, ['rollback', 'rollback', 'deploy', 'deploy', 'deploy']);
      const [latest, previous] = h.body.items;
      assert.equal(latest.rollback_of, previous.id);
      assert.equal(h.body.items.filter((d: { is_active: boolean }) => d.is_active).length, 1);
      for (const d of h.body.items) assert.ok(d.deployed_by && d.deployed_at);

      const all = await s.admin.get('/prompts/support/deployments');
      assert.ok(all.body.items.some((d: { environment: string }) => d.environment === 'staging'));
      const paged = await s.admin.get('/prompts/support/deployments?environment=production&limit=2');
      assert.equal(paged.body.items.length, 2);
      const rest = await s.admin.get(`/prompts/support/deployments?environment=production&limit=10&cursor=${paged.body.next_cursor}`);
      assert.deepEqual(rest.body.items.map((d: { version: number }) => d.version), [4, 3, 2]);
    });

    it('after a rollback, a new deploy can itself be rolled back to the rolled-back-to version', async () => {
      assert.equal((await deploy(4, 'production')).status, 201);
      const r = await rollback('production');
      assert.equal(r.body.version, 2);
    });

    it('answers what a rollback would restore with ?dry_run=true, changing nothing', async () => {
      const live = (await s.admin.get('/prompts/support/latest')).body.version_number as number;
      assert.equal((await deploy(live === 3 ? 4 : 3, 'production')).status, 201);
      const before = (await s.admin.get('/prompts/support/deployments?environment=production')).body.items;
      const dry = await s.admin.post('/prompts/support/rollback?dry_run=true', { environment: 'production' });
      assert.equal(dry.status, 200);
      assert.equal(dry.body.action, 'rollback');
      assert.equal(dry.body.previous_version, before[0].version);
      const after = (await s.admin.get('/prompts/support/deployments?environment=production')).body.items;
      assert.deepEqual(after, before);
      assert.equal(dry.body.version, live);
      const real = await s.admin.post('/prompts/support/rollback', { environment: 'production' });
      assert.equal(real.body.version, dry.body.version, 'the dry run named the version the rollback restores');
    });

    it('rolls back to a named earlier version, and refuses one that was never live before', async () => {
      assert.equal((await deploy(1, 'dev')).status, 201);
      assert.equal((await deploy(2, 'dev')).status, 201);
      assert.equal((await deploy(3, 'dev')).status, 201);
      const bad = await rollback('dev', 4);
      assert.equal(bad.status, 409);
      assert.match(bad.body.error.message, /deploy it instead/);
      const same = await rollback('dev', 3);
      assert.equal(same.status, 409);
      assert.equal(same.body.error.code, 'already_live');
      const ok = await rollback('dev', 1);
      assert.equal(ok.status, 201);
      assert.equal(ok.body.version, 1);
      assert.equal(await live('dev'), 1);
      const nothing = await rollback('dev');
      assert.equal(nothing.status, 409, 'version 1 was the first deployment in dev');
    });

    it('refuses unknown environments, versions and prompts with 4xx', async () => {
      const env = await deploy(1, 'qa');
      assert.equal(env.status, 400);
      assert.equal(env.body.error.code, 'unknown_environment');
      assert.match(env.body.error.message, /dev, staging, production/);
      assert.equal((await deploy(99, 'dev')).status, 404);
      assert.equal((await deploy(1, 'dev', 'ghost')).status, 404);
      assert.equal((await s.admin.post('/prompts/support/rollback', { environment: 'qa' })).status, 400);
      assert.equal((await s.admin.post('/prompts/ghost/rollback', { environment: 'dev' })).status, 404);
      const nothing = await s.admin.post('/prompts/support/rollback', { environment: 'staging' });
      assert.equal(nothing.status, 409);
      assert.equal((await s.admin.get('/prompts/support/latest?environment=qa')).status, 400);
    });

    it('renders the live version strictly, or a given version', async () => {
      const r = await s.admin.post('/prompts/support/render', { variables: { name: 'Ann' } });
      assert.equal(r.status, 200);
      assert.equal(r.body.rendered, 'v2: Hi Ann');
      assert.equal(r.body.version, 2);
      assert.equal(r.body.environment, 'production');
      const v = await s.admin.post('/prompts/support/render', { variables: { name: 'Bo' }, version: 4 });
      assert.equal(v.body.rendered, 'v4: Hi Bo');
      const staging = await s.admin.post('/prompts/support/render', { variables: { name: 'Cy' }, environment: 'staging' });
      assert.equal(staging.body.rendered, 'v1: Hi Cy');

      const missing = await s.admin.post('/prompts/support/render', { variables: {} });
      assert.equal(missing.status, 422);
      assert.equal(missing.body.error.code, 'missing_variable');
      assert.equal(missing.body.error.variable, 'name');
      const both = await s.admin.post('/prompts/support/render', { variables: {}, version: 1, environment: 'dev' });
      assert.equal(both.status, 400);
      const notDeployed = await s.admin.post('/prompts/support/render', { variables: { name: 'x' }, environment: 'staging', version: undefined });
      assert.equal(notDeployed.status, 200);
    });

    it('shows on the prompt and its versions where each version is live', async () => {
      const p = await s.admin.get('/prompts/support');
      assert.equal(p.body.environments.production.version, 2);
      assert.equal(p.body.environments.staging.version, 1);
      const versions = await s.admin.get('/prompts/support/versions');
      const v2 = versions.body.items.find((v: { version: number }) => v.version === 2);
      assert.deepEqual(v2.environments, ['production']);
    });
  });
}
