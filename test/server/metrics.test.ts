import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`custom evaluation metrics and scores (${dialect})`, () => {
    let s: TestServer;
    let ids: string[];
    before(async () => {
      s = await startTestServer(dialect);
      for (const content of ['first {{q}}', 'second {{q}}']) assert.equal((await s.admin.post('/prompts/eval/versions', { content })).status, 201);
      const logged = await s.admin.post('/executions', [
        ...Array.from({ length: 4 }, (_, i) => ({ prompt: 'eval', version: 1, latency_ms: 100 + i, environment: 'production' })),
        ...Array.from({ length: 4 }, (_, i) => ({ prompt: 'eval', version: 2, latency_ms: 200 + i, environment: i < 2 ? 'staging' : 'production' })),
      ]);
      assert.equal(logged.status, 201);
      ids = logged.body.ids;
    });
    after(() => s.close());

    const audit = async (action: string) => (await s.admin.get(`/audit?action=${action}`)).body.items as Array<{ details: Record<string, unknown>; actor: string }>;

    it('defines numeric, boolean and categorical metrics, lists them by name, and audits each', async () => {
      const accuracy = await s.admin.post('/metrics', { name: 'accuracy', type: 'numeric', min: 0, max: 1, description: 'graded against the answer key' });
      assert.equal(accuracy.status, 201);
      assert.equal(accuracy.body.name, 'accuracy');
      assert.equal(accuracy.body.type, 'numeric');
      assert.equal(accuracy.body.min, 0);
      assert.equal(accuracy.body.max, 1);
      assert.equal(accuracy.body.categories, null);
      assert.ok(accuracy.body.created_by);
      assert.equal((await s.admin.post('/metrics', { name: 'helpful', type: 'boolean' })).status, 201);
      const tone = await s.admin.post('/metrics', { name: 'tone', type: 'categorical', categories: ['warm', 'neutral', 'cold'] });
      assert.equal(tone.status, 201);
      assert.deepEqual(tone.body.categories, ['warm', 'neutral', 'cold']);
      assert.equal((await s.admin.post('/metrics', { name: 'words', type: 'numeric' })).status, 201);

      const list = await s.admin.get('/metrics?limit=2');
      assert.deepEqual(list.body.items.map((m: { name: string }) => m.name), ['accuracy', 'helpful']);
      const rest = await s.admin.get(`/metrics?limit=10&cursor=${list.body.next_cursor}`);
      assert.deepEqual(rest.body.items.map((m: { name: string }) => m.name), ['tone', 'words']);
      assert.equal(rest.body.next_cursor, null);

      const created = await audit('metric.created');
      assert.equal(created.length, 4);
      assert.ok(created.some((e) => e.details.name === 'tone' && e.details.type === 'categorical'));
    });

    it('refuses invalid definitions and duplicate names with 4xx, creating nothing', async () => {
      const before = (await s.admin.get('/metrics?limit=100')).body.items.length;
      for (const body of [
        { name: 'x', type: 'percent' },
        { name: 'x', type: 'numeric', min: 2, max: 1 },
        { name: 'x', type: 'boolean', min: 0 },
        { name: 'x', type: 'categorical' },
        { name: 'x', type: 'categorical', categories: [] },
        { name: 'x', type: 'categorical', categories: ['a', 'a'] },
        { name: 'x', type: 'numeric', categories: ['a'] },
        { name: 'latency_ms', type: 'numeric' },
        { name: 'has space', type: 'numeric' },
        { name: 'x', type: 'numeric', unit: 'ms' },
        { name: 'x', type: 'numeric', max: Number.MAX_VALUE },
        { name: 'x', type: 'numeric', description: 'nul\u0000' },
      ]) {
        const r = await s.admin.post('/metrics', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.equal(r.body.error.code, 'invalid_request');
      }
      const dup = await s.admin.post('/metrics', { name: 'accuracy', type: 'boolean' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'metric_exists');
      assert.equal((await s.admin.get('/metrics?limit=100')).body.items.length, before);
    });

    it('scores executions, checked against the metric definition', async () => {
      const ok = await s.admin.post(`/executions/${ids[0]}/scores`, { metric: 'accuracy', value: 0.75, source: 'human', comment: 'mostly right' });
      assert.equal(ok.status, 201);
      assert.equal(ok.body.metric, 'accuracy');
      assert.equal(ok.body.value, 0.75);
      assert.equal(ok.body.source, 'human');
      assert.equal(ok.body.comment, 'mostly right');
      assert.equal(ok.body.execution_id, ids[0]);
      assert.ok(ok.body.scored_by && ok.body.scored_at);
      assert.equal((await s.admin.post(`/executions/${ids[0]}/scores`, { metric: 'helpful', value: true, source: 'llm' })).body.value, true);
      assert.equal((await s.admin.post(`/executions/${ids[0]}/scores`, { metric: 'tone', value: 'warm', source: 'code' })).body.value, 'warm');

      const refused: Array<[unknown, number, string]> = [
        [{ metric: 'accuracy', value: 1.5, source: 'human' }, 400, 'invalid_score'],
        [{ metric: 'accuracy', value: -0.1, source: 'human' }, 400, 'invalid_score'],
        [{ metric: 'accuracy', value: true, source: 'human' }, 400, 'invalid_score'],
        [{ metric: 'helpful', value: 1, source: 'human' }, 400, 'invalid_score'],
        [{ metric: 'tone', value: 'rude', source: 'human' }, 400, 'invalid_score'],
        [{ metric: 'tone', value: 3, source: 'human' }, 400, 'invalid_score'],
        [{ metric: 'ghost', value: 1, source: 'human' }, 404, 'metric_not_found'],
        [{ metric: 'accuracy', value: 0.5, source: 'crowd' }, 400, 'invalid_request'],
        [{ metric: 'accuracy', value: 0.5 }, 400, 'invalid_request'],
        [{ metric: 'accuracy', value: [0.5], source: 'human' }, 400, 'invalid_request'],
        [{ metric: 'accuracy', value: 0.5, source: 'human', weight: 2 }, 400, 'invalid_request'],
      ];
      for (const [body, status, code] of refused) {
        const r = await s.admin.post(`/executions/${ids[1]}/scores`, body);
        assert.equal(r.status, status, JSON.stringify(body));
        assert.equal(r.body.error.code, code, JSON.stringify(body));
      }
      const unknown = await s.admin.post(`/executions/${randomUUID()}/scores`, { metric: 'accuracy', value: 0.5, source: 'human' });
      assert.equal(unknown.status, 404);
      assert.equal(unknown.body.error.code, 'execution_not_found');
      assert.equal((await s.admin.get(`/executions/${ids[1]}`)).body.scores.length, 0, 'nothing stored for the refused scores');
    });

    it('replaces the score a source gave by a metric, and shows an execution with its scores', async () => {
      const again = await s.admin.post(`/executions/${ids[0]}/scores`, { metric: 'accuracy', value: 0.25, source: 'human' });
      assert.equal(again.status, 200);
      assert.equal(again.body.value, 0.25);
      assert.equal(again.body.comment, null);
      const byLlm = await s.admin.post(`/executions/${ids[0]}/scores`, { metric: 'accuracy', value: 0.5, source: 'llm' });
      assert.equal(byLlm.status, 201);
      const e = await s.admin.get(`/executions/${ids[0]}`);
      const accuracy = e.body.scores.filter((x: { metric: string }) => x.metric === 'accuracy');
      assert.deepEqual(accuracy.map((x: { source: string; value: number }) => [x.source, x.value]).sort(), [['human', 0.25], ['llm', 0.5]]);
      assert.equal(e.body.scores.length, 4);
    });

    it('filters executions by metric and its value', async () => {
      await s.admin.post(`/executions/${ids[6]}/scores`, { metric: 'accuracy', value: 0.9, source: 'human' });
      const scored = await s.admin.get('/executions?metric=accuracy&limit=100');
      assert.deepEqual(scored.body.items.map((e: { id: string }) => e.id).sort(), [ids[0], ids[6]].sort());
      const high = await s.admin.get('/executions?metric=accuracy&metric_min=0.8');
      assert.deepEqual(high.body.items.map((e: { id: string }) => e.id), [ids[6]]);
    });

    it('gives statistics per version per metric', async () => {
      await s.admin.post(`/executions/${ids[1]}/scores`, { metric: 'helpful', value: false, source: 'llm' });
      await s.admin.post(`/executions/${ids[2]}/scores`, { metric: 'helpful', value: true, source: 'llm' });
      await s.admin.post(`/executions/${ids[1]}/scores`, { metric: 'tone', value: 'cold', source: 'code' });
      await s.admin.post(`/executions/${ids[4]}/scores`, { metric: 'accuracy', value: 0.4, source: 'human' });
      const { body } = await s.admin.get('/prompts/eval/stats');
      const [v1, v2] = body.versions;
      // accuracy on version 1: 0.25 (human) and 0.5 (llm); helpful: true, false, true; tone: warm, cold.
      assert.deepEqual(v1.metrics.accuracy, { mean: 0.375, count: 2 });
      assert.deepEqual(v1.metrics.helpful, { mean: 0.666666666667, count: 3 });
      assert.deepEqual(v1.metrics.tone, { mean: null, count: 2, categories: { warm: 1, cold: 1 } });
      assert.deepEqual(Object.keys(v1.metrics), ['accuracy', 'helpful', 'tone']);
      assert.deepEqual(v2.metrics, { accuracy: { mean: 0.65, count: 2 } });
      const staging = await s.admin.get('/prompts/eval/stats?environment=staging');
      assert.deepEqual(staging.body.versions.map((v: { version: number; metrics: unknown }) => [v.version, v.metrics]), [[2, { accuracy: { mean: 0.4, count: 1 } }]]);
    });

    it('compares two versions on every measure: means, counts and the difference b − a', async () => {
      const r = await s.admin.get('/prompts/eval/compare?a=1&b=2');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body.a, { version: 1, count: 4 });
      assert.deepEqual(r.body.b, { version: 2, count: 4 });
      const byName = Object.fromEntries(r.body.metrics.map((m: { name: string }) => [m.name, m]));
      assert.deepEqual(Object.keys(byName), ['latency_ms', 'input_tokens', 'output_tokens', 'cost_usd', 'quality_score', 'error_rate', 'accuracy', 'helpful', 'tone', 'words']);
      assert.deepEqual(byName.latency_ms.a, { mean: 101.5, count: 4 });
      assert.deepEqual(byName.latency_ms.b, { mean: 201.5, count: 4 });
      assert.equal(byName.latency_ms.difference, 100);
      assert.equal(byName.latency_ms.kind, 'builtin');
      assert.deepEqual(byName.accuracy.a, { mean: 0.375, count: 2 });
      assert.deepEqual(byName.accuracy.b, { mean: 0.65, count: 2 });
      assert.equal(byName.accuracy.difference, 0.275);
      assert.equal(byName.accuracy.kind, 'custom');
      assert.deepEqual(byName.helpful.b, { mean: null, count: 0 });
      assert.equal(byName.helpful.difference, null);
      assert.equal(byName.tone.difference, null);
      assert.deepEqual(byName.tone.a.categories, { warm: 1, cold: 1 });
      assert.deepEqual(byName.words.a, { mean: null, count: 0 });
      assert.deepEqual(byName.cost_usd.a, { mean: null, count: 0 });

      const staging = await s.admin.get('/prompts/eval/compare?a=1&b=2&environment=staging');
      assert.deepEqual([staging.body.a.count, staging.body.b.count], [0, 2]);
      assert.equal((await s.admin.get('/prompts/eval/compare?a=1&b=9')).status, 404);
      assert.equal((await s.admin.get('/prompts/ghost/compare?a=1&b=2')).status, 404);
      assert.equal((await s.admin.get('/prompts/eval/compare?a=1')).status, 400);
    });

    it('needs write to define metrics and score, read to list', async () => {
      const reader = s.as((await s.admin.post('/keys', { name: 'metrics-reader', scopes: ['read'] })).body.key);
      assert.equal((await reader.post('/metrics', { name: 'nope', type: 'boolean' })).status, 403);
      assert.equal((await reader.post(`/executions/${ids[0]}/scores`, { metric: 'helpful', value: true, source: 'human' })).status, 403);
      assert.equal((await reader.get('/metrics')).status, 200);
    });
  });
}
