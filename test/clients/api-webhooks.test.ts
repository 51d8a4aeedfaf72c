import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { RegistryApi, RegistryError } from '../../client/index.js';
import { DEFAULT_WEBHOOK_OPTIONS } from '../../server/webhooks/worker.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

/** A webhook receiver on 127.0.0.1: answers 500 to the first request, 200 after; records each webhook-id. */
class Receiver {
  readonly ids: string[] = [];
  private server: Server | undefined;
  url = '';
  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      req.resume();
      req.on('end', () => {
        this.ids.push(String(req.headers['webhook-id']));
        res.writeHead(this.ids.length === 1 ? 500 : 200).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

for (const dialect of DIALECTS) {
  describe(`RegistryApi: webhooks (${dialect})`, () => {
    const receiver = new Receiver();
    let s: TestServer;
    let api: RegistryApi;
    before(async () => {
      await receiver.start();
      s = await startTestServer(dialect, { webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'], retryBaseMs: 50, pollMs: 100 } });
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
    });
    after(async () => {
      await s.close();
      await receiver.close();
    });

    it('creates, lists, reads, changes and deletes a webhook', async () => {
      const created = await api.createWebhook({ url: `${receiver.url}/crud`, events: ['version.created'], description: 'ops' });
      assert.match(created.secret, /^whsec_/);
      assert.deepEqual([created.url, created.events, created.description, created.enabled], [`${receiver.url}/crud`, ['version.created'], 'ops', true]);
      const listed = await api.listWebhooks({ limit: 10 });
      assert.deepEqual(listed.items.map((w) => w.id), [created.id]);
      assert.equal('secret' in listed.items[0]!, false, 'a listed webhook never carries its secret');
      assert.equal((await api.getWebhook(created.id)).description, 'ops');
      const changed = await api.updateWebhook(created.id, { events: ['deployment.deployed', 'deployment.rolled_back'], enabled: false });
      assert.deepEqual([changed.events, changed.enabled], [['deployment.deployed', 'deployment.rolled_back'], false]);
      assert.equal((await api.deleteWebhook(created.id)).id, created.id);
      await assert.rejects(api.getWebhook(created.id), (err: unknown) => err instanceof RegistryError && err.status === 404 && err.code === 'webhook_not_found');
    });

    it('refuses a webhook to a place it must not go, naming the problem', async () => {
      await assert.rejects(api.createWebhook({ url: 'ftp://example.com/hook', events: ['*'] }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.deepEqual([err.status, err.code], [400, 'invalid_webhook_url']);
        return true;
      });
      assert.equal((await api.listWebhooks()).items.length, 0, 'nothing was registered');
    });

    it('reads the delivery log with its attempts, filters it by status, and redelivers', async () => {
      const hook = await api.createWebhook({ url: `${receiver.url}/deploys`, events: ['deployment.deployed'] });
      await api.createVersion('hooked', { content: 'hello {{name}}' });
      await api.deploy('hooked', 1, 'production');
      await eventually(async () => (await api.webhookDeliveries(hook.id)).items[0]?.status === 'succeeded', 'the delivery succeeded after a retry');
      const [delivery] = (await api.webhookDeliveries(hook.id)).items;
      assert.equal(delivery!.event, 'deployment.deployed');
      assert.deepEqual(delivery!.attempts.map((a) => a.status_code), [500, 200]);
      assert.deepEqual(receiver.ids, [delivery!.id, delivery!.id]);
      assert.equal((await api.webhookDeliveries(hook.id, { status: 'failed' })).items.length, 0);
      assert.equal((await api.webhookDeliveries(hook.id, { status: 'succeeded' })).items.length, 1);

      const again = await api.redeliverWebhook(hook.id, delivery!.id);
      assert.deepEqual([again.id, again.status], [delivery!.id, 'pending']);
      await eventually(() => receiver.ids.length === 3, 'the redelivery arrived');
      assert.equal(receiver.ids[2], delivery!.id, 'a redelivery keeps its webhook-id');
      await assert.rejects(api.redeliverWebhook(hook.id, `msg_${'0'.repeat(32)}`), (err: unknown) => err instanceof RegistryError && err.status === 404);
    });
  });
}
