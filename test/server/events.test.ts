import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { run } from '../support/process.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { listen } from '../support/sse.js';
import { eventually } from '../support/wait.js';

for (const dialect of DIALECTS) {
  describe(`GET /events and export (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect);
    });
    after(() => s.close());

    it('needs a read key', async () => {
      const anonymous = await listen(`${s.url}/events`, null);
      assert.equal(anonymous.res.status, 401);
      assert.equal(((await anonymous.res.json()) as { error: { code: string } }).error.code, 'unauthorized');
    });

    it('streams new versions, deploys and rollbacks as they commit, filtered by prompt', async () => {
      const all = await listen(`${s.url}/events`, ADMIN_KEY);
      const onlyB = await listen(`${s.url}/events?prompt=b`, ADMIN_KEY);
      assert.equal(all.res.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      await s.admin.post('/prompts/a/versions', { content: '1' });
      await s.admin.post('/prompts/a/versions', { content: '2' });
      await s.admin.post('/prompts/a/deployments', { version: 1, environment: 'staging' });
      await s.admin.post('/prompts/a/deployments', { version: 2, environment: 'staging' });
      await s.admin.post('/prompts/a/rollback', { environment: 'staging' });
      await s.admin.post('/prompts/b/versions', { content: 'b' });
      await s.admin.post('/keys', { name: 'k', scopes: ['read'] });
      await s.admin.delete('/keys/k');
      await eventually(() => all.events.length >= 6, 'six events');
      assert.deepEqual(
        all.events.map((e) => e.event),
        ['version.created', 'version.created', 'deployment.created', 'deployment.created', 'deployment.rolled_back', 'version.created'],
      );
      const rollback = all.events[4]!.data;
      assert.equal(rollback.prompt, 'a');
      assert.equal(rollback.environment, 'staging');
      assert.equal(rollback.version, 1);
      await eventually(() => onlyB.events.length >= 1, 'the filtered stream gets b');
      assert.deepEqual(onlyB.events.map((e) => e.data.prompt), ['b']);
      all.close();
      onlyB.close();
    });

    it('ends open streams when the server shuts down', async () => {
      const other = await startTestServer(dialect);
      const stream = await listen(`${other.url}/events`, ADMIN_KEY);
      await other.close();
      await stream.done;
    });

    it('exports what is live in an environment, over HTTP and from the CLI', async () => {
      await s.admin.post('/prompts/a/deployments', { version: 2, environment: 'production' });
      const http = await s.admin.get('/export?environment=production');
      assert.equal(http.body.format, 'prompt-registry-bundle/v1');
      assert.deepEqual(Object.keys(http.body.prompts), ['a']);
      assert.equal(http.body.prompts.a.version_number, 2);
      assert.equal((await s.admin.get('/export?environment=qa')).status, 400);

      const out = join(tmpdir(), `export-${process.pid}-${dialect}.json`);
      const cli = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'export', '--environment', 'staging', '--out', out, '--db', s.database.url]);
      assert.equal(cli.code, 0, cli.output);
      const bundle = JSON.parse(readFileSync(out, 'utf8'));
      assert.equal(bundle.environment, 'staging');
      assert.equal(bundle.prompts.a.version_number, 1);
      assert.equal(bundle.prompts.a.content, '1');
    });
  });
}
