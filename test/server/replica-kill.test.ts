import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { freePort, killGroup, start, waitForHealthy, type Spawned } from '../support/process.js';
import { ADMIN_KEY, api, TEST_SECRET, type Api } from '../support/server.js';
import { listen, type SseStream } from '../support/sse.js';
import { eventually } from '../support/wait.js';

/**
 * Issue 16: three server processes on one Postgres, writes, resolves and
 * event streams spread over them, one replica SIGKILLed in the middle of a
 * burst and restarted. Every write that was acknowledged is stored exactly
 * once, every subscriber of a surviving replica sees every deploy, and the
 * restarted replica serves current answers.
 */

interface Replica {
  port: number;
  url: string;
  admin: Api;
  proc: Spawned;
}

const ENV = { PROMPT_REGISTRY_ADMIN_KEY: ADMIN_KEY, PROMPT_REGISTRY_SECRET: TEST_SECRET };

async function serve(db: TestDatabase, port?: number): Promise<Replica> {
  const p = port ?? (await freePort());
  const proc = start(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(p), '--db', db.url, '--no-log-requests', '--retention-interval', '0'], ENV);
  const url = `http://127.0.0.1:${p}`;
  await waitForHealthy(`${url}/readyz`, proc);
  return { port: p, url, admin: api(url), proc };
}

/** A write that may meet a dead replica: its answer, or undefined when the connection failed (not acknowledged). */
async function attempt<T>(call: () => Promise<T>): Promise<T | undefined> {
  try {
    return await call();
  } catch {
    return undefined;
  }
}

describe('three replicas on one Postgres, one killed mid-burst', () => {
  let db: TestDatabase;
  const replicas: Replica[] = [];
  const streams: SseStream[] = [];

  before(async () => {
    db = await freshDatabase('postgres');
    // The first runs the migrations; the other two start on the migrated database.
    replicas.push(await serve(db));
    replicas.push(...(await Promise.all([serve(db), serve(db)])));
  });
  after(async () => {
    for (const s of streams) s.close();
    for (const r of replicas) killGroup(r.proc);
    await Promise.all(replicas.map((r) => r.proc.exited));
    await db.drop();
  });

  it('keeps every acknowledged write exactly once, every deploy reaches the survivors, and the restarted replica is current', async () => {
    const [a, b, c] = replicas as [Replica, Replica, Replica];
    assert.equal((await a.admin.post('/prompts/burst/versions', { content: 'v1 {{n}}' })).status, 201);
    assert.equal((await a.admin.post('/prompts/burst/deployments', { version: 1, environment: 'production' })).status, 201);
    for (const r of [a, c]) streams.push(await listen(`${r.url}/events`, ADMIN_KEY));

    const acknowledgedVersions: string[] = [];
    const acknowledgedExecutions: string[] = [];
    const deployed: number[] = [];
    let killed = false;

    // Four writers, each on its replica in turn; B is killed after the first round.
    const writer = async (w: number) => {
      for (let round = 0; round < 12; round++) {
        const r = replicas[(w + round) % 3]!;
        if (round === 3 && w === 0 && !killed) {
          killed = true;
          killGroup(b.proc, 'SIGKILL');
        }
        const content = `w${w} r${round} {{n}}`;
        const made = await attempt(() => r.admin.post('/prompts/burst/versions', { content }));
        if (made?.status === 201) acknowledgedVersions.push(content);
        const batch = Array.from({ length: 5 }, () => ({ id: randomUUID(), prompt: 'burst', version: 1, response: 'ok', latency_ms: 3 }));
        const logged = await attempt(() => r.admin.post('/executions', batch));
        if (logged?.status === 201) acknowledgedExecutions.push(...batch.map((e) => e.id));
        const resolved = await attempt(() => r.admin.get('/prompts/burst/latest'));
        if (resolved) assert.ok(resolved.status === 200, `resolve on :${r.port} answered ${resolved.status}`);
      }
    };
    // One deployer on the survivors, so every deploy it makes is acknowledged.
    const deployer = async () => {
      for (let i = 0; i < 6; i++) {
        const r = i % 2 ? c : a;
        const latest = (await r.admin.get('/prompts/burst/versions?limit=1')).body.items[0].version as number;
        const d = await r.admin.post('/prompts/burst/deployments', { version: latest, environment: 'production' });
        assert.ok(d.status === 201 || d.status === 200, JSON.stringify(d.body));
        if (d.status === 201) deployed.push(latest);
      }
    };
    await Promise.all([writer(0), writer(1), writer(2), writer(3), deployer()]);
    await b.proc.exited;
    assert.ok(killed);

    // Restart B on its port, then write once more through A: B must answer with it.
    replicas[1] = await serve(db, b.port);
    const b2 = replicas[1]!;
    const lastContent = 'after the restart {{n}}';
    const last = await a.admin.post('/prompts/burst/versions', { content: lastContent });
    acknowledgedVersions.push(lastContent);
    assert.equal((await a.admin.post('/prompts/burst/deployments', { version: last.body.version, environment: 'production' })).status, 201);
    deployed.push(last.body.version);
    const restartedAt = Date.now();
    await eventually(async () => (await b2.admin.get('/prompts/burst/latest')).body.version === last.body.version, 'the restarted replica serves the newest deploy', 10_000);
    process.stdout.write(`# the restarted replica served the newest deploy ${Date.now() - restartedAt} ms after it was made\n`);

    // Every acknowledged version is stored once (contents are unique per write).
    const stored: string[] = [];
    for (let cursor: string | null = null; ; ) {
      const page: { status: number; body: { items: Array<{ content?: string; version: number }>; next_cursor: string | null } } = await a.admin.get(`/prompts/burst/versions?limit=100${cursor ? `&cursor=${cursor}` : ''}`);
      for (const v of page.body.items) stored.push((await a.admin.get(`/prompts/burst/versions/${v.version}`)).body.content);
      cursor = page.body.next_cursor;
      if (!cursor) break;
    }
    for (const content of acknowledgedVersions) assert.equal(stored.filter((s) => s === content).length, 1, `"${content}" stored exactly once`);
    assert.equal(new Set(stored).size, stored.length, 'no version stored twice');

    // Every acknowledged execution is stored once: sending them all again finds each a duplicate.
    assert.ok(acknowledgedExecutions.length > 0);
    for (let i = 0; i < acknowledgedExecutions.length; i += 500) {
      const again = await a.admin.post('/executions', acknowledgedExecutions.slice(i, i + 500).map((id) => ({ id, prompt: 'burst', version: 1, response: 'ok', latency_ms: 3 })));
      assert.ok(again.status === 200 || again.status === 201, JSON.stringify(again.body));
      assert.equal(again.body.duplicates, Math.min(500, acknowledgedExecutions.length - i), 'each acknowledged execution was already stored');
    }

    // Subscribers of the surviving replicas saw every deploy.
    for (const s of streams) {
      await eventually(() => deployed.every((v) => s.events.some((e) => e.event === 'deployment.created' && e.data.version === v)), 'every deploy on each surviving stream', 10_000);
    }
  });
});
