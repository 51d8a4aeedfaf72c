import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { DEFAULT_APP_OPTIONS } from '../../server/app.js';
import { startServer } from '../../server/main.js';
import { freshDatabase } from '../support/db.js';
import { ADMIN_KEY, api, TEST_SECRET } from '../support/server.js';

/** A server whose log lines land in an array. */
async function logged(logResolveHits: boolean) {
  const lines: Array<Record<string, unknown>> = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const db = await freshDatabase('sqlite');
  const running = await startServer(
    { ...DEFAULT_APP_OPTIONS, port: 0, host: '127.0.0.1', databaseUrl: db.url, adminKey: ADMIN_KEY, secret: TEST_SECRET, logLevel: 'info', logRequests: true, logResolveHits },
    pino({ level: 'info' }, sink),
  );
  return { lines, running, db, a: api(running.url) };
}

describe('request log', () => {
  it('logs a line per request with its id, method, url and status, but counts cached resolves instead', async () => {
    const { lines, running, db, a } = await logged(false);
    try {
      await a.post('/prompts/p/versions', { content: 'x' });
      await a.post('/prompts/p/deployments', { version: 1, environment: 'production' });
      await a.get('/prompts/p/latest'); // a miss: the route, logged
      await a.get('/prompts/p/latest'); // a hit: counted
      await a.get('/prompts/nope', { 'X-Request-Id': 'req-42' });
      const requests = lines.filter((l) => l.msg === 'request');
      assert.deepEqual(
        requests.map((l) => `${l.method} ${l.url} ${l.status}`),
        ['POST /prompts/p/versions 201', 'POST /prompts/p/deployments 201', 'GET /prompts/p/latest 200', 'GET /prompts/nope 404'],
      );
      assert.equal(requests[3]!.request_id, 'req-42');
      assert.equal(typeof requests[0]!.ms, 'number');
    } finally {
      await running.close(100);
      await db.drop();
    }
  });

  it('logs cached resolves one by one with logResolveHits', async () => {
    const { lines, running, db, a } = await logged(true);
    try {
      await a.post('/prompts/p/versions', { content: 'x' });
      await a.post('/prompts/p/deployments', { version: 1, environment: 'production' });
      await a.get('/prompts/p/latest');
      await a.get('/prompts/p/latest');
      assert.equal(lines.filter((l) => l.msg === 'request' && l.url === '/prompts/p/latest').length, 2);
    } finally {
      await running.close(100);
      await db.drop();
    }
  });
});
