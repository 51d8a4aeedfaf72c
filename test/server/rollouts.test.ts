import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { randomBytes } from 'node:crypto';
import { assignVariant, rolloutBucket } from '../../shared/rollouts/assign.js';
import * as onServer from '../../server/rollouts/assign.js';
import { judge } from '../../server/rollouts/service.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, twoReplicas, type Api, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

interface Vector {
  prompt: string;
  environment: string;
  rollout_id: string;
  weight: number;
  key: string;
  bucket: number;
  variant: 'candidate' | 'live';
}
const VECTORS = (JSON.parse(readFileSync(new URL('../vectors/rollout-assignment.json', import.meta.url), 'utf8')) as { cases: Vector[] }).cases;

describe('rollout assignment function', () => {
  it('matches every shared vector, in the clients (plain-JavaScript SHA-256) and on the server (node:crypto)', () => {
    assert.ok(VECTORS.length >= 300);
    for (const v of VECTORS) {
      for (const [where, f] of [['client', { rolloutBucket, assignVariant }], ['server', onServer]] as const) {
        assert.equal(f.rolloutBucket(v.prompt, v.environment, v.rollout_id, v.key), v.bucket, `${where}: ${JSON.stringify(v)}`);
        assert.equal(f.assignVariant(v.prompt, v.environment, { id: v.rollout_id, weight: v.weight }, v.key), v.variant, `${where}: ${JSON.stringify(v)}`);
      }
    }
  });

  it('gives the same bucket on the server as in the clients for any key, non-ASCII and long ones too', () => {
    const keys = ['', 'ä', '用户-42', '🙂 emoji', 'x'.repeat(1_000)];
    for (let i = 0; i < 500; i++) keys.push(randomBytes(1 + (i % 90)).toString(i % 2 ? 'base64' : 'latin1'));
    for (const key of keys) {
      assert.equal(onServer.rolloutBucket('checkout', 'production', 'a5d0c3f2-3c1e-4b7a-9f0e-2d4c6b8a1e3f', key), rolloutBucket('checkout', 'production', 'a5d0c3f2-3c1e-4b7a-9f0e-2d4c6b8a1e3f', key), JSON.stringify(key));
    }
  });

  it('serves a 10/90 split over 10,000 keys 10% ± 1.5% to the candidate', () => {
    const rollout = { id: 'a5d0c3f2-3c1e-4b7a-9f0e-2d4c6b8a1e3f', weight: 10 };
    let candidate = 0;
    for (let i = 0; i < 10_000; i++) if (assignVariant('checkout', 'production', rollout, `user-${i}`) === 'candidate') candidate++;
    assert.ok(candidate >= 850 && candidate <= 1150, `${candidate} of 10,000 keys got the candidate`);
  });

  it('judges a guard by its comparison: relative to the live version or absolute', () => {
    const guard = (comparison: 'above_live' | 'below_live' | 'above' | 'below', threshold: number) => ({ metric: 'm', window: 10, threshold, comparison });
    assert.equal(judge(guard('above_live', 0.05), 0.11, 0.05).crossed, true);
    assert.equal(judge(guard('above_live', 0.05), 0.1, 0.05).crossed, false, 'exactly the threshold does not cross');
    assert.equal(judge(guard('below_live', 0.1), 0.7, 0.85).crossed, true);
    assert.equal(judge(guard('below_live', 0.1), 0.8, 0.85).crossed, false);
    assert.equal(judge(guard('above', 900), 901, null).crossed, true);
    assert.equal(judge(guard('above', 900), 900, null).crossed, false);
    assert.equal(judge(guard('below', 0.5), 0.4, null).crossed, true);
    assert.equal(judge(guard('below', 0.5), 0.6, null).crossed, false);
    assert.equal(judge(guard('above_live', 0), 1, null).crossed, false, 'no live reading: a relative guard never crosses');
  });
});

