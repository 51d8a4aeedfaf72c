import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type TestServer } from '../support/server.js';

function assertErrorShape(body: any, status: number, code?: string): void {
  assert.equal(typeof body?.error?.code, 'string', `error shape at ${status}: ${JSON.stringify(body)}`);
  assert.equal(typeof body.error.message, 'string');
  if (code) assert.equal(body.error.code, code);
  const text = JSON.stringify(body);
  assert.ok(!/at .+\.(ts|js):\d+/.test(text), 'no stack trace');
  assert.ok(!/SELECT|INSERT|UPDATE /.test(text), 'no SQL');
}

for (const dialect of DIALECTS) {
  describe(`errors and limits (${dialect})`, () => {
    let s: TestServer;
    before(async () => {
      s = await startTestServer(dialect, { bodyLimit: '64kb' });
      assert.equal((await s.admin.post('/prompts/base/versions', { content: 'Hi {{x}}' })).status, 201);
    });
    after(() => s.close());

    const counts = async () => {
      const one = async (t: string) => Number((await s.running.db.get<{ n: number }>(`SELECT COUNT(*) AS n FROM ${t}`))!.n);
      return { prompts: await one('prompts'), versions: await one('prompt_versions'), deployments: await one('prompt_deployments'), audit: await one('audit_log') };
    };

    it('answers bad input with 4xx and the error shape, writing nothing', async () => {
      const before = await counts();
      const cases: Array<[string, string, unknown, number, string?]> = [
        ['post', '/prompts/x/versions', {}, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 42 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: '' }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', temperature: 2.5 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', temperature: -0.1 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', temperature: '0.5' }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', max_tokens: 0 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', max_tokens: 1.5 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', max_tokens: 1e12 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', metadata: [] }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', model: 'm'.repeat(101) }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', tags: ['ok', 7] }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', tmperature: 0.5 }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a\u0000b' }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', metadata: { k: 'v\u0000' } }, 400, 'invalid_request'],
        ['post', '/prompts/x/versions', { content: 'a', description: 'd\u0000' }, 400, 'invalid_request'],
        ['post', `/prompts/${'n'.repeat(256)}/versions`, { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/bad%01name/versions', { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/bad%0Aname/versions', { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/has%20space/versions', { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/-dash-first/versions', { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/100%/versions', { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/%E0%A4%A/versions', { content: 'a' }, 400, 'invalid_request'],
        ['post', '/prompts/base/deployments', { version: 1, environment: 'e'.repeat(51) }, 400, 'invalid_request'],
        ['post', '/prompts/base/deployments', { version: '1', environment: 'dev' }, 400, 'invalid_request'],
        ['post', '/prompts/base/deployments', { version: 0, environment: 'dev' }, 400, 'invalid_request'],
        ['post', '/prompts/base/deployments', { version: 1, environment: 'Prod' }, 400, 'invalid_request'],
        ['post', '/prompts/base/deployments', { version: 1 }, 400, 'invalid_request'],
        ['post', '/prompts/base/rollback', {}, 400, 'invalid_request'],
        ['post', '/prompts/base/render', { variables: 'x' }, 400, 'invalid_request'],
        ['post', '/prompts/base/render', { variables: { x: 1 }, version: 'one' }, 400, 'invalid_request'],
      ];
      for (const [, path, body, status, code] of cases) {
        const r = await s.admin.post(path, body);
        assert.equal(r.status, status, `${path} ${JSON.stringify(body).slice(0, 80)} → ${r.status} ${JSON.stringify(r.body).slice(0, 200)}`);
        assertErrorShape(r.body, status, code);
      }
      assert.deepEqual(await counts(), before);
    });

    it('names the field at fault in the message', async () => {
      const r = await s.admin.post('/prompts/x/versions', { content: 'a', temperature: 9 });
      assert.match(r.body.error.message, /temperature/);
      assert.deepEqual(r.body.error.issues[0].path, 'temperature');
      const unknown = await s.admin.post('/prompts/x/versions', { content: 'a', tmperature: 0.5 });
      assert.match(JSON.stringify(unknown.body.error), /tmperature/);
    });

    it('answers malformed JSON, a non-JSON body and an over-large body with 4xx', async () => {
      const before = await counts();
      const broken = await s.admin.raw('POST', '/prompts/x/versions', '{"content": "a",');
      assert.equal(broken.status, 400);
      assertErrorShape(broken.body, 400, 'invalid_json');
      const text = await s.admin.raw('POST', '/prompts/x/versions', 'content=a', { 'Content-Type': 'text/plain' });
      assert.equal(text.status, 400);
      assertErrorShape(text.body, 400, 'invalid_request');
      assert.match(text.body.error.message, /Content-Type: application\/json/);
      const big = await s.admin.post('/prompts/x/versions', { content: 'x'.repeat(100 * 1024) });
      assert.equal(big.status, 413);
      assertErrorShape(big.body, 413, 'payload_too_large');
      const scalar = await s.admin.raw('POST', '/prompts/x/versions', '"just a string"');
      assert.equal(scalar.status, 400);
      assert.deepEqual(await counts(), before);
    });

    it('answers bad query parameters and path numbers with 400, and unknown routes with 404', async () => {
      for (const path of ['/prompts?limit=0', '/prompts?limit=101', '/prompts?limit=abc', '/prompts?cursor=not-a-cursor', '/prompts/base/versions/abc', '/prompts/base/versions/0', '/prompts/base/versions/99999999999', '/audit?from=yesterday']) {
        const r = await s.admin.get(path);
        assert.equal(r.status, 400, path);
        assertErrorShape(r.body, 400);
      }
      const route = await s.admin.get('/nowhere');
      assert.equal(route.status, 404);
      assertErrorShape(route.body, 404, 'route_not_found');
    });

    it('gives every answer a request id and never a stack trace for a server-side failure', async () => {
      const r = await s.admin.get('/prompts/base');
      assert.ok(r.headers.get('x-request-id'));
      const mine = await s.admin.get('/prompts/nope', { 'X-Request-Id': 'trace-123' });
      assert.equal(mine.headers.get('x-request-id'), 'trace-123');
      assert.equal(mine.body.error.request_id, 'trace-123');
    });
  });
}
