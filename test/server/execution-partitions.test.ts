import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { nearestRank } from '../../server/executions/percentiles.js';
import { COPY_MIN_ROWS } from '../../server/executions/store/postgres.js';
import { RETENTION_JOB, RetentionService } from '../../server/retention/service.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

// Rollups (hourly totals), draft runs, replays across months, and on Postgres the month
// partitions: created ahead, dropped whole by retention.

const HOUR = 3_600_000;
const at = (iso: string, plusMs = 0) => new Date(Date.parse(iso) + plusMs).toISOString();

interface Logged {
  version: number;
  environment: 'staging' | 'production';
  executed_at: string;
  latency_ms: number | null;
  input_tokens: number;
  cost_usd: number;
  quality_score: number | null;
  status: 'ok' | 'error';
}

/** A day of executions of two versions in two environments, some at the part-hours a window cuts. */
function sample(): Logged[] {
  const rows: Logged[] = [];
  for (let i = 0; i < 60; i++) {
    rows.push({
      version: 1 + (i % 2),
      environment: i % 3 === 0 ? 'staging' : 'production',
      // From 09:50 on, every 23 minutes: the window below starts 10:00 and ends mid-hour.
      executed_at: at('2026-03-10T09:50:00.000Z', i * 23 * 60_000),
      latency_ms: i % 7 === 0 ? null : 100 + ((i * 37) % 400),
      input_tokens: 10 + i,
      cost_usd: 0.001 * (i + 1),
      quality_score: i % 5 === 0 ? null : (i % 10) / 10,
      status: i % 6 === 0 ? 'error' : 'ok',
    });
  }
  return rows;
}

const round = (x: number) => Number(x.toPrecision(12));
const mean = (xs: number[]) => (xs.length === 0 ? null : round(xs.reduce((a, b) => a + b, 0) / xs.length));

