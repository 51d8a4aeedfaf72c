import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { DEFAULT_WEBHOOK_OPTIONS } from '../../server/webhooks/worker.js';
import { MockProvider } from '../support/mock-provider.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

/**
 * Conformance: every route of /openapi.json is called for real, on both
 * databases, and each answer is checked against the schema the route
 * declares for that status (the declarations are strict: a field the
 * server sends but does not declare fails too). A route added without a
 * call here fails the first test, so the document cannot drift from what
 * the server answers. Each route is also called to provoke one declared
 * error where a generic probe can (a missing name or id), and that error
 * must match its declared shape.
 */

interface Call {
  /** The path with its parameters filled in, and any query. */
  url: (ids: Ids) => string;
  body?: (ids: Ids) => unknown;
  /** A body that is not JSON (a dataset file), with its content type. */
  raw?: { type: string; text: string };
  status: number;
  /** A call that answers a documented 404 (a name or id that does not exist). */
  missing?: string;
}

interface Ids {
  /** An experiment of a version and a draft (completed). */
  draftExperiment: string;
  key: string;
  victimKey: string;
  execution: string;
  approve: string;
  reject: string;
  webhook: string;
  spareWebhook: string;
  delivery: string;
  experiment: string;
  spareExperiment: string;
}

const NO_ID = '00000000-0000-4000-8000-000000000000';

