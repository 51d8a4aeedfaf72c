import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { freePort, killGroup, start, waitForHealthy, type Spawned } from '../support/process.js';

const KEY = 'shutdown-admin-key-0123456789';

async function until<T>(what: string, probe: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 300; i++) {
    const value = await probe();
    if (value !== undefined) return value;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`never: ${what}`);
}

for (const dialect of DIALECTS) {
  describe(`graceful shutdown on SIGTERM (${dialect})`, () => {
    let db: TestDatabase;
    let server: Spawned | undefined;
    before(async () => {
      db = await freshDatabase(dialect);
    });
    after(async () => {
      if (server) killGroup(server);
      await db.drop();
    });

    it('fails readiness first while still serving, ends event streams with a retry hint, finishes the request in flight, and exits 0', async () => {
      const port = await freePort();
      const base = `http://127.0.0.1:${port}`;
      // The delay keeps the server answering (readiness failing) after the signal, as a load balancer needs.
      server = start(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', db.url, '--no-log-requests', '--retention-interval', '0'], {
        PROMPT_REGISTRY_ADMIN_KEY: KEY,
        PROMPT_REGISTRY_SHUTDOWN_DELAY_MS: '8000',
      });
      await waitForHealthy(`${base}/readyz`, server);
      const post = (path: string, body: unknown) =>
        fetch(base + path, { method: 'POST', headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
      assert.equal((await post('/prompts/s/versions', { content: 'v1' })).status, 201);

      const stream = await fetch(`${base}/events`, { headers: { 'X-API-Key': KEY } });
      assert.equal(stream.status, 200);
      const streamText = stream.text();

      // Postgres: a request held in flight by a lock the test owns, released only after the signal.
      let locker: pg.Client | undefined;
      let inFlight: Promise<Response> | undefined;
      if (dialect === 'postgres') {
        locker = new pg.Client({ connectionString: db.url });
        await locker.connect();
        await locker.query('BEGIN');
        await locker.query('LOCK TABLE prompt_versions IN ACCESS EXCLUSIVE MODE');
        inFlight = post('/prompts/s/versions', { content: 'v2' });
        const name = new URL(db.url).pathname.slice(1);
        await until('the request waits on the lock', async () => {
          const { rows } = await locker!.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name]);
          return Number(rows[0]!.n) > 0 ? true : undefined;
        });
      }

      process.kill(server.child.pid!, 'SIGTERM');
      const ready = await until('readiness fails', async () => {
        const res = await fetch(`${base}/readyz`);
        return res.status === 503 ? ((await res.json()) as { error: { code: string; checks: Record<string, string> } }) : undefined;
      });
      assert.equal(ready.error.code, 'not_ready');
      assert.match(ready.error.checks.shutdown!, /shutting down/);
      assert.equal((await fetch(`${base}/livez`)).status, 200, 'still alive and answering while readiness fails');

      const events = await streamText;
      assert.match(events, /retry: \d+\n: server shutting down; reconnect\n\n$/);

      if (locker && inFlight) {
        await locker.query('COMMIT');
        await locker.end();
        const done = await inFlight;
        assert.equal(done.status, 201, 'the request in flight at the signal completes');
      }
      assert.equal(await server.exited, 0, server.output());
      assert.match(server.output(), /shutting down/);
      server = undefined;
    });
  });
}