for (const dialect of DIALECTS) {
  describe(`rollouts (${dialect})`, () => {
    let s: TestServer;
    let deployer: Api;
    let reader: Api;
    let devDeployer: Api;
    const put = (api: Api, name: string, environment: string, body: unknown) => api.raw('PUT', `/prompts/${name}/rollouts/${environment}`, JSON.stringify(body));
    const audit = async (action: string) => (await s.admin.get(`/audit?action=${action}&limit=100`)).body.items as Array<{ actor: string; action: string; details: Record<string, unknown> }>;

    before(async () => {
      s = await startTestServer(dialect);
      for (let i = 1; i <= 3; i++) assert.equal((await s.admin.post('/prompts/ab/versions', { content: `v${i}: Hi {{name}}` })).status, 201);
      assert.equal((await s.admin.post('/prompts/ab/deployments', { version: 1, environment: 'production' })).status, 201);
      const key = async (name: string, scopes: string[]) => s.as((await s.admin.post('/keys', { name, scopes })).body.key);
      deployer = await key('deployer', ['deploy:production']);
      reader = await key('reader', ['read', 'executions:write']);
      devDeployer = await key('dev-deployer', ['deploy:dev']);
    });
    after(() => s.close());

    it('refuses bad input with a 4xx naming it, writing nothing', async () => {
      const cases: Array<[unknown, string, number, RegExp]> = [
        [{ candidate: 2, weight: 0 }, 'production', 400, /weight/],
        [{ candidate: 2, weight: 100 }, 'production', 400, /weight/],
        [{ candidate: 2, weight: 12.5 }, 'production', 400, /weight/],
        [{ candidate: 2 }, 'production', 400, /weight/],
        [{ candidate: 9, weight: 10 }, 'production', 404, /candidate: "ab" has no version 9/],
        [{ candidate: 1, weight: 10 }, 'production', 409, /candidate.*already live/],
        [{ candidate: 2, weight: 10 }, 'dev', 409, /nothing of "ab" is live in dev/],
        [{ candidate: 2, weight: 10 }, 'qa', 400, /unknown environment "qa"/],
        [{ candidate: 2, weight: 10, guard: { metric: 'nope', window: 10, threshold: 0.1 } }, 'production', 400, /guard\.metric/],
        [{ candidate: 2, weight: 10, guard: { metric: 'error_rate', window: 0, threshold: 0.1 } }, 'production', 400, /guard\.window/],
        [{ candidate: 2, weight: 10, guard: { metric: 'error_rate', window: 5, threshold: 0.1, comparison: 'sideways' } }, 'production', 400, /comparison/],
      ];
      for (const [body, environment, status, message] of cases) {
        const r = await put(s.admin, 'ab', environment, body);
        assert.equal(r.status, status, `${JSON.stringify(body)} in ${environment}: ${JSON.stringify(r.body)}`);
        assert.match(`${r.body.error.message} ${JSON.stringify(r.body.error.issues ?? [])}`, message);
      }
      assert.equal((await put(s.admin, 'ghost', 'production', { candidate: 2, weight: 10 })).body.error.code, 'prompt_not_found');
      // Only deployers of the environment; a protected environment is refused, not half started.
      assert.equal((await put(reader, 'ab', 'production', { candidate: 2, weight: 10 })).status, 403);
      assert.equal((await put(devDeployer, 'ab', 'production', { candidate: 2, weight: 10 })).status, 403);
      assert.equal((await s.admin.raw('PUT', '/environments/staging/policy', JSON.stringify({ required_approvals: 1 }))).status, 200);
      // Where deploys need approval, the request is checked before it is asked for: nothing is live there.
      const protectedEnv = await put(s.admin, 'ab', 'staging', { candidate: 2, weight: 10 });
      assert.equal(protectedEnv.status, 409);
      assert.equal(protectedEnv.body.error.code, 'nothing_live');
      assert.equal((await s.admin.get('/deployment-requests?environment=staging')).body.items.length, 0);

      // A second rollout while one runs: 409 naming the running one; the first is unchanged.
      assert.equal((await put(deployer, 'ab', 'production', { candidate: 2, weight: 10 })).status, 201);
      const second = await put(deployer, 'ab', 'production', { candidate: 3, weight: 30 });
      assert.equal(second.status, 409);
      assert.equal(second.body.error.code, 'rollout_exists');
      assert.match(second.body.error.message, /version 2/);
      const running = await s.admin.get('/prompts/ab/rollouts/production');
      assert.equal(running.body.candidate, 2);
      assert.equal(running.body.weight, 10);
      assert.equal((await audit('rollout.started')).length, 1);
      assert.equal((await audit('rollout.updated')).length, 0);
      assert.equal((await s.admin.post('/prompts/ab/rollouts/production/abort', { reason: 'clean up' })).status, 200);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/production')).status, 404);
      assert.equal((await s.admin.post('/prompts/ab/rollouts/production/abort', {})).body.error.code, 'no_rollout');
    });

    it('assigns each key the same variant on every call, as the documented function does, through resolve and render', async () => {
      const started = await put(deployer, 'ab', 'production', { candidate: 2, weight: 30 });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      const rollout = started.body as { id: string; weight: number };
      assert.equal(started.body.live, 1);
      const counts = { candidate: 0, live: 0 };
      for (const v of VECTORS.slice(0, 150)) {
        const expected = assignVariant('ab', 'production', rollout, v.key);
        const first = await reader.get(`/prompts/ab/latest?environment=production&key=${encodeURIComponent(v.key)}`);
        const again = await reader.get(`/prompts/ab/latest?key=${encodeURIComponent(v.key)}`);
        assert.equal(first.body.variant, expected, v.key);
        assert.equal(again.body.variant, expected, v.key);
        assert.equal(first.body.version, expected === 'candidate' ? 2 : 1);
        assert.deepEqual(first.body.rollout, { id: rollout.id, candidate: 2, live: 1, weight: 30 });
        counts[expected]++;
      }
      assert.ok(counts.candidate > 0 && counts.live > 0, JSON.stringify(counts));
      // Render with the key serves the same variant.
      const key = VECTORS.find((v) => assignVariant('ab', 'production', rollout, v.key) === 'candidate')!.key;
      const rendered = await reader.post('/prompts/ab/render', { environment: 'production', key, variables: { name: 'Ada' } });
      assert.equal(rendered.status, 200, JSON.stringify(rendered.body));
      assert.equal(rendered.body.rendered, 'v2: Hi Ada');
      assert.equal(rendered.body.variant, 'candidate');
      // Without a key: the live version, with the rollout so clients can assign locally; the fast path answers the same.
      const viaRoute = await reader.get('/prompts/ab/latest?environment=production&x=1');
      const fast = await reader.get('/prompts/ab/latest?environment=production');
      assert.equal(fast.body.variant, 'live');
      assert.equal(fast.body.version, 1);
      assert.deepEqual(fast.body, viaRoute.body);
      assert.equal((await reader.get('/prompts/ab/latest?key=')).status, 400);

      // A weight change keeps the rollout (and every key's bucket): the cached answers follow at once.
      const changed = await put(deployer, 'ab', 'production', { candidate: 2, weight: 60 });
      assert.equal(changed.status, 200);
      assert.equal(changed.body.id, rollout.id);
      assert.equal((await reader.get('/prompts/ab/latest')).body.rollout.weight, 60);
      const updated = await audit('rollout.updated');
      assert.equal(updated[0]?.details.previous_weight, 30);
      assert.equal(updated[0]?.details.weight, 60);
      const events = await s.admin.get('/openapi.json');
      assert.ok(JSON.stringify(events.body).includes('rollout.changed'));
    });

    it('promotes as an audited deploy action needing the deploy scope', async () => {
      assert.equal((await reader.post('/prompts/ab/rollouts/production/promote', {})).status, 403);
      assert.equal((await devDeployer.post('/prompts/ab/rollouts/production/promote', {})).status, 403);
      const promoted = await deployer.post('/prompts/ab/rollouts/production/promote', { comment: 'looks good' });
      assert.equal(promoted.status, 200, JSON.stringify(promoted.body));
      assert.equal(promoted.body.status, 'promoted');
      assert.equal(promoted.body.ended_by, 'deployer');
      const live = await reader.get('/prompts/ab/latest');
      assert.equal(live.body.version, 2);
      assert.equal(live.body.variant, undefined);
      assert.equal(live.body.rollout, undefined);
      assert.equal((await reader.get('/prompts/ab/latest?key=anyone')).body.version, 2);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/production')).status, 404);
      const [entry] = await audit('rollout.promoted');
      assert.equal(entry?.actor, 'deployer');
      assert.equal(entry?.details.candidate, 2);
      const history = (await s.admin.get('/prompts/ab/deployments?environment=production')).body.items;
      assert.equal(history[0].version, 2);
      assert.equal(history[0].deployed_by, 'deployer');
    });

    it('aborts back to the live version, audited with the reason; a deploy outside the rollout supersedes it', async () => {
      assert.equal((await put(deployer, 'ab', 'production', { candidate: 3, weight: 50 })).status, 201);
      assert.equal((await reader.post('/prompts/ab/rollouts/production/abort', { reason: 'x' })).status, 403);
      const aborted = await deployer.post('/prompts/ab/rollouts/production/abort', { reason: 'tone is off' });
      assert.equal(aborted.status, 200);
      assert.equal(aborted.body.status, 'aborted');
      assert.equal(aborted.body.end_reason, 'tone is off');
      const [entry] = await audit('rollout.aborted');
      assert.equal(entry?.actor, 'deployer');
      assert.equal(entry?.details.reason, 'tone is off');
      for (let i = 0; i < 5; i++) assert.equal((await reader.get(`/prompts/ab/latest?key=user-${i}`)).body.version, 2);

      assert.equal((await put(deployer, 'ab', 'production', { candidate: 3, weight: 50 })).status, 201);
      assert.equal((await deployer.post('/prompts/ab/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/production')).status, 404);
      const [superseded] = await audit('rollout.superseded');
      assert.match(String(superseded?.details.reason), /version 1 went live/);
      assert.equal((await reader.get('/prompts/ab/latest')).body.rollout, undefined);
    });

    it('a guard aborts the rollout when the candidate error rate crosses it, and the audit says why', async () => {
      const guard = { metric: 'error_rate', window: 10, threshold: 0.2, comparison: 'above_live' };
      const started = await put(deployer, 'ab', 'production', { candidate: 3, weight: 50, guard });
      assert.equal(started.status, 201, JSON.stringify(started.body));
      assert.deepEqual(started.body.guard, guard);
      const log = (version: number, n: number, errors: number) =>
        reader.post(
          '/executions',
          Array.from({ length: n }, (_, i) => ({ prompt: 'ab', version, environment: 'production', status: i < errors ? 'error' : 'ok', ...(i < errors ? { error: 'boom' } : {}), metadata: { variant: version === 3 ? 'candidate' : 'live' } })),
        );
      assert.equal((await log(1, 10, 1)).status, 201);
      assert.equal((await log(3, 10, 6)).status, 201);
      await eventually(async () => (await s.admin.get('/prompts/ab/rollouts/production')).status === 404, 'the guard aborts the rollout');
      const [entry] = await audit('rollout.aborted');
      assert.equal(entry?.actor, 'rollout-guard');
      assert.equal(entry?.details.automatic, true);
      assert.match(String(entry?.details.reason), /^guard: error_rate of the candidate over its last 10 executions is 0\.6, more than 0\.2 above the live version's 0\.1$/);
      assert.equal((await reader.get('/prompts/ab/latest?key=user-1')).body.version, 1);
    });

    it('starts, aborts and promotes through deployment requests where the environment needs approval', async () => {
      const policy = (n: number) => s.admin.raw('PUT', '/environments/staging/policy', JSON.stringify({ required_approvals: n }));
      assert.equal((await policy(0)).status, 200);
      assert.equal((await s.admin.post('/prompts/ab/deployments', { version: 1, environment: 'staging' })).status, 201);
      assert.equal((await policy(1)).status, 200);
      const approver = s.as((await s.admin.post('/keys', { name: 'approver', scopes: ['deploy'], owner: 'approver@example.com' })).body.key);
      const approve = async (id: string) => assert.equal((await approver.post(`/deployment-requests/${id}/approve`, {})).status, 200);
      const start = async (candidate: number, weight: number) => {
        const asked = await put(s.admin, 'ab', 'staging', { candidate, weight, comment: 'try it' });
        assert.equal(asked.status, 202, JSON.stringify(asked.body));
        assert.equal(asked.body.action, 'rollout_start');
        assert.equal(asked.body.version, candidate);
        assert.equal(asked.body.from_version, 1);
        assert.equal(asked.body.rollout.weight, weight);
        return asked.body.id as string;
      };

      const startRequest = await start(3, 20);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/staging')).status, 404, 'nothing starts before the approval');
      assert.equal((await put(s.admin, 'ab', 'staging', { candidate: 3, weight: 20 })).body.id, startRequest, 'asking again answers the waiting request');
      await approve(startRequest);
      const running = await s.admin.get('/prompts/ab/rollouts/staging');
      assert.equal(running.body.weight, 20);
      assert.equal(running.body.started_by, 'admin', 'the requester starts it');
      const started = (await audit('rollout.started')).find((e) => e.actor === 'approver');
      assert.equal(started?.details.request_id, startRequest);

      const abortAsked = await s.admin.post('/prompts/ab/rollouts/staging/abort', { reason: 'numbers look off' });
      assert.equal(abortAsked.status, 202, JSON.stringify(abortAsked.body));
      assert.equal(abortAsked.body.action, 'rollout_abort');
      assert.equal(abortAsked.body.rollout.id, running.body.id);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/staging')).body.status, 'active', 'it runs on while the abort waits');
      await approve(abortAsked.body.id);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/staging')).status, 404);
      const aborted = (await audit('rollout.aborted')).find((e) => e.actor === 'approver');
      assert.equal(aborted?.details.reason, 'numbers look off');

      await approve(await start(3, 30));
      const promoteAsked = await s.admin.post('/prompts/ab/rollouts/staging/promote', { comment: 'ship it' });
      assert.equal(promoteAsked.status, 202, JSON.stringify(promoteAsked.body));
      assert.equal(promoteAsked.body.action, 'deploy');
      assert.equal(promoteAsked.body.version, 3);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/staging')).body.status, 'active', 'the rollout runs on while the request waits');
      await approve(promoteAsked.body.id);
      assert.equal((await s.admin.get('/prompts/ab/rollouts/staging')).status, 404);
      assert.equal((await reader.get('/prompts/ab/latest?environment=staging&key=user-1')).body.version, 3);
      const promoted = (await audit('rollout.promoted')).find((e) => e.actor === 'approver');
      assert.match(String(promoted?.details.reason), /version 3, the candidate, was deployed/);
    });

    it('lists the rollouts running in an environment, a page by prompt name, as the per-prompt route answers them', async () => {
      for (const name of ['list-a', 'list-b', 'list-c']) {
        for (const content of ['one', 'two']) assert.equal((await s.admin.post(`/prompts/${name}/versions`, { content: `${name} ${content}` })).status, 201);
        assert.equal((await s.admin.post(`/prompts/${name}/deployments`, { version: 1, environment: name === 'list-b' ? 'dev' : 'production' })).status, 201);
      }
      assert.equal((await put(deployer, 'list-c', 'production', { candidate: 2, weight: 30 })).status, 201);
      assert.equal((await put(deployer, 'list-a', 'production', { candidate: 2, weight: 10, guard: { metric: 'latency_ms', window: 20, threshold: 900, comparison: 'above' } })).status, 201);
      assert.equal((await put(devDeployer, 'list-b', 'dev', { candidate: 2, weight: 50 })).status, 201);
      const names = (body: { items: Array<{ prompt: string }> }) => body.items.map((r) => r.prompt);

      // Any credential that reads lists them, whatever environment it may deploy to.
      const all = await reader.get('/rollouts?environment=production');
      assert.equal(all.status, 200, JSON.stringify(all.body));
      assert.deepEqual(names(all.body), ['list-a', 'list-c']);
      assert.equal(all.body.next_cursor, null);
      for (const item of all.body.items) assert.deepEqual(item, (await reader.get(`/prompts/${item.prompt}/rollouts/production`)).body);
      assert.deepEqual(names((await devDeployer.get('/rollouts?environment=production')).body), ['list-a', 'list-c']);
      assert.deepEqual(names((await reader.get('/rollouts?environment=dev')).body), ['list-b']);
      assert.deepEqual((await reader.get('/rollouts?environment=staging')).body, { items: [], next_cursor: null });

      // Page by page: each prompt once.
      const first = await reader.get('/rollouts?environment=production&limit=1');
      assert.deepEqual(names(first.body), ['list-a']);
      assert.equal(typeof first.body.next_cursor, 'string');
      const second = await reader.get(`/rollouts?environment=production&limit=1&cursor=${first.body.next_cursor}`);
      assert.deepEqual(names(second.body), ['list-c']);
      assert.equal(second.body.next_cursor, null);

      // One prompt: its rollout, or an empty page (never a 404: the Live view asks this after an event).
      assert.deepEqual(names((await reader.get('/rollouts?environment=production&prompt=list-c')).body), ['list-c']);
      assert.deepEqual((await reader.get('/rollouts?environment=production&prompt=list-b')).body.items, []);
      assert.deepEqual((await reader.get('/rollouts?environment=production&prompt=ghost')).body.items, []);

      // An ended rollout leaves the list.
      assert.equal((await deployer.post('/prompts/list-c/rollouts/production/abort', { reason: 'list test' })).status, 200);
      assert.deepEqual(names((await reader.get('/rollouts?environment=production')).body), ['list-a']);

      // Bad input: 400 in the one error shape, naming what is wrong; no credential: 401.
      const cases: Array<[string, number, string, RegExp]> = [
        ['/rollouts', 400, 'invalid_request', /environment/],
        ['/rollouts?environment=qa', 400, 'unknown_environment', /unknown environment "qa"/],
        ['/rollouts?environment=Prod!', 400, 'invalid_request', /environment/],
        ['/rollouts?environment=production&prompt=-x', 400, 'invalid_request', /prompt/],
        ['/rollouts?environment=production&limit=0', 400, 'invalid_request', /limit/],
        ['/rollouts?environment=production&cursor=bm9wZQ', 400, 'invalid_cursor', /cursor/],
      ];
      for (const [url, status, code, message] of cases) {
        const r = await reader.get(url);
        assert.equal(r.status, status, `${url}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, code, url);
        assert.match(`${r.body.error.message} ${JSON.stringify(r.body.error.issues ?? [])}`, message, url);
        assert.equal(typeof r.body.error.request_id, 'string');
      }
      const anonymous = await s.as(null).get('/rollouts?environment=production');
      assert.equal(anonymous.status, 401);
      assert.equal(anonymous.body.error.code, 'unauthorized');
    });
  });
}

describe('rollouts across two replicas on one Postgres', () => {
  const replicas = twoReplicas();

  it("a rollout started, changed and aborted on one replica reaches the other's cached resolve answers", async () => {
    const { a, b } = replicas;
    for (const content of ['one', 'two']) assert.equal((await a.admin.post('/prompts/split/versions', { content })).status, 201);
    assert.equal((await a.admin.post('/prompts/split/deployments', { version: 1, environment: 'production' })).status, 201);
    // B answers from its cache (A's deploy notification may arrive after B first cached, so ask until it holds).
    const cache = b.running.registry.services.deployments.cache;
    await eventually(async () => (await b.admin.get('/prompts/split/latest')).body.version === 1 && cache.get('split', 'production') !== undefined, 'B caches version 1');
    const put = (weight: number) => a.admin.raw('PUT', '/prompts/split/rollouts/production', JSON.stringify({ candidate: 2, weight }));
    assert.equal((await put(10)).status, 201);
    await eventually(async () => (await b.admin.get('/prompts/split/latest')).body.rollout?.weight === 10, 'B serves the rollout');
    assert.equal((await put(90)).status, 200);
    await eventually(async () => (await b.admin.get('/prompts/split/latest')).body.rollout?.weight === 90, 'B serves the new weight');
    assert.equal((await b.admin.post('/prompts/split/rollouts/production/abort', { reason: 'replica test' })).status, 200);
    await eventually(async () => (await a.admin.get('/prompts/split/latest')).body.rollout === undefined, 'A sees the abort');
  });
});
