import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryApi, RegistryError } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { MockProvider } from '../support/mock-provider.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`RegistryApi: datasets, scores, runs and experiments (${dialect})`, () => {
    const mock = new MockProvider();
    let s: TestServer;
    let api: RegistryApi;
    before(async () => {
      await mock.start();
      mock.respond = (call) => ({ text: String(call.body.messages?.[0]?.content ?? '').toUpperCase(), usage: { input: 3, output: 2 } });
      s = await startTestServer(dialect, { experiments: { leaseMs: 2_000, pollMs: 50, maxActive: 2 } });
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
      assert.equal((await s.admin.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.openAiBase, api_key: 'sk-x', default_model: 'mock-1' })).status, 201);
      await api.createVersion('shout', { content: 'hi {{name}}' });
    });
    after(async () => {
      await s.close();
      await mock.close();
    });

    it('creates a dataset, adds items and an item from an execution, and scores the execution', async () => {
      const created = await api.createDataset('greetings', 'names to greet');
      assert.deepEqual([created.name, created.description, created.version, created.item_count], ['greetings', 'names to greet', 0, 0]);
      const added = await api.addDatasetItems('greetings', [{ input: { name: 'ada' }, expected: 'HI ADA' }, { input: { name: 'bob' }, expected: 'HI BOB', metadata: { tier: 'free' } }]);
      assert.deepEqual(added, { dataset: 'greetings', version: 1, added: 2, item_count: 2 });
      await assert.rejects(api.addDatasetItems('greetings', [{ input: 'x' as never }]), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.status, 400);
        assert.match(err.message, /items\.0\.input|items\[0\]/);
        return true;
      });

      const run = await api.run('shout', { version: 1, variables: { name: 'cy' }, provider: 'mock' });
      assert.equal(run.output.text, 'HI CY');
      const fromRun = await api.addDatasetItemFromExecution('greetings', run.execution_id);
      assert.equal(fromRun.version, 2);
      assert.deepEqual([fromRun.item.seq, fromRun.item.input, fromRun.item.expected, fromRun.item.source_execution_id], [3, { name: 'cy' }, 'HI CY', run.execution_id]);
      const corrected = await api.addDatasetItemFromExecution('greetings', run.execution_id, { expected: 'HELLO CY', metadata: { fixed: true } });
      assert.equal(corrected.item.expected, 'HELLO CY');
      assert.equal(corrected.item.metadata.fixed, true);

      const items = await api.datasetItems('greetings', { limit: 2 });
      assert.deepEqual(items.items.map((i) => i.seq), [1, 2]);
      assert.ok(items.next_cursor);
      assert.deepEqual((await api.datasetItems('greetings', { cursor: items.next_cursor })).items.map((i) => i.expected), ['HI CY', 'HELLO CY']);
      assert.equal((await api.datasetItems('greetings', { version: 1 })).items.length, 2);
      assert.equal((await api.getDataset('greetings')).item_count, 4);

      await api.createMetric({ name: 'helpful', type: 'numeric', min: 0, max: 1 });
      const score = await api.addScore(run.execution_id, { metric: 'helpful', value: 1, source: 'code', comment: 'uppercased' });
      assert.deepEqual([score.metric, score.value, score.source], ['helpful', 1, 'code']);
      assert.deepEqual((await api.getExecution(run.execution_id)).scores.map((x) => x.metric), ['helpful']);

      const check = await api.testEvaluator({ evaluator: { type: 'contains', value: 'CY' }, output: 'HI CY' });
      assert.deepEqual([check.evaluator, check.passed, check.score], ['contains', true, 1]);
    });

    it('creates an experiment, reads it until it completes, and cancels one', async () => {
      await api.createDataset('two');
      await api.addDatasetItems('two', [{ input: { name: 'ada' }, expected: 'HI ADA' }, { input: { name: 'bob' }, expected: 'nope' }]);
      const started = await api.createExperiment({ prompt: 'shout', versions: [1], dataset: 'two', evaluators: [{ type: 'exact_match', name: 'exact' }], provider: 'mock', concurrency: 2 });
      assert.equal(started.status, 'queued');
      let done = started;
      while (done.status === 'queued' || done.status === 'running') {
        await new Promise((resolve) => setTimeout(resolve, 50));
        done = await api.getExperiment(started.id);
      }
      assert.equal(done.status, 'completed', JSON.stringify(done));
      assert.deepEqual(done.progress, { done: 2, total: 2 });
      assert.equal(done.aggregates[0]!.pass_rate, 0.5);
      assert.equal(done.aggregates[0]!.mean_scores.exact, 0.5);

      mock.respond = () => ({ text: 'slow', delayMs: 60_000 });
      const slow = await api.createExperiment({ prompt: 'shout', versions: [1], dataset: 'two', evaluators: [{ type: 'exact_match' }], provider: 'mock', concurrency: 1 });
      const cancelled = await api.cancelExperiment(slow.id);
      assert.equal(cancelled.status, 'cancelled', JSON.stringify(cancelled));
      assert.equal((await api.getExperiment(slow.id)).status, 'cancelled');
      await assert.rejects(api.createExperiment({ prompt: 'shout', versions: [1], dataset: 'missing', evaluators: [{ type: 'exact_match' }] }), (err: unknown) => err instanceof RegistryError && err.status === 404);
    });

    it('streams a run: the deltas add up to the logged result, and a provider failure is a RegistryError with its code', async () => {
      mock.respond = (call) => ({ text: String(call.body.messages?.[0]?.content ?? '').toUpperCase(), usage: { input: 3, output: 2 } });
      const deltas: string[] = [];
      const run = await api.runStream('shout', { version: 1, variables: { name: 'dee and friends' }, provider: 'mock' }, { onDelta: (t) => deltas.push(t) });
      assert.equal(run.output.text, 'HI DEE AND FRIENDS');
      assert.ok(deltas.length > 1, `streamed in pieces (${deltas.length})`);
      assert.equal(deltas.join(''), run.output.text);
      assert.equal((await api.getExecution(run.execution_id)).response, 'HI DEE AND FRIENDS');
      mock.script({ status: 500 }, { status: 500 }, { status: 500 }, { status: 500 });
      await assert.rejects(api.runStream('shout', { version: 1, variables: { name: 'x' }, provider: 'mock' }), (err: unknown) => {
        assert.ok(err instanceof RegistryError, String(err));
        assert.equal(err.status, 502);
        assert.match(err.code, /^provider_/);
        return true;
      });
    });
  });
}