/** One successful call per route, in the order they run (later calls may depend on earlier ones). */
const CALLS: Record<string, Call> = {
  'get /healthz': { url: () => '/healthz', status: 200 },
  'get /livez': { url: () => '/livez', status: 200 },
  'get /readyz': { url: () => '/readyz', status: 200 },
  'get /openapi.json': { url: () => '/openapi.json', status: 200 },
  'get /auth/config': { url: () => '/auth/config', status: 200 },
  'get /me': { url: () => '/me', status: 200 },
  'get /events': { url: () => '/events', status: 200 },
  'post /mcp': {
    url: () => '/mcp',
    body: () => ({ jsonrpc: '2.0', id: 1, method: 'initialize', params: { protocolVersion: '2025-06-18', capabilities: {}, clientInfo: { name: 'conformance', version: '1' } } }),
    status: 200,
  },
  'get /mcp': { url: () => '/mcp', status: 200 },
  'post /prompts/{name}/versions': { url: () => '/prompts/conform/versions', body: () => ({ content: 'Hello {{who}}', tags: ['t'], message: 'first' }), status: 201, missing: undefined },
  'get /prompts': { url: () => '/prompts?limit=5', status: 200 },
  'get /prompts/{name}': { url: () => '/prompts/p', status: 200, missing: '/prompts/nope' },
  'patch /prompts/{name}': { url: () => '/prompts/p', body: () => ({ description: 'conformance' }), status: 200, missing: '/prompts/nope' },
  'get /prompts/{name}/versions': { url: () => '/prompts/p/versions', status: 200, missing: '/prompts/nope/versions' },
  'get /prompts/{name}/versions/{version}': { url: () => '/prompts/p/versions/1', status: 200, missing: '/prompts/p/versions/99' },
  'post /prompts/{name}/render': { url: () => '/prompts/p/render', body: () => ({ version: 1, variables: { n: 'x' } }), status: 200, missing: '/prompts/nope/render' },
  'post /prompts/{name}/deployments': { url: () => '/prompts/p/deployments', body: () => ({ version: 2, environment: 'dev' }), status: 201, missing: '/prompts/nope/deployments' },
  'get /prompts/{name}/deployments': { url: () => '/prompts/p/deployments', status: 200, missing: '/prompts/nope/deployments' },
  'get /prompts/{name}/latest': { url: () => '/prompts/p/latest?environment=production', status: 200, missing: '/prompts/nope/latest?environment=production' },
  'post /prompts/{name}/rollback': { url: () => '/prompts/p/rollback', body: () => ({ environment: 'dev' }), status: 201, missing: '/prompts/nope/rollback' },
  'get /prompts/{name}/used-by': { url: () => '/prompts/safety/used-by?environment=production', status: 200, missing: '/prompts/nope/used-by' },
  'put /prompts/{name}/rollouts/{environment}': { url: () => '/prompts/p/rollouts/dev', body: () => ({ candidate: 2, weight: 10 }), status: 201, missing: '/prompts/nope/rollouts/dev' },
  'get /prompts/{name}/rollouts/{environment}': { url: () => '/prompts/p/rollouts/production', status: 200, missing: '/prompts/nope/rollouts/production' },
  'get /rollouts': { url: () => '/rollouts?environment=production&limit=5', status: 200 },
  'post /prompts/{name}/rollouts/{environment}/abort': { url: () => '/prompts/p/rollouts/dev/abort', body: () => ({ reason: 'conformance' }), status: 200, missing: '/prompts/nope/rollouts/dev/abort' },
  'post /prompts/{name}/rollouts/{environment}/promote': { url: () => '/prompts/p/rollouts/production/promote', body: () => ({}), status: 200, missing: '/prompts/nope/rollouts/production/promote' },
  'get /export': { url: () => '/export?environment=production', status: 200 },
  'post /keys': { url: () => '/keys', body: () => ({ name: 'conform-made', scopes: ['read'], owner: 'ada@example.com' }), status: 201 },
  'get /keys': { url: () => '/keys', status: 200 },
  'delete /keys/{id}': { url: (ids) => `/keys/${ids.victimKey}`, status: 200, missing: '/keys/00000000-0000-4000-8000-000000000000' },
  'get /environments': { url: () => '/environments', status: 200 },
  'get /environments/{name}/policy': { url: () => '/environments/staging/policy', status: 200 },
  'put /environments/{name}/policy': { url: () => '/environments/dev/policy', body: () => ({ required_approvals: 0 }), status: 200 },
  'get /deployment-requests': { url: () => '/deployment-requests', status: 200 },
  'get /deployment-requests/{id}': { url: (ids) => `/deployment-requests/${ids.approve}`, status: 200, missing: '/deployment-requests/00000000-0000-4000-8000-000000000000' },
  'post /deployment-requests/{id}/approve': { url: (ids) => `/deployment-requests/${ids.approve}/approve`, body: () => ({ comment: 'ok' }), status: 200, missing: '/deployment-requests/00000000-0000-4000-8000-000000000000/approve' },
  'post /deployment-requests/{id}/reject': { url: (ids) => `/deployment-requests/${ids.reject}/reject`, body: () => ({ comment: 'no' }), status: 200, missing: '/deployment-requests/00000000-0000-4000-8000-000000000000/reject' },
  'get /audit': { url: () => '/audit?limit=5', status: 200 },
  'post /executions': { url: () => '/executions', body: () => ({ prompt: 'p', version: 1, input_variables: { n: 'x' }, response: 'ok', latency_ms: 5 }), status: 201 },
  'get /executions': { url: () => '/executions?prompt=p', status: 200 },
  'get /executions/{id}': { url: (ids) => `/executions/${ids.execution}`, status: 200, missing: '/executions/00000000-0000-4000-8000-000000000000' },
  'post /metrics': { url: () => '/metrics', body: () => ({ name: 'conform', type: 'numeric' }), status: 201 },
  'get /metrics': { url: () => '/metrics', status: 200 },
  'post /executions/{id}/scores': { url: (ids) => `/executions/${ids.execution}/scores`, body: () => ({ metric: 'accuracy', value: 0.5, source: 'human' }), status: 201, missing: '/executions/00000000-0000-4000-8000-000000000000/scores' },
  'get /prompts/{name}/stats': { url: () => '/prompts/p/stats?interval=day', status: 200, missing: '/prompts/nope/stats' },
  'get /prompts/{name}/compare': { url: () => '/prompts/p/compare?a=1&b=2', status: 200, missing: '/prompts/nope/compare?a=1&b=2' },
  'get /retention': { url: () => '/retention', status: 200 },
  'put /retention': { url: () => '/retention', body: () => ({ policies: [{ environment: 'dev', days: 30, action: 'redact' }] }), status: 200 },
  'post /retention/run': { url: () => '/retention/run?dry_run=true', status: 200 },
  'post /webhooks': { url: () => '/webhooks', body: () => ({ url: 'http://127.0.0.1:1/conform', events: ['deployment.deployed'], enabled: false }), status: 201 },
  'get /webhooks': { url: () => '/webhooks', status: 200 },
  'get /webhooks/{id}': { url: (ids) => `/webhooks/${ids.webhook}`, status: 200, missing: `/webhooks/${NO_ID}` },
  'patch /webhooks/{id}': { url: (ids) => `/webhooks/${ids.webhook}`, body: () => ({ description: 'conformance' }), status: 200, missing: `/webhooks/${NO_ID}` },
  'get /webhooks/{id}/deliveries': { url: (ids) => `/webhooks/${ids.webhook}/deliveries`, status: 200, missing: `/webhooks/${NO_ID}/deliveries` },
  'post /webhooks/{id}/deliveries/{delivery}/redeliver': { url: (ids) => `/webhooks/${ids.webhook}/deliveries/${ids.delivery}/redeliver`, status: 200, missing: `/webhooks/${NO_ID}/deliveries/msg_${"0".repeat(32)}/redeliver` },
  'delete /webhooks/{id}': { url: (ids) => `/webhooks/${ids.spareWebhook}`, status: 200, missing: `/webhooks/${NO_ID}` },
  'post /providers': { url: () => '/providers', body: () => ({ name: 'conform-made', kind: 'anthropic' }), status: 201 },
  'get /providers': { url: () => '/providers', status: 200 },
  'get /providers/{name}': { url: () => '/providers/mock', status: 200, missing: '/providers/nope' },
  'patch /providers/{name}': { url: () => '/providers/mock', body: () => ({ default_model: 'm' }), status: 200, missing: '/providers/nope' },
  'post /prompts/{name}/run': { url: () => '/prompts/p/run', body: () => ({ version: 1, variables: { n: 'x' }, provider: 'mock' }), status: 200, missing: '/prompts/nope/run' },
  'post /datasets': { url: () => '/datasets', body: () => ({ name: 'conform-made' }), status: 201 },
  'get /datasets': { url: () => '/datasets', status: 200 },
  'get /datasets/{name}': { url: () => '/datasets/ds', status: 200, missing: '/datasets/nope' },
  'post /datasets/{name}/items': { url: () => '/datasets/ds/items', body: () => ({ items: [{ input: { n: 'y' } }] }), status: 201, missing: '/datasets/nope/items' },
  'get /datasets/{name}/items': { url: () => '/datasets/ds/items', status: 200, missing: '/datasets/nope/items' },
  'post /datasets/{name}/import': { url: () => '/datasets/ds/import', raw: { type: 'application/x-ndjson', text: '{"input":{"n":"z"}}\n' }, status: 201, missing: '/datasets/nope/import' },
  'get /datasets/{name}/export': { url: () => '/datasets/ds/export', status: 200, missing: '/datasets/nope/export' },
  'post /datasets/{name}/items/from-execution/{id}': { url: (ids) => `/datasets/ds/items/from-execution/${ids.execution}`, body: () => ({}), status: 201, missing: `/datasets/nope/items/from-execution/${NO_ID}` },
  'post /evaluators/test': { url: () => '/evaluators/test', body: () => ({ evaluator: { type: 'json_valid' }, output: '{}' }), status: 200 },
  'post /experiments': { url: () => '/experiments', body: () => ({ prompt: 'p', versions: [1], dataset: 'ds', provider: 'mock', evaluators: [{ type: 'json_valid' }] }), status: 201 },
  'get /experiments/{id}': { url: (ids) => `/experiments/${ids.experiment}`, status: 200, missing: `/experiments/${NO_ID}` },
  'get /experiments/{id}/results': { url: (ids) => `/experiments/${ids.experiment}/results`, status: 200, missing: `/experiments/${NO_ID}/results` },
  'get /experiments/{id}/compare': { url: (ids) => `/experiments/${ids.experiment}/compare?a=1&b=1`, status: 200, missing: `/experiments/${NO_ID}/compare?a=1&b=1` },
  'post /experiments/{id}/cancel': { url: (ids) => `/experiments/${ids.spareExperiment}/cancel`, status: 200, missing: `/experiments/${NO_ID}/cancel` },
  'delete /providers/{name}': { url: () => '/providers/spare', status: 200, missing: '/providers/nope' },
  'delete /datasets/{name}': { url: () => '/datasets/spare-ds', status: 200, missing: '/datasets/nope' },
};

