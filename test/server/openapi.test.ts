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
    for (const field of ['content', 'model', 'temperature', 'max_tokens', 'metadata', 'description', 'tags', 'message']) assert.ok(schema.properties[field], field);
    assert.deepEqual(schema.required, ['content']);
    assert.ok(create.responses['201'] && create.responses['409']);
    const latest = body.paths['/prompts/{name}/latest'].get;
    assert.ok(latest.parameters.some((p: { name: string; in: string }) => p.name === 'environment' && p.in === 'query'));
    assert.ok(body.paths['/prompts/{name}/rollback'].post);
    assert.ok(body.paths['/prompts/{name}/render'].post);
    assert.deepEqual(body.paths['/healthz'].get.security, []);
  });
});
