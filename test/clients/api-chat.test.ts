/**
 * RegistryApi's render and used-by calls. Render runs against the real registry (a text prompt: this
 * branch's server has no chat prompts yet); used-by, which only registries with partials answer, against
 * a stand-in that records the request and answers as the contract (CHAT-CONTRACT.md) says.
 */
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RegistryApi, RegistryError } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`RegistryApi.render (${dialect})`, () => {
    let s: TestServer;
    let api: RegistryApi;
    before(async () => {
      s = await startTestServer(dialect);
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
      await api.createVersion('greeting', { content: 'Hello {{name}}' });
      await api.createVersion('greeting', { content: 'Hi {{name}}' });
      await api.deploy('greeting', 1, 'production');
    });
    after(() => s.close());

    it('renders what is live, or a version, and sends only the fields given', async () => {
      const live = await api.render('greeting', { variables: { name: 'Ann' }, environment: 'production' });
      assert.equal(live.rendered, 'Hello Ann');
      assert.equal(live.version, 1);
      assert.equal((await api.render('greeting', { variables: { name: 'Bo' }, version: 2 })).rendered, 'Hi Bo');
      await assert.rejects(api.render('greeting', { version: 2 }), (err: unknown) => err instanceof RegistryError && err.status === 422 && err.code === 'missing_variable');
    });
  });
}

describe('RegistryApi.usedBy', () => {
  let server: Server;
  let api: RegistryApi;
  const seen: string[] = [];
  before(async () => {
    server = createServer((req, res) => {
      seen.push(`${req.method} ${req.url} ${String(req.headers['x-api-key'])}`);
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify({ data: [{ prompt: 'support', version: 4, ref: 'safety@3', live_in: ['production'] }] }));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    api = new RegistryApi({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, apiKey: 'k1' });
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('asks GET /prompts/{name}/used-by, with the environment when given, and answers the list', async () => {
    assert.deepEqual(await api.usedBy('safety', 'production'), [{ prompt: 'support', version: 4, ref: 'safety@3', live_in: ['production'] }]);
    await api.usedBy('a b');
    assert.deepEqual(seen, ['GET /prompts/safety/used-by?environment=production k1', 'GET /prompts/a%20b/used-by k1']);
  });
});
