import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { grants } from '../../server/auth/principal.js';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type Answer, type TestServer } from '../support/server.js';
import { DEFAULT_WEBHOOK_OPTIONS } from '../../server/webhooks/worker.js';
import { MockProvider } from '../support/mock-provider.js';
import { listen } from '../support/sse.js';
import { eventually } from '../support/wait.js';

/**
 * Issue 18's probe with keys of every scope: every route of /openapi.json
 * called by each, well-formed and with bad parameters. A key without the
 * route's scope (x-required-scope in the document) is refused with 401/403,
 * never served; nothing answers 5xx; every refusal has our error shape. Then
 * the resource attacks, each refused while another client keeps being served.
 */

const SCOPES = ['read', 'write', 'run', 'deploy', 'deploy:staging', 'executions:read', 'executions:write', 'admin'] as const;

/** Bad path and query values, percent-encoded: boundary-probe's worst, rotated over the callers (it sends all of them as admin). */
const VALUES = ['%00', '%ED%A0%80', '%FF', '99999999999999999999', 'x'.repeat(300), '0000-01-01T00:00:00Z'];

/** Scope checks the document cannot declare: approving and rejecting need deploy on the request's environment (staging). */
const SCOPE_OF: Record<string, string> = {
  'post /deployment-requests/{id}/approve': 'deploy:staging',
  'post /deployment-requests/{id}/reject': 'deploy:staging',
  // Needs write and executions:read: of the probe's keys, only admin has both.
  'post /datasets/{name}/items/from-execution/{id}': 'admin',
};

/** A well-formed body for each route that takes one (`n` makes names unique per call). */
const BODY: Record<string, (n: number) => unknown> = {
  'post /prompts/{name}/deployments': () => ({ version: 1, environment: 'dev' }),
  'post /prompts/{name}/rollback': () => ({ environment: 'dev' }),
  'patch /prompts/{name}': () => ({ description: 'probed' }),
  'post /prompts/{name}/versions': () => ({ content: 'Hi {{n}}' }),
  'post /prompts/{name}/render': () => ({ version: 1, variables: { n: 'x' } }),
  'post /keys': (n) => ({ name: `made-${n}`, scopes: ['read'] }),
  'put /environments/{name}/policy': () => ({ required_approvals: 0 }),
  'post /deployment-requests/{id}/approve': () => ({}),
  'post /deployment-requests/{id}/reject': () => ({ comment: 'no' }),
  'post /executions': () => [{ prompt: 'p', version: 1 }],
  'post /metrics': (n) => ({ name: `m${n}`, type: 'numeric' }),
  'post /executions/{id}/scores': () => ({ metric: 'accuracy', value: 1, source: 'human' }),
  'put /retention': () => ({ policies: [] }),
  'post /webhooks': () => ({ url: 'http://127.0.0.1:1/made', events: ['*'], enabled: false }),
  'patch /webhooks/{id}': () => ({ description: 'probed' }),
  'put /prompts/{name}/rollouts/{environment}': () => ({ candidate: 1, weight: 10 }),
  'post /prompts/{name}/rollouts/{environment}/promote': () => ({}),
  'post /prompts/{name}/rollouts/{environment}/abort': () => ({ reason: 'probed' }),
  'post /providers': (n) => ({ name: `made-${n}`, kind: 'openai' }),
  'patch /providers/{name}': () => ({ default_model: 'm' }),
  'post /prompts/{name}/run': () => ({ version: 1, variables: { n: 'x' }, provider: 'mock' }),
  'post /datasets': (n) => ({ name: `made-${n}` }),
  'post /datasets/{name}/items': () => ({ items: [{ input: { n: 'x' } }] }),
  'post /datasets/{name}/items/from-execution/{id}': () => ({}),
  'post /evaluators/test': () => ({ evaluator: { type: 'json_valid' }, output: '{}' }),
  'post /experiments': () => ({ prompt: 'p', versions: [1], dataset: 'ds', provider: 'mock', evaluators: [{ type: 'json_valid' }] }),
};
const QUERY: Record<string, string> = { 'post /retention/run': '?dry_run=true' };

