import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { MockProvider } from '../support/mock-provider.js';
import { startTestServer, type Api, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

const EXPERIMENTS = { leaseMs: 2_000, pollMs: 100, maxActive: 2 };
const PROVIDER_CALLS = { timeoutMs: 5_000, maxRetries: 1, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 1_000 };
const PRICE = { input_per_million: 2, output_per_million: 10 };

/** Answers "N" to "Q<N> plain" (but "wrong" for multiples of 3) and {"answer": N} to "Q<N> json". */
function answerer(mock: MockProvider, delayMs = 0): void {
  mock.respond = (call) => {
    const content = String(call.body.messages?.[0]?.content ?? '');
    // The LLM judge's rubric: scores 1 when the output is the expected value.
    const judged = /^Judge: output=(.*) expected=(.*)$/s.exec(content);
    if (judged) return { text: JSON.stringify({ score: judged[1] === judged[2] ? 1 : 0, reason: judged[1] === judged[2] ? 'same' : 'differs' }) };
    const n = Number(/Q(\d+)/.exec(content)?.[1]);
    const text = content.includes('json') ? JSON.stringify({ answer: n }) : n % 3 === 0 ? 'wrong' : String(n);
    return { text, delayMs };
  };
}

const jsonl = (items: unknown[]) => `${items.map((i) => JSON.stringify(i)).join('\n')}\n`;

async function allResults(a: Api, id: string): Promise<any[]> {
  const out: any[] = [];
  for (let cursor = ''; ; ) {
    const page = await a.get(`/experiments/${id}/results?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(page.status, 200);
    out.push(...page.body.items);
    if (!page.body.next_cursor) return out;
    cursor = page.body.next_cursor;
  }
}

for (const dialect of DIALECTS) {
  describe(`experiments (${dialect})`, () => {
    const mock = new MockProvider();
    let db: TestDatabase;
    let s: TestServer;
    let a: Api;

    const start = () => startTestServer(dialect, { experiments: EXPERIMENTS, providerCalls: PROVIDER_CALLS }, db);

    before(async () => {
      await mock.start();
      db = await freshDatabase(dialect);
      s = await start();
      a = s.admin;
      assert.equal((await a.post('/prompts/quiz/versions', { content: 'Q{{n}} plain', model: 'mock-1' })).status, 201);
      assert.equal((await a.post('/prompts/quiz/versions', { content: 'Q{{n}} json', model: 'mock-1' })).status, 201);
      assert.equal((await a.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.openAiBase, api_key: 'sk-x', prices: { 'mock-1': PRICE } })).status, 201);
      assert.equal((await a.post('/prompts/judge/versions', { content: 'Judge: output={{output}} expected={{expected}}', model: 'mock-1' })).status, 201);
    });
    after(async () => {
      await s?.close();
      await db?.drop();
      await mock.close();
    });
    beforeEach(() => mock.reset());

    it('runs every item against two versions with concurrency 8 and reports aggregates that match a hand computation', async () => {
      answerer(mock);
      const N = 30;
      const items = Array.from({ length: N }, (_, i) => ({ input: { n: i + 1 }, expected: String(i + 1) }));
      items.push({ input: { m: 1 } as any, expected: 'x' }); // does not match the prompt's variables: an error on that item
      assert.equal((await a.post('/datasets', { name: 'quiz-set' })).status, 201);
      assert.equal((await a.raw('POST', '/datasets/quiz-set/import', jsonl(items), { 'Content-Type': 'application/x-ndjson' })).status, 201);
      const created = await a.post('/experiments', {
        prompt: 'quiz',
        versions: [1, 2],
        dataset: 'quiz-set',
        provider: 'mock',
        concurrency: 8,
        evaluators: [{ type: 'exact_match', name: 'exact' }, { type: 'json_schema', name: 'is-number', schema: { type: 'number' } }, { type: 'llm_judge', name: 'judge', prompt: 'judge' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.equal(created.body.progress.total, 62);
      await eventually(async () => (await a.get(`/experiments/${id}`)).body.status === 'completed', 'the experiment completes', 30_000);
      const x = (await a.get(`/experiments/${id}`)).body;
      assert.deepEqual(x.progress, { done: 62, total: 62 });

      // By hand: version 1 answers n, except "wrong" for multiples of 3 (both evaluators fail there);
      // version 2 answers an object (both fail); the last item errors on both.
      const good = Array.from({ length: N }, (_, i) => i + 1).filter((n) => n % 3 !== 0).length;
      const [v1, v2] = x.aggregates;
      assert.equal(v1.version, 1);
      assert.equal(v1.results, N + 1);
      assert.equal(v1.errors, 1);
      assert.equal(v1.pass_rate, Math.round((good / (N + 1)) * 1e9) / 1e9);
      const mean = Math.round((good / N) * 1e9) / 1e9;
      assert.deepEqual(v1.mean_scores, { exact: mean, 'is-number': mean, judge: mean });
      assert.equal(v2.pass_rate, 0);
      assert.deepEqual(v2.mean_scores, { exact: 0, 'is-number': 0, judge: 0 });
      assert.equal(created.body.evaluators[2].version, 1, 'the judge is pinned to the rubric version it started with');
      assert.equal(v1.input_tokens, 12 * N);
      assert.equal(v1.output_tokens, 5 * N);
      assert.ok(Math.abs(v1.cost_usd - N * ((12 * 2 + 5 * 10) / 1e6)) < 1e-12);
      assert.ok(v1.latency_p50_ms !== null && v1.latency_p50_ms <= v1.latency_p95_ms);

      // Version 2 did worse than 1 on every item 1 passed (n not a multiple of 3), on both evaluators.
      const cmp = await a.get(`/experiments/${id}/compare?a=1&b=2`);
      assert.equal(cmp.status, 200);
      assert.equal(cmp.body.compared, N + 1);
      assert.deepEqual(cmp.body.worse.map((w: any) => w.item_seq), Array.from({ length: N }, (_, i) => i + 1).filter((n) => n % 3 !== 0));
      assert.deepEqual(cmp.body.worse[0].reasons, ['passed -> failed', 'exact: 1 -> 0', 'is-number: 1 -> 0', 'judge: 1 -> 0']);
      assert.deepEqual(cmp.body.better, []);
      assert.equal((await a.get(`/experiments/${id}/compare?a=1&b=3`)).status, 400);

      const results = await allResults(a, id);
      assert.equal(results.length, 62);
      assert.equal(new Set(results.map((r) => `${r.item_seq}:${r.version}`)).size, 62);
      const bad = results.filter((r) => r.status === 'error');
      assert.deepEqual(bad.map((r) => r.item_seq), [N + 1, N + 1]);
      assert.match(bad[0].error, /\bn\b/);
      assert.equal(mock.calls.length, 120, 'each good item ran once per version, and was judged once');
      const three = results.find((r) => r.item_seq === 3 && r.version === 1);
      assert.equal(three.output, 'wrong');
      assert.equal(three.scores.exact.passed, false);
      // Each run is an execution of its version, tagged with the experiment.
      const e = await a.get(`/executions/${three.execution_id}`);
      assert.equal(e.body.metadata.experiment, id);
      assert.equal(e.body.version, 1);
      // Its evaluator scores are custom metrics' scores, where the panel and statistics show metrics.
      const scores = Object.fromEntries(e.body.scores.map((x: any) => [x.metric, [x.value, x.source]]));
      assert.deepEqual(scores, { exact: [0, 'code'], 'is-number': [0, 'code'], judge: [0, 'code'] });
      assert.equal(three.scores.judge.reason, 'differs');
      const metrics = (await a.get('/metrics')).body.items.map((m: any) => [m.name, m.type, m.min, m.max]);
      assert.ok(metrics.some((m: any) => JSON.stringify(m) === JSON.stringify(['exact', 'numeric', 0, 1])), JSON.stringify(metrics));
    });

    it("runs a chat prompt's versions, the JSON-Schema evaluator defaulting to each version's response_format schema", async () => {
      // Answers {"answer": n} when asked for JSON, else n.
      mock.respond = (call) => {
        const content = (call.body.messages as Array<{ content: string }>).map((m) => m.content).join('\n');
        const n = Number(/Q(\d+)/.exec(content)?.[1]);
        return { text: content.includes('json') ? JSON.stringify({ answer: n }) : String(n) };
      };
      const schema = { type: 'object', properties: { answer: { type: 'number' } }, required: ['answer'] };
      const config = { response_format: { type: 'json_schema', json_schema: { name: 'reply', schema } } };
      for (const ask of ['Q{{n}} json', 'Q{{n}} plain']) {
        const v = await a.post('/prompts/chat-quiz/versions', { type: 'chat', messages: [{ role: 'system', content: 'Answer the quiz.' }, { role: 'user', content: ask }], model: 'mock-1', config });
        assert.equal(v.status, 201, JSON.stringify(v.body));
      }
      assert.equal((await a.post('/datasets', { name: 'chat-set' })).status, 201);
      assert.equal((await a.post('/datasets/chat-set/items', { items: [1, 2, 3].map((n) => ({ input: { n } })) })).status, 201);
      const created = await a.post('/experiments', { prompt: 'chat-quiz', versions: [1, 2], dataset: 'chat-set', provider: 'mock', evaluators: [{ type: 'json_schema', name: 'shape' }] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await eventually(async () => (await a.get(`/experiments/${created.body.id}`)).body.status === 'completed', 'the experiment completes', 30_000);
      const x = (await a.get(`/experiments/${created.body.id}`)).body;
      assert.deepEqual(x.aggregates.map((g: any) => [g.version, g.results, g.errors, g.pass_rate]), [[1, 3, 0, 1], [2, 3, 0, 0]]);
      const failed = (await allResults(a, created.body.id)).find((r) => r.version === 2);
      assert.match(failed.scores.shape.reason, /does not conform/);
      assert.equal(mock.calls.length, 6);
      for (const call of mock.calls) {
        assert.equal(call.body.messages[0].role, 'system');
        assert.deepEqual(call.body.response_format, config.response_format);
      }
    });

    it('survives a server restart halfway: no item stored twice, none missed', async () => {
      answerer(mock, 100);
      const items = Array.from({ length: 16 }, (_, i) => ({ input: { n: i + 1 }, expected: String(i + 1) }));
      assert.equal((await a.post('/datasets', { name: 'restart-set' })).status, 201);
      assert.equal((await a.raw('POST', '/datasets/restart-set/import', jsonl(items), { 'Content-Type': 'application/x-ndjson' })).status, 201);
      const created = await a.post('/experiments', { prompt: 'quiz', versions: [1], dataset: 'restart-set', provider: 'mock', concurrency: 2, evaluators: [{ type: 'exact_match' }] });
      const id = created.body.id;
      await eventually(async () => (await a.get(`/experiments/${id}`)).body.progress.done >= 4, 'some items are done', 20_000);
      await s.close();
      const halfway = mock.calls.length;
      assert.ok(halfway < 16, `stopped halfway (${halfway} calls)`);
      s = await start();
      a = s.admin;
      await eventually(async () => (await a.get(`/experiments/${id}`)).body.status === 'completed', 'the restarted server completes it', 30_000);
      const results = await allResults(a, id);
      assert.deepEqual(results.map((r) => r.item_seq), Array.from({ length: 16 }, (_, i) => i + 1));
      assert.ok(results.every((r) => r.status === 'ok'));
      // Only the runs in flight when it stopped were made again.
      assert.ok(mock.calls.length <= 16 + 2, `${mock.calls.length} calls`);
    });

    it('cancels a running experiment, keeping the results so far', async () => {
      answerer(mock, 200);
      const items = Array.from({ length: 20 }, (_, i) => ({ input: { n: i + 1 } }));
      assert.equal((await a.post('/datasets', { name: 'cancel-set' })).status, 201);
      assert.equal((await a.post('/datasets/cancel-set/items', { items })).status, 201);
      const id = (await a.post('/experiments', { prompt: 'quiz', versions: [1], dataset: 'cancel-set', provider: 'mock', concurrency: 1, evaluators: [{ type: 'json_valid' }] })).body.id;
      await eventually(async () => (await a.get(`/experiments/${id}`)).body.progress.done >= 1, 'an item is done', 20_000);
      const cancelled = await a.post(`/experiments/${id}/cancel`);
      assert.equal(cancelled.status, 200);
      assert.equal(cancelled.body.status, 'cancelled');
      assert.ok(cancelled.body.progress.done < 20);
      assert.equal((await a.post(`/experiments/${id}/cancel`)).status, 400);
    });

    it('runs a draft beside a version, named by its label in aggregates, results and compare, and resumes it after a restart', async () => {
      answerer(mock, 60);
      const items = Array.from({ length: 12 }, (_, i) => ({ input: { n: i + 1 }, expected: String(i + 1) }));
      assert.equal((await a.post('/datasets', { name: 'draft-set' })).status, 201);
      assert.equal((await a.post('/datasets/draft-set/items', { items })).status, 201);
      // The draft asks for JSON (as version 2 does): the judge and exact match fail it everywhere.
      const created = await a.post('/experiments', {
        prompt: 'quiz',
        versions: [1],
        drafts: [{ label: 'json-ask', content: 'Q{{n}} json', model: 'mock-1' }],
        dataset: 'draft-set',
        provider: 'mock',
        concurrency: 2,
        evaluators: [{ type: 'exact_match', name: 'exact' }, { type: 'llm_judge', name: 'judge', prompt: 'judge' }],
      });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const id = created.body.id;
      assert.deepEqual([created.body.versions, created.body.drafts, created.body.progress.total], [[1], ['json-ask'], 24]);
      // Stopped halfway: the restarted server has only what was stored, the draft's body included.
      await eventually(async () => (await a.get(`/experiments/${id}`)).body.progress.done >= 4, 'some runs are done', 20_000);
      await s.close();
      s = await start();
      a = s.admin;
      await eventually(async () => (await a.get(`/experiments/${id}`)).body.status === 'completed', 'the restarted server completes it', 30_000);
      const x = (await a.get(`/experiments/${id}`)).body;
      assert.deepEqual(x.progress, { done: 24, total: 24 });
      const good = 8 / 12; // v1 answers n except for multiples of 3
      assert.deepEqual(
        x.aggregates.map((g: any) => [g.version, g.draft, g.results, g.errors, g.pass_rate, g.mean_scores]),
        [
          [1, null, 12, 0, Math.round(good * 1e9) / 1e9, { exact: Math.round(good * 1e9) / 1e9, judge: Math.round(good * 1e9) / 1e9 }],
          [null, 'json-ask', 12, 0, 0, { exact: 0, judge: 0 }],
        ],
      );

      const results = await allResults(a, id);
      assert.equal(results.length, 24);
      assert.equal(new Set(results.map((r) => `${r.item_seq}:${r.version}:${r.draft}`)).size, 24, 'no run stored twice');
      const drafted = results.filter((r) => r.draft === 'json-ask');
      assert.deepEqual(drafted.map((r) => r.item_seq), Array.from({ length: 12 }, (_, i) => i + 1));
      assert.ok(drafted.every((r) => r.version === null && r.output === JSON.stringify({ answer: r.item_seq })));
      // One column by its label; a page boundary inside the drafts' column keeps its place.
      const onlyDraft = await a.get(`/experiments/${id}/results?draft=json-ask&limit=5`);
      assert.deepEqual(onlyDraft.body.items.map((r: any) => [r.item_seq, r.draft]), [1, 2, 3, 4, 5].map((n) => [n, 'json-ask']));
      const next = await a.get(`/experiments/${id}/results?draft=json-ask&limit=5&cursor=${onlyDraft.body.next_cursor}`);
      assert.deepEqual(next.body.items.map((r: any) => r.item_seq), [6, 7, 8, 9, 10]);
      assert.equal((await a.get(`/experiments/${id}/results?draft=other`)).status, 400);

      // The draft's runs are logged as draft runs of the prompt, with their label.
      const e = await a.get(`/executions/${drafted[0].execution_id}`);
      assert.equal(e.body.metadata.draft, true);
      assert.equal(e.body.metadata.draft_label, 'json-ask');
      assert.equal(e.body.metadata.experiment, id);

      const cmp = await a.get(`/experiments/${id}/compare?a=1&b=draft:json-ask`);
      assert.equal(cmp.status, 200, JSON.stringify(cmp.body));
      assert.equal(cmp.body.a, 1);
      assert.equal(cmp.body.b, 'draft:json-ask');
      assert.equal(cmp.body.compared, 12);
      assert.deepEqual(cmp.body.worse.map((w: any) => w.item_seq), [1, 2, 4, 5, 7, 8, 10, 11]);
      const unknown = await a.get(`/experiments/${id}/compare?a=1&b=draft:nope`);
      assert.equal(unknown.status, 400);
      assert.match(unknown.body.error.message, /the draft "nope" is not one this experiment ran \(it ran 1, draft:json-ask\)/);
    });

    it('refuses bad drafts naming drafts[i], writing nothing', async () => {
      assert.equal((await a.post('/datasets', { name: 'bad-draft-set' })).status, 201);
      assert.equal((await a.post('/datasets/bad-draft-set/items', { items: [{ input: { n: 1 } }] })).status, 201);
      const base = { prompt: 'quiz', dataset: 'bad-draft-set', provider: 'mock', evaluators: [{ type: 'json_valid' }] };
      const before = (await a.get('/audit?action=experiment.created&limit=100')).body.items.length;
      const missing = await a.post('/experiments', { ...base, drafts: [{ label: 'ok', content: 'Q{{n}}' }, { label: 'empty' }] });
      assert.equal(missing.status, 400);
      assert.match(missing.body.error.message, /drafts\[1\]\.content/);
      const label = await a.post('/experiments', { ...base, drafts: [{ label: 'has space', content: 'x' }] });
      assert.equal(label.status, 400);
      assert.match(label.body.error.message, /drafts\[0\]\.label/);
      const twice = await a.post('/experiments', { ...base, drafts: [{ label: 'a', content: 'x' }, { label: 'a', content: 'y' }] });
      assert.equal(twice.status, 400);
      assert.match(twice.body.error.message, /drafts\[1\]\.label: a second draft labelled "a"/);
      const partial = await a.post('/experiments', { ...base, versions: [1], drafts: [{ label: 'p', content: 'Q{{n}} {{#if n}}never closed' }] });
      assert.equal(partial.status, 400, JSON.stringify(partial.body));
      assert.equal(partial.body.error.field, 'drafts[0]');
      assert.match(partial.body.error.message, /^drafts\[0\] \("p"\): /);
      const none = await a.post('/experiments', { ...base, versions: [], drafts: [] });
      assert.equal(none.status, 400);
      assert.match(none.body.error.message, /at least one version or draft/);
      const unpublished = await a.post('/experiments', { ...base, prompt: 'never-published', drafts: [{ label: 'd', content: 'x' }] });
      assert.equal(unpublished.status, 404, 'no such prompt');
      assert.equal((await a.get('/audit?action=experiment.created&limit=100')).body.items.length, before, 'no experiment was created');
    });

    it('refuses bad experiments: a bad regex or schema naming the evaluator, an unknown provider, dataset or version', async () => {
      const base = { prompt: 'quiz', versions: [1], dataset: 'quiz-set', provider: 'mock' };
      const regex = await a.post('/experiments', { ...base, evaluators: [{ type: 'exact_match' }, { type: 'regex', pattern: '(' }] });
      assert.equal(regex.status, 400);
      assert.equal(regex.body.error.field, 'evaluators[1].pattern');
      const schema = await a.post('/experiments', { ...base, evaluators: [{ type: 'json_schema', schema: { type: 12 } }] });
      assert.equal(schema.status, 400);
      assert.equal(schema.body.error.code, 'invalid_schema');
      assert.equal((await a.post('/experiments', { ...base, provider: 'nope', evaluators: [{ type: 'json_valid' }] })).body.error.code, 'unknown_provider');
      assert.equal((await a.post('/experiments', { ...base, dataset: 'nope', evaluators: [{ type: 'json_valid' }] })).status, 404);
      assert.equal((await a.post('/experiments', { ...base, versions: [9], evaluators: [{ type: 'json_valid' }] })).status, 404);
      assert.equal((await a.get('/experiments/00000000-0000-4000-8000-000000000000')).status, 404);
      assert.equal((await a.post('/metrics', { name: 'helpful', type: 'boolean' })).status, 201);
      const clash = await a.post('/experiments', { ...base, evaluators: [{ type: 'json_valid', name: 'helpful' }] });
      assert.equal(clash.status, 400);
      assert.equal(clash.body.error.field, 'evaluators[0].name');
    });
  });
}

describe('experiments across replicas (postgres)', () => {
  const mock = new MockProvider();
  let db: TestDatabase;
  let queuer: TestServer;
  let runner: TestServer;
  before(async () => {
    await mock.start();
    answerer(mock);
    db = await freshDatabase('postgres');
    // The runner's fallback poll is far beyond the test: only a wake-up from the other replica can start it.
    runner = await startTestServer('postgres', { experiments: { ...EXPERIMENTS, pollMs: 600_000 }, providerCalls: PROVIDER_CALLS }, db);
    // This replica runs no experiment of its own (no slot), so whatever it queues is the other one's to run.
    queuer = await startTestServer('postgres', { experiments: { ...EXPERIMENTS, pollMs: 600_000, maxActive: 0 }, providerCalls: PROVIDER_CALLS }, db);
  });
  after(async () => {
    await queuer?.close();
    await runner?.close();
    await db?.drop();
    await mock.close();
  });

  it('an experiment queued on one replica wakes the runner of another (NOTIFY), without waiting for its poll', async () => {
    const a = queuer.admin;
    assert.equal((await a.post('/prompts/quiz/versions', { content: 'Q{{n}} plain', model: 'mock-1' })).status, 201);
    assert.equal((await a.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.openAiBase, api_key: 'sk-x', prices: { 'mock-1': PRICE } })).status, 201);
    assert.equal((await a.post('/datasets', { name: 'woken' })).status, 201);
    assert.equal((await a.raw('POST', '/datasets/woken/import', jsonl([1, 2, 3, 4].map((n) => ({ input: { n }, expected: String(n) }))), { 'Content-Type': 'application/x-ndjson' })).status, 201);
    const created = await a.post('/experiments', { prompt: 'quiz', versions: [1], dataset: 'woken', provider: 'mock', concurrency: 2, evaluators: [{ type: 'exact_match' }] });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    await eventually(async () => (await a.get(`/experiments/${created.body.id}`)).body.status === 'completed', 'the other replica ran it', 20_000);
    const done = (await a.get(`/experiments/${created.body.id}`)).body;
    assert.equal(done.progress.done, 4);
    assert.deepEqual((await allResults(a, created.body.id)).map((r) => r.item_seq), [1, 2, 3, 4]);
  });
});
