import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { randomUUID } from 'node:crypto';
import { RegistryApi, RegistryError } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`RegistryApi, the authoring client (${dialect})`, () => {
    let s: TestServer;
    let api: RegistryApi;
    before(async () => {
      s = await startTestServer(dialect);
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
    });
    after(() => s.close());

    it('publishes, lists, deploys, rolls back and reads history', async () => {
      assert.equal((await api.health()).status, 'ok');
      assert.deepEqual(await api.environments(), ['dev', 'staging', 'production']);
      const v1 = await api.createVersion('authoring', { content: 'A {{x}}', tags: ['t1'], description: 'desc' });
      assert.equal(v1.version, 1);
      assert.equal(v1.created, true);
      const v2 = await api.createVersion('authoring', { content: 'B {{x}}', temperature: 0.4, message: 'second' });
      assert.equal(v2.version, 2);
      const same = await api.createVersion('authoring', { content: 'B {{x}}', temperature: 0.4 }, { idempotent: true });
      assert.equal(same.created, false);
      await assert.rejects(api.createVersion('authoring', { content: 'B {{x}}', temperature: 0.4 }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.status, 409);
        assert.equal(err.code, 'duplicate_version');
        assert.equal(err.details.existing_version, 2);
        return true;
      });

      const page = await api.listPrompts({ search: 'author', tags: ['t1'] });
      assert.deepEqual(page.items.map((p) => p.name), ['authoring']);
      assert.equal((await api.listVersions('authoring', { limit: 1 })).next_cursor !== null, true);
      assert.equal((await api.getVersion('authoring', 1)).content, 'A {{x}}');

      const first = await api.deploy('authoring', 1, 'staging');
      assert.ok(first.kind === 'applied' && first.created && first.deployment.version === 1, JSON.stringify(first));
      const second = await api.deploy('authoring', 2, 'staging');
      assert.ok(second.kind === 'applied' && second.deployment.version === 2);
      const again = await api.deploy('authoring', 2, 'staging');
      assert.ok(again.kind === 'applied' && !again.created, 'deploying what is live changes nothing');
      assert.equal((await api.live('authoring', 'staging'))?.version, 2);
      assert.equal(await api.live('authoring', 'production'), undefined);
      const preview = await api.rollback('authoring', 'staging', { dryRun: true });
      assert.equal(preview.version, 1);
      assert.equal((await api.live('authoring', 'staging'))?.version, 2, 'a dry run changes nothing');
      assert.deepEqual((await api.listPrompts({ environment: 'staging' })).items.map((p) => p.name), ['authoring']);
      const back = await api.rollback('authoring', 'staging');
      assert.ok(back.kind === 'applied');
      assert.equal(back.deployment.action, 'rollback');
      assert.equal(back.deployment.version, 1);
      const history = await api.history('authoring', { environment: 'staging' });
      assert.deepEqual(history.items.map((d) => d.version), [1, 2, 1]);
    });
    it('logs executions, lists them by filter and page, reads one, and answers statistics and comparisons', async () => {
      await api.createVersion('logged', { content: 'One {{x}}' });
      await api.createVersion('logged', { content: 'Two {{x}}' });
      const hour = Date.now() - 3_600_000;
      const at = (minutes: number) => new Date(hour + minutes * 60_000).toISOString();
      const first = randomUUID();
      const logged = await api.logExecutions([
        { id: first, prompt: 'logged', version: 1, environment: 'staging', executed_at: at(1), latency_ms: 100, cost_usd: 0.001, quality_score: 0.5, input_variables: { x: 'a' }, rendered_prompt: 'One a', response: 'ok a' },
        { prompt: 'logged', version: 2, environment: 'production', executed_at: at(2), latency_ms: 300, cost_usd: 0.003, quality_score: 0.9, input_tokens: 10, output_tokens: 4 },
        { prompt: 'logged', version: 2, environment: 'production', executed_at: at(3), latency_ms: 500, status: 'error', error: 'rate limited' },
      ]);
      assert.deepEqual({ accepted: logged.accepted, inserted: logged.inserted }, { accepted: 3, inserted: 3 });
      assert.equal(logged.ids[0], first);
      assert.equal((await api.logExecutions({ id: first, prompt: 'logged', version: 1 })).duplicates, 1, 'a retry stores nothing');

      const all = await api.listExecutions({ prompt: 'logged' });
      assert.deepEqual(all.items.map((e) => e.latency_ms), [500, 300, 100], 'newest first');
      assert.deepEqual((await api.listExecutions({ prompt: 'logged', version: 2 })).items.map((e) => e.version), [2, 2], 'by version');
      assert.deepEqual((await api.listExecutions({ prompt: 'logged', environment: 'staging' })).items.map((e) => e.id), [first]);
      assert.deepEqual((await api.listExecutions({ prompt: 'logged', status: 'error' })).items.map((e) => e.error), ['rate limited']);
      assert.deepEqual((await api.listExecutions({ prompt: 'logged', from: at(2), to: at(3) })).items.map((e) => e.latency_ms), [300], 'from inclusive, to exclusive');
      const page1 = await api.listExecutions({ prompt: 'logged', limit: 2 });
      assert.equal(page1.items.length, 2);
      assert.ok(page1.next_cursor);
      const page2 = await api.listExecutions({ prompt: 'logged', limit: 2, cursor: page1.next_cursor });
      assert.deepEqual(page2.items.map((e) => e.id), [first]);
      assert.equal(page2.next_cursor, null);

      const detail = await api.getExecution(first);
      assert.deepEqual(detail.input_variables, { x: 'a' });
      assert.equal(detail.rendered_prompt, 'One a');
      assert.equal(detail.response, 'ok a');
      assert.deepEqual(detail.scores, []);
      await assert.rejects(api.getExecution(randomUUID()), (err: unknown) => err instanceof RegistryError && err.status === 404 && err.code === 'execution_not_found');

      const stats = await api.stats('logged', { from: at(0), to: at(10), interval: 'hour' });
      assert.equal(stats.interval, 'hour');
      assert.deepEqual(stats.versions.map((v) => [v.version, v.count, v.errors]), [[1, 1, 0], [2, 2, 1]]);
      assert.equal(stats.versions[1]!.latency_ms.p95, 500);
      assert.ok(stats.series.length >= 2);
      assert.deepEqual((await api.stats('logged', { environment: 'staging', from: at(0), to: at(10) })).versions.map((v) => v.version), [1]);
      const comparison = await api.compare('logged', 1, 2);
      assert.deepEqual([comparison.a.count, comparison.b.count], [1, 2]);
      assert.equal(comparison.metrics.find((m) => m.name === 'latency_ms')!.difference, 300);
    });

    it('defines metrics and scores an execution, refusing a value that does not fit', async () => {
      await api.createVersion('scored', { content: 'S {{x}}' });
      const [id] = (await api.logExecutions({ prompt: 'scored', version: 1, latency_ms: 5 })).ids;
      const accuracy = await api.createMetric({ name: 'accuracy', type: 'numeric', min: 0, max: 1, description: 'graded' });
      await api.createMetric({ name: 'tone', type: 'categorical', categories: ['warm', 'cold'] });
      assert.equal(accuracy.type, 'numeric');
      assert.deepEqual((await api.listMetrics()).items.map((m) => m.name).sort(), ['accuracy', 'tone']);
      const score = await api.addScore(id!, { metric: 'accuracy', value: 0.75, source: 'human', comment: 'close' });
      assert.deepEqual([score.metric, score.value, score.source, score.comment], ['accuracy', 0.75, 'human', 'close']);
      await api.addScore(id!, { metric: 'tone', value: 'warm', source: 'human' });
      await assert.rejects(api.addScore(id!, { metric: 'accuracy', value: 3, source: 'human' }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.status, 400);
        assert.equal(err.code, 'invalid_score');
        assert.match(err.message, /accuracy/);
        return true;
      });
      const scores = (await api.getExecution(id!)).scores;
      assert.deepEqual(scores.map((s) => [s.metric, s.value]).sort(), [['accuracy', 0.75], ['tone', 'warm']]);
      assert.equal((await api.stats('scored')).versions[0]!.metrics.accuracy!.mean, 0.75);
    });
  });
}
