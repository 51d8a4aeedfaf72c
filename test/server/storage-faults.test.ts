// Faults of where the data lives, answered as what they are (not a bare 500), with nothing half-written.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

// 180,000 characters: far more than the two free pages the test leaves, within the 200,000-character template limit.
const BIG = `{{name}} ${'lorem ipsum '.repeat(15_000)}`;

// SQLite only: the local registry's store, and the one whose limits a test can set (a full Postgres disk can't be made here).
for (const dialect of DIALECTS.filter((d) => d === 'sqlite')) {
  describe(`storage faults (${dialect})`, () => {
    let database: TestDatabase;
    let registry: TestServer;
    before(async () => {
      database = await freshDatabase(dialect);
      registry = await startTestServer(dialect, {}, database);
    });
    after(async () => {
      await registry.close();
      await database.drop();
    });

    it('a full disk: 507 storage_full saying what to do, and no half-written prompt; the same write succeeds once there is room', async () => {
      // SQLite's page limit gives the same SQLITE_FULL as a full disk, on the connection that writes.
      const pages = Number((await registry.running.db.all<{ page_count: number }>('PRAGMA page_count'))[0]!.page_count);
      await registry.running.db.transaction((tx) => tx.exec(`PRAGMA max_page_count = ${pages + 2}`));
      const full = await registry.admin.post('/prompts/big/versions', { content: BIG });
      assert.equal(full.status, 507, JSON.stringify(full.body));
      assert.equal(full.body.error.code, 'storage_full');
      assert.match(full.body.error.message, /out of disk space, so nothing was written: free space where it is stored, then retry/);
      assert.equal((await registry.admin.get('/prompts/big')).status, 404);

      await registry.running.db.transaction((tx) => tx.exec('PRAGMA max_page_count = 1073741823'));
      const ok = await registry.admin.post('/prompts/big/versions', { content: BIG });
      assert.equal(ok.status, 201, JSON.stringify(ok.body));
      assert.equal(ok.body.version, 1);
    });

    it('a database that cannot be written: 503 storage_read_only, and reads still work', async () => {
      // The writing connection turned read-only, as a file made read-only under a running server is (the last test: it stays so).
      await registry.running.db.transaction((tx) => tx.exec('PRAGMA query_only = 1'));
      const refused = await registry.admin.post('/prompts/big/versions', { content: 'changed {{name}}' });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'storage_read_only');
      assert.match(refused.body.error.message, /cannot be written .*make it writable, then retry/);
      assert.equal((await registry.admin.get('/prompts/big')).body.latest_version, 1);
    });
});
}
