import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openApiPath } from '../../server/http/openapi.js';
import { startTestServer, type TestServer } from '../support/server.js';

describe('OpenAPI document', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer('sqlite');
  });
  after(() => s.close());

  it('is OpenAPI 3.1 and documents every route the app serves', async () => {
    const r = await s.admin.get('/openapi.json');
    assert.equal(r.status, 200);
    assert.equal(r.body.openapi, '3.1.0');
    const routes = s.running.registry.routes;
    assert.ok(routes.length >= 15);
    for (const route of routes) {
      const op = r.body.paths[openApiPath(route.path)]?.[route.method];
      assert.ok(op, `${route.method} ${route.path} is documented`);
      assert.ok(op.summary);
      assert.ok(Object.keys(op.responses).length > 0);
    }
  });

  it('documents the contract routes with their request bodies and parameters', async () => {
    const { body } = await s.admin.get('/openapi.json');
    const create = body.paths['/prompts/{name}/versions'].post;
    const schema = create.requestBody.content['application/json'].schema;
    for (const field of ['content', 'model', 'temperature', 'max_tokens', 'metadata', 'description', 'tags', 'message', 'type', 'messages', 'config', 'input_schema']) {
      assert.ok(schema.properties[field], field);
    }
    // content for text prompts, messages for chat (issue 12): neither is required on its own.
    assert.equal(schema.required, undefined);
    assert.ok(body.paths['/prompts/{name}/used-by'].get);
    const renderedRef = body.paths['/prompts/{name}/render'].post.responses['200'].content['application/json'].schema.$ref;
    // Answers are named schemas, so generated clients get named types (shared/contract/api.gen.ts).
    assert.equal(renderedRef, '#/components/schemas/RenderResult');
    const rendered = body.components.schemas.RenderResult;
    for (const field of ['type', 'rendered', 'messages', 'config', 'partials_used']) assert.ok(rendered.properties[field], field);
    assert.ok(create.responses['201'] && create.responses['409']);
    const latest = body.paths['/prompts/{name}/latest'].get;
    assert.ok(latest.parameters.some((p: { name: string; in: string }) => p.name === 'environment' && p.in === 'query'));
    assert.ok(body.paths['/prompts/{name}/rollback'].post);
    assert.ok(body.paths['/prompts/{name}/render'].post);
    assert.deepEqual(body.paths['/healthz'].get.security, []);
  });

  it('documents sign-in, the caller, environment policies and deployment requests', async () => {
    const { body } = await s.admin.get('/openapi.json');
    assert.deepEqual(body.paths['/auth/config'].get.security, []);
    assert.ok(body.paths['/me'].get.responses['200']);
    assert.equal(body.paths['/me'].get['x-required-scope'], undefined, 'any valid credential');
    assert.equal(body.paths['/environments/{name}/policy'].put['x-required-scope'], 'admin');
    assert.ok(body.paths['/environments/{name}/policy'].put.requestBody);
    for (const path of ['/deployment-requests', '/deployment-requests/{id}', '/deployment-requests/{id}/approve', '/deployment-requests/{id}/reject']) assert.ok(body.paths[path], path);
    assert.ok(body.paths['/prompts/{name}/deployments'].post.responses['202']);
    assert.ok(body.paths['/prompts/{name}/rollback'].post.responses['202']);
    assert.deepEqual(body.components.securitySchemes.bearer, { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: body.components.securitySchemes.bearer.description });
    const keyBody = body.paths['/keys'].post.requestBody.content['application/json'].schema;
    assert.ok(keyBody.properties.expires_at && keyBody.properties.expires_in_days);
  });

  it('documents execution logging: one execution or a batch, with every field of a row', async () => {
    const { body } = await s.admin.get('/openapi.json');
    const ingest = body.paths['/executions'].post;
    const [one, batch] = ingest.requestBody.content['application/json'].schema.anyOf;
    for (const field of ['id', 'prompt_version_id', 'prompt', 'version', 'environment', 'executed_at', 'input_variables', 'rendered_prompt', 'response', 'input_tokens', 'output_tokens', 'latency_ms', 'cost_usd', 'quality_score', 'status', 'error', 'metadata']) {
      assert.ok(one.properties[field], field);
    }
    assert.equal(batch.type, 'array');
    assert.equal(batch.maxItems, 1000);
    assert.equal(ingest['x-required-scope'], 'executions:write');
    assert.ok(ingest.responses['201'] && ingest.responses['400'] && ingest.responses['413']);
    const stats = body.paths['/prompts/{name}/stats'].get;
    assert.deepEqual(stats.parameters.filter((p: { in: string }) => p.in === 'query').map((p: { name: string }) => p.name).sort(), ['environment', 'from', 'interval', 'to']);
    for (const path of ['/executions/{id}', '/executions/{id}/scores', '/metrics', '/prompts/{name}/compare', '/retention', '/retention/run']) assert.ok(body.paths[path], path);
    assert.ok(body.paths['/retention'].put.requestBody);
  });
});
