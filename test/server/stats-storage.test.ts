import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { nearestRank } from '../../server/executions/percentiles.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

// Statistics read SQLite's hourly totals (prompt_execution_hours, kept by triggers) for whole
// hours and the rows for the part-hours at a window's ends; both dialects read latencies from the
// version-time index. These tests hold the answers to a computation from the rows themselves
// through retries, retention deletes and redaction, with windows cut mid-hour.

const HOUR = 3_600_000;
const round9 = (x: number) => Math.round(x * 1e9) / 1e9;
const hex = (n: number) => n.toString(16).padStart(12, '0');

interface Logged {
  id: string;
  version: number;
  executed_at: string;
  environment?: string;
  status: 'ok' | 'error';
  latency_ms: number | null;
  input_tokens: number | null;
  cost_usd: number | null;
  quality_score: number | null;
}

for (const dialect of DIALECTS) {
  describe(`statistics storage: hourly totals and the latency index (${dialect})`, () => {
    let s: TestServer;
    // Whole hours, so the windows below can cut them where they choose.
    const now = Math.floor(Date.now() / HOUR) * HOUR;
    const rows: Logged[] = Array.from({ length: 600 }, (_, i) => ({
      id: `00000000-0000-4000-8000-${hex(i + 1)}`,
      version: 1 + (i % 2),
      // Every 7 minutes 13 seconds back from now: many hours, each in several pieces.
      executed_at: new Date(now - 1 - i * 433_000).toISOString(),
      ...(i % 5 === 0 ? {} : { environment: i % 3 === 0 ? 'staging' : 'production' }),
      status: i % 9 === 0 ? 'error' : 'ok',
      latency_ms: i % 11 === 0 ? null : (i * 7_919) % 1_300,
      input_tokens: i % 13 === 0 ? null : i,
      cost_usd: i % 4 === 0 ? null : (i % 17) / 1_000,
      quality_score: i % 6 === 0 ? null : (i % 10) / 10,
    }));
    let alive = new Set(rows.map((r) => r.id));

    before(async () => {
      s = await startTestServer(dialect);
      for (let v = 1; v <= 2; v++) assert.equal((await s.admin.post('/prompts/hours/versions', { content: `v${v} {{q}}` })).status, 201);
      const body = rows.map(({ version, ...r }) => ({ ...r, prompt: 'hours', version, ...(r.status === 'error' ? { error: 'boom' } : {}) }));
      assert.equal((await s.admin.post('/executions', body.slice(0, 400))).status, 201);
      // A retry of rows already stored, with new ones: only the new ones count.
      const retry = await s.admin.post('/executions', body.slice(300));
      assert.equal(retry.status, 201);
      assert.equal(retry.body.duplicates, 100);
    });
    after(() => s.close());

    /** What the answer must be, from the rows still stored. */
    function expected(from: string, to: string, environment?: string) {
      const mine = rows.filter((r) => alive.has(r.id) && r.executed_at >= from && r.executed_at < to && (!environment || r.environment === environment));
      return [1, 2]
        .map((version) => {
          const of = mine.filter((r) => r.version === version);
          const sorted = Float64Array.from(of.flatMap((r) => (r.latency_ms === null ? [] : [r.latency_ms]))).sort();
          const sum = (pick: (r: Logged) => number | null) => of.reduce((n, r) => n + (pick(r) ?? 0), 0);
          return {
            version,
            count: of.length,
            errors: of.filter((r) => r.status === 'error').length,
            latency: [nearestRank(sorted, 0.5), nearestRank(sorted, 0.95), nearestRank(sorted, 0.99)],
            latencySum: sum((r) => r.latency_ms),
            inputTokens: sum((r) => r.input_tokens),
            cost: sum((r) => r.cost_usd),
            qualityN: of.filter((r) => r.quality_score !== null).length,
          };
        })
        .filter((v) => v.count > 0);
    }

    async function check(from: string, to: string, environment?: string): Promise<void> {
      const query = `/prompts/hours/stats?from=${from}&to=${to}${environment ? `&environment=${environment}` : ''}`;
      const { status, body } = await s.admin.get(query);
      assert.equal(status, 200, JSON.stringify(body));
      const want = expected(from, to, environment);
      assert.ok(want.length > 0, `the window ${query} holds executions`);
      assert.deepEqual(
        body.versions.map((v: any) => v.version),
        want.map((v) => v.version),
      );
      body.versions.forEach((v: any, i: number) => {
        const w = want[i]!;
        assert.equal(v.count, w.count, `${query}: count of version ${w.version}`);
        assert.equal(v.errors, w.errors, `${query}: errors`);
        assert.deepEqual([v.latency_ms.p50, v.latency_ms.p95, v.latency_ms.p99], w.latency, `${query}: percentiles`);
        const latencyN = rows.filter((r) => alive.has(r.id) && r.version === w.version && r.executed_at >= from && r.executed_at < to && (!environment || r.environment === environment) && r.latency_ms !== null).length;
        assert.equal(v.latency_ms.mean, latencyN ? Number((w.latencySum / latencyN).toPrecision(12)) : null, `${query}: latency mean`);
        assert.equal(v.input_tokens.sum, w.inputTokens, `${query}: input tokens`);
        assert.ok(Math.abs(v.cost_usd.sum - w.cost) < 1e-9, `${query}: cost ${v.cost_usd.sum} vs ${w.cost}`);
      });
      // Each point of the series counts what its bucket holds (daily series read whole days from the
      // daily totals, the hours around them from the hourly ones).
      const step = body.interval === 'day' ? 24 * HOUR : HOUR;
      for (const p of body.series) {
        const [start, end] = [p.start < from ? from : p.start, new Date(Math.min(Date.parse(p.start) + step, Date.parse(to))).toISOString()];
        const inBucket = rows.filter(
          (r) => alive.has(r.id) && r.version === p.version && r.executed_at >= start && r.executed_at < end && (!environment || r.environment === environment),
        );
        assert.equal(p.count, inBucket.length, `${query}: the ${body.interval} from ${p.start} of version ${p.version}`);
        assert.equal(p.errors, inBucket.filter((r) => r.status === 'error').length, `${query}: errors from ${p.start}`);
      }
      // The series adds up to the versions.
      for (const w of want) {
        const points = body.series.filter((p: any) => p.version === w.version);
        assert.equal(
          points.reduce((n: number, p: any) => n + p.count, 0),
          w.count,
          `${query}: the series of version ${w.version} counts every execution once`,
        );
      }
    }

    const windows = () => [
      // Whole hours only; cut mid-hour at both ends; within one hour; by day; by environment.
      [new Date(now - 24 * HOUR).toISOString(), new Date(now).toISOString()],
      [new Date(now - 30 * HOUR + 1_234).toISOString(), new Date(now - 2 * HOUR - 98_765).toISOString()],
      [new Date(now - 5 * HOUR + 60_000).toISOString(), new Date(now - 5 * HOUR + 2_400_000).toISOString()],
      [new Date(now - 72 * HOUR - 777).toISOString(), new Date(now + 1).toISOString()],
    ];

    it('answers what the rows add up to, windows cut anywhere, retries counted once', async () => {
      for (const [from, to] of windows()) await check(from!, to!);
      await check(windows()[1]![0]!, windows()[1]![1]!, 'production');
      await check(windows()[3]![0]!, windows()[3]![1]!, 'staging');
    });

    it('still does after retention deletes some executions and redacts others', async () => {
      // Delete what is older than 2 days, except staging's, whose texts are redacted after 1.
      const policies = [
        { days: 2, action: 'delete' },
        { environment: 'staging', days: 1, action: 'redact' },
      ];
      assert.equal((await s.admin.raw('PUT', '/retention', JSON.stringify({ policies }))).status, 200);
      const run = await s.admin.post('/retention/run?dry_run=false');
      assert.equal(run.status, 200, JSON.stringify(run.body));
      assert.ok(run.body.deleted > 50 && run.body.redacted > 20, JSON.stringify(run.body));
      const stored = await s.running.db.all<{ id: string }>('SELECT id FROM prompt_executions');
      alive = new Set(stored.map((r) => String(r.id)));
      assert.equal(alive.size, rows.length - run.body.deleted);
      for (const [from, to] of windows()) await check(from!, to!);
      await check(windows()[3]![0]!, windows()[3]![1]!, 'staging');
    });

    it('keeps prompt_execution_days equal to the rows, day by day, and drops emptied days', async () => {
      const db = s.running.db;
      const key = (prompt: unknown, day: unknown, version: unknown, environment: unknown) => `${String(prompt)} ${String(day)} ${String(version)} ${String(environment)}`;
      const want = new Map<string, { n: number; errors: number; latency_n: number; latency_sum: number; input_sum: number; cost_n: number; cost_sum: number }>();
      const stored = await db.all<Record<string, unknown>>(
        'SELECT prompt_id, executed_at, prompt_version_id, environment, status, latency_ms, input_tokens, cost_usd FROM prompt_executions',
      );
      for (const r of stored) {
        const k = key(r.prompt_id, new Date(r.executed_at as string).toISOString().slice(0, 10), r.prompt_version_id, r.environment ?? '');
        const t = want.get(k) ?? { n: 0, errors: 0, latency_n: 0, latency_sum: 0, input_sum: 0, cost_n: 0, cost_sum: 0 };
        want.set(k, {
          n: t.n + 1,
          errors: t.errors + (r.status === 'error' ? 1 : 0),
          latency_n: t.latency_n + (r.latency_ms === null ? 0 : 1),
          latency_sum: t.latency_sum + Number(r.latency_ms ?? 0),
          input_sum: t.input_sum + Number(r.input_tokens ?? 0),
          cost_n: t.cost_n + (r.cost_usd === null ? 0 : 1),
          cost_sum: round9(t.cost_sum + Number(r.cost_usd ?? 0)),
        });
      }
      const days = await db.all<Record<string, unknown>>(
        'SELECT prompt_id, day, prompt_version_id, environment, n, errors, latency_n, latency_sum, input_sum, cost_n, cost_sum FROM prompt_execution_days',
      );
      const got = new Map(
        days.map((d) => [
          key(d.prompt_id, dialect === 'sqlite' ? d.day : new Date(d.day as string).toISOString().slice(0, 10), d.prompt_version_id, d.environment),
          {
            n: Number(d.n),
            errors: Number(d.errors),
            latency_n: Number(d.latency_n),
            latency_sum: Number(d.latency_sum),
            input_sum: Number(d.input_sum),
            cost_n: Number(d.cost_n),
            cost_sum: round9(Number(d.cost_sum)),
          },
        ]),
      );
      assert.ok(want.size > 3, 'the rows span several days');
      assert.deepEqual(got, want);
    });

    if (dialect === 'sqlite') {
      it('keeps prompt_execution_hours equal to the rows, hour by hour, and drops emptied hours', async () => {
        const db = s.running.db;
        const fromRows = await db.all(
          `SELECT prompt_id, substr(executed_at, 1, 13) AS hour, prompt_version_id, COALESCE(environment, '') AS environment, COUNT(*) AS n,
                  SUM(status = 'error') AS errors, COUNT(latency_ms) AS latency_n, TOTAL(latency_ms) AS latency_sum,
                  COUNT(input_tokens) AS input_n, COUNT(cost_usd) AS cost_n, ROUND(TOTAL(cost_usd), 9) AS cost_sum, COUNT(quality_score) AS quality_n
             FROM prompt_executions GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
        );
        const totals = await db.all(
          `SELECT prompt_id, hour, prompt_version_id, environment, n, errors, latency_n, CAST(latency_sum AS REAL) AS latency_sum,
                  input_n, cost_n, ROUND(cost_sum, 9) AS cost_sum, quality_n
             FROM prompt_execution_hours ORDER BY 1, 2, 3, 4`,
        );
        assert.ok(fromRows.length > 10);
        assert.deepEqual(totals, fromRows);
      });
    }
  });
}
