import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DEFAULT_APP_OPTIONS } from '../../server/app.js';
import { startServer } from '../../server/main.js';
import { DIALECTS, freshDatabase } from '../support/db.js';
import { ADMIN_KEY, api, TEST_SECRET } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`after-commit work (${dialect})`, () => {
    it('a subscriber that throws after a deploy commits is logged and changes no answer', async () => {
      const lines: Array<Record<string, any>> = [];
      const sink = new Writable({
        write(chunk: Buffer, _enc, done) {
          for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
          done();
        },
      });
      const db = await freshDatabase(dialect);
      const running = await startServer(
        { ...DEFAULT_APP_OPTIONS, port: 0, host: '127.0.0.1', databaseUrl: db.url, adminKey: ADMIN_KEY, secret: TEST_SECRET, logLevel: 'error', logRequests: false },
        pino({ level: 'error' }, sink),
      );
      const a = api(running.url);
      try {
        assert.equal((await a.post('/prompts/p/versions', { content: 'one' })).status, 201);
        running.registry.services.feed.subscribe((event) => {
          if (event.type === 'deployment.created') throw new Error('subscriber broke');
        });
        const deploy = await a.post('/prompts/p/deployments', { version: 1, environment: 'production' });
        assert.equal(deploy.status, 201, JSON.stringify(deploy.body));
        const stored = await a.get('/prompts/p/latest');
        assert.equal(stored.status, 200);
        assert.equal(stored.body.version, 1);
        const failed = lines.filter((l) => l.msg === 'after-commit work failed; the change it followed is committed');
        assert.equal(failed.length, 1);
        assert.equal(failed[0]!.after_commit, 'change feed: deployment.created (p/production)');
        assert.equal(failed[0]!.err.message, 'subscriber broke');
        // The server goes on: a later write and deploy answer normally.
        assert.equal((await a.post('/prompts/p/versions', { content: 'two' })).status, 201);
        assert.equal((await a.get('/prompts/p/versions/2')).status, 200);
      } finally {
        await running.close(100);
        await db.drop();
      }
    });
  });
}
