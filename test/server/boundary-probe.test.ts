import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { DEFAULT_WEBHOOK_OPTIONS } from '../../server/webhooks/worker.js';
import { DEFAULT_PROVIDER_CALL_OPTIONS } from '../../server/providers/client.js';
import { eventually } from '../support/wait.js';

/**
 * Issue 18's probe, kept as a test: every route of /openapi.json, each of
 * its path and query parameters in turn replaced by values that SQL or the
 * database driver refuse (NUL, integers out of range, lone surrogates,
 * malformed UUIDs and times), and every list given forged cursors. Nothing
 * may answer 5xx, and every refusal has the error shape.
 */

/** Path and query values, already percent-encoded as they go on the wire. */
const VALUES = [
  '%00',
  'a%00b',
  '%ED%A0%80', // a lone surrogate, UTF-8 encoded
  '%FF',
  '99999999999999999999',
  '2147483648',
  '-1',
  '0',
  '1.5',
  'x'.repeat(300),
  '00000000-0000-0000-0000-000000000000',
  '-'.repeat(36),
  '0000-01-01T00:00:00Z',
  '0001-01-01T00:00:00%2B01:00', // year 0 once in UTC
  '2026-02-31T00:00:00Z',
  '%5C',
];

const b64 = (json: string) => Buffer.from(json).toString('base64url');

/** Cursors a client could forge (base64url JSON): each list must answer 400 invalid_cursor, never 5xx. */
const FORGED = [
  '"\\u0000"',
  '"a\\u0000"',
  '"\\ud800"',
  `"${'a'.repeat(300)}"`,
  '""',
  '99999999999999999999',
  '9007199254740993',
  '2147483648',
  '-1',
  '0',
  '1.5',
  '1e400',
  'null',
  'true',
  '{}',
  '[]',
  '["\\u0000","\\u0000"]',
  '["0000-01-01T00:00:00.000Z","00000000-0000-0000-0000-000000000000"]',
  '["2026-02-31T00:00:00.000Z","00000000-0000-0000-0000-000000000000"]',
  '["2026-01-01T00:00:00.000Z","------------------------------------"]',
  '["x","y"]',
  '['.repeat(150) + ']'.repeat(150),
];
/** The query a list needs besides its cursor (GET /rollouts lists one environment's). */
const LIST_QUERY: Record<string, string> = { '/rollouts': 'environment=production&' };
/** The forged cursors that name a real position in a list (the audit log's ids are BIGINT). */
const VALID_IN: Record<string, string[]> = { '/audit': ['2147483648'] };
/** Cursors that are not even base64url JSON: a 400 (invalid_cursor, or invalid_request for NUL and length). */
const MALFORMED = ['%00', '!!!', 'e30=', 'x'.repeat(600)];

/** The cursors the issue names, and the lists it names them on: each must be 400 invalid_cursor. */
const ISSUE_CURSORS: Array<[string, string]> = [
  ['/prompts', b64('"\\u0000"')],
  ['/keys', b64('"\\u0000"')],
  ['/metrics', b64('"\\u0000"')],
  ['/prompts/p/versions', b64('99999999999999999999')],
  ['/prompts/p/deployments', b64('99999999999999999999')],
  ['/audit', b64('99999999999999999999')],
];

