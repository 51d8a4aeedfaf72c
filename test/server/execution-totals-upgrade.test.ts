import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../server/db/index.js';
import { migrate } from '../../server/db/migrate.js';
import { executionStore, type ExecutionRecord } from '../../server/executions/store/index.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';

// Migration 0013 on a database 0012 left with executions in it: the hourly totals move into
// month partitions (Postgres) unchanged, the daily totals are filled from them, and both are
// kept from then on.

const HOUR = 3_600_000;
const BASE = Date.parse('2026-01-30T20:00:00.000Z');

/** Rows every 47 minutes over a month boundary, two versions, two environments, a few without an environment. */
function records(promptId: string, versions: string[], n: number, offset: number): ExecutionRecord[] {
  return Array.from({ length: n }, (_, k) => {
    const i = k + offset;
    return {
      id: randomUUID(),
      prompt_version_id: versions[i % 2]!,
      prompt_id: promptId,
      executed_at: new Date(BASE + i * 47 * 60_000).toISOString(),
      environment: i % 7 === 0 ? null : i % 3 === 0 ? 'staging' : 'production',
      status: i % 5 === 0 ? 'error' : 'ok',
      error: i % 5 === 0 ? 'boom' : null,
      input_variables: null,
      rendered_prompt: null,
      response: null,
      input_tokens: 10 + i,
      output_tokens: i % 4 === 0 ? null : 20 + i,
      latency_ms: 100 + ((i * 37) % 900),
      cost_usd: 0.001 * (i % 9),
      quality_score: i % 3 === 0 ? null : (i % 10) / 10,
      metadata: i % 11 === 0 ? '{"draft":true}' : '{}',
    };
  });
}

const HOURS_SQL = {
  postgres: `SELECT prompt_id, hour, prompt_version_id, environment, draft, n, errors, latency_n, latency_sum, input_n, input_sum,
                    output_n, output_sum, cost_n, ROUND(cost_sum::numeric, 9) AS cost_sum, quality_n, ROUND(quality_sum::numeric, 9) AS quality_sum
               FROM prompt_execution_hours ORDER BY 1, 2, 3, 4, 5`,
  sqlite: `SELECT prompt_id, hour, prompt_version_id, environment, n, errors, latency_n, latency_sum, input_n, input_sum,
                  output_n, output_sum, cost_n, ROUND(cost_sum, 9) AS cost_sum, quality_n, ROUND(quality_sum, 9) AS quality_sum
             FROM prompt_execution_hours ORDER BY 1, 2, 3, 4`,
};

/** The hourly totals added up per UTC day, as the daily totals must hold them. */
const DAYS_FROM_HOURS = {
  postgres: `SELECT prompt_id, date_bin('1 day', hour, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS day, prompt_version_id, environment, draft,
                    SUM(n)::bigint AS n, SUM(errors)::bigint AS errors, SUM(latency_n)::bigint AS latency_n, SUM(latency_sum)::bigint AS latency_sum, SUM(input_n)::bigint AS input_n,
                    SUM(input_sum)::bigint AS input_sum, SUM(output_n)::bigint AS output_n, SUM(output_sum)::bigint AS output_sum, SUM(cost_n)::bigint AS cost_n,
                    ROUND(SUM(cost_sum)::numeric, 9) AS cost_sum, SUM(quality_n)::bigint AS quality_n, ROUND(SUM(quality_sum)::numeric, 9) AS quality_sum
               FROM prompt_execution_hours GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2, 3, 4, 5`,
  sqlite: `SELECT prompt_id, substr(hour, 1, 10) AS day, prompt_version_id, environment,
                  SUM(n) AS n, SUM(errors) AS errors, SUM(latency_n) AS latency_n, SUM(latency_sum) AS latency_sum, SUM(input_n) AS input_n,
                  SUM(input_sum) AS input_sum, SUM(output_n) AS output_n, SUM(output_sum) AS output_sum, SUM(cost_n) AS cost_n,
                  ROUND(SUM(cost_sum), 9) AS cost_sum, SUM(quality_n) AS quality_n, ROUND(SUM(quality_sum), 9) AS quality_sum
             FROM prompt_execution_hours GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4`,
};
const DAYS_SQL = {
  postgres: `SELECT prompt_id, day, prompt_version_id, environment, draft, n, errors, latency_n, latency_sum, input_n, input_sum,
                    output_n, output_sum, cost_n, ROUND(cost_sum::numeric, 9) AS cost_sum, quality_n, ROUND(quality_sum::numeric, 9) AS quality_sum
               FROM prompt_execution_days ORDER BY 1, 2, 3, 4, 5`,
  sqlite: `SELECT prompt_id, day, prompt_version_id, environment, n, errors, latency_n, latency_sum, input_n, input_sum,
                  output_n, output_sum, cost_n, ROUND(cost_sum, 9) AS cost_sum, quality_n, ROUND(quality_sum, 9) AS quality_sum
             FROM prompt_execution_days ORDER BY 1, 2, 3, 4`,
};