const PAYLOAD = ['input_variables', 'rendered_prompt', 'response'] as const;

async function inParallel<T>(items: readonly T[], each: (item: T) => Promise<void>, width = 8): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await each(items[next++]!);
  };
  await Promise.all(Array.from({ length: width }, worker));
}

interface Operation {
  method: string;
  path: string;
  params: Array<{ name: string; in: 'path' | 'query' }>;
  /** The scope the route needs; 'none' for public routes, 'authenticated' for any key. */
  scope: string;
}

/** One caller: a key of one scope, or no key at all. */
interface Caller {
  label: string;
  key: string | null;
  scopes: string[];
}

const allowed = (caller: Caller, scope: string) => scope === 'none' || (caller.key !== null && (scope === 'authenticated' || grants(caller.scopes, scope)));

for (const dialect of DIALECTS) {
  describe(`scope probe: every route with keys of every scope, and the resource attacks (${dialect})`, () => {
    let s: TestServer;
    let operations: Operation[];
    const callers: Caller[] = [{ label: 'no key', key: null, scopes: [] }];
    const good: Record<string, string> = {};
    const mock = new MockProvider();
    let made = 0;
    let reader: string;
    let writer: string;

    const send = async (caller: Caller, method: string, url: string, body?: unknown): Promise<{ status: number; body: any }> => {
      const res = await fetch(s.url + url, {
        method: method.toUpperCase(),
        headers: { ...(caller.key ? { 'X-API-Key': caller.key } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      if (res.headers.get('content-type')?.startsWith('text/event-stream')) {
        await res.body?.cancel();
        return { status: res.status, body: undefined };
      }
      const text = await res.text();
      try {
        return { status: res.status, body: JSON.parse(text) };
      } catch {
        return { status: res.status, body: text };
      }
    };

    before(async () => {
      // No limit on failed authentications: the probe's keyless calls must each answer 401, not the limiter's 429.
      // Webhooks to a closed port on loopback (allowed): their deliveries fail fast and wait to be retried.
      s = await startTestServer(dialect, { authFailureLimit: 0, webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'] } });
      const a = s.admin;
      good.webhook = (await a.post('/webhooks', { url: 'http://127.0.0.1:1/probe', events: ['version.created'] })).body.id;
      // Runs and experiments call a mock provider; GET/PATCH/DELETE /providers/{name} go to a spare one.
      await mock.start();
      for (const [name, base_url] of [['mock', mock.openAiBase], ['spare', mock.openAiBase]]) assert.equal((await a.post('/providers', { name, kind: 'openai', base_url, default_model: 'm' })).status, 201);
      for (const name of ['ds', 'spare-ds']) assert.equal((await a.post('/datasets', { name })).status, 201);
      assert.equal((await a.post('/datasets/ds/items', { items: [{ input: { n: 'x' } }] })).status, 201);
      assert.equal((await a.post('/prompts/p/versions', { content: 'Hi {{n}}' })).status, 201);
      assert.equal((await a.post('/prompts/p/versions', { content: 'Hello {{n}}' })).status, 201);
      good.delivery = (await a.get(`/webhooks/${good.webhook}/deliveries`)).body.items[0].id;
      assert.equal((await a.post('/prompts/p/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await a.post('/prompts/p/deployments', { version: 1, environment: 'dev' })).status, 201);
      assert.equal((await a.post('/prompts/p/deployments', { version: 2, environment: 'dev' })).status, 201);
      for (const scope of SCOPES) {
        const k = await a.post('/keys', { name: `probe-${scope}`, scopes: [scope] });
        assert.equal(k.status, 201, JSON.stringify(k.body));
        callers.push({ label: scope, key: k.body.key, scopes: [scope] });
      }
      good.key = (await a.post('/keys', { name: 'victim', scopes: ['read'] })).body.id;
      reader = callers.find((c) => c.label === 'read')!.key!;
      writer = callers.find((c) => c.label === 'write')!.key!;
      const logged = await a.post('/executions', [{ prompt: 'p', version: 1, input_variables: { n: 'secret' }, rendered_prompt: 'Hi secret', response: 'ok' }]);
      assert.equal(logged.status, 201, JSON.stringify(logged.body));
      good.execution = logged.body.ids[0];
      assert.equal((await a.post('/metrics', { name: 'accuracy', type: 'numeric' })).status, 201);
      const cube = '{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}';
      assert.equal((await a.post('/prompts/cube/versions', { content: cube })).status, 201);
      assert.equal((await a.raw('PUT', '/environments/staging/policy', JSON.stringify({ required_approvals: 1 }))).status, 200);
      // Asked by a key none of the probe's keys is, so approving is never self-approval.
      const asker = s.as((await a.post('/keys', { name: 'asker', scopes: ['deploy'] })).body.key);
      for (const which of ['approve', 'reject']) {
        const asked = await asker.post('/prompts/p/deployments', { version: which === 'approve' ? 2 : 3, environment: 'staging' });
        assert.equal(asked.status, 202, JSON.stringify(asked.body));
        good[which] = asked.body.request?.id ?? asked.body.id;
        // Each decision gets its own pending request, for its own version.
        if (which === 'approve') await a.post('/prompts/p/versions', { content: 'Third {{n}}' });
      }

      good.experiment = (await a.post('/experiments', { prompt: 'p', versions: [1], dataset: 'ds', provider: 'mock', evaluators: [{ type: 'json_valid' }] })).body.id;

      const doc = (await a.get('/openapi.json')).body as { paths: Record<string, Record<string, any>> };
      operations = Object.entries(doc.paths).flatMap(([path, methods]) =>
        Object.entries(methods).map(([method, op]) => ({
          method,
          path,
          params: op.parameters,
          scope: SCOPE_OF[`${method} ${path}`] ?? op['x-required-scope'] ?? (Array.isArray(op.security) && op.security.length === 0 ? 'none' : 'authenticated'),
        })),
      );
    });
    after(async () => {
      await s.close();
      await mock.close();
    });

    const goodParam = (op: Operation, name: string) => {
      if (name === 'version') return '1';
      if (name === 'environment') return 'dev';
      if (name === 'name') return op.path.startsWith('/environments') ? 'dev' : op.path.startsWith('/providers') ? 'spare' : op.path === '/datasets/{name}' ? 'spare-ds' : op.path.startsWith('/datasets') ? 'ds' : 'p';
      if (op.path.includes('/from-execution/')) return good.execution!;
      if (op.path.startsWith('/experiments')) return good.experiment!;
      if (op.path.startsWith('/keys')) return good.key!;
      if (op.path.startsWith('/executions')) return good.execution!;
      if (op.path.endsWith('/approve')) return good.approve!;
      if (op.path.endsWith('/reject')) return good.reject!;
      if (op.path.startsWith('/deployment-requests')) return good.approve!;
      if (op.path.startsWith('/webhooks')) return name === 'delivery' ? good.delivery! : good.webhook!;
      throw new Error(`no value for {${name}} in ${op.path}`);
    };
    const fill = (op: Operation, replace?: [string, string]) =>
      op.path.replace(/\{(\w+)\}/g, (_, name: string) => (replace && replace[0] === name ? replace[1] : encodeURIComponent(goodParam(op, name))));
    const body = (op: Operation) => BODY[`${op.method} ${op.path}`]?.(made++);

    /** Checks one answer to `caller`; a failure is added to `failures`. */
    const judge = (failures: string[], caller: Caller, op: Operation, url: string, r: { status: number; body: any }) => {
      const what = `${caller.label}: ${op.method.toUpperCase()} ${url} → ${r.status} ${JSON.stringify(r.body)?.slice(0, 160)}`;
      if (r.status >= 500) failures.push(`5xx ${what}`);
      else if (r.status >= 400 && typeof r.body?.error?.code !== 'string') failures.push(`not our error shape ${what}`);
      else if (!allowed(caller, op.scope) && r.status < 400) failures.push(`served without "${op.scope}" ${what}`);
    };

    it('reads the scope of every route from /openapi.json', () => {
      assert.ok(operations.length >= 35, `every route (${operations.length})`);
      const scopes = new Set(operations.map((o) => o.scope));
      for (const scope of ['none', 'authenticated', 'read', 'write', 'admin', 'executions:write', 'deploy:{environment}', 'deploy:staging']) assert.ok(scopes.has(scope), scope);
    });

    it('serves each key the routes its scope grants, refuses the rest with 401/403, never 5xx', async () => {
      const failures: string[] = [];
      // Routes a few at a time (none changes what another answers), each route's callers in turn.
      await inParallel(operations, async (op) => {
        const url = fill(op) + (QUERY[`${op.method} ${op.path}`] ?? '');
        const scope = op.scope === 'deploy:{environment}' ? 'deploy:dev' : op.scope;
        const resolved = { ...op, scope };
        // Refused callers first: a granted call may change what the route then answers (an approved request is 409).
        const ordered = [...callers].sort((x, y) => Number(allowed(x, scope)) - Number(allowed(y, scope)));
        for (const caller of ordered) {
          const r = await send(caller, op.method, url, body(op));
          judge(failures, caller, resolved, url, r);
          if (!allowed(caller, scope) && r.status !== (caller.key ? 403 : 401)) failures.push(`expected ${caller.key ? 403 : 401}: ${caller.label} ${op.method.toUpperCase()} ${url} → ${r.status}`);
          if (allowed(caller, scope) && (r.status === 401 || r.status === 403)) failures.push(`refused with the scope: ${caller.label} ${op.method.toUpperCase()} ${url} → ${r.status} ${JSON.stringify(r.body)}`);
        }
      }, 4);
      assert.deepEqual(failures, []);
    });

    it('answers bad path and query parameters from every key with a 4xx of our shape, never serving a key without the scope', async () => {
      const calls: Array<[Caller, Operation, string]> = [];
      let turn = 0;
      for (const op of operations) {
        const scope = op.scope === 'deploy:{environment}' ? 'deploy:dev' : op.scope;
        for (const p of op.params) {
          // Each value goes to one caller, the callers taking turns, so every key meets the whole corpus across the routes.
          for (const v of VALUES) {
            const url = p.in === 'path' ? fill(op, [p.name, v]) : `${fill(op)}?${p.name}=${v}`;
            calls.push([callers[turn++ % callers.length]!, { ...op, scope }, url]);
          }
        }
      }
      const failures: string[] = [];
      await inParallel(calls, async ([caller, op, url]) => judge(failures, caller, op, url, await send(caller, op.method, url, body(op))));
      assert.deepEqual(failures, []);
    });

    it('shows logged payloads to executions:read (and admin) only', async () => {
      for (const caller of callers.filter((c) => c.key)) {
        const one = await send(caller, 'get', `/executions/${good.execution}`);
        assert.equal(one.status, 200, `${caller.label}: ${JSON.stringify(one.body)}`);
        const sees = grants(caller.scopes, 'executions:read');
        assert.deepEqual(
          PAYLOAD.map((f) => one.body[f]),
          sees ? [{ n: 'secret' }, 'Hi secret', 'ok'] : [null, null, null],
          `${caller.label} ${sees ? 'sees' : 'never sees'} the payload`,
        );
        assert.equal(one.body.payload_withheld, !sees);
        const list = await send(caller, 'get', '/executions?prompt=p');
        assert.equal(list.status, 200);
        assert.ok(list.body.items.length >= 1);
        for (const item of list.body.items) for (const f of PAYLOAD) assert.ok(item[f] === undefined || item[f] === null, `${caller.label}: the list holds no ${f}`);
      }
    });

    // The resource attacks, on the same server: each is refused while another client keeps being served.
    /** Runs `attack` while another client polls /healthz; answers the attack and the order things finished in. */
    async function whileServing(attack: () => Promise<Answer>): Promise<{ answer: Answer; order: string[] }> {
      const order: string[] = [];
      let done = false;
      const pending = attack().then((a) => {
        order.push('attack');
        done = true;
        return a;
      });
      const poller = (async () => {
        while (!done) {
          assert.equal((await s.as(null).get('/healthz')).status, 200);
          order.push('healthz');
        }
      })();
      const answer = await pending;
      await poller;
      assert.equal((await s.as(null).get('/healthz')).status, 200, 'another client is served after the attack');
      return { answer, order };
    }
    const refused = (a: Answer, status: number, code: string) => {
      assert.equal(a.status, status, JSON.stringify(a.body)?.slice(0, 300));
      assert.equal(a.body.error.code, code);
      assert.equal(typeof a.body.error.message, 'string');
    };

    it('a read key rendering three nested #each over 600 items: 422, /healthz answered first', async () => {
      const { answer, order } = await whileServing(() => s.as(reader).post('/prompts/cube/render', { version: 1, variables: { a: Array(600).fill(0) } }));
      refused(answer, 422, 'render_too_large');
      assert.equal(order[0], 'healthz', `another client was served while the render ran (${order.join(' ')})`);
    });

    it('publishing 20,000 nested {{#if}}: 422, and /healthz still served', async () => {
      const { answer } = await whileServing(() => s.as(writer).post('/prompts/deep/versions', { content: `${'{{#if a}}'.repeat(20_000)}x` }));
      // Refused by a depth check before compiling, so it may well answer before any /healthz: no order to assert.
      refused(answer, 422, 'template_too_large');
      assert.equal(answer.body.error.limit, 'depth');
      assert.equal((await s.admin.get('/prompts/deep')).status, 404, 'nothing stored');
    });

    it('a body nested 10,000 deep, invalid UTF-8, and a body over the size limit: 400, 400, 413', async () => {
      const deep = `{"content":"x","metadata":{"a":${'['.repeat(10_000)}${']'.repeat(10_000)}}}`;
      refused((await whileServing(() => s.as(writer).raw('POST', '/prompts/deep/versions', deep))).answer, 400, 'json_too_deep');
      const bad = Buffer.concat([Buffer.from('{"content":"x'), Buffer.from([0xff]), Buffer.from('"}')]);
      refused((await whileServing(() => s.as(writer).raw('POST', '/prompts/deep/versions', bad))).answer, 400, 'invalid_utf8');
      const big = JSON.stringify({ content: 'x'.repeat(1_100_000) });
      refused((await whileServing(() => s.as(writer).raw('POST', '/prompts/deep/versions', big))).answer, 413, 'payload_too_large');
      assert.equal((await s.admin.get('/prompts/deep')).status, 404, 'nothing stored');
    });

    it('an event stream whose key is revoked ends, the key is refused after, and others are served', async () => {
      const k = (await s.admin.post('/keys', { name: 'streamer', scopes: ['read'] })).body;
      const stream = await listen(`${s.url}/events`, k.key);
      assert.equal(stream.res.status, 200);
      assert.equal((await s.admin.delete(`/keys/${k.id}`)).status, 200);
      await eventually(() => stream.ended(), 'the revoked key\'s stream ends', 20_000);
      assert.equal(stream.events.at(-1)?.event, 'credential_revoked');
      const again = await listen(`${s.url}/events`, k.key);
      assert.equal(again.res.status, 401);
      again.close();
      assert.equal((await s.as(null).get('/healthz')).status, 200);
    });
  });
}
