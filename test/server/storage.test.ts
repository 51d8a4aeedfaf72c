import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../server/db/index.js';
import { loadMigrations, migrate } from '../../server/db/migrate.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';

for (const dialect of DIALECTS) {
  describe(`storage (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    let promptId: string;
    let v1: string;
    let v2: string;

    before(async () => {
      t = await freshDatabase(dialect);
      db = await openDatabase(t.url);
    });
    after(async () => {
      await db.close();
      await t.drop();
    });

    it('applies the migrations once, records them, and changes nothing when run again', async () => {
      const first = await migrate(db);
      assert.deepEqual(first.map((m) => m.version), loadMigrations(dialect).map((m) => m.version));
      assert.deepEqual(await migrate(db), []);
      const recorded = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(recorded.map((r) => Number(r.version)), first.map((m) => m.version));
    });

    it('has the documented tables and columns', async () => {
      const documented: Record<string, string[]> = {
        prompts: ['id', 'name', 'description', 'created_at', 'created_by', 'tags'],
        prompt_versions: ['id', 'prompt_id', 'version_number', 'content', 'content_hash', 'model', 'temperature', 'max_tokens', 'variables', 'metadata', 'created_at', 'created_by'],
        prompt_deployments: ['id', 'prompt_version_id', 'environment', 'deployed_at', 'deployed_by', 'is_active', 'rollback_of'],
        prompt_executions: ['id', 'prompt_version_id', 'executed_at', 'input_variables', 'rendered_prompt', 'response', 'input_tokens', 'output_tokens', 'latency_ms', 'cost_usd', 'quality_score'],
      };
      for (const [table, columns] of Object.entries(documented)) {
        const have =
          dialect === 'postgres'
            ? (await db.all<{ column_name: string }>('SELECT column_name FROM information_schema.columns WHERE table_name = $1', [table])).map((r) => r.column_name)
            : (await db.all<{ name: string }>(`SELECT name FROM pragma_table_info('${table}')`)).map((r) => r.name);
        for (const c of columns) assert.ok(have.includes(c), `${table}.${c}`);
      }
    });

    if (dialect === 'postgres') {
      it('uses the documented Postgres types', async () => {
        const rows = await db.all<{ table_name: string; column_name: string; data_type: string; column_default: string | null }>(
          `SELECT table_name, column_name, data_type, column_default FROM information_schema.columns
            WHERE table_name IN ('prompts', 'prompt_versions', 'prompt_deployments', 'prompt_executions')`,
        );
        const type = (t: string, c: string) => rows.find((r) => r.table_name === t && r.column_name === c);
        assert.equal(type('prompts', 'id')?.data_type, 'uuid');
        assert.match(type('prompts', 'id')?.column_default ?? '', /gen_random_uuid\(\)/);
        assert.equal(type('prompts', 'created_at')?.data_type, 'timestamp with time zone');
        assert.equal(type('prompts', 'tags')?.data_type, 'ARRAY');
        assert.equal(type('prompt_versions', 'variables')?.data_type, 'jsonb');
        assert.equal(type('prompt_versions', 'metadata')?.data_type, 'jsonb');
        assert.equal(type('prompt_versions', 'temperature')?.data_type, 'double precision');
        assert.equal(type('prompt_versions', 'content_hash')?.data_type, 'character varying');
        assert.equal(type('prompt_deployments', 'is_active')?.data_type, 'boolean');
        assert.equal(type('prompt_executions', 'input_variables')?.data_type, 'jsonb');
        assert.equal(type('prompt_executions', 'cost_usd')?.data_type, 'double precision');
      });
    }

    it('keeps prompt names unique', async () => {
      const row = await db.transaction((tx) =>
        tx.get<{ id: string }>('INSERT INTO prompts (name, created_by) VALUES ($1, $2) RETURNING id', ['unique-name', 'test']),
      );
      promptId = row!.id;
      assert.match(promptId, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/, 'a v4 UUID by default');
      await assert.rejects(db.transaction((tx) => tx.run('INSERT INTO prompts (name, created_by) VALUES ($1, $2)', ['unique-name', 'test'])));
    });

    it('allows one active deployment per (prompt, environment), enforced by the database', async () => {
      const insertVersion = (n: number) =>
        db.transaction((tx) =>
          tx.get<{ id: string }>(
            `INSERT INTO prompt_versions (prompt_id, version_number, content, content_hash, model, created_by)
             VALUES ($1, $2, $3, $4, 'm', 'test') RETURNING id`,
            [promptId, n, `c${n}`, 'a'.repeat(64)],
          ),
        );
      v1 = (await insertVersion(1))!.id;
      v2 = (await insertVersion(2))!.id;
      const deploy = (version: string, seq: number, env = 'production') =>
        db.transaction((tx) =>
          tx.run(
            'INSERT INTO prompt_deployments (prompt_version_id, environment, deployed_by, is_active, prompt_id, seq) VALUES ($1, $2, $3, $4, $5, $6)',
            [version, env, 'test', true, promptId, seq],
          ),
        );
      await deploy(v1, 1);
      await assert.rejects(deploy(v2, 2), 'a second active deployment in production');
      await deploy(v2, 3, 'staging');
      await assert.rejects(db.transaction((tx) => tx.run('INSERT INTO prompt_versions (prompt_id, version_number, content, content_hash, model, created_by) VALUES ($1, 1, $2, $3, $4, $5)', [promptId, 'dup', 'b'.repeat(64), 'm', 't'])), 'version numbers are unique per prompt');
    });

    it('refuses a deployment whose version belongs to another prompt', async () => {
      const other = await db.transaction((tx) => tx.get<{ id: string }>('INSERT INTO prompts (name, created_by) VALUES ($1, $2) RETURNING id', ['other', 'test']));
      await assert.rejects(
        db.transaction((tx) =>
          tx.run('INSERT INTO prompt_deployments (prompt_version_id, environment, deployed_by, is_active, prompt_id, seq) VALUES ($1, $2, $3, $4, $5, $6)', [v1, 'dev', 't', true, other!.id, 1]),
        ),
      );
    });

    it('never rewrites history: versions and audit entries are immutable, deployments only deactivate', async () => {
      await assert.rejects(db.transaction((tx) => tx.run('UPDATE prompt_versions SET content = $1 WHERE id = $2', ['changed', v1])));
      await db.transaction((tx) => tx.run("INSERT INTO audit_log (actor, action) VALUES ('t', 'test')"));
      await assert.rejects(db.transaction((tx) => tx.run("UPDATE audit_log SET actor = 'x'")));
      await assert.rejects(db.transaction((tx) => tx.run('DELETE FROM audit_log')));
      await assert.rejects(db.transaction((tx) => tx.run("UPDATE prompt_deployments SET deployed_by = 'x'")));
      const changed = await db.transaction((tx) => tx.run('UPDATE prompt_deployments SET is_active = $1 WHERE environment = $2', [false, 'staging']));
      assert.equal(changed, 1);
      await assert.rejects(db.transaction((tx) => tx.run('UPDATE prompt_deployments SET is_active = $1 WHERE environment = $2', [true, 'staging'])), 'no reactivation');
    });

    it('rolls a failed transaction back whole', async () => {
      const before = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM prompts');
      await assert.rejects(
        db.transaction(async (tx) => {
          await tx.run('INSERT INTO prompts (name, created_by) VALUES ($1, $2)', ['half-written', 't']);
          throw new Error('boom');
        }),
      );
      const afterwards = await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM prompts');
      assert.equal(Number(afterwards!.n), Number(before!.n));
    });

    it('runs afterCommit callbacks only after a commit', async () => {
      const seen: string[] = [];
      await db.transaction(async (tx) => {
        tx.afterCommit('test', () => seen.push('committed'));
      });
      await assert.rejects(
        db.transaction(async (tx) => {
          tx.afterCommit('test', () => seen.push('rolled back'));
          throw new Error('no');
        }),
      );
      assert.deepEqual(seen, ['committed']);
    });

    it('reports a throwing afterCommit callback with what ran, runs the next, and still answers the result', async () => {
      const reported: Array<[string, string]> = [];
      db.onAfterCommitError((err, what) => reported.push([what, (err as Error).message]));
      const seen: string[] = [];
      const result = await db.transaction(async (tx) => {
        tx.afterCommit('first', () => {
          throw new Error('subscriber broke');
        });
        tx.afterCommit('second', () => seen.push('second'));
        return 'done';
      });
      assert.equal(result, 'done');
      assert.deepEqual(seen, ['second']);
      assert.deepEqual(reported, [['first', 'subscriber broke']]);
    });

    it('answers alike on both databases through the dialect fragments (db.sql): IN lists, list columns, case-insensitive LIKE, row locks', async () => {
      const probe = [
        ['sql-a', ['x', 'y']],
        ['sql-B', ['y']],
        ['sql-c', []],
      ] as const;
      const names = (rows: Array<{ name: string }>) => rows.map((r) => r.name);
      await db.transaction(async (tx) => {
        for (const [name, tags] of probe) await tx.run('INSERT INTO prompts (name, tags, created_by) VALUES ($1, $2, $3)', [name, tx.sql.list(tags), 'test']);
      });
      const ids = new Map((await db.all<{ id: string; name: string }>("SELECT id, name FROM prompts WHERE name LIKE 'sql-%'")).map((r) => [r.name, String(r.id)]));
      const mine = "name LIKE 'sql-%'";
      const select = (where: string, params: unknown[]) => db.all<{ name: string }>(`SELECT name FROM prompts WHERE ${mine} AND ${where} ORDER BY name`, params);

      assert.deepEqual(names(await select(db.sql.inList('id', 1, 'uuid'), [db.sql.list([ids.get('sql-a')!, ids.get('sql-c')!])])), ['sql-a', 'sql-c']);
      assert.deepEqual(names(await select(db.sql.inList('name', 1, 'text'), [db.sql.list(['sql-B', 'nothing'])])), ['sql-B']);
      assert.deepEqual(names(await select(db.sql.inList('name', 1, 'text'), [db.sql.list([])])), []);
      assert.deepEqual(names(await select(db.sql.has('prompts.tags', "'y'"), [])), ['sql-B', 'sql-a']);
      assert.deepEqual(names(await select(db.sql.hasAll('prompts.tags', 1), [db.sql.list(['y', 'x'])])), ['sql-a']);
      assert.deepEqual(names(await select(db.sql.hasAll('prompts.tags', 1), [db.sql.list([])])), ['sql-B', 'sql-a', 'sql-c']);
      assert.deepEqual(names(await select(db.sql.ilike('name', 1), ['%SQL-b%'])), ['sql-B']);
      assert.deepEqual(names(await select(db.sql.ilike('name', 1), ['sql\\_%'])), [], 'a backslash escapes the LIKE wildcard');

      const locked = await db.transaction(async (tx) => [
        await tx.get<{ name: string }>(`SELECT name FROM prompts WHERE name = $1${tx.sql.forUpdate}`, ['sql-a']),
        await tx.get<{ name: string }>(`SELECT name FROM prompts WHERE name = $1${tx.sql.forShare}`, ['sql-B']),
        await tx.get<{ name: string }>(`SELECT p.name FROM prompts p WHERE p.name = $1 LIMIT 1${tx.sql.forUpdateSkipLocked('p')}`, ['sql-c']),
      ]);
      assert.deepEqual(locked.map((r) => r?.name), ['sql-a', 'sql-B', 'sql-c']);
      assert.equal(await db.writeProblem(), undefined);
      await db.transaction((tx) => tx.run(`DELETE FROM prompts WHERE ${mine}`));
    });
  });
}
