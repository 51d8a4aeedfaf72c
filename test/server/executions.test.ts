import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
const HOUR = 3_600_000;

for (const dialect of DIALECTS) {
  describe(`executions: ingestion, queries and statistics (${dialect})`, () => {
    let s: TestServer;
    let v1: string;
    let v2: string;
    before(async () => {
      s = await startTestServer(dialect);
      v1 = (await s.admin.post('/prompts/support/versions', { content: 'v1 {{q}}' })).body.version_id;
      v2 = (await s.admin.post('/prompts/support/versions', { content: 'v2 {{q}}' })).body.version_id;
      assert.equal((await s.admin.post('/prompts/other/versions', { content: 'other' })).status, 201);
    });
    after(() => s.close());

    const count = async (where = '1 = 1', params: unknown[] = []) =>
      Number((await s.running.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM prompt_executions WHERE ${where}`, params))!.n);

    it('stores one execution with every documented field, and answers it by id', async () => {
      const id = randomUUID();
      const executedAt = ago(HOUR);
      const r = await s.admin.post('/executions', {
        id,
        prompt_version_id: v1,
        executed_at: executedAt,
        input_variables: { q: 'Where is my order?', n: 2 },
        rendered_prompt: 'v1 Where is my order?',
        response: 'On its way.',
        input_tokens: 12,
        output_tokens: 5,
        latency_ms: 830,
        cost_usd: 0.00042,
        quality_score: 0.9,
        environment: 'production',
        metadata: { region: 'eu', trace: 'abc' },
      });
      assert.equal(r.status, 201);
      assert.deepEqual(r.body, { accepted: 1, inserted: 1, duplicates: 0, ids: [id] });

      const e = await s.admin.get(`/executions/${id}`);
      assert.equal(e.status, 200);
      assert.equal(e.body.prompt, 'support');
      assert.equal(e.body.version, 1);
      assert.equal(e.body.prompt_version_id, v1);
      assert.equal(e.body.executed_at, executedAt);
      assert.deepEqual(e.body.input_variables, { q: 'Where is my order?', n: 2 });
      assert.equal(e.body.rendered_prompt, 'v1 Where is my order?');
      assert.equal(e.body.response, 'On its way.');
      assert.equal(e.body.input_tokens, 12);
      assert.equal(e.body.output_tokens, 5);
      assert.equal(e.body.latency_ms, 830);
      assert.equal(e.body.cost_usd, 0.00042);
      assert.equal(e.body.quality_score, 0.9);
      assert.equal(e.body.environment, 'production');
      assert.equal(e.body.status, 'ok');
      assert.equal(e.body.error, null);
      assert.deepEqual(e.body.metadata, { region: 'eu', trace: 'abc' });
      assert.equal(e.body.redacted_at, null);
      assert.deepEqual(e.body.scores, []);
    });

    it('names versions by id, by prompt and number, and defaults executed_at to now and status from error', async () => {
      const before = Date.now();
      const r = await s.admin.post('/executions', [
        { prompt: 'support', version: 2, latency_ms: 1 },
        { prompt_version_id: v2.toUpperCase(), prompt: 'support', version: 2, error: 'rate limited' },
      ]);
      assert.equal(r.status, 201);
      assert.equal(r.body.inserted, 2);
      const [a, b] = await Promise.all(r.body.ids.map((id: string) => s.admin.get(`/executions/${id}`)));
      assert.equal(a.body.version, 2);
      assert.equal(b.body.prompt_version_id, v2, 'an id in upper case names the same version');
      assert.equal(b.body.status, 'error');
      assert.equal(b.body.error, 'rate limited');
      assert.ok(Date.parse(a.body.executed_at) >= before - 1000 && Date.parse(a.body.executed_at) <= Date.now() + 1000);
    });

    it('resolves prompt + environment to the version live there at executed_at, from the deployment history', async () => {
      // A prompt of its own, so the history is exactly what this test makes.
      for (const content of ['h1', 'h2', 'h3']) assert.equal((await s.admin.post('/prompts/history/versions', { content })).status, 201);
      const t1 = (await s.admin.post('/prompts/history/deployments', { version: 1, environment: 'staging' })).body.deployed_at as string;
      await sleep(30);
      const t2 = (await s.admin.post('/prompts/history/deployments', { version: 3, environment: 'staging' })).body.deployed_at as string;
      await sleep(30);
      const t3 = (await s.admin.post('/prompts/history/rollback', { environment: 'staging' })).body.deployed_at as string;
      assert.ok(t1 < t2 && t2 < t3);
      const between = (a: string, b: string) => new Date((Date.parse(a) + Date.parse(b)) / 2).toISOString();

      const r = await s.admin.post('/executions', [
        { prompt: 'history', environment: 'staging', executed_at: t1 },
        { prompt: 'history', environment: 'staging', executed_at: between(t1, t2) },
        { prompt: 'history', environment: 'staging', executed_at: t2 },
        { prompt: 'history', environment: 'staging', executed_at: between(t2, t3) },
        { prompt: 'history', environment: 'staging', executed_at: new Date(Date.parse(t3) + 5).toISOString() },
        { prompt: 'history', environment: 'staging' },
      ]);
      assert.equal(r.status, 201, JSON.stringify(r.body));
      const versions = await Promise.all(r.body.ids.map(async (id: string) => (await s.admin.get(`/executions/${id}`)).body.version));
      assert.deepEqual(versions, [1, 1, 3, 3, 1, 1], 'the rollback made version 1 live again');
      const env = (await s.admin.get(`/executions/${r.body.ids[0]}`)).body.environment;
      assert.equal(env, 'staging');

      const early = await s.admin.post('/executions', { prompt: 'history', environment: 'staging', executed_at: new Date(Date.parse(t1) - 1000).toISOString() });
      assert.equal(early.status, 400);
      assert.equal(early.body.error.code, 'invalid_executions');
      assert.match(early.body.error.rows[0].issues[0].message, /nothing of "history" was deployed to staging/);
      const never = await s.admin.post('/executions', { prompt: 'history', environment: 'dev' });
      assert.equal(never.status, 400);
    });

    it('stores a retried id once and still answers 2xx, within a batch and across requests', async () => {
      const before = await count();
      const id = randomUUID();
      const first = await s.admin.post('/executions', [
        { id, prompt_version_id: v1, latency_ms: 5 },
        { id, prompt_version_id: v1, latency_ms: 6 },
      ]);
      assert.equal(first.status, 201);
      assert.equal(first.body.inserted, 1);
      assert.equal(first.body.duplicates, 1);
      const retry = await s.admin.post('/executions', { id: id.toUpperCase(), prompt_version_id: v1, latency_ms: 5 });
      assert.equal(retry.status, 200);
      assert.deepEqual(retry.body, { accepted: 1, inserted: 0, duplicates: 1, ids: [id] });
      const mixed = await s.admin.post('/executions', [{ id, prompt_version_id: v1 }, { prompt_version_id: v1 }]);
      assert.equal(mixed.status, 201);
      assert.equal(mixed.body.inserted, 1);
      assert.equal(await count(), before + 2);
      assert.equal(await count('id = $1', [id]), 1);
    });

    it('refuses a batch with bad rows whole, naming each bad row by index with its reason', async () => {
      const before = await count();
      const r = await s.admin.post('/executions', [
        { prompt_version_id: v1, latency_ms: 1 },
        { prompt_version_id: v1, latency_ms: -4 },
        { prompt: 'support' },
        { prompt: 'support', version: 7 },
        { prompt: 'ghost', version: 1 },
        { prompt_version_id: randomUUID() },
        { prompt_version_id: v1, environment: 'qa' },
        { prompt_version_id: v1, tokens: 3 },
        { prompt_version_id: v1, prompt: 'other' },
        { prompt_version_id: v1, status: 'ok', error: 'but it failed' },
        { prompt_version_id: v1, executed_at: new Date(Date.now() + 3 * 86_400_000).toISOString() },
        { prompt_version_id: v1 },
      ]);
      assert.equal(r.status, 400);
      assert.equal(r.body.error.code, 'invalid_executions');
      assert.match(r.body.error.message, /10 of 12 executions are invalid; nothing was stored/);
      const byIndex = Object.fromEntries(r.body.error.rows.map((row: { index: number; issues: Array<{ path: string; message: string }> }) => [row.index, row.issues]));
      assert.deepEqual(Object.keys(byIndex).map(Number), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
      assert.equal(byIndex[1][0].path, 'latency_ms');
      assert.match(byIndex[2][0].message, /version, or environment/);
      assert.match(byIndex[3][0].message, /"support" has no version 7/);
      assert.match(byIndex[4][0].message, /no prompt named "ghost"/);
      assert.match(byIndex[5][0].message, /no version has the id/);
      assert.match(byIndex[6][0].message, /unknown environment "qa"/);
      assert.match(JSON.stringify(byIndex[7]), /tokens/);
      assert.match(byIndex[8][0].message, /belongs to "support", not "other"/);
      assert.equal(byIndex[9][0].path, 'error');
      assert.equal(byIndex[10][0].path, 'executed_at');
      assert.ok(r.body.error.issues.some((i: { path: string }) => i.path === '[1].latency_ms'), 'flattened issues carry the index');
      assert.equal(await count(), before, 'nothing of the batch was stored');
    });

    it('lists executions newest first with filters and a cursor that walks every page once', async () => {
      await s.admin.post('/prompts/listed/versions', { content: 'a' });
      await s.admin.post('/prompts/listed/versions', { content: 'b' });
      const anHourAgo = ago(HOUR);
      const rows = Array.from({ length: 25 }, (_, i) => ({
        prompt: 'listed',
        version: (i % 2) + 1,
        // Five share one timestamp, so the cursor must break ties by id.
        executed_at: i < 5 ? anHourAgo : ago(HOUR * i),
        environment: i % 3 === 0 ? 'staging' : 'production',
        status: i % 4 === 0 ? ('error' as const) : ('ok' as const),
        quality_score: (i % 10) / 10,
        latency_ms: i,
      }));
      assert.equal((await s.admin.post('/executions', rows)).status, 201);

      const seen: string[] = [];
      let cursor: string | null = null;
      let last = '9999';
      do {
        const page: { status: number; body: any } = await s.admin.get(`/executions?prompt=listed&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
        assert.equal(page.status, 200);
        for (const e of page.body.items) {
          assert.ok(e.executed_at <= last, 'newest first');
          last = e.executed_at;
          assert.equal(e.prompt, 'listed');
          assert.ok(!('response' in e), 'lists leave out the large fields');
          seen.push(e.id);
        }
        cursor = page.body.next_cursor;
      } while (cursor);
      assert.equal(seen.length, 25);
      assert.equal(new Set(seen).size, 25, 'no item twice');

      const filtered = async (query: string) => (await s.admin.get(`/executions?prompt=listed&limit=100&${query}`)).body.items as any[];
      assert.equal((await filtered('version=2')).length, 12);
      assert.ok((await filtered('version=2')).every((e) => e.version === 2));
      assert.equal((await filtered('environment=staging')).length, 9);
      assert.equal((await filtered('status=error')).length, 7);
      assert.equal((await filtered('quality_min=0.5&quality_max=0.7')).length, rows.filter((r) => r.quality_score >= 0.5 && r.quality_score <= 0.7).length);
      const window = await filtered(`from=${encodeURIComponent(ago(HOUR * 10.5))}&to=${encodeURIComponent(ago(HOUR * 5.5))}`);
      assert.deepEqual(window.map((e) => e.latency_ms).sort((a, b) => a - b), [6, 7, 8, 9, 10]);

      for (const bad of ['version=1', 'prompt=listed&version=0', 'status=maybe', 'quality_min=high', 'from=yesterday', 'cursor=nope', 'limit=101', 'metric_min=1', 'environment=qa']) {
        const r = await s.admin.get(`/executions?${bad}`);
        assert.equal(r.status, 400, bad);
        assert.equal(typeof r.body.error.code, 'string');
      }
      assert.equal((await s.admin.get('/executions?prompt=ghost')).status, 404);
      assert.equal((await s.admin.get('/executions?prompt=listed&version=9')).status, 404);
      assert.equal((await s.admin.get('/executions?metric=nothing')).status, 404);
    });

    it('answers 404 for an unknown execution and 400 for a malformed id', async () => {
      const missing = await s.admin.get(`/executions/${randomUUID()}`);
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'execution_not_found');
      assert.equal((await s.admin.get('/executions/not-a-uuid')).status, 400);
    });

    it('computes per-version statistics with nearest-rank percentiles and a series', async () => {
      for (const content of ['s1', 's2', 's3']) await s.admin.post('/prompts/stats/versions', { content });
      const now = Date.now();
      const day = (d: number, i: number) => new Date(now - d * 86_400_000 - i * 1000).toISOString();
      // Version 1: latencies 1..100 over two days; every tenth an error; costs and quality.
      const v1rows = Array.from({ length: 100 }, (_, i) => ({
        prompt: 'stats',
        version: 1,
        executed_at: day(i < 60 ? 1 : 2, i),
        latency_ms: 100 - i,
        input_tokens: 10,
        output_tokens: i % 2 === 0 ? 4 : null,
        cost_usd: 0.1,
        quality_score: i < 50 ? 1 : 0,
        ...(i % 10 === 0 ? { status: 'error' as const } : {}),
        environment: i < 20 ? 'staging' : 'production',
      }));
      // Version 2: ten latencies in shuffled order, one execution without a latency.
      const v2rows = [5, 1, 9, 3, 7, 2, 8, 4, 6, 10, null].map((latency, i) => ({ prompt: 'stats', version: 2, executed_at: day(1, i), latency_ms: latency }));
      // Outside the window: older than 7 days, and version 3 in the future of the window's end.
      const outside = [{ prompt: 'stats', version: 1, executed_at: day(9, 0), latency_ms: 100_000 }];
      assert.equal((await s.admin.post('/executions', [...v1rows, ...v2rows, ...outside])).status, 201);

      const r = await s.admin.get('/prompts/stats/stats');
      assert.equal(r.status, 200);
      assert.equal(r.body.prompt, 'stats');
      assert.equal(r.body.interval, 'day');
      assert.equal(Date.parse(r.body.to) - Date.parse(r.body.from), 7 * 86_400_000, 'the last 7 days by default');
      assert.deepEqual(r.body.versions.map((v: { version: number }) => v.version), [1, 2]);
      const [a, b] = r.body.versions;
      assert.equal(a.count, 100);
      assert.equal(a.errors, 10);
      assert.equal(a.error_rate, 0.1);
      assert.deepEqual(a.latency_ms, { p50: 50, p95: 95, p99: 99, mean: 50.5 });
      assert.deepEqual(a.input_tokens, { mean: 10, sum: 1000 });
      assert.deepEqual(a.output_tokens, { mean: 4, sum: 200 });
      assert.deepEqual(a.cost_usd, { sum: 10, mean: 0.1 });
      assert.deepEqual(a.quality_score, { mean: 0.5 });
      assert.deepEqual(a.metrics, {});
      assert.equal(b.count, 11);
      assert.deepEqual(b.latency_ms, { p50: 5, p95: 10, p99: 10, mean: 5.5 });
      assert.deepEqual(b.cost_usd, { sum: 0, mean: null });
      assert.deepEqual(b.quality_score, { mean: null });

      const series = r.body.series as Array<{ start: string; version: number; count: number; latency_ms: { p95: number } }>;
      assert.ok(series.every((p) => /T00:00:00\.000Z$/.test(p.start)), 'daily buckets start at UTC midnight');
      assert.equal(series.filter((p) => p.version === 1).reduce((n, p) => n + p.count, 0), 100);
      assert.equal(series.filter((p) => p.version === 2).reduce((n, p) => n + p.count, 0), 11);
      const sorted = [...series].sort((x, y) => (x.start < y.start ? -1 : x.start > y.start ? 1 : x.version - y.version));
      assert.deepEqual(series, sorted, 'the series is in time order');

      const staging = await s.admin.get('/prompts/stats/stats?environment=staging');
      assert.equal(staging.body.environment, 'staging');
      assert.deepEqual(staging.body.versions.map((v: { version: number; count: number }) => [v.version, v.count]), [[1, 20]]);
      // n = 20: p95 is the 19th value, p99 the 20th.
      assert.deepEqual(staging.body.versions[0].latency_ms, { p50: 90, p95: 99, p99: 100, mean: 90.5 });

      const wide = await s.admin.get(`/prompts/stats/stats?from=${encodeURIComponent(day(10, 0))}&interval=day`);
      assert.equal(wide.body.versions[0].count, 101);
      assert.equal(wide.body.versions[0].latency_ms.p99, 100);
      assert.equal(wide.body.versions[0].latency_ms.p95, 96);

      const to = new Date(now + 1000);
      const hourly = await s.admin.get(`/prompts/stats/stats?to=${to.toISOString()}&from=${new Date(to.getTime() - 2 * 86_400_000).toISOString()}`);
      assert.equal(hourly.body.interval, 'hour');
      assert.ok(hourly.body.series.every((p: { start: string }) => /:00:00\.000Z$/.test(p.start)));

      for (const bad of ['interval=week', `from=${encodeURIComponent(ago(0))}&to=${encodeURIComponent(ago(HOUR))}`, `from=${encodeURIComponent(ago(400 * 86_400_000))}`, `from=${encodeURIComponent(ago(100 * 86_400_000))}&interval=hour`, 'environment=qa', 'to=0000-01-03T00:00:00Z']) {
        const e = await s.admin.get(`/prompts/stats/stats?${bad}`);
        assert.equal(e.status, 400, bad);
      }
      assert.equal((await s.admin.get('/prompts/ghost/stats')).status, 404);
    });

    it('needs executions:write (or write) to log and read to query', async () => {
      const reader = (await s.admin.post('/keys', { name: `reader-${dialect}`, scopes: ['read'] })).body.key as string;
      const writer = (await s.admin.post('/keys', { name: `app-${dialect}`, scopes: ['write'] })).body.key as string;
      const denied = await s.as(reader).post('/executions', { prompt_version_id: v1 });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.required_scope, 'executions:write');
      assert.match(denied.body.error.message, /"executions:write" \(or "write"\)/);
      assert.equal((await s.as(writer).post('/executions', { prompt_version_id: v1 })).status, 201);
      assert.equal((await s.as(reader).get('/executions?limit=1')).status, 200);
      assert.equal((await s.as(reader).get('/prompts/support/stats')).status, 200);
      assert.equal((await s.as(null).post('/executions', { prompt_version_id: v1 })).status, 401);
    });
  });
}