/** More calls checked against their route's declaration: the chat forms of the answers, and experiments of drafts. */
const CHAT_CALLS: Array<[route: string, call: Call]> = [
  ['get /prompts/{name}/versions/{version}', { url: () => '/prompts/chatty/versions/1', status: 200 }],
  ['get /prompts/{name}/versions', { url: () => '/prompts/chatty/versions', status: 200 }],
  ['get /prompts/{name}/latest', { url: () => '/prompts/chatty/latest?environment=production', status: 200 }],
  ['post /prompts/{name}/render', { url: () => '/prompts/chatty/render', body: () => ({ environment: 'production', variables: { topic: 'tea' }, placeholders: { history: [{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'hello' }] } }), status: 200 }],
  ['get /export', { url: () => '/export?environment=production', status: 200 }],
  ['post /executions', { url: () => '/executions', body: () => ({ prompt: 'chatty', version: 1, messages: [{ role: 'user', content: 'tea?' }], response_messages: [{ role: 'assistant', content: 'yes' }] }), status: 201 }],
  // Experiments of drafts: a draft's column is named by its label.
  ['post /experiments', { url: () => '/experiments', body: () => ({ prompt: 'p', versions: [1], drafts: [{ label: 'edited', content: 'Draft {{n}}' }], dataset: 'ds', provider: 'mock', evaluators: [{ type: 'json_valid' }] }), status: 201 }],
  ['get /experiments/{id}', { url: (ids) => `/experiments/${ids.draftExperiment}`, status: 200 }],
  ['get /experiments/{id}/results', { url: (ids) => `/experiments/${ids.draftExperiment}/results?draft=edited`, status: 200 }],
  ['get /experiments/{id}/compare', { url: (ids) => `/experiments/${ids.draftExperiment}/compare?a=1&b=draft:edited`, status: 200 }],
];

