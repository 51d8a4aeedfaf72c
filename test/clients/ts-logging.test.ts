import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PromptRegistryClient } from '../../client/index.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { freePort, killGroup, start, waitForHealthy, type Spawned } from '../support/process.js';
import { ADMIN_KEY, api, startTestServer, TEST_SECRET, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

/** Every execution of a prompt, following the cursor. */
async function executions(base: string, prompt: string): Promise<Array<{ id: string; status: string }>> {
  const all: Array<{ id: string; status: string }> = [];
  let cursor: string | null = null;
  do {
    const r: any = await api(base).get(`/executions?prompt=${prompt}&limit=100${cursor ? `&cursor=${cursor}` : ''}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    all.push(...r.body.items);
    cursor = r.body.next_cursor;
  } while (cursor);
  return all;
}

for (const dialect of DIALECTS) {
  describe(`TypeScript client execution logging (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      await s.admin.post('/prompts/logged/versions', { content: 'Answer {{q}}' });
      await s.admin.post('/prompts/logged/deployments', { version: 1, environment: 'production' });
    });
    after(() => s.close());

    it('sends executions in batches, and execute() times a call and logs it, errors included', async () => {
      const c = new PromptRegistryClient({ url: s.url, apiKey: ADMIN_KEY, push: false, logging: { batchSize: 10, flushIntervalMs: 50 }, pricing: { 'gpt-4o': { inputPerMillion: 2, outputPerMillion: 8 } } });
      const prompt = await c.get('logged');
      for (let i = 0; i < 25; i++) c.logExecution({ promptVersionId: prompt.versionId!, environment: 'production', latencyMs: i, inputTokens: 10, outputTokens: 5 });
      const answer = await c.execute('logged', { q: 'why?' }, async ({ text }) => ({ text: `answer to ${text}`, usage: { input: 1000, output: 500 } }), {
        extract: (r) => ({ response: r.text, inputTokens: r.usage.input, outputTokens: r.usage.output }),
      });
      assert.equal(answer.text, 'answer to Answer why?');
      await assert.rejects(c.execute('logged', { q: 'fail' }, async () => Promise.reject(new Error('the model is down'))), /the model is down/);
      await c.close();
      assert.equal(c.loggingStats.sent, 27);
      const stored = await executions(s.url, 'logged');
      assert.equal(stored.length, 27);
      const withError = stored.filter((e) => e.status === 'error');
      assert.equal(withError.length, 1);
      const traced = stored.find((e: any) => e.input_tokens === 1000) as any;
      assert.ok(traced, 'the execute() call is logged with its tokens');
      const detail = (await s.admin.get(`/executions/${traced.id}`)).body;
      assert.equal(detail.response, 'answer to Answer why?');
      assert.equal(detail.rendered_prompt, 'Answer why?');
      assert.equal(detail.cost_usd, (1000 * 2 + 500 * 8) / 1_000_000);
    });

    it('drops only the rows the registry refuses from a batch', async () => {
      const errors: Error[] = [];
      const c = new PromptRegistryClient({ url: s.url, apiKey: ADMIN_KEY, push: false, logging: { batchSize: 5, flushIntervalMs: 20 }, onError: (e) => errors.push(e) });
      const prompt = await c.get('logged');
      const before = (await executions(s.url, 'logged')).length;
      for (let i = 0; i < 4; i++) c.logExecution({ promptVersionId: prompt.versionId!, latencyMs: 1 });
      c.logExecution({ promptVersionId: prompt.versionId!, latencyMs: -5 }); // refused: negative latency
      await c.close();
      assert.equal(c.loggingStats.rejected, 1);
      assert.equal(c.loggingStats.sent, 4);
      assert.equal((await executions(s.url, 'logged')).length, before + 4);
      assert.ok(errors.some((e) => /invalid/i.test(e.message) || /latency/.test(e.message)));
    });
  });

  describe(`TypeScript client logging across a registry restart (${dialect})`, () => {
    let db: TestDatabase;
    let proc: Spawned | undefined;
    let port: number;
    const serve = async () => {
      proc = start(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', db.url, '--no-log-requests'], { PROMPT_REGISTRY_ADMIN_KEY: ADMIN_KEY, PROMPT_REGISTRY_SECRET: TEST_SECRET });
      await waitForHealthy(`http://127.0.0.1:${port}/healthz`, proc);
    };
    before(async () => {
      db = await freshDatabase(dialect);
      port = await freePort();
      await serve();
      const a = api(`http://127.0.0.1:${port}`);
      await a.post('/prompts/restarted/versions', { content: 'x' });
      await a.post('/prompts/restarted/deployments', { version: 1, environment: 'production' });
    });
    after(async () => {
      if (proc) killGroup(proc);
      await db.drop();
    });

    it('delivers every execution logged while the registry is killed and restarted, once each', { timeout: 120_000 }, async () => {
      const base = `http://127.0.0.1:${port}`;
      const c = new PromptRegistryClient({ url: base, apiKey: ADMIN_KEY, push: false, logging: { batchSize: 20, flushIntervalMs: 20, maxBackoffMs: 300 } });
      const prompt = await c.get('restarted');
      const ids: string[] = [];
      const log = (n: number) => {
        for (let i = 0; i < n; i++) ids.push(c.logExecution({ promptVersionId: prompt.versionId!, latencyMs: ids.length }));
      };
      log(100);
      await new Promise((r) => setTimeout(r, 30));
      killGroup(proc!); // SIGKILL, mid-send
      await proc!.exited;
      log(100); // buffered while the registry is down
      await new Promise((r) => setTimeout(r, 300));
      await serve();
      log(100);
      await c.close(30_000);
      assert.equal(c.loggingStats.dropped, 0);
      assert.equal(c.loggingStats.buffered, 0);
      await eventually(async () => (await executions(base, 'restarted')).length >= 300, 'all 300 stored');
      const stored = await executions(base, 'restarted');
      assert.equal(stored.length, 300, 'each stored once');
      assert.deepEqual(new Set(stored.map((e) => e.id)), new Set(ids));
    });
  });
}