for (const dialect of DIALECTS) {
  describe(`execution rollups, drafts and replays (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
      for (const name of ['rolled', 'drafty', 'replayed']) {
        assert.equal((await s.admin.post(`/prompts/${name}/versions`, { content: `${name} one {{q}}` })).status, 201);
        assert.equal((await s.admin.post(`/prompts/${name}/versions`, { content: `${name} two {{q}}` })).status, 201);
      }
    });
    after(() => s.close());

    const one = async (sql: string, params: unknown[] = []) => Number((await s.running.db.get<{ n: unknown }>(sql, params))!.n ?? 0);

    it('answers statistics from the hourly totals as a hand computation over the rows does, and a replay counts nothing twice', async () => {
      const rows = sample();
      const body = rows.map((r) => ({ id: randomUUID(), prompt: 'rolled', ...r }));
      assert.equal((await s.admin.post('/executions', body)).status, 201);
      const totals = await one("SELECT SUM(n) AS n FROM prompt_execution_hours h JOIN prompts p ON p.id = h.prompt_id WHERE p.name = 'rolled'");
      assert.equal(totals, rows.length, 'the hourly totals hold every row once');

      const replay = await s.admin.post('/executions', body);
      assert.deepEqual([replay.status, replay.body.inserted, replay.body.duplicates], [200, 0, rows.length]);
      assert.equal(await one("SELECT SUM(n) AS n FROM prompt_execution_hours h JOIN prompts p ON p.id = h.prompt_id WHERE p.name = 'rolled'"), totals, 'a replay adds nothing');

      // Whole hours from 10:00 and a part-hour at the end (until 20:17).
      const [from, to] = ['2026-03-10T10:00:00.000Z', '2026-03-10T20:17:00.000Z'];
      const { status, body: stats } = await s.admin.get(`/prompts/rolled/stats?from=${from}&to=${to}&interval=hour`);
      assert.equal(status, 200);
      const inWindow = rows.filter((r) => r.executed_at >= from && r.executed_at < to);
      assert.ok(inWindow.length > 20 && inWindow.length < rows.length, 'the window cuts the sample');
      for (const version of [1, 2]) {
        const mine = inWindow.filter((r) => r.version === version);
        const latencies = Float64Array.from(mine.flatMap((r) => (r.latency_ms === null ? [] : [r.latency_ms]))).sort();
        const v = stats.versions.find((x: { version: number }) => x.version === version);
        const errors = mine.filter((r) => r.status === 'error').length;
        assert.deepEqual(
          {
            count: v.count,
            errors: v.errors,
            error_rate: v.error_rate,
            latency: v.latency_ms,
            input: v.input_tokens,
            cost: v.cost_usd.sum,
            quality: v.quality_score.mean,
          },
          {
            count: mine.length,
            errors,
            error_rate: round(errors / mine.length),
            latency: { p50: nearestRank(latencies, 0.5), p95: nearestRank(latencies, 0.95), p99: nearestRank(latencies, 0.99), mean: mean([...latencies]) },
            input: { mean: mean(mine.map((r) => r.input_tokens)), sum: mine.reduce((n, r) => n + r.input_tokens, 0) },
            cost: round(mine.reduce((n, r) => n + r.cost_usd, 0)),
            quality: mean(mine.flatMap((r) => (r.quality_score === null ? [] : [r.quality_score]))),
          },
          `version ${version}`,
        );
        // Each hour of the series counts that hour's rows.
        for (const point of stats.series.filter((p: { version: number }) => p.version === version)) {
          const hour = mine.filter((r) => r.executed_at >= point.start && r.executed_at < at(point.start, HOUR));
          assert.equal(point.count, hour.length, `version ${version} at ${point.start}`);
        }
      }
      // The same window in one environment.
      const staging = (await s.admin.get(`/prompts/rolled/stats?from=${from}&to=${to}&environment=staging`)).body;
      assert.equal(
        staging.versions.reduce((n: number, v: { count: number }) => n + v.count, 0),
        inWindow.filter((r) => r.environment === 'staging').length,
      );
    });

    it('leaves draft runs out of version statistics and comparisons, and lists them', async () => {
      const base = { prompt: 'drafty', version: 2, environment: 'production', latency_ms: 100, executed_at: '2026-04-02T12:00:00.000Z' };
      const drafts = [1, 2].map((i) => ({ ...base, latency_ms: 5_000 * i, metadata: { draft: true, draft_hash: `h${i}`, base_version: 2 } }));
      const kept = [1, 2, 3].map((i) => ({ ...base, latency_ms: 100 * i, metadata: { draft: false, source: 'app' } }));
      assert.equal((await s.admin.post('/executions', [...drafts, ...kept])).status, 201);
      const window = 'from=2026-04-01T00:00:00.000Z&to=2026-04-03T00:00:00.000Z';
      const stats = (await s.admin.get(`/prompts/drafty/stats?${window}`)).body;
      assert.deepEqual(
        stats.versions.map((v: { version: number; count: number; latency_ms: { p99: number } }) => [v.version, v.count, v.latency_ms.p99]),
        [[2, 3, 300]],
        'the drafts (5,000 and 10,000 ms) are not counted',
      );
      const compared = (await s.admin.get(`/prompts/drafty/compare?a=1&b=2&${window}`)).body;
      assert.equal(compared.b.count, 3);
      const listed = (await s.admin.get('/executions?prompt=drafty&limit=10')).body.items;
      assert.equal(listed.length, 5, 'drafts are still logged and listed');
    });

    it('stores an id once when its replay falls in the next month', async () => {
      const single = randomUUID();
      const first = await s.admin.post('/executions', { id: single, prompt: 'replayed', version: 1, executed_at: '2026-01-31T23:59:59.900Z' });
      assert.deepEqual([first.status, first.body.inserted], [201, 1]);
      const again = await s.admin.post('/executions', { id: single, prompt: 'replayed', version: 1, executed_at: '2026-02-01T00:00:00.100Z' });
      assert.deepEqual([again.status, again.body.inserted, again.body.duplicates], [200, 0, 1]);

      // A batch large enough for COPY on Postgres, replayed with every time moved into February.
      const ids = Array.from({ length: Math.max(COPY_MIN_ROWS, 60) }, () => randomUUID());
      const batch = (base: string) => ids.map((id, i) => ({ id, prompt: 'replayed', version: 2, executed_at: at(base, i) }));
      assert.equal((await s.admin.post('/executions', batch('2026-01-31T23:59:59.000Z'))).body.inserted, ids.length);
      const replay = await s.admin.post('/executions', batch('2026-02-01T00:00:00.500Z'));
      assert.deepEqual([replay.status, replay.body.inserted, replay.body.duplicates], [200, 0, ids.length]);
      assert.equal(await one("SELECT COUNT(*) AS n FROM prompt_executions e JOIN prompts p ON p.id = e.prompt_id WHERE p.name = 'replayed'"), ids.length + 1);

      // A batch naming one id twice stores it once.
      const twice = randomUUID();
      const dup = await s.admin.post('/executions', [
        { id: twice, prompt: 'replayed', version: 1, executed_at: '2026-02-28T23:59:59.999Z' },
        { id: twice, prompt: 'replayed', version: 1, executed_at: '2026-03-01T00:00:00.000Z' },
      ]);
      assert.deepEqual([dup.body.inserted, dup.body.duplicates], [1, 1]);
    });
  });
}

describe('month partitions and retention (postgres)', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer('postgres');
    for (const name of ['old', 'keep']) assert.equal((await s.admin.post(`/prompts/${name}/versions`, { content: `${name} {{q}}` })).status, 201);
    assert.equal((await s.admin.post('/metrics', { name: 'useful', type: 'boolean' })).status, 201);
  });
  after(() => s.close());

  const partitions = async (parent = 'prompt_executions') =>
    (
      await s.running.db.all<{ name: string }>(
        `SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass ORDER BY 1`,
        [parent],
      )
    ).map((r) => r.name);
  /** The months (YYYY_MM) with a partition of a table. */
  const months = async (parent: string) => (await partitions(parent)).map((name) => name.slice(-7));
  const monthName = (ms: number) => `prompt_executions_p${new Date(ms).toISOString().slice(0, 7).replace('-', '_')}`;
  const count = async (sql: string, params: unknown[] = []) => Number((await s.running.db.get<{ n: unknown }>(sql, params))!.n);

  it('has this month and the three ahead from the start', async () => {
    const now = new Date();
    const wanted = [0, 1, 2, 3].map((k) => monthName(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + k, 1)));
    await eventually(async () => {
      const names = await partitions();
      return wanted.every((n) => names.includes(n));
    }, `partitions ${wanted.join(', ')}`);
  });

  it('creates the month of an execution logged where none was', async () => {
    assert.ok(!(await partitions()).includes('prompt_executions_p2019_06'));
    assert.equal((await s.admin.post('/executions', { prompt: 'old', version: 1, executed_at: '2019-06-15T08:00:00.000Z' })).status, 201);
    assert.ok((await partitions()).includes('prompt_executions_p2019_06'));
    // The month's hourly and daily totals get their partitions with it (migration 0013).
    assert.ok((await months('prompt_execution_hours')).includes('2019_06'));
    assert.ok((await months('prompt_execution_days')).includes('2019_06'));
    assert.deepEqual(await months('prompt_execution_hours'), await months('prompt_executions'));
    assert.deepEqual(await months('prompt_execution_days'), await months('prompt_executions'));
  });

  it('drops the months past every cutoff whole, deletes the boundary month row by row, and keeps a month another policy keeps', async () => {
    // now = 2025-04-10: the default policy (30 days) cuts at 2025-03-11; "keep" is kept 365 days.
    const now = Date.parse('2025-04-10T00:00:00.000Z');
    const rows = (prompt: string, base: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ prompt, version: 1, environment: 'production', executed_at: at(base, i * HOUR), latency_ms: 10 + i }));
    const logged = await s.admin.post('/executions', [
      ...rows('old', '2025-01-05T00:00:00.000Z', 40), // January: dropped whole
      ...rows('old', '2025-02-03T00:00:00.000Z', 30), // February: "keep" has a row here, so row by row
      ...rows('keep', '2025-02-20T00:00:00.000Z', 1),
      ...rows('old', '2025-03-05T00:00:00.000Z', 12 * 24), // March: the boundary, cut on the 11th
    ]);
    assert.equal(logged.status, 201);
    const january = logged.body.ids[0];
    assert.equal((await s.admin.post(`/executions/${january}/scores`, { metric: 'useful', value: true, source: 'human' })).status, 201);
    assert.equal((await s.admin.raw('PUT', '/retention', JSON.stringify({ policies: [{ days: 30, action: 'delete' }, { prompt: 'keep', days: 365, action: 'delete' }] }))).status, 200);
    const before = await partitions();
    assert.ok(['2025_01', '2025_02', '2025_03'].every((m) => before.includes(`prompt_executions_p${m}`)));

    const retention = new RetentionService(s.running.db, { batchSize: 100, environments: ['dev', 'staging', 'production'], partitionDropMinRows: 1 });
    const result = await retention.run(RETENTION_JOB, { dryRun: false, now });
    const marchDeleted = 6 * 24; // 03-05 00:00 up to 03-11 00:00
    // The June 2019 row of the test before is past every cutoff too.
    assert.equal(result.deleted, 1 + 40 + 30 + marchDeleted);

    const after = await partitions();
    assert.ok(!after.includes('prompt_executions_p2025_01'), 'January is dropped');
    assert.ok(!after.includes('prompt_executions_p2019_06'), 'so is June 2019');
    assert.ok(after.includes('prompt_executions_p2025_02'), 'February holds a row "keep" keeps');
    assert.ok(after.includes('prompt_executions_p2025_03'), 'March is the boundary');
    assert.equal(await count("SELECT COUNT(*) AS n FROM prompt_executions WHERE executed_at < '2025-04-01'"), 1 + 12 * 24 - marchDeleted);
    assert.equal(await count('SELECT COUNT(*) AS n FROM execution_scores WHERE execution_id = $1', [january]), 0, 'the scores go with the month');
    assert.equal(await count("SELECT COALESCE(SUM(n), 0) AS n FROM prompt_execution_hours WHERE hour < '2025-04-01'"), 1 + 12 * 24 - marchDeleted, 'so do the hourly totals');
    assert.equal(await count("SELECT COALESCE(SUM(n), 0) AS n FROM prompt_execution_days WHERE day < '2025-04-01'"), 1 + 12 * 24 - marchDeleted, 'and the daily ones');
    for (const parent of ['prompt_execution_hours', 'prompt_execution_days']) {
      const left = await months(parent);
      assert.ok(!left.includes('2025_01') && !left.includes('2019_06'), `${parent}: the dropped months' totals are dropped whole with them`);
      assert.ok(left.includes('2025_02') && left.includes('2025_03'), `${parent}: the months kept keep their totals`);
    }

    const audit = (await s.admin.get('/audit?action=executions.deleted&limit=100')).body.items;
    const whole = audit.filter((a: { details: { partition?: { name: string } } }) => a.details.partition?.name === 'prompt_executions_p2025_01');
    assert.deepEqual(
      whole.map((a: { details: { count: number } }) => a.details.count),
      [40],
    );
    const stats = (await s.admin.get('/prompts/old/stats?from=2025-01-01T00:00:00.000Z&to=2025-04-01T00:00:00.000Z')).body;
    assert.equal(stats.versions[0].count, 12 * 24 - marchDeleted, 'statistics answer what is left');
  });
});
