import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { loadSqliteDriver } from '../../server/db/sqlite-driver.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { ROOT } from '../support/process.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** One sample's value in Prometheus text, e.g. value(text, 'x_total{route="/a"}'); undefined when absent. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function scrape(url: string): Promise<string> {
  const res = await fetch(url);
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return res.text();
}

for (const dialect of DIALECTS) {
  describe(`liveness, readiness and operator metrics (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect, { metricsPort: 0 });
    });
    after(() => s.close());

    it('answers /livez, /readyz and /healthz without a credential', async () => {
      const anon = s.as(null);
      const live = await anon.get('/livez');
      assert.equal(live.status, 200);
      assert.equal(live.body.status, 'ok');
      const ready = await anon.get('/readyz');
      assert.equal(ready.status, 200, JSON.stringify(ready.body));
      assert.deepEqual(ready.body.checks, { database: 'ok', migrations: 'ok', storage: 'ok' });
      const health = await anon.get('/healthz');
      assert.equal(health.status, 200);
      assert.deepEqual(health.body, { status: 'ok', version: health.body.version, database: dialect });
    });

    it('serves Prometheus text on the management port, never on the API port, with counts that move', async () => {
      const url = s.running.metricsUrl!;
      assert.ok(url, 'a metrics URL when a metrics port was asked for');
      assert.notEqual(new URL(url).port, new URL(s.url).port);
      // The API's /metrics stays the evaluation metrics API.
      assert.notEqual((await s.admin.get('/metrics')).headers.get('content-type')?.startsWith('text/plain'), true);

      assert.equal((await s.admin.post('/prompts/m/versions', { content: 'Hi {{n}}' })).status, 201);
      assert.equal((await s.admin.post('/prompts/m/deployments', { version: 1, environment: 'production' })).status, 201);
      const before = await scrape(url);
      for (let i = 0; i < 3; i++) assert.equal((await s.admin.get('/prompts/m/latest')).status, 200);
      const batch = [{ id: randomUUID(), prompt: 'm', version: 1 }, { id: randomUUID(), prompt: 'm', version: 1 }];
      assert.equal((await s.admin.post('/executions', batch)).status, 201);
      assert.equal((await s.admin.post('/executions', batch)).status, 200); // a retry: duplicates, nothing new
      const text = await scrape(url);

      const grew = (series: string, by: number) => {
        const was = sample(before, series) ?? 0;
        const now = sample(text, series);
        assert.ok(now !== undefined, `${series} is exported:\n${text.slice(0, 2000)}`);
        assert.equal(now - was, by, series);
      };
      grew('prompt_registry_http_requests_total{method="GET",route="/prompts/:name/latest",status="200"}', 3);
      grew('prompt_registry_http_requests_total{method="POST",route="/executions",status="201"}', 1);
      grew('prompt_registry_http_request_duration_seconds_count{method="GET",route="/prompts/:name/latest"}', 3);
      assert.equal((sample(text, 'prompt_registry_resolve_cache_hits_total') ?? 0) + (sample(text, 'prompt_registry_resolve_cache_misses_total') ?? 0) -
        ((sample(before, 'prompt_registry_resolve_cache_hits_total') ?? 0) + (sample(before, 'prompt_registry_resolve_cache_misses_total') ?? 0)), 3);
      assert.ok((sample(text, 'prompt_registry_resolve_cache_hits_total') ?? 0) >= 2, 'repeated resolves are cache hits');
      grew('prompt_registry_ingest_batches_total', 2);
      grew('prompt_registry_ingest_rows_total', 2);
      grew('prompt_registry_ingest_duplicate_rows_total', 2);
      assert.ok(!/route="\/prompts\/m\//.test(text), 'routes are labelled by pattern, not the raw URL');
      assert.match(text, /^prompt_registry_event_stream_subscribers 0$/m);
      assert.match(text, /^prompt_registry_process_resident_memory_bytes \d/m);
      if (dialect === 'postgres') assert.match(text, /^prompt_registry_db_pool_connections\{state="max"\} 10$/m);

      // An open event stream shows as a subscriber.
      const stream = await fetch(`${s.url}/events`, { headers: { 'X-API-Key': 'test-admin-key-0123456789' } });
      const reader = stream.body!.getReader();
      await reader.read();
      assert.match(await scrape(url), /^prompt_registry_event_stream_subscribers 1$/m);
      await reader.cancel();
      assert.equal((await fetch(url.replace('/metrics', '/other'))).status, 404);

      // The Grafana dashboard asks only for metrics the server exports (Postgres has the pool's too).
      const dashboard = readFileSync(join(ROOT, 'docs', 'grafana-dashboard.json'), 'utf8');
      const exported = new Set([...(await scrape(url)).matchAll(/^# TYPE (\w+)/gm)].map((m) => m[1]!));
      for (const [, name] of dashboard.matchAll(/(prompt_registry_\w+)/g)) {
        const family = name!.replace(/_(bucket|count|sum)$/, '');
        if (dialect === 'sqlite' && family.startsWith('prompt_registry_db_pool')) continue;
        assert.ok(exported.has(family), `the dashboard's ${name} is exported`);
      }
    });

    it('fails readiness, not liveness, once shutdown has begun', async () => {
      s.running.registry.lifecycle.draining = true;
      try {
        const ready = await s.as(null).get('/readyz');
        assert.equal(ready.status, 503);
        assert.equal(ready.body.error.code, 'not_ready');
        assert.match(ready.body.error.checks.shutdown, /shutting down/);
        assert.equal(ready.body.error.checks.database, 'ok');
        assert.ok(Number(ready.headers.get('retry-after')) > 0);
        assert.equal((await s.as(null).get('/livez')).status, 200);
      } finally {
        s.running.registry.lifecycle.draining = false;
      }
    });
  });
}