type Operation = { responses: Record<string, { content?: Record<string, { schema?: object }> }> };

for (const dialect of DIALECTS) {
  describe(`conformance: every route answers what /openapi.json declares (${dialect})`, () => {
    let s: TestServer;
    let paths: Record<string, Record<string, Operation>>;
    let components: { schemas?: Record<string, object> };
    const ids = {} as Ids;
    const mock = new MockProvider();
    const ajv = new Ajv2020({ strict: false, allErrors: true });
    const validators = new Map<string, ValidateFunction>();

    const validatorFor = (key: string, status: number): ValidateFunction | undefined => {
      const [method, path] = key.split(' ') as [string, string];
      const schema = paths[path]?.[method]?.responses[String(status)]?.content?.['application/json']?.schema;
      if (!schema) return undefined;
      const id = `${key} ${status}`;
      // Named answer schemas are `$ref`s to #/components/schemas, resolved within the compiled schema.
      if (!validators.has(id)) validators.set(id, ajv.compile({ ...schema, components: { schemas: components.schemas ?? {} } }));
      return validators.get(id);
    };

    const send = async (method: string, url: string, body?: unknown, raw?: Call['raw']) => {
      const res = await fetch(s.url + url, {
        method: method.toUpperCase(),
        headers: { 'X-API-Key': ADMIN_KEY, ...(raw ? { 'Content-Type': raw.type } : body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
        ...(raw ? { body: raw.text } : body !== undefined ? { body: JSON.stringify(body) } : {}),
      });
      const type = res.headers.get('content-type') ?? '';
      if (type.startsWith('text/event-stream')) {
        await res.body?.cancel();
        return { status: res.status, type, body: undefined as unknown };
      }
      const text = await res.text();
      if (!type.startsWith('application/json')) return { status: res.status, type, body: text as unknown };
      return { status: res.status, type, body: text ? (JSON.parse(text) as unknown) : undefined };
    };

    before(async () => {
      // Webhooks to 127.0.0.1:1 (nothing listens): deliveries are made, and fail.
      s = await startTestServer(dialect, { webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'] } });
      const a = s.admin;
      ids.webhook = (await a.post('/webhooks', { url: 'http://127.0.0.1:1/conform', events: ['version.created'] })).body.id;
      ids.spareWebhook = (await a.post('/webhooks', { url: 'http://127.0.0.1:1/spare', events: ['*'], enabled: false })).body.id;
      for (const content of ['Hi {{n}}', 'Hello {{n}}', 'Third {{n}}', 'Fourth {{n}}']) assert.equal((await a.post('/prompts/p/versions', { content })).status, 201);
      for (const [version, environment] of [[1, 'production'], [1, 'dev']] as const) {
        assert.equal((await a.post('/prompts/p/deployments', { version, environment })).status, 201);
      }
      // A rollout in production, so resolve answers carry one and promote has one to promote.
      assert.equal((await a.raw('PUT', '/prompts/p/rollouts/production', JSON.stringify({ candidate: 2, weight: 10 }))).status, 201);
      ids.victimKey = (await a.post('/keys', { name: 'victim', scopes: ['read'] })).body.id;
      const logged = await a.post('/executions', [{ prompt: 'p', version: 1, input_variables: { n: 'x' }, response: 'ok' }]);
      ids.execution = logged.body.ids[0];
      assert.equal((await a.post('/metrics', { name: 'accuracy', type: 'numeric' })).status, 201);
      assert.equal((await a.raw('PUT', '/environments/staging/policy', JSON.stringify({ required_approvals: 1 }))).status, 200);
      const asker = s.as((await a.post('/keys', { name: 'asker', scopes: ['deploy'], owner: 'asker@example.com' })).body.key);
      for (const [which, version] of [['approve', 3], ['reject', 4]] as const) {
        const asked = await asker.post('/prompts/p/deployments', { version, environment: 'staging' });
        assert.equal(asked.status, 202, JSON.stringify(asked.body));
        ids[which] = asked.body.request?.id ?? asked.body.id;
      }
      // A chat prompt including a partial, live in production.
      assert.equal((await a.post('/prompts/safety/versions', { content: 'Be kind.' })).status, 201);
      assert.equal((await a.post('/prompts/safety/deployments', { version: 1, environment: 'production' })).status, 201);
      const chat = await a.post('/prompts/chatty/versions', {
        type: 'chat',
        messages: [{ role: 'system', content: 'You talk about {{topic}}. {{> safety}}' }, { type: 'placeholder', name: 'history' }, { role: 'user', content: 'Go on about {{topic}}.' }],
        config: { model: 'gpt-4o', temperature: 0.2, response_format: { type: 'json_schema', json_schema: { name: 'answer', schema: { type: 'object', properties: { text: { type: 'string' } } } } } },
        input_schema: { type: 'object', properties: { topic: { type: 'string' } }, required: ['topic'] },
      });
      assert.equal(chat.status, 201, JSON.stringify(chat.body));
      assert.equal((await a.post('/prompts/chatty/deployments', { version: 1, environment: 'production' })).status, 201);
      ids.delivery = (await a.get(`/webhooks/${ids.webhook}/deliveries`)).body.items[0].id;
      // Runs and experiments call a mock provider; for the model "slow" it holds its answer, so that experiment is still running when cancelled.
      await mock.start();
      mock.respond = (call) => (call.body.model === 'slow' ? { delayMs: 60_000 } : {});
      for (const name of ['mock', 'spare']) assert.equal((await a.post('/providers', { name, kind: 'openai', base_url: mock.openAiBase, default_model: 'm' })).status, 201);
      for (const name of ['ds', 'spare-ds']) assert.equal((await a.post('/datasets', { name })).status, 201);
      assert.equal((await a.post('/datasets/ds/items', { items: [{ input: { n: 'x' } }] })).status, 201);
      const experiment = (model: string) => a.post('/experiments', { prompt: 'p', versions: [1], dataset: 'ds', provider: 'mock', model, evaluators: [{ type: 'json_valid' }] });
      ids.experiment = (await experiment('m')).body.id;
      ids.spareExperiment = (await experiment('slow')).body.id;
      const drafted = await a.post('/experiments', { prompt: 'p', versions: [1], drafts: [{ label: 'edited', content: 'Draft {{n}}' }], dataset: 'ds', provider: 'mock', model: 'm', evaluators: [{ type: 'json_valid' }] });
      assert.equal(drafted.status, 201, JSON.stringify(drafted.body));
      ids.draftExperiment = drafted.body.id;
      await eventually(async () => (await a.get(`/experiments/${ids.draftExperiment}`)).body.status === 'completed', 'the draft experiment completes', 30_000);
      ({ paths, components } = (await a.get('/openapi.json')).body);
    });
    after(async () => {
      await s.close();
      await mock.close();
    });

    it('calls every route the document declares, and declares every route it calls', () => {
      const declared = Object.entries(paths).flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method} ${path}`));
      assert.deepEqual(declared.filter((k) => !CALLS[k]), [], 'routes in /openapi.json with no conformance call');
      assert.deepEqual(Object.keys(CALLS).filter((k) => !declared.includes(k)), [], 'conformance calls for routes the document does not declare');
    });

    it('answers each call with its declared status and a body matching the declared schema', async () => {
      const failures: string[] = [];
      for (const [key, call] of Object.entries(CALLS)) {
        const [method] = key.split(' ') as [string];
        const r = await send(method, call.url(ids), call.body?.(ids), call.raw);
        if (r.status !== call.status) {
          failures.push(`${key}: ${r.status} (expected ${call.status}) ${JSON.stringify(r.body)}`);
          continue;
        }
        if (!paths[key.split(' ')[1]!]![method]!.responses[String(r.status)]) failures.push(`${key}: ${r.status} is not a declared response`);
        if (key === 'get /events' || key === 'get /mcp') {
          if (!r.type.startsWith('text/event-stream')) failures.push(`${key}: content-type ${r.type}`);
          continue;
        }
        if (key === 'get /datasets/{name}/export') {
          if (!r.type.startsWith('application/x-ndjson')) failures.push(`${key}: content-type ${r.type}`);
          continue;
        }
        const validate = validatorFor(key, r.status);
        if (key === 'get /openapi.json') continue; // the document itself: its own test checks it
        if (!validate) {
          failures.push(`${key}: no JSON schema declared for ${r.status}`);
          continue;
        }
        if (!validate(r.body)) failures.push(`${key}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(r.body).slice(0, 400)}`);
      }
      assert.deepEqual(failures, []);
    });

    it('answers the chat forms (messages, config, partials) and experiments of drafts as declared', async () => {
      const failures: string[] = [];
      for (const [key, call] of CHAT_CALLS) {
        const r = await send(key.split(' ')[0]!, call.url(ids), call.body?.(ids));
        const validate = validatorFor(key, r.status);
        if (r.status !== call.status || !validate) failures.push(`${key}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
        else if (!validate(r.body)) failures.push(`${key}: ${ajv.errorsText(validate.errors)} in ${JSON.stringify(r.body).slice(0, 400)}`);
      }
      assert.deepEqual(failures, []);
    });

    it('answers a missing name or id with the declared 404 and the error shape', async () => {
      const failures: string[] = [];
      for (const [key, call] of Object.entries(CALLS)) {
        if (!call.missing) continue;
        const [method] = key.split(' ') as [string];
        const r = await send(method, call.missing, call.body?.(ids), call.raw);
        const validate = validatorFor(key, 404);
        if (r.status !== 404 || !validate) {
          failures.push(`${key}: ${r.status}${validate ? '' : ' (no 404 declared)'} ${JSON.stringify(r.body)}`);
          continue;
        }
        if (!validate(r.body)) failures.push(`${key}: ${ajv.errorsText(validate.errors)}`);
      }
      assert.deepEqual(failures, []);
    });
  });
}