/** Runs `each` over `items`, a few at a time. */
async function inParallel<T>(items: readonly T[], each: (item: T) => Promise<void>, width = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

const TABLES = ['prompts', 'prompt_versions', 'prompt_deployments', 'prompt_executions', 'execution_scores', 'metrics', 'api_keys', 'deployment_requests', 'deployment_approvals', 'environment_policies', 'retention_policies', 'audit_log'];

interface Operation {
  method: string;
  path: string;
  params: Array<{ name: string; in: 'path' | 'query' }>;
  hasBody: boolean;
}

for (const dialect of DIALECTS) {
  describe(`boundary probe: every route, bad parameters and forged cursors (${dialect})`, () => {
    let s: TestServer;
    let operations: Operation[];
    const good: Record<string, string> = {};

    /** One request with a raw (already encoded) URL; the answer's status and parsed body. */
    const send = async (method: string, url: string, body?: string) => {
      const res = await fetch(s.url + url, {
        method: method.toUpperCase(),
        headers: { 'X-API-Key': ADMIN_KEY, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body } : {}),
      });
      if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
        await res.body?.cancel(); // an event stream opened: it would stay open
        return { status: res.status, body: undefined };
      }
      const text = await res.text();
      let parsed: any = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        // kept as text: the assertion shows it
      }
      return { status: res.status, body: parsed };
    };

    before(async () => {
      // Webhooks to a closed port on loopback (allowed): their deliveries fail fast and wait to be retried.
      // Providers on a closed port, not retried: an experiment's runs fail at once, as results with an error.
      s = await startTestServer(dialect, { webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'] }, providerCalls: { ...DEFAULT_PROVIDER_CALL_OPTIONS, maxRetries: 0 } });
      const a = s.admin;
      const hooks = [];
      for (const path of ['/a', '/b']) hooks.push(await a.post('/webhooks', { url: `http://127.0.0.1:1${path}`, events: ['version.created'] }));
      good.webhook = hooks[0]!.body.id;
      assert.equal((await a.post('/prompts/p/versions', { content: 'Hi {{n}}' })).status, 201);
      assert.equal((await a.post('/prompts/p/versions', { content: 'Hello {{n}}' })).status, 201);
      assert.equal((await a.post('/prompts/p/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await a.post('/prompts/p/deployments', { version: 2, environment: 'dev' })).status, 201);
      assert.equal((await a.post('/prompts/q/versions', { content: 'Bye' })).status, 201);
      good.delivery = (await a.get(`/webhooks/${good.webhook}/deliveries`)).body.items[0].id;
      const key = await a.post('/keys', { name: 'reader', scopes: ['read'] });
      good.key = key.body.id;
      const logged = await a.post('/executions', [{ prompt: 'p', version: 1, input_variables: { n: 'x' } }, { prompt: 'p', version: 2 }]);
      good.execution = logged.body.ids[0];
      assert.equal((await a.post('/metrics', { name: 'accuracy', type: 'numeric' })).status, 201);
      assert.equal((await a.post('/metrics', { name: 'helpful', type: 'boolean' })).status, 201);
      assert.equal((await a.raw('PUT', '/environments/staging/policy', JSON.stringify({ required_approvals: 1 }))).status, 200);
      const asked = await a.post('/prompts/p/deployments', { version: 2, environment: 'staging' });
      good.request = asked.body.request?.id ?? asked.body.id;
      assert.match(good.request!, /^[0-9a-f-]{36}$/, JSON.stringify(asked.body));
      assert.equal((await a.post('/prompts/q/deployments', { version: 1, environment: 'staging' })).status, 202);
      // Two rollouts running in production, for the list of them.
      assert.equal((await a.post('/prompts/r/versions', { content: 'One' })).status, 201);
      assert.equal((await a.post('/prompts/r/versions', { content: 'Two' })).status, 201);
      assert.equal((await a.post('/prompts/r/deployments', { version: 1, environment: 'production' })).status, 201);
      for (const name of ['p', 'r']) assert.equal((await a.raw('PUT', `/prompts/${name}/rollouts/production`, JSON.stringify({ candidate: 2, weight: 10 }))).status, 201);

      for (const name of ['prov-a', 'prov-b']) assert.equal((await a.post('/providers', { name, kind: 'openai', base_url: 'http://127.0.0.1:1/v1', default_model: 'm' })).status, 201);
      for (const name of ['ds', 'ds2']) assert.equal((await a.post('/datasets', { name })).status, 201);
      assert.equal((await a.post('/datasets/ds/items', { items: [{ input: { n: 'a' } }, { input: { n: 'b' } }] })).status, 201);
      const experiment = await a.post('/experiments', { prompt: 'p', versions: [1], dataset: 'ds', provider: 'prov-a', evaluators: [{ type: 'json_valid' }] });
      assert.equal(experiment.status, 201, JSON.stringify(experiment.body));
      good.experiment = experiment.body.id;
      await eventually(async () => (await a.get(`/experiments/${good.experiment}`)).body.status === 'completed', 'the experiment completes', 20_000);

      const doc = (await a.get('/openapi.json')).body as { paths: Record<string, Record<string, { parameters: Operation['params']; requestBody?: unknown }>> };
      operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({ method, path, params: op.parameters, hasBody: op.requestBody !== undefined })),
      );
    });
    after(() => s.close());

    const counts = async () => {
      const out: Record<string, number> = {};
      for (const t of TABLES) out[t] = Number((await s.running.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n);
      return out;
    };

    /** A value for a path parameter that names something that exists. */
    const goodParam = (path: string, name: string) => {
      if (name === 'version') return '1';
      if (name === 'environment') return 'production';
      if (name === 'name') return path.startsWith('/environments') ? 'production' : path.startsWith('/providers') ? 'prov-a' : path.startsWith('/datasets') ? 'ds' : 'p';
      if (path.includes('/from-execution/')) return good.execution!;
      if (path.startsWith('/experiments')) return good.experiment!;
      if (path.startsWith('/keys')) return good.key!;
      if (path.startsWith('/executions')) return good.execution!;
      if (path.startsWith('/deployment-requests')) return good.request!;
      if (path.startsWith('/webhooks')) return name === 'delivery' ? good.delivery! : good.webhook!;
      throw new Error(`no value for {${name}} in ${path}`);
    };
    const fill = (op: Operation, replace?: [string, string]) =>
      op.path.replace(/\{(\w+)\}/g, (_, name: string) => (replace && replace[0] === name ? replace[1] : encodeURIComponent(goodParam(op.path, name))));

    it('answers every bad path or query parameter with a 4xx of our shape, never 5xx', async () => {
      assert.ok(operations.length >= 35, `the probe sees every route (${operations.length})`);
      const before = await counts();
      const failures: string[] = [];
      for (const op of operations) {
        const urls: string[] = [];
        for (const p of op.params) {
          for (const v of VALUES) {
            if (p.in === 'path') urls.push(fill(op, [p.name, v]));
            else urls.push(`${fill(op)}?${p.name}=${v}`);
          }
        }
        await inParallel(urls, async (url) => {
          const r = await send(op.method, url, op.hasBody ? '{}' : undefined);
          if (r.status >= 500 || (r.status >= 400 && typeof r.body?.error?.code !== 'string')) failures.push(`${op.method.toUpperCase()} ${url} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        });
      }
      assert.deepEqual(failures, []);
      assert.deepEqual(await counts(), before, 'no refusal wrote anything');
    });

    it('answers forged cursors on every list with 400 invalid_cursor, never 5xx', async () => {
      const lists = operations.filter((op) => op.params.some((p) => p.name === 'cursor'));
      assert.ok(lists.length >= 8, `every list has a cursor (${lists.map((l) => l.path).join(', ')})`);
      const failures: string[] = [];
      for (const op of lists) {
        await inParallel(FORGED, async (json) => {
          const url = `${fill(op)}?${LIST_QUERY[op.path] ?? ''}cursor=${b64(json)}`;
          const r = await send(op.method, url);
          const ok = VALID_IN[op.path]?.includes(json) ? r.status === 200 : r.status === 400 && r.body?.error?.code === 'invalid_cursor';
          if (!ok) failures.push(`${url} (${json.slice(0, 40)}) → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        });
        await inParallel(MALFORMED, async (cursor) => {
          const r = await send(op.method, `${fill(op)}?${LIST_QUERY[op.path] ?? ''}cursor=${cursor}`);
          if (r.status !== 400 || typeof r.body?.error?.code !== 'string') failures.push(`${op.path}?cursor=${cursor.slice(0, 20)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        });
        // A cursor the list itself gave stays good (each list holds two items or more).
        const first = await send(op.method, `${fill(op)}?${LIST_QUERY[op.path] ?? ''}limit=1`);
        assert.equal(first.status, 200, `${op.path}: ${JSON.stringify(first.body)}`);
        assert.ok(first.body.next_cursor, `${op.path} has a second page`);
        const next = await send(op.method, `${fill(op)}?${LIST_QUERY[op.path] ?? ''}limit=1&cursor=${first.body.next_cursor}`);
        assert.equal(next.status, 200, `${op.path} with its own cursor: ${JSON.stringify(next.body)}`);
        assert.notDeepEqual(next.body.items, first.body.items, `${op.path}: the second page moves on`);
      }
      assert.deepEqual(failures, []);
    });

    it("refuses the issue's corpus: forged cursors, and DELETE /keys/%00", async () => {
      for (const [path, cursor] of ISSUE_CURSORS) {
        const r = await send('get', `${path}?cursor=${cursor}`);
        assert.equal(r.status, 400, `${path}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'invalid_cursor');
      }
      const revoke = await send('delete', '/keys/%00');
      assert.ok(revoke.status === 400 || revoke.status === 404, JSON.stringify(revoke.body));
      assert.equal(typeof revoke.body.error.code, 'string');
      const keys = (await s.admin.get('/keys?include_revoked=true')).body.items as Array<{ revoked_at: string | null }>;
      assert.ok(keys.every((k) => k.revoked_at === null), 'no key was revoked');
    });
  });
}