for (const dialect of DIALECTS) {
  describe(`migration 0013: execution totals by day and by month partition (${dialect})`, () => {
    let target: TestDatabase;
    let db: Database;
    const store = executionStore(dialect);
    const prompt = { id: randomUUID(), versions: [randomUUID(), randomUUID()] };

    before(async () => {
      target = await freshDatabase(dialect);
      db = await openDatabase(target.url);
      await migrate(db, { through: 12 });
      await db.transaction(async (tx) => {
        await tx.run('INSERT INTO prompts (id, name, created_by) VALUES ($1, $2, $3)', [prompt.id, 'upgraded', 'test']);
        for (const [n, id] of prompt.versions.entries()) {
          await tx.run(
            'INSERT INTO prompt_versions (id, prompt_id, version_number, content, content_hash, model, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
            [id, prompt.id, n + 1, `v${n + 1} {{q}}`, 'a'.repeat(64), 'gpt-4o', 'test'],
          );
        }
      });
    });
    after(async () => {
      await db.close();
      await target.drop();
    });

    it('keeps the hourly totals as they were and fills the daily totals from them', async () => {
      assert.equal(await store.insert(db, records(prompt.id, prompt.versions, 150, 0)), 150);
      const hoursBefore = await db.all(HOURS_SQL[dialect]);
      assert.ok(hoursBefore.length > 50, 'the rows span many hours');
      assert.deepEqual(
        (await migrate(db)).map((m) => m.version),
        [13],
      );
      assert.deepEqual(await db.all(HOURS_SQL[dialect]), hoursBefore, 'the hourly totals are unchanged');
      const days = await db.all(DAYS_SQL[dialect]);
      assert.ok(days.length > 4, 'over several days');
      assert.deepEqual(days, await db.all(DAYS_FROM_HOURS[dialect]));
      if (dialect === 'postgres') {
        const months = async (parent: string) =>
          (
            await db.all<{ name: string }>('SELECT c.relname AS name FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = $1::regclass', [parent])
          )
            .map((r) => r.name.slice(-7))
            .sort();
        const executionMonths = await months('prompt_executions');
        assert.ok(executionMonths.includes('2026_01') && executionMonths.includes('2026_02'));
        assert.deepEqual(await months('prompt_execution_hours'), executionMonths, 'a month of hourly totals per month of executions');
        assert.deepEqual(await months('prompt_execution_days'), executionMonths, 'and of daily totals');
      }
    });

    it('keeps both totals from then on, a replay counting nothing twice', async () => {
      const more = records(prompt.id, prompt.versions, 120, 150);
      assert.equal(await store.insert(db, more), 120);
      assert.equal(await store.insert(db, more), 0, 'a replay stores nothing');
      const days = await db.all(DAYS_SQL[dialect]);
      assert.deepEqual(days, await db.all(DAYS_FROM_HOURS[dialect]));
      // Postgres counts draft runs too (under draft = true); SQLite leaves them out.
      const counted = records(prompt.id, prompt.versions, 270, 0).filter((r) => dialect === 'postgres' || r.metadata === '{}').length;
      assert.equal(days.reduce((n, d) => n + Number((d as { n: unknown }).n), 0), counted);
      const hourCount = Number((await db.get<{ n: unknown }>('SELECT SUM(n) AS n FROM prompt_execution_hours'))!.n);
      assert.equal(hourCount, counted);
      // Deleting rows one by one takes them out of both.
      const cut = new Date(BASE + 30 * HOUR).toISOString();
      const deleted = await db.transaction((tx) => tx.run('DELETE FROM prompt_executions WHERE executed_at < $1::timestamptz', [cut]));
      assert.ok(deleted > 30);
      assert.deepEqual(await db.all(DAYS_SQL[dialect]), await db.all(DAYS_FROM_HOURS[dialect]));
      const left = Number((await db.get<{ n: unknown }>(`SELECT COUNT(*) AS n FROM prompt_executions WHERE ${dialect === 'postgres' ? 'TRUE' : 'NOT draft'}`))!.n);
      assert.equal(Number((await db.get<{ n: unknown }>('SELECT SUM(n) AS n FROM prompt_execution_days'))!.n), left);
    });
  });
}
