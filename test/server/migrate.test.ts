import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../server/db/index.js';
import { loadMigrations, migrate, NewerSchemaError } from '../../server/db/migrate.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { run } from '../support/process.js';

const CLI = ['--import', 'tsx', 'server/cli.ts'];

for (const dialect of DIALECTS) {
  describe(`migrations on a database from a newer Prompt Registry (${dialect})`, () => {
    let t: TestDatabase;
    let db: Database;
    const known = Math.max(...loadMigrations(dialect).map((m) => m.version));
    const future = known + 7;

    before(async () => {
      t = await freshDatabase(dialect);
      db = await openDatabase(t.url);
      await migrate(db);
      // What a newer server leaves behind: its own migration recorded, and a table this one has never heard of, with data.
      await db.transaction(async (tx) => {
        await tx.exec('CREATE TABLE future_things (id INTEGER PRIMARY KEY)');
        await tx.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [future, 'from_the_future']);
        await tx.run('INSERT INTO future_things (id) VALUES ($1)', [42]);
      });
    });
    after(async () => {
      await db.close();
      await t.drop();
    });

    it('refuses to migrate, naming both schema versions, and changes nothing', async () => {
      const before = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      await assert.rejects(migrate(db), (err: unknown) => {
        assert.ok(err instanceof NewerSchemaError, String(err));
        assert.equal(err.databaseVersion, future);
        assert.equal(err.knownVersion, known);
        assert.match(err.message, new RegExp(`newer version of Prompt Registry: it has schema version ${future}, and this server knows up to ${known}`));
        assert.match(err.message, /nothing was changed/);
        return true;
      });
      const after = await db.all<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version');
      assert.deepEqual(after.map((r) => Number(r.version)), before.map((r) => Number(r.version)));
      assert.deepEqual((await db.all<{ id: number }>('SELECT id FROM future_things')).map((r) => Number(r.id)), [42]);
    });

    it('`serve` exits with the message instead of starting', async () => {
      const { code, output } = await run(process.execPath, [...CLI, 'serve', '--port', '0', '--db', t.url], { PROMPT_REGISTRY_ADMIN_KEY: '' });
      assert.equal(code, 1, output);
      assert.match(output, new RegExp(`prompt-registry: the database was written by a newer version of Prompt Registry: it has schema version ${future}, and this server knows up to ${known}`));
      assert.doesNotMatch(output, /listening/);
      assert.deepEqual((await db.all<{ id: number }>('SELECT id FROM future_things')).map((r) => Number(r.id)), [42]);
    });
  });
}