/**
 * A TCP proxy in front of the test Postgres that can be cut: 'refuse' closes every connection at once,
 * 'hang' accepts and never answers (a dead host), so timeouts are what end a request.
 */
class CuttableProxy {
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  mode: 'open' | 'refuse' | 'hang' = 'open';
  constructor(private readonly target: { host: string; port: number }) {
    this.server = createServer((client) => {
      this.sockets.add(client);
      client.on('close', () => this.sockets.delete(client));
      client.on('error', () => undefined);
      if (this.mode === 'refuse') return client.destroy();
      if (this.mode === 'hang') return;
      const upstream = connect(this.target.port, this.target.host);
      this.sockets.add(upstream);
      upstream.on('close', () => (this.sockets.delete(upstream), client.destroy()));
      upstream.on('error', () => client.destroy());
      client.on('close', () => upstream.destroy());
      client.pipe(upstream).pipe(client);
    });
  }
  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as { port: number }).port;
  }
  cut(mode: 'refuse' | 'hang'): void {
    this.mode = mode;
    for (const socket of this.sockets) socket.destroy();
  }
  restore(): void {
    this.mode = 'open';
  }
  async close(): Promise<void> {
    this.cut('refuse');
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A fresh Postgres database, and the same database reached through a proxy the test can cut (dropping it is the caller's). */
async function behindProxy(): Promise<{ database: TestDatabase; proxy: CuttableProxy; viaProxy: TestDatabase }> {
  const database = await freshDatabase('postgres');
  const direct = new URL(database.url);
  const proxy = new CuttableProxy({ host: direct.hostname, port: Number(direct.port || 5432) });
  const url = new URL(database.url);
  url.port = String(await proxy.listen());
  return { database, proxy, viaProxy: { url: url.toString(), drop: async () => undefined } };
}

describe('Postgres unreachable under a running server', () => {
  let database: TestDatabase;
  let proxy: CuttableProxy;
  let viaProxy: TestDatabase;
  let s: TestServer;
  before(async () => {
    ({ database, proxy, viaProxy } = await behindProxy());
    s = await startTestServer('postgres', { metricsPort: 0, dbConnectTimeoutMs: 500, dbStatementTimeoutMs: 1_000 }, viaProxy);
  });
  after(async () => {
    await s.close();
    await proxy.close();
    await database.drop();
  });

  const assertUnavailable = (answer: { status: number; body: any; headers: Headers }, what: string) => {
    assert.equal(answer.status, 503, `${what}: ${JSON.stringify(answer.body)}`);
    assert.equal(answer.body.error.code, 'database_unavailable', what);
    assert.ok(Number(answer.headers.get('retry-after')) > 0, `${what}: Retry-After`);
  };

  for (const mode of ['refuse', 'hang'] as const) {
    it(`answers 503 with Retry-After when connections are ${mode === 'refuse' ? 'refused' : 'never answered'}, keeps cached resolves, and recovers with nothing lost or doubled`, async () => {
      const prompt = `p-${mode}`;
      assert.equal((await s.admin.post(`/prompts/${prompt}/versions`, { content: 'v1' })).status, 201);
      assert.equal((await s.admin.post(`/prompts/${prompt}/deployments`, { version: 1, environment: 'production' })).status, 201);
      const resolved = await s.admin.get(`/prompts/${prompt}/latest`);
      assert.equal(resolved.status, 200);
      const batch = Array.from({ length: 5 }, () => ({ id: randomUUID(), prompt, version: 1 }));

      proxy.cut(mode);
      assertUnavailable(await s.admin.post(`/prompts/${prompt}/versions`, { content: 'v2' }), 'a new version');
      assertUnavailable(await s.admin.post('/executions', batch), 'an execution batch');
      assertUnavailable(await s.as(null).get('/healthz'), '/healthz');
      const ready = await s.as(null).get('/readyz');
      assert.equal(ready.status, 503);
      assert.equal(ready.body.error.code, 'not_ready');
      assert.notEqual(ready.body.error.checks.database, 'ok');
      assert.ok(Number(ready.headers.get('retry-after')) > 0);
      assert.equal((await s.as(null).get('/livez')).status, 200);
      const cached = await s.admin.get(`/prompts/${prompt}/latest`);
      assert.equal(cached.status, 200);
      assert.deepEqual(cached.body, resolved.body);
      assert.ok((sample(await scrape(s.running.metricsUrl!), 'prompt_registry_database_unavailable_total') ?? 0) >= 3);

      proxy.restore();
      // The pool makes new connections as requests come: the first write after the return succeeds.
      assert.equal((await s.as(null).get('/readyz')).status, 200);
      assert.equal((await s.admin.post(`/prompts/${prompt}/versions`, { content: 'v2' })).status, 201);
      assert.equal((await s.admin.post('/executions', batch)).status, 201);
      assert.equal((await s.admin.post('/executions', batch)).status, 200, 'a second retry stores nothing new');
      assert.equal((await s.admin.post(`/prompts/${prompt}/deployments`, { version: 2, environment: 'production' })).status, 201);
      assert.equal((await s.admin.get(`/prompts/${prompt}/latest`)).body.version, 2, 'the cache follows the deploy made after recovery');

      const check = new pg.Client({ connectionString: database.url });
      await check.connect();
      try {
        const ids = batch.map((b) => b.id);
        const { rows } = await check.query<{ n: string }>('SELECT COUNT(*) AS n FROM prompt_executions WHERE id = ANY($1::uuid[])', [ids]);
        assert.equal(Number(rows[0]!.n), batch.length, 'each execution stored once');
        const versions = await check.query<{ n: string }>(
          'SELECT COUNT(*) AS n FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id WHERE p.name = $1',
          [prompt],
        );
        assert.equal(Number(versions.rows[0]!.n), 2, 'the refused version was not half-written');
      } finally {
        await check.end();
      }
    });
  }
});

describe('Postgres notifications after the database returns', () => {
  let database: TestDatabase;
  let proxy: CuttableProxy;
  let viaProxy: TestDatabase;
  let a: TestServer;
  let b: TestServer;
  before(async () => {
    ({ database, proxy, viaProxy } = await behindProxy());
    a = await startTestServer('postgres', {}, viaProxy);
    b = await startTestServer('postgres', {}, { url: database.url, drop: async () => undefined });
  });
  after(async () => {
    await a.close();
    await b.close();
    await proxy.close();
    await database.drop();
  });

  it("a replica cut off from the database hears other replicas' deploys again once it returns", async () => {
    assert.equal((await b.admin.post('/prompts/r/versions', { content: 'v1' })).status, 201);
    assert.equal((await b.admin.post('/prompts/r/deployments', { version: 1, environment: 'production' })).status, 201);
    assert.equal((await a.admin.get('/prompts/r/latest')).body.version, 1); // now in a's cache
    proxy.cut('refuse');
    proxy.restore();
    assert.equal((await b.admin.post('/prompts/r/versions', { content: 'v2' })).status, 201);
    assert.equal((await b.admin.post('/prompts/r/deployments', { version: 2, environment: 'production' })).status, 201);
    let version = 1;
    for (let i = 0; i < 300 && version !== 2; i++) {
      await new Promise((r) => setTimeout(r, 100));
      version = (await a.admin.get('/prompts/r/latest')).body.version;
    }
    assert.equal(version, 2, "replica a's cache follows b's deploy after reconnecting");
  });
});

describe('Postgres pool exhausted and statement timeout', () => {
  let s: TestServer;
  before(async () => {
    // One connection, given up on quickly when busy; statements cancelled after a second.
    s = await startTestServer('postgres', { dbPoolSize: 1, dbConnectTimeoutMs: 200, dbStatementTimeoutMs: 1_000 });
  });
  after(() => s.close());

  it('answers 503 to a request finding no free connection, and to a statement the server cancelled, then serves again', async () => {
    assert.equal((await s.admin.post('/prompts/t/versions', { content: 'v1' })).status, 201);
    const locker = new pg.Client({ connectionString: s.database.url });
    await locker.connect();
    try {
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE prompt_versions IN ACCESS EXCLUSIVE MODE');
      // This one takes the only connection and waits on the lock until its statement is cancelled.
      const held = s.admin.post('/prompts/t/versions', { content: 'v2' });
      const name = new URL(s.database.url).pathname.slice(1);
      for (let waiting = 0; waiting === 0; ) {
        const { rows } = await locker.query<{ n: string }>("SELECT COUNT(*) AS n FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'", [name]);
        waiting = Number(rows[0]!.n);
      }
      const starved = await s.admin.get('/prompts');
      assert.equal(starved.status, 503, JSON.stringify(starved.body));
      assert.equal(starved.body.error.code, 'database_unavailable');
      const cancelled = await held;
      assert.equal(cancelled.status, 503, JSON.stringify(cancelled.body));
      assert.equal(cancelled.body.error.code, 'database_unavailable');
      assert.ok(Number(cancelled.headers.get('retry-after')) > 0);
    } finally {
      await locker.query('ROLLBACK');
      await locker.end();
    }
    assert.equal((await s.admin.post('/prompts/t/versions', { content: 'v2' })).status, 201);
    assert.equal((await s.admin.get('/prompts/t/versions')).body.items.length, 2, 'the cancelled write left nothing behind');
  });
});

describe('SQLite write lock held past the busy timeout', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer('sqlite');
  });
  after(() => s.close());

  it('answers 503 database_unavailable with Retry-After while another process holds the write lock, then writes', async () => {
    const file = s.database.url.slice('sqlite:'.length);
    // Another connection, through the driver this runtime uses (better-sqlite3 on Node 20, node:sqlite on 24).
    const other = (await loadSqliteDriver()).open(file, { readonly: false });
    try {
      other.exec('BEGIN IMMEDIATE');
      const refused = await s.admin.post('/prompts/busy/versions', { content: 'v1' });
      assert.equal(refused.status, 503, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'database_unavailable');
      assert.ok(Number(refused.headers.get('retry-after')) > 0);
      assert.equal((await s.as(null).get('/livez')).status, 200);
      other.exec('ROLLBACK');
    } finally {
      other.close();
    }
    assert.equal((await s.admin.post('/prompts/busy/versions', { content: 'v1' })).status, 201);
  });
});
