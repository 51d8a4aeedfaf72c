import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { run } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

const DAY = 86_400_000;
const daysAgo = (d: number) => new Date(Date.now() - d * DAY).toISOString();
const cli = (args: string[]) => run(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args]);

for (const dialect of DIALECTS) {
  describe(`retention policies and purging (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      for (const name of ['plain', 'keep', 'chatty', 'bulk']) assert.equal((await s.admin.post(`/prompts/${name}/versions`, { content: `${name} {{q}}` })).status, 201);
      assert.equal((await s.admin.post('/prompts/plain/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await s.admin.post('/metrics', { name: 'helpful', type: 'boolean' })).status, 201);
    });
    after(() => s.close());

    const one = async (sql: string, params: unknown[] = []) => Number((await s.running.db.get<{ n: number }>(sql, params))!.n);
    const tableCounts = async () => ({
      prompts: await one('SELECT COUNT(*) AS n FROM prompts'),
      versions: await one('SELECT COUNT(*) AS n FROM prompt_versions'),
      deployments: await one('SELECT COUNT(*) AS n FROM prompt_deployments'),
    });
    const putPolicies = (policies: unknown[], key?: string) => (key ? s.as(key) : s.admin).raw('PUT', '/retention', JSON.stringify({ policies }));

    it('starts with no policies and the server schedule', async () => {
      const r = await s.admin.get('/retention');
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { policies: [], updated_at: null, updated_by: null, interval_minutes: 60 });
    });

    it('refuses invalid policy sets with 4xx and keeps the current ones', async () => {
      const cases: Array<[unknown[], number, string]> = [
        [[{ days: 0, action: 'delete' }], 400, 'invalid_request'],
        [[{ days: 40_000, action: 'delete' }], 400, 'invalid_request'],
        [[{ days: 1.5, action: 'delete' }], 400, 'invalid_request'],
        [[{ days: 30, action: 'archive' }], 400, 'invalid_request'],
        [[{ days: 30, action: 'delete', keep: true }], 400, 'invalid_request'],
        [[{ days: 30, action: 'delete', environment: 'qa' }], 400, 'unknown_environment'],
        [[{ days: 30, action: 'delete', prompt: 'ghost' }], 404, 'prompt_not_found'],
        [[{ days: 30, action: 'delete' }, { days: 60, action: 'redact', prompt: null }], 400, 'duplicate_policy'],
      ];
      for (const [policies, status, code] of cases) {
        const r = await putPolicies(policies);
        assert.equal(r.status, status, JSON.stringify(policies));
        assert.equal(r.body.error.code, code, JSON.stringify(policies));
      }
      assert.equal((await s.admin.raw('PUT', '/retention', JSON.stringify({}))).status, 400);
      const reader = (await s.admin.post('/keys', { name: 'retention-reader', scopes: ['read', 'write'] })).body.key as string;
      assert.equal((await putPolicies([{ days: 1, action: 'delete' }], reader)).status, 403);
      assert.equal((await s.as(reader).post('/retention/run')).status, 403);
      assert.deepEqual((await s.admin.get('/retention')).body.policies, []);
    });

    it('replaces the policy set, shows the most specific first, and audits the change', async () => {
      const r = await putPolicies([
        { days: 30, action: 'delete' },
        { environment: 'staging', days: 7, action: 'redact' },
        { prompt: 'keep', days: 365, action: 'delete' },
        { prompt: 'chatty', environment: 'production', days: 1, action: 'redact' },
      ]);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.deepEqual(r.body.policies, [
        { prompt: 'chatty', environment: 'production', days: 1, action: 'redact' },
        { prompt: 'keep', environment: null, days: 365, action: 'delete' },
        { prompt: null, environment: 'staging', days: 7, action: 'redact' },
        { prompt: null, environment: null, days: 30, action: 'delete' },
      ]);
      assert.ok(r.body.updated_at && r.body.updated_by);
      const entries = (await s.admin.get('/audit?action=retention.updated')).body.items;
      assert.equal(entries.length, 1);
      assert.deepEqual(entries[0].details.before, []);
      assert.equal(entries[0].details.after.length, 4);
      // What GET answers can be PUT back as it is.
      assert.equal((await putPolicies((await s.admin.get('/retention')).body.policies)).status, 200);
    });

    const logged: Record<string, string> = {};
    it('applies the most specific policy to each execution: dry run counts, then deletes and redacts', async () => {
      const cases: Record<string, { prompt: string; environment?: string; age: number; expect: 'deleted' | 'redacted' | 'kept' }> = {
        plainOld: { prompt: 'plain', environment: 'production', age: 40, expect: 'deleted' },
        plainRecent: { prompt: 'plain', environment: 'production', age: 10, expect: 'kept' },
        plainNoEnvironment: { prompt: 'plain', age: 40, expect: 'deleted' },
        stagingRecent: { prompt: 'plain', environment: 'staging', age: 10, expect: 'redacted' },
        stagingOld: { prompt: 'plain', environment: 'staging', age: 40, expect: 'redacted' },
        stagingFresh: { prompt: 'plain', environment: 'staging', age: 3, expect: 'kept' },
        keepOld: { prompt: 'keep', environment: 'production', age: 40, expect: 'kept' },
        keepStaging: { prompt: 'keep', environment: 'staging', age: 40, expect: 'kept' },
        keepAncient: { prompt: 'keep', environment: 'production', age: 400, expect: 'deleted' },
        chattyRecent: { prompt: 'chatty', environment: 'production', age: 2, expect: 'redacted' },
        chattyOld: { prompt: 'chatty', environment: 'production', age: 40, expect: 'redacted' },
        chattyDev: { prompt: 'chatty', environment: 'dev', age: 40, expect: 'deleted' },
        chattyToday: { prompt: 'chatty', environment: 'production', age: 0.5, expect: 'kept' },
      };
      const names = Object.keys(cases);
      const r = await s.admin.post(
        '/executions',
        names.map((n) => {
          const c = cases[n]!;
          return {
            prompt: c.prompt,
            version: 1,
            ...(c.environment ? { environment: c.environment } : {}),
            executed_at: daysAgo(c.age),
            input_variables: { q: n },
            rendered_prompt: `${c.prompt} ${n}`,
            response: 'secret answer',
            latency_ms: 100,
            cost_usd: 0.01,
          };
        }),
      );
      assert.equal(r.status, 201);
      names.forEach((n, i) => (logged[n] = r.body.ids[i]));
      for (const n of ['plainOld', 'chattyOld']) {
        assert.equal((await s.admin.post(`/executions/${logged[n]}/scores`, { metric: 'helpful', value: true, source: 'human' })).status, 201);
      }
      const expected = (what: string) => names.filter((n) => cases[n]!.expect === what).length;
      const tables = await tableCounts();
      const executions = await one('SELECT COUNT(*) AS n FROM prompt_executions');

      const dry = await s.admin.post('/retention/run?dry_run=true');
      assert.equal(dry.status, 200);
      assert.equal(dry.body.dry_run, true);
      assert.equal(dry.body.deleted, expected('deleted'));
      assert.equal(dry.body.redacted, expected('redacted'));
      assert.equal(await one('SELECT COUNT(*) AS n FROM prompt_executions'), executions, 'a dry run changes nothing');
      assert.equal(await one("SELECT COUNT(*) AS n FROM audit_log WHERE action LIKE 'executions.%'"), 0, 'and records nothing');

      const done = await s.admin.post('/retention/run?dry_run=false');
      assert.equal(done.status, 200);
      assert.equal(done.body.dry_run, false);
      assert.deepEqual([done.body.deleted, done.body.redacted], [dry.body.deleted, dry.body.redacted]);
      const perPolicy = Object.fromEntries(done.body.policies.map((p: any) => [`${p.prompt}/${p.environment}`, p.count]));
      assert.deepEqual(perPolicy, { 'chatty/production': 2, 'keep/null': 1, 'null/staging': 2, 'null/null': 3 });

      for (const n of names) {
        const e = await s.admin.get(`/executions/${logged[n]}`);
        const c = cases[n]!;
        if (c.expect === 'deleted') {
          assert.equal(e.status, 404, `${n} is deleted`);
          continue;
        }
        assert.equal(e.status, 200, n);
        if (c.expect === 'redacted') {
          assert.equal(e.body.input_variables, null, `${n} is redacted`);
          assert.equal(e.body.rendered_prompt, null);
          assert.equal(e.body.response, null);
          assert.ok(e.body.redacted_at);
          assert.equal(e.body.latency_ms, 100, 'redaction keeps the numbers');
          assert.equal(e.body.cost_usd, 0.01);
        } else {
          assert.equal(e.body.response, 'secret answer', `${n} is kept`);
          assert.equal(e.body.redacted_at, null);
        }
      }
      assert.equal((await s.admin.get(`/executions/${logged.chattyOld}`)).body.scores.length, 1, 'a redacted execution keeps its scores');
      assert.equal(await one('SELECT COUNT(*) AS n FROM execution_scores WHERE execution_id = $1', [logged.plainOld]), 0, 'a deleted one takes them along');
      assert.deepEqual(await tableCounts(), tables, 'prompts, versions and deployments are never touched');
      assert.equal((await s.admin.get('/prompts/plain/latest')).status, 200);

      const audit = (await s.admin.get('/audit?limit=100')).body.items.filter((a: { action: string }) => a.action.startsWith('executions.'));
      const total = (action: string) => audit.filter((a: any) => a.action === action).reduce((n: number, a: any) => n + a.details.count, 0);
      assert.equal(total('executions.deleted'), expected('deleted'));
      assert.equal(total('executions.redacted'), expected('redacted'));
      assert.ok(audit.every((a: any) => a.details.run_id && a.details.cutoff && a.details.policy));

      const again = await s.admin.post('/retention/run');
      assert.deepEqual([again.body.deleted, again.body.redacted], [0, 0], 'nothing is left to do');
    });

    it('purges in batches of 1,000, one audit entry per batch, while prompts keep resolving', async () => {
      const rows = Array.from({ length: 2_500 }, (_, i) => ({ prompt: 'bulk', version: 1, executed_at: daysAgo(50 + i / 1000), latency_ms: i }));
      for (let i = 0; i < rows.length; i += 1_000) assert.equal((await s.admin.post('/executions', rows.slice(i, i + 1_000))).status, 201);
      const purge = s.admin.post('/retention/run');
      const resolves = await Promise.all(Array.from({ length: 20 }, () => s.admin.get('/prompts/plain/latest')));
      const done = await purge;
      assert.ok(resolves.every((r) => r.status === 200));
      assert.equal(done.body.deleted, 2_500);
      assert.equal(await one('SELECT COUNT(*) AS n FROM prompt_executions WHERE prompt_id = (SELECT id FROM prompts WHERE name = $1)', ['bulk']), 0);
      const batches = (await s.admin.get('/audit?action=executions.deleted&limit=100')).body.items.filter((a: any) => a.prompt === null && a.details.count >= 500);
      assert.deepEqual(batches.map((a: any) => a.details.count).sort(), [1_000, 1_000, 500]);
      assert.equal(new Set(batches.map((a: any) => a.details.run_id)).size, 1, 'one run');
    });

    it('purges from the CLI too: `prompt-registry purge [--dry-run]`', async () => {
      const r = await s.admin.post('/executions', [
        { prompt: 'plain', environment: 'production', version: 1, executed_at: daysAgo(45) },
        { prompt: 'plain', environment: 'staging', version: 1, executed_at: daysAgo(45), response: 'x' },
      ]);
      assert.equal(r.status, 201);
      const dry = await cli(['purge', '--dry-run', '--json', '--db', s.database.url]);
      assert.equal(dry.code, 0, dry.output);
      const planned = JSON.parse(dry.output.trim().split('\n').pop()!);
      assert.deepEqual([planned.dry_run, planned.deleted, planned.redacted], [true, 1, 1]);
      assert.equal((await s.admin.get(`/executions/${r.body.ids[0]}`)).status, 200);

      const real = await cli(['purge', '--db', s.database.url]);
      assert.equal(real.code, 0, real.output);
      assert.match(real.output, /deleted 1, redacted 1/);
      assert.equal((await s.admin.get(`/executions/${r.body.ids[0]}`)).status, 404);
      assert.equal((await s.admin.get(`/executions/${r.body.ids[1]}`)).body.response, null);
      const entries = (await s.admin.get('/audit?action=executions.deleted')).body.items;
      assert.match(entries[0].actor, /^cli:/);
    });
  });

  describe(`retention on a schedule (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      // 0.002 minutes: the job runs every 120 ms.
      s = await startTestServer(dialect, { retentionIntervalMinutes: 0.002 });
      assert.equal((await s.admin.post('/prompts/timed/versions', { content: 'x' })).status, 201);
    });
    after(() => s.close());

    it('applies the policies on its own interval, as system:retention', async () => {
      assert.equal((await s.admin.get('/retention')).body.interval_minutes, 0.002);
      assert.equal((await s.admin.raw('PUT', '/retention', JSON.stringify({ policies: [{ days: 1, action: 'delete' }] }))).status, 200);
      const r = await s.admin.post('/executions', [
        { prompt: 'timed', version: 1, executed_at: daysAgo(3) },
        { prompt: 'timed', version: 1, executed_at: daysAgo(0) },
      ]);
      assert.equal(r.status, 201);
      let status = 200;
      for (let i = 0; i < 200 && status === 200; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        status = (await s.admin.get(`/executions/${r.body.ids[0]}`)).status;
      }
      assert.equal(status, 404, 'the old execution was purged without being asked');
      assert.equal((await s.admin.get(`/executions/${r.body.ids[1]}`)).status, 200, 'the recent one stays');
      const entries = (await s.admin.get('/audit?action=executions.deleted')).body.items;
      assert.equal(entries[0].actor, 'system:retention');
    });
  });
}
