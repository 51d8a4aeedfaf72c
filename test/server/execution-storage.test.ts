import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../server/db/index.js';
import { loadMigrations, migrate } from '../../server/db/migrate.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';

for (const dialect of DIALECTS) {
  describe(`execution storage: migration 0002 and its constraints (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    let promptA: string;
    let promptB: string;
    let versionA: string;
    let oldExecution: string;

    before(async () => {
      t = await freshDatabase(dialect);
      db = await openDatabase(t.url);
    });
    after(async () => {
      await db.close();
      await t.drop();
    });

    const exec = (sql: string, params: unknown[] = []) => db.transaction((tx) => tx.run(sql, params));
    const fails = (sql: string, params: unknown[] = [], why?: string) => assert.rejects(exec(sql, params), why);

    it('upgrades a database that already holds executions, giving each its prompt', async () => {
      // The schema as 0001 left it, with an execution logged the documented way.
      const [first] = loadMigrations(dialect);
      await db.transaction(async (tx) => {
        await tx.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT)');
        await tx.exec(first!.sql);
        await tx.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [1, first!.name]);
      });
      promptA = (await db.transaction((tx) => tx.get<{ id: string }>("INSERT INTO prompts (name, created_by) VALUES ('a', 't') RETURNING id")))!.id;
      promptB = (await db.transaction((tx) => tx.get<{ id: string }>("INSERT INTO prompts (name, created_by) VALUES ('b', 't') RETURNING id")))!.id;
      versionA = (await db.transaction((tx) =>
        tx.get<{ id: string }>("INSERT INTO prompt_versions (prompt_id, version_number, content, content_hash, model, created_by) VALUES ($1, 1, 'c', $2, 'm', 't') RETURNING id", [
          promptA,
          'a'.repeat(64),
        ]),
      ))!.id;
      oldExecution = (await db.transaction((tx) =>
        tx.get<{ id: string }>('INSERT INTO prompt_executions (prompt_version_id, latency_ms, response) VALUES ($1, $2, $3) RETURNING id', [versionA, 42, 'kept']),
      ))!.id;

      const applied = await migrate(db);
      assert.deepEqual(applied.map((m) => m.name), loadMigrations(dialect).slice(1).map((m) => m.name));
      const row = await db.get<Record<string, unknown>>('SELECT prompt_id, latency_ms, response, status, metadata FROM prompt_executions WHERE id = $1', [oldExecution]);
      assert.equal(row!.prompt_id, promptA);
      assert.equal(Number(row!.latency_ms), 42);
      assert.equal(row!.response, 'kept');
      assert.equal(row!.status, 'ok');
      const indexes =
        dialect === 'postgres'
          ? (await db.all<{ name: string }>("SELECT indexname AS name FROM pg_indexes WHERE tablename = 'prompt_executions'")).map((r) => r.name)
          : (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'prompt_executions'")).map((r) => r.name);
      for (const name of ['prompt_executions_version_time_idx', 'prompt_executions_time_idx', 'prompt_executions_stats_idx']) assert.ok(indexes.includes(name), name);
    });

    it('holds an execution to its version and prompt, and a status of ok or error', async () => {
      const insert = 'INSERT INTO prompt_executions (prompt_version_id, prompt_id, status) VALUES ($1, $2, $3)';
      await exec(insert, [versionA, promptA, 'error']);
      await fails(insert, [versionA, promptB, 'ok'], 'a prompt other than the version’s');
      await fails(insert, [versionA, null, 'ok'], 'a version without its prompt');
      await fails(insert, [versionA, promptA, 'maybe'], 'an unknown status');
      await fails("INSERT INTO prompt_executions (prompt_version_id, prompt_id, metadata) VALUES ($1, $2, 'not json')", [versionA, promptA]);
    });

    it('lets only retention change an execution: redaction, never the facts', async () => {
      await fails('UPDATE prompt_executions SET latency_ms = 1 WHERE id = $1', [oldExecution]);
      await fails("UPDATE prompt_executions SET status = 'error' WHERE id = $1", [oldExecution]);
      await fails('UPDATE prompt_executions SET prompt_id = $2 WHERE id = $1', [oldExecution, promptB]);
      const redacted = await exec('UPDATE prompt_executions SET input_variables = NULL, rendered_prompt = NULL, response = NULL, redacted_at = $2 WHERE id = $1', [
        oldExecution,
        new Date().toISOString(),
      ]);
      assert.equal(redacted, 1);
    });

    it('checks metric definitions and scores, and deletes scores with their execution', async () => {
      await fails("INSERT INTO metrics (name, type, min_value, created_by) VALUES ('b', 'boolean', 0, 't')", [], 'bounds on a boolean');
      await fails("INSERT INTO metrics (name, type, created_by) VALUES ('c', 'categorical', 't')", [], 'categories missing');
      await fails("INSERT INTO metrics (name, type, min_value, max_value, created_by) VALUES ('n', 'numeric', 2, 1, 't')", [], 'min above max');
      await fails("INSERT INTO metrics (name, type, created_by) VALUES ('x', 'percent', 't')", [], 'unknown type');
      const metric = (await db.transaction((tx) => tx.get<{ id: string }>("INSERT INTO metrics (name, type, created_by) VALUES ('ok', 'numeric', 't') RETURNING id")))!.id;
      const score = 'INSERT INTO execution_scores (execution_id, metric_id, value, category, source, scored_by) VALUES ($1, $2, $3, $4, $5, $6)';
      await exec(score, [oldExecution, metric, 1, null, 'human', 't']);
      await fails(score, [oldExecution, metric, 2, null, 'human', 't'], 'one score per execution, metric and source');
      await fails(score, [oldExecution, metric, null, null, 'llm', 't'], 'a value or a category');
      await fails(score, [oldExecution, metric, 1, 'a', 'llm', 't'], 'not both');
      await fails(score, [oldExecution, metric, 1, null, 'crowd', 't'], 'a known source');
      await exec('DELETE FROM prompt_executions WHERE id = $1', [oldExecution]);
      assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM execution_scores'))!.n), 0);
    });

    it('keeps one retention policy per scope, with a sane number of days', async () => {
      const policy = 'INSERT INTO retention_policies (prompt_id, environment, days, action, created_by) VALUES ($1, $2, $3, $4, $5)';
      await exec(policy, [null, null, 30, 'delete', 't']);
      await fails(policy, [null, null, 60, 'redact', 't'], 'a second default');
      await exec(policy, [promptA, null, 30, 'delete', 't']);
      await fails(policy, [promptA, null, 30, 'delete', 't'], 'a second policy for the prompt');
      await exec(policy, [promptA, 'production', 30, 'delete', 't']);
      await exec(policy, [null, 'production', 30, 'redact', 't']);
      await fails(policy, [null, 'production', 30, 'redact', 't'], 'a second policy for the environment');
      await fails(policy, [promptB, null, 0, 'delete', 't'], 'at least a day');
      await fails(policy, [promptB, null, 10, 'archive', 't'], 'delete or redact');
    });
  });
}
