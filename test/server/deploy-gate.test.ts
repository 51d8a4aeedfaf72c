import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { MockProvider } from '../support/mock-provider.js';
import { startTestServer, type Api, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

const EXPERIMENTS = { leaseMs: 2_000, pollMs: 100, maxActive: 2 };
const PROVIDER_CALLS = { timeoutMs: 5_000, maxRetries: 1, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 1_000 };

for (const dialect of DIALECTS) {
  describe(`the evaluation deploy gate (${dialect})`, () => {
    const mock = new MockProvider();
    let s: TestServer;
    let a: Api;
    const policy = (body: Record<string, unknown>) => a.raw('PUT', '/environments/production/policy', JSON.stringify(body), { 'Content-Type': 'application/json' });
    const deploy = (api: Api, version: number) => api.post('/prompts/quiz/deployments', { version, environment: 'production' });
    const gate = { dataset: 'gate-set', min_pass_rate: 0.75, evaluators: ['exact'] };

    before(async () => {
      await mock.start();
      // "Q<n> good" answers n (what the dataset expects), "Q<n> bad" answers "wrong".
      mock.respond = (call) => {
        const content = String(call.body.messages?.[0]?.content ?? '');
        return { text: content.includes('good') ? String(/Q(\d+)/.exec(content)?.[1]) : 'wrong' };
      };
      s = await startTestServer(dialect, { experiments: EXPERIMENTS, providerCalls: PROVIDER_CALLS });
      a = s.admin;
      for (const content of ['Q{{n}} first', 'Q{{n}} good', 'Q{{n}} bad', 'Q{{n}} good again']) {
        assert.equal((await a.post('/prompts/quiz/versions', { content, model: 'mock-1' })).status, 201);
      }
      assert.equal((await deploy(a, 1)).status, 201);
      assert.equal((await a.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.openAiBase, api_key: 'sk-x' })).status, 201);
      assert.equal((await a.post('/datasets', { name: 'gate-set' })).status, 201);
      const added = await a.post('/datasets/gate-set/items', { items: [1, 2, 3, 4].map((n) => ({ input: { n }, expected: String(n) })) });
      assert.equal(added.status, 201, JSON.stringify(added.body));
    });
    after(async () => {
      await s?.close();
      await mock.close();
    });

    it('refuses a deploy without a passing experiment (409 saying what is missing), allows one after it passes, refuses one that failed', async () => {
      const unknown = await policy({ evaluation: { ...gate, dataset: 'nope' } });
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.error.message, /evaluation\.dataset/);
      const outOfRange = await policy({ evaluation: { ...gate, min_pass_rate: 2 } });
      assert.equal(outOfRange.status, 400);
      assert.match(outOfRange.body.error.message, /min_pass_rate/);
      const set = await policy({ evaluation: gate });
      assert.equal(set.status, 200, JSON.stringify(set.body));
      assert.deepEqual((await a.get('/environments/production/policy')).body.evaluation, gate);

      // Nothing evaluated yet: a deploy and a rollout of version 2 are refused.
      const unevaluated = await deploy(a, 2);
      assert.equal(unevaluated.status, 409);
      assert.equal(unevaluated.body.error.code, 'evaluation_required');
      assert.match(unevaluated.body.error.message, /dataset "gate-set" with a pass rate of at least 0\.75/);
      assert.match(unevaluated.body.error.message, /no such experiment ran version 2/);
      assert.equal(unevaluated.body.error.best_pass_rate, null);
      const rollout = await a.raw('PUT', '/prompts/quiz/rollouts/production', JSON.stringify({ candidate: 2, weight: 10 }));
      assert.equal(rollout.status, 409);
      assert.equal(rollout.body.error.code, 'evaluation_required');
      // Staging has no gate.
      assert.equal((await a.post('/prompts/quiz/deployments', { version: 3, environment: 'staging' })).status, 201);

      const created = await a.post('/experiments', { prompt: 'quiz', versions: [2, 3, 4], dataset: 'gate-set', provider: 'mock', evaluators: [{ type: 'exact_match', name: 'exact' }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(async () => (await a.get(`/experiments/${created.body.id}`)).body.status === 'completed', 'the experiment completes', 30_000);
      const pass = Object.fromEntries((await a.get(`/experiments/${created.body.id}`)).body.aggregates.map((g: any) => [g.version, g.pass_rate]));
      assert.deepEqual(pass, { 2: 1, 3: 0, 4: 1 });

      const failed = await deploy(a, 3);
      assert.equal(failed.status, 409);
      assert.equal(failed.body.error.code, 'evaluation_required');
      assert.match(failed.body.error.message, /the best found is a pass rate of 0 \(experiment /);
      assert.equal(failed.body.error.best_pass_rate, 0);
      assert.equal(failed.body.error.best_experiment_id, created.body.id);

      const passed = await deploy(a, 2);
      assert.equal(passed.status, 201, JSON.stringify(passed.body));
      assert.equal((await a.get('/prompts/quiz/latest?environment=production')).body.version, 2);

      // An evaluator the experiment did not run does not count.
      assert.equal((await policy({ evaluation: { ...gate, evaluators: ['exact', 'judge'] } })).status, 200);
      const missing = await deploy(a, 4);
      assert.equal(missing.status, 409);
      assert.match(missing.body.error.message, /"judge"/);
    });

    it('composes with approvals: checked when the deploy is requested and again when it is applied', async () => {
      const key = async (name: string, scopes: string[]) => s.as((await a.post('/keys', { name, scopes })).body.key as string);
      const requester = await key('gate-requester', ['read', 'deploy:production']);
      const approver = await key('gate-approver', ['deploy:production']);
      assert.equal((await policy({ required_approvals: 1, evaluation: gate })).status, 200);

      const refused = await deploy(requester, 3);
      assert.equal(refused.status, 409, 'a version that failed is refused when asked, before anyone approves');
      assert.equal(refused.body.error.code, 'evaluation_required');

      const asked = await deploy(requester, 4);
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      // The policy tightens before the approval: applying the deploy is refused, and the request stays pending.
      assert.equal((await policy({ required_approvals: 1, evaluation: { ...gate, evaluators: ['exact', 'judge'] } })).status, 200);
      const applied = await approver.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(applied.status, 409);
      assert.equal(applied.body.error.code, 'evaluation_required');
      assert.equal((await a.get(`/deployment-requests/${asked.body.id}`)).body.status, 'pending');
      assert.equal((await a.get('/prompts/quiz/latest?environment=production')).body.version, 2);

      assert.equal((await policy({ required_approvals: 1, evaluation: gate })).status, 200);
      const approved = await approver.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.status, 'applied');
      assert.equal((await a.get('/prompts/quiz/latest?environment=production')).body.version, 4);
    });
  });
}
