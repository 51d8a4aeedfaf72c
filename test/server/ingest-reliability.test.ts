import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { openDatabase } from '../../server/db/index.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { freePort, killGroup, start, waitForHealthy, type Spawned } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

const KEY = 'reliability-admin-key-0123456789';
const BATCHES = 60;
const BATCH_SIZES = [200, 10];
const KILL_AFTER_ACKS = 12;

function assertErrorShape(body: any, code: string): void {
  assert.equal(typeof body?.error?.message, 'string', JSON.stringify(body).slice(0, 300));
  assert.equal(body.error.code, code, JSON.stringify(body).slice(0, 300));
  assert.ok(!/SELECT|INSERT|at .+\.(ts|js):\d+/.test(JSON.stringify(body)), 'no SQL or stack trace');
}

for (const dialect of DIALECTS) {
  // Postgres stores batches of 200 with COPY, and of 10 with one INSERT outside a transaction.
  for (const size of BATCH_SIZES) describe(`ingestion survives SIGKILL (${dialect}, batches of ${size})`, () => {
    let db: TestDatabase;
    const procs: Spawned[] = [];
    before(async () => {
      db = await freshDatabase(dialect);
    });
    after(async () => {
      for (const p of procs) killGroup(p);
      await db.drop();
    });

    const serve = async (port: number) => {
      const p = start(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', db.url, '--no-log-requests', '--retention-interval', '0'], {
        PROMPT_REGISTRY_ADMIN_KEY: KEY,
      });
      procs.push(p);
      await waitForHealthy(`http://127.0.0.1:${port}/healthz`, p);
      return p;
    };
    const post = (port: number, path: string, body: unknown) =>
      fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers: { 'X-API-Key': KEY, 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

    it('keeps every acknowledged execution, stores each batch whole or not at all, and stores retries once', async (t) => {
      const port = await freePort();
      const server = await serve(port);
      const created = await post(port, '/prompts/durable/versions', { content: 'Hello {{name}}' });
      assert.equal(created.status, 201);
      const versionId = ((await created.json()) as { version_id: string }).version_id;

      const batches = Array.from({ length: BATCHES }, (_, b) =>
        Array.from({ length: size }, (_, i) => ({
          id: randomUUID(),
          prompt_version_id: versionId,
          environment: 'production',
          input_variables: { name: `user-${b}-${i}` },
          rendered_prompt: `Hello user-${b}-${i}`,
          response: 'x'.repeat(200),
          latency_ms: i,
          input_tokens: 10,
          output_tokens: 20,
          cost_usd: 0.0001,
        })),
      );

      // Four clients send batches until the server dies; SIGKILL lands while requests are in flight.
      const acked = new Set<number>();
      let nextBatch = 0;
      let killed = false;
      const client = async () => {
        while (nextBatch < BATCHES && !killed) {
          const b = nextBatch++;
          try {
            const r = await post(port, '/executions', batches[b]);
            if (r.status === 201 || r.status === 200) acked.add(b);
            else assert.fail(`batch ${b}: ${r.status} ${await r.text()}`);
          } catch (err) {
            if (!killed) throw err;
          }
          if (acked.size >= KILL_AFTER_ACKS && !killed) {
            killed = true;
            killGroup(server, 'SIGKILL');
          }
        }
      };
      await Promise.all([client(), client(), client(), client()]);
      await server.exited;
      assert.ok(killed, 'the server was killed during the load');
      assert.ok(acked.size >= KILL_AFTER_ACKS);

      // After the crash, straight from the database: acknowledged batches are all there, and no batch is in part.
      const stored = new Set<string>();
      const direct = await openDatabase(db.url);
      try {
        for (const r of await direct.all<{ id: string }>('SELECT id FROM prompt_executions')) stored.add(String(r.id));
      } finally {
        await direct.close();
      }
      const committedUnacked: number[] = [];
      batches.forEach((batch, b) => {
        const present = batch.filter((e) => stored.has(e.id)).length;
        assert.ok(present === 0 || present === size, `batch ${b} is stored whole or not at all (${present} of ${size})`);
        if (acked.has(b)) assert.equal(present, size, `acknowledged batch ${b} survived the SIGKILL`);
        else if (present) committedUnacked.push(b);
      });
      assert.equal(stored.size, (acked.size + committedUnacked.length) * size);
      t.diagnostic(`at the kill: ${acked.size} batches acknowledged, ${committedUnacked.length} committed but unacknowledged, ${BATCHES - acked.size - committedUnacked.length} not stored`);

      // Restart; the client retries every batch it has no acknowledgement for, with the same ids.
      await serve(port);
      let duplicates = 0;
      for (let b = 0; b < BATCHES; b++) {
        if (acked.has(b)) continue;
        const r = await post(port, '/executions', batches[b]);
        assert.ok(r.status === 201 || r.status === 200, `retry of batch ${b}: ${r.status}`);
        const body = (await r.json()) as { duplicates: number; accepted: number };
        assert.equal(body.accepted, size);
        duplicates += body.duplicates;
      }
      assert.equal(duplicates, committedUnacked.length * size, 'the retried batches that had committed were recognised, row by row');

      const final = await openDatabase(db.url);
      try {
        const row = await final.get<{ n: number; d: number }>('SELECT COUNT(*) AS n, COUNT(DISTINCT id) AS d FROM prompt_executions');
        assert.equal(Number(row!.n), BATCHES * size, 'every execution is stored');
        assert.equal(Number(row!.d), BATCHES * size, 'none twice');
      } finally {
        await final.close();
      }
    });
  });

  describe(`ingestion refuses bad input whole (${dialect})`, () => {
    let s: TestServer;
    let versionId: string;
    before(async () => {
      s = await startTestServer(dialect, { bodyLimit: '64kb', ingestBodyLimit: '256kb' });
      versionId = (await s.admin.post('/prompts/base/versions', { content: 'Hi {{x}}' })).body.version_id;
    });
    after(() => s.close());

    const count = async () => Number((await s.running.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM prompt_executions'))!.n);
    const row = (extra: Record<string, unknown> = {}) => ({ prompt_version_id: versionId, latency_ms: 1, ...extra });

    it('answers oversized batches with 413: over 1,000 rows, or over the body limit', async () => {
      const before = await count();
      const many = await s.admin.post('/executions', Array.from({ length: 1_001 }, () => row()));
      assert.equal(many.status, 413);
      assertErrorShape(many.body, 'batch_too_large');
      assert.equal(many.body.error.max, 1_000);
      const big = await s.admin.post('/executions', Array.from({ length: 100 }, () => row({ response: 'y'.repeat(3_000) })));
      assert.equal(big.status, 413);
      assertErrorShape(big.body, 'payload_too_large');
      assert.equal(await count(), before);
    });

    it('takes ingestion bodies up to its own limit, larger than the other routes', async () => {
      const body = Array.from({ length: 40 }, () => row({ response: 'z'.repeat(2_500) }));
      assert.ok(JSON.stringify(body).length > 64 * 1024);
      const r = await s.admin.post('/executions', body);
      assert.equal(r.status, 201);
      const version = await s.admin.post('/prompts/base/versions', { content: 'z'.repeat(100 * 1024) });
      assert.equal(version.status, 413, 'other routes keep the global limit');
      assertErrorShape(version.body, 'payload_too_large');
      const anonymous = await s.as(null).post('/executions', body);
      assert.equal(anonymous.status, 401, 'the body of an unauthenticated request is not even read');
    });

    it('answers wrong types, bad rows, unknown versions and malformed bodies with 4xx, storing nothing', async () => {
      const before = await count();
      const cases: Array<[string, unknown, number, string]> = [
        ['a string', 'nope', 400, 'invalid_json'],
        ['a number', 42, 400, 'invalid_json'],
        ['an empty batch', [], 400, 'invalid_executions'],
        ['an array of non-objects', [1, 2], 400, 'invalid_executions'],
        ['latency as text', [row({ latency_ms: '12' })], 400, 'invalid_executions'],
        ['fractional tokens', [row({ input_tokens: 1.5 })], 400, 'invalid_executions'],
        ['huge tokens', [row({ output_tokens: 1e12 })], 400, 'invalid_executions'],
        ['negative cost', [row({ cost_usd: -1 })], 400, 'invalid_executions'],
        ['variables not an object', [row({ input_variables: ['a'] })], 400, 'invalid_executions'],
        ['metadata not an object', [row({ metadata: 'm' })], 400, 'invalid_executions'],
        ['NUL in response', [row({ response: 'a\u0000b' })], 400, 'invalid_executions'],
        ['NUL in variables', [row({ input_variables: { k: 'v\u0000' } })], 400, 'invalid_executions'],
        ['bad status', [row({ status: 'fine' })], 400, 'invalid_executions'],
        ['bad time', [row({ executed_at: 'yesterday' })], 400, 'invalid_executions'],
        ['time before 1970', [row({ executed_at: '0001-01-01T00:00:00Z' })], 400, 'invalid_executions'],
        ['bad id', [row({ id: 'not-a-uuid' })], 400, 'invalid_executions'],
        ['unknown field', [row({ prompt_name: 'base' })], 400, 'invalid_executions'],
        ['no version', [{ latency_ms: 1 }], 400, 'invalid_executions'],
        ['unknown version id', [row({ prompt_version_id: randomUUID() })], 400, 'invalid_executions'],
        ['unknown version number', [{ prompt: 'base', version: 5 }], 400, 'invalid_executions'],
        ['unknown prompt', [{ prompt: 'ghost', version: 1 }], 400, 'invalid_executions'],
        ['bad prompt name', [{ prompt: '-x', version: 1 }], 400, 'invalid_executions'],
        ['one bad row among good ones', [row(), row(), row({ latency_ms: null, quality_score: 'good' }), row()], 400, 'invalid_executions'],
      ];
      for (const [what, body, status, code] of cases) {
        const r = await s.admin.post('/executions', body);
        assert.equal(r.status, status, `${what}: ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        assertErrorShape(r.body, code);
        if (code === 'invalid_executions' && Array.isArray(body) && body.length) {
          assert.ok(r.body.error.rows.length >= 1, what);
          for (const bad of r.body.error.rows) assert.ok(Number.isInteger(bad.index) && bad.issues.length > 0, what);
        }
      }
      const broken = await s.admin.raw('POST', '/executions', '[{"prompt_version_id": ');
      assert.equal(broken.status, 400);
      assertErrorShape(broken.body, 'invalid_json');
      const text = await s.admin.raw('POST', '/executions', 'latency=1', { 'Content-Type': 'text/plain' });
      assert.equal(text.status, 400);
      assert.equal(await count(), before, 'nothing of any refused request was stored');
    });
  });
}
