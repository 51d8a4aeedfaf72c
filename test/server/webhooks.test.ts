import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Webhook } from 'standardwebhooks';
import { DEFAULT_WEBHOOK_OPTIONS } from '../../server/webhooks/worker.js';
import { AddressPolicy, parseAllowList } from '../../server/webhooks/addresses.js';
import { serverConfig } from '../../server/config.js';
import { DIALECTS, freshDatabase, type TestDatabase } from '../support/db.js';
import { freePort, killGroup, start, waitForHealthy, type Spawned } from '../support/process.js';
import { ADMIN_KEY, api, startTestServer, TEST_SECRET, type Api, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

interface Received {
  path: string;
  headers: Record<string, string>;
  body: string;
  /** What the receiver answered: a status, or null while (or because) it held the request open. */
  answered: number | null;
}

/**
 * The webhook receiver: a plain HTTP server on 127.0.0.1 recording every request. `answer` decides
 * per request: a status, or 'hold' to keep it open (the sender is then mid-delivery).
 */
class Receiver {
  readonly received: Received[] = [];
  readonly held = new Set<ServerResponse>();
  answer: (r: Received) => number | 'hold' = () => 200;
  private server!: Server;
  url = '';

  async start(): Promise<void> {
    this.server = createServer((req: IncomingMessage, res: ServerResponse) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const r: Received = { path: req.url ?? '', headers: req.headers as Record<string, string>, body: Buffer.concat(chunks).toString('utf8'), answered: null };
        this.received.push(r);
        const decision = this.answer(r);
        if (decision === 'hold') {
          this.held.add(res);
          res.on('close', () => this.held.delete(res));
          return;
        }
        r.answered = decision;
        res.writeHead(decision).end();
      });
    });
    this.server.listen(0, '127.0.0.1');
    await new Promise((resolve) => this.server.once('listening', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  on(path: string): Received[] {
    return this.received.filter((r) => r.path === path);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** Verifies with the standardwebhooks package (an independent implementation of the spec); throws on a bad signature. */
function verified(secret: string, r: Received): { type: string; timestamp: string; data: Record<string, any> } {
  return new Webhook(secret).verify(r.body, {
    'webhook-id': r.headers['webhook-id']!,
    'webhook-timestamp': r.headers['webhook-timestamp']!,
    'webhook-signature': r.headers['webhook-signature']!,
  }) as { type: string; timestamp: string; data: Record<string, any> };
}

const distinctIds = (list: Received[]) => new Set(list.map((r) => r.headers['webhook-id']));

describe('webhook address policy', () => {
  it('refuses loopback, private, link-local, unspecified and multicast addresses, IPv4 inside IPv6 included, unless allowed', () => {
    const strict = new AddressPolicy([]);
    for (const a of ['127.0.0.1', '10.0.0.1', '172.16.5.4', '192.168.1.1', '169.254.169.254', '0.0.0.0', '224.0.0.1', '::1', '::', 'fd12::1', 'fe80::1', 'ff02::1', '::ffff:10.0.0.1', '::ffff:7f00:1']) {
      assert.ok(strict.refusal(a), `${a} is refused`);
    }
    for (const a of ['93.184.216.34', '2606:2800:220:1::1']) assert.equal(strict.refusal(a), undefined, `${a} is public`);
    const open = new AddressPolicy(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', 'hooks.internal']);
    for (const a of ['127.0.0.1', '10.9.8.7', '::ffff:10.1.1.1', 'fd00::5']) assert.equal(open.refusal(a), undefined, `${a} is allowed`);
    assert.ok(open.refusal('127.0.0.2'));
    assert.ok(open.hostAllowed('HOOKS.internal'));
    assert.throws(() => parseAllowList('10.0.0.0/33'), /PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: "10.0.0.0\/33"/);
    assert.throws(() => parseAllowList('ok.example, not a host'), /"not a host"/);
  });

  it('reads PROMPT_REGISTRY_WEBHOOK_* settings, refusing one it cannot use', () => {
    assert.deepEqual(serverConfig({}, {}).webhooks, DEFAULT_WEBHOOK_OPTIONS);
    const w = serverConfig({}, { PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: ' hooks.internal, 10.0.0.0/8 ,fd00::/8', PROMPT_REGISTRY_WEBHOOK_TIMEOUT_MS: '2500', PROMPT_REGISTRY_WEBHOOK_RETRY_BASE_MS: '100' }).webhooks;
    assert.deepEqual([w.allowedHosts, w.timeoutMs, w.retryBaseMs], [['hooks.internal', '10.0.0.0/8', 'fd00::/8'], 2500, 100]);
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_WEBHOOK_TIMEOUT_MS: '10s' }), /PROMPT_REGISTRY_WEBHOOK_TIMEOUT_MS "10s"/);
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: 'http://hooks.internal' }), /"http:\/\/hooks.internal"/);
  });
});

for (const dialect of DIALECTS) {
  describe(`webhooks (${dialect})`, () => {
    const receiver = new Receiver();
    let s: TestServer;
    let strict: TestServer;
    let writer: Api;
    let approver: Api;

    before(async () => {
      await receiver.start();
      s = await startTestServer(dialect, { webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'], retryBaseMs: 50, pollMs: 200 } });
      strict = await startTestServer(dialect);
      const key = async (name: string, scopes: string[]) => {
        const r = await s.admin.post('/keys', { name, scopes });
        assert.equal(r.status, 201, JSON.stringify(r.body));
        return s.as(r.body.key as string);
      };
      writer = await key('writer', ['read', 'write', 'deploy']);
      approver = await key('approver', ['read', 'deploy']);
    });
    after(async () => {
      await strict?.close();
      await s?.close();
      await receiver.close();
    });

    const register = async (path: string, events: string[], extra: Record<string, unknown> = {}) => {
      const r = await s.admin.post('/webhooks', { url: `${receiver.url}${path}`, events, ...extra });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return r.body as { id: string; secret: string };
    };
    const deliveries = async (id: string) => {
      const r = await s.admin.get(`/webhooks/${id}/deliveries`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      return r.body.items as Array<{ id: string; event: string; status: string; attempt_count: number; attempts: Array<{ attempt: number; status_code: number | null; duration_ms: number; error: string | null; next_attempt_at: string | null }>; payload: any }>;
    };

    it('lets admins alone register, read, change and delete webhooks; the secret is shown once; every change is audited', async () => {
      const body = { url: `${receiver.url}/crud`, events: ['deployment.deployed', 'rollout.changed'], description: 'chat ops' };
      const denied = await writer.post('/webhooks', body);
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.required_scope, 'admin');
      assert.equal((await writer.get('/webhooks')).status, 403);

      const created = await s.admin.post('/webhooks', body);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.match(created.body.secret, /^whsec_[A-Za-z0-9+/]+={0,2}$/);
      assert.equal(Buffer.from(created.body.secret.slice(6), 'base64').length, 32);
      assert.deepEqual(created.body.events, body.events);
      const id = created.body.id as string;
      const read = await s.admin.get(`/webhooks/${id}`);
      assert.equal(read.status, 200);
      assert.equal(read.body.secret, undefined, 'never shown again');
      assert.equal(read.body.description, 'chat ops');
      assert.ok((await s.admin.get('/webhooks')).body.items.some((w: { id: string }) => w.id === id));
      assert.equal((await writer.get(`/webhooks/${id}`)).status, 403);

      const given = 'whsec_' + Buffer.alloc(24, 7).toString('base64');
      const patched = await s.admin.patch(`/webhooks/${id}`, { events: ['*'], description: null, secret: given });
      assert.equal(patched.status, 200, JSON.stringify(patched.body));
      assert.deepEqual(patched.body.events, ['*']);
      assert.equal(patched.body.description, null);
      assert.equal(patched.body.secret, undefined);
      const badSecret = await s.admin.patch(`/webhooks/${id}`, { secret: 'hunter2' });
      assert.equal(badSecret.status, 400);
      assert.match(badSecret.body.error.message, /^secret: /);
      const badEvent = await s.admin.post('/webhooks', { url: `${receiver.url}/x`, events: ['deployment.exploded'] });
      assert.equal(badEvent.status, 400);
      assert.match(badEvent.body.error.message, /events\[0\]/);

      assert.equal((await writer.delete(`/webhooks/${id}`)).status, 403);
      assert.equal((await s.admin.delete(`/webhooks/${id}`)).status, 200);
      assert.equal((await s.admin.get(`/webhooks/${id}`)).status, 404);
      const audit = (await s.admin.get('/audit?action=webhook.*')).body.items as Array<{ action: string; target_id: string; details: Record<string, unknown> }>;
      assert.deepEqual(audit.filter((e) => e.target_id === id).map((e) => e.action), ['webhook.deleted', 'webhook.updated', 'webhook.created']);
      assert.equal(audit.find((e) => e.target_id === id && e.action === 'webhook.updated')!.details.secret_rotated, true);
      assert.ok(!JSON.stringify(audit).includes('whsec_'), 'no secret in the audit log');
    });

    it('refuses a URL that is not http(s) or points where it must not: a 400 naming the url, with nothing stored', async () => {
      const bad = ['ftp://example.com/hook', `http://127.0.0.1:${new URL(receiver.url).port}/hook`, 'http://169.254.169.254/latest/meta-data/', 'http://10.0.0.1/hook', 'http://[::1]/hook', 'not a url'];
      for (const url of bad) {
        const r = await strict.admin.post('/webhooks', { url, events: ['*'] });
        assert.equal(r.status, 400, `${url}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'invalid_webhook_url');
        assert.equal(r.body.error.url, url);
        assert.ok(r.body.error.message.includes(`url "${url}"`), r.body.error.message);
      }
      // The allow-list names 127.0.0.1 only: other private addresses stay refused, also when changing a webhook.
      assert.equal((await s.admin.post('/webhooks', { url: 'http://10.0.0.1/hook', events: ['*'] })).status, 400);
      assert.deepEqual((await strict.admin.get('/webhooks')).body.items, []);
      assert.deepEqual((await strict.admin.get('/audit?action=webhook.*')).body.items, []);
      const hook = await register('/unchanged', ['version.created']);
      const moved = await s.admin.patch(`/webhooks/${hook.id}`, { url: 'http://192.168.0.10/' });
      assert.equal(moved.status, 400);
      assert.equal((await s.admin.get(`/webhooks/${hook.id}`)).body.url, `${receiver.url}/unchanged`);
      assert.equal((await s.admin.delete(`/webhooks/${hook.id}`)).status, 200);
    });

    it('signs every delivery per Standard Webhooks and sends each version, deploy, rollback and approval once, to the webhooks subscribed', async () => {
      const all = await register('/all', ['*']);
      const rollbacks = await register('/rollbacks', ['deployment.rolled_back']);
      for (const content of ['Hello {{name}}', 'Hi {{name}}']) assert.equal((await writer.post('/prompts/greet/versions', { content })).status, 201);
      assert.equal((await writer.post('/prompts/greet/deployments', { version: 1, environment: 'staging' })).status, 201);
      assert.equal((await writer.post('/prompts/greet/deployments', { version: 2, environment: 'staging' })).status, 201);
      assert.equal((await writer.post('/prompts/greet/rollback', { environment: 'staging' })).status, 201);
      const policy = await s.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 1 }), { 'Content-Type': 'application/json' });
      assert.equal(policy.status, 200);
      const request = await writer.post('/prompts/greet/deployments', { version: 2, environment: 'production' });
      assert.equal(request.status, 202);
      assert.equal((await approver.post(`/deployment-requests/${request.body.id}/approve`, { comment: 'ok' })).status, 200);

      await eventually(() => distinctIds(receiver.on('/all')).size === 8 && receiver.on('/rollbacks').length === 1, 'eight deliveries to /all, one to /rollbacks', 15_000);
      const events = receiver.on('/all').map((r) => ({ id: r.headers['webhook-id'], ...verified(all.secret, r) }));
      assert.equal(events.length, 8, 'each change sent once');
      assert.deepEqual(events.map((e) => e.type).sort(), [
        'approval.decided',
        'approval.requested',
        'deployment.deployed',
        'deployment.deployed',
        'deployment.deployed',
        'deployment.rolled_back',
        'version.created',
        'version.created',
      ]);
      for (const e of events) assert.match(e.id!, /^msg_[0-9a-f]{32}$/);
      const of = (type: string) => events.filter((e) => e.type === type).map((e) => e.data);
      assert.deepEqual(of('version.created').map((d) => [d.prompt, d.version, d.created_by]).sort(), [['greet', 1, 'writer'], ['greet', 2, 'writer']]);
      const [rolledBack] = of('deployment.rolled_back');
      assert.deepEqual([rolledBack!.environment, rolledBack!.version, rolledBack!.rolled_back_version], ['staging', 1, 2]);
      const staging2 = of('deployment.deployed').find((d) => d.environment === 'staging' && d.version === 2)!;
      assert.equal(staging2.previous_version, 1);
      const [requested] = of('approval.requested');
      assert.deepEqual([requested!.request_id, requested!.action, requested!.version, requested!.requested_by], [request.body.id, 'deploy', 2, 'writer']);
      const [decided] = of('approval.decided');
      assert.equal(decided!.status, 'applied');
      assert.deepEqual(decided!.decisions.map((d: { actor: string; decision: string }) => [d.actor, d.decision]), [['approver', 'approve']]);
      assert.ok(of('deployment.deployed').some((d) => d.environment === 'production' && d.version === 2 && d.deployed_by === 'writer'));

      assert.equal(verified(rollbacks.secret, receiver.on('/rollbacks')[0]!).type, 'deployment.rolled_back');
      assert.throws(() => verified(rollbacks.secret, receiver.on('/all')[0]!), /No matching signature/, 'signed with its own webhook secret');
      await eventually(async () => (await deliveries(all.id)).every((d) => d.status === 'succeeded'), 'the log shows every delivery succeeded');
      const log = await deliveries(all.id);
      assert.equal(log.length, 8);
      for (const d of log) assert.deepEqual(d.attempts.map((a) => [a.attempt, a.status_code, a.error, a.next_attempt_at]), [[1, 200, null, null]]);
      await s.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 0 }), { 'Content-Type': 'application/json' });
      await s.admin.delete(`/webhooks/${all.id}`);
      await s.admin.delete(`/webhooks/${rollbacks.id}`);
    });

    it('checks the address again at each attempt, and never follows a redirect', async () => {
      // A URL that passed at registration (a name that resolved to a public address then, say): the strict server,
      // with no allow-list, must still refuse the loopback address it leads to now, by literal or by name.
      const port = new URL(receiver.url).port;
      const ids: string[] = [];
      for (const host of ['127.0.0.1', 'localhost']) {
        const created = await strict.admin.post('/webhooks', { url: 'http://93.184.216.34/hook', events: ['*'] });
        assert.equal(created.status, 201, JSON.stringify(created.body));
        await strict.running.db.transaction((tx) => tx.run('UPDATE webhooks SET url = $1 WHERE id = $2', [`http://${host}:${port}/rebound`, created.body.id]));
        ids.push(created.body.id as string);
      }
      receiver.answer = (r) => (r.path === '/redirect' ? 302 : 200);
      const redirected = await register('/redirect', ['version.created']);
      assert.equal((await strict.admin.post('/prompts/rebound/versions', { content: 'x' })).status, 201);
      assert.equal((await writer.post('/prompts/redirected/versions', { content: 'x' })).status, 201);
      for (const id of ids) {
        await eventually(async () => (await strict.admin.get(`/webhooks/${id}/deliveries`)).body.items[0]?.attempts.length > 0, 'an attempt is logged');
        const [attempt] = (await strict.admin.get(`/webhooks/${id}/deliveries`)).body.items[0].attempts;
        assert.equal(attempt.status_code, null);
        assert.match(attempt.error, /^refused: .*(127\.0\.0\.1|::1).* a loopback address/);
        assert.ok(attempt.next_attempt_at, 'retried later, in case the name resolves elsewhere then');
      }
      assert.equal(receiver.on('/rebound').length, 0, 'nothing reached the loopback receiver');
      // At least one: a 302 is a failure, retried 50 ms later (retryBaseMs) and again, so there may be more by now.
      await eventually(async () => ((await deliveries(redirected.id))[0]?.attempts.length ?? 0) >= 1, 'the redirect is logged');
      const [attempt] = (await deliveries(redirected.id))[0]!.attempts;
      assert.equal(attempt!.status_code, 302);
      assert.match(attempt!.error!, /redirects are not followed/);
      receiver.answer = () => 200;
      await s.admin.delete(`/webhooks/${redirected.id}`);
    });

    it('sends nothing for a change that rolls back', async () => {
      const hook = await register('/committed', ['deployment.deployed']);
      const actor = { name: 'test', person: 'test', scopes: ['admin'], credential: 'test' };
      const { db, deployments } = s.running.registry.services;
      await assert.rejects(
        db.transaction(async (tx) => {
          await deployments.deployIn(tx, actor, 'greet', 1, 'dev');
          throw new Error('the change fails after the deploy was written');
        }),
        /the change fails/,
      );
      assert.equal((await writer.post('/prompts/greet/deployments', { version: 2, environment: 'dev' })).status, 201);
      await eventually(async () => (await deliveries(hook.id)).some((d) => d.status === 'succeeded'), 'the committed deploy is delivered');
      const log = await deliveries(hook.id);
      assert.deepEqual(log.map((d) => [d.event, d.payload.data.environment, d.payload.data.version]), [['deployment.deployed', 'dev', 2]]);
      assert.deepEqual(receiver.on('/committed').map((r) => verified(hook.secret, r).data.version), [2]);
      await s.admin.delete(`/webhooks/${hook.id}`);
    });

    it('retries a receiver that answered 500 twice, the log showing each attempt; redeliver sends the same webhook-id again', async () => {
      const seen = new Map<string, number>();
      receiver.answer = (r) => {
        if (r.path !== '/flaky') return 200;
        const n = (seen.get(r.headers['webhook-id']!) ?? 0) + 1;
        seen.set(r.headers['webhook-id']!, n);
        return n <= 2 ? 500 : 204;
      };
      const hook = await register('/flaky', ['version.created']);
      assert.equal((await writer.post('/prompts/greet/versions', { content: 'Hey {{name}}' })).status, 201);
      await eventually(async () => (await deliveries(hook.id))[0]?.status === 'succeeded', 'delivered on the third attempt', 15_000);
      const [d] = await deliveries(hook.id);
      assert.equal(d!.attempt_count, 3);
      assert.deepEqual(d!.attempts.map((a) => [a.attempt, a.status_code, a.error]), [[1, 500, 'answered 500'], [2, 500, 'answered 500'], [3, 204, null]]);
      assert.ok(d!.attempts[0]!.next_attempt_at && d!.attempts[1]!.next_attempt_at, 'each failure scheduled the next attempt');
      assert.ok(Date.parse(d!.attempts[1]!.next_attempt_at!) > Date.parse(d!.attempts[0]!.next_attempt_at!));
      assert.equal(d!.attempts[2]!.next_attempt_at, null);
      for (const a of d!.attempts) assert.ok(Number.isInteger(a.duration_ms) && a.duration_ms >= 0);
      const sent = receiver.on('/flaky');
      assert.equal(sent.length, 3);
      assert.deepEqual([...distinctIds(sent)], [d!.id], 'the same webhook-id on every attempt');
      for (const r of sent) assert.equal(verified(hook.secret, r).data.version, 3);

      const again = await s.admin.post(`/webhooks/${hook.id}/deliveries/${d!.id}/redeliver`);
      assert.equal(again.status, 200, JSON.stringify(again.body));
      assert.equal(again.body.status, 'pending');
      await eventually(() => receiver.on('/flaky').length === 4, 'redelivered');
      assert.equal(receiver.on('/flaky')[3]!.headers['webhook-id'], d!.id);
      await eventually(async () => (await deliveries(hook.id))[0]!.attempts.length === 4, 'the redelivery is logged');
      assert.equal((await s.admin.post(`/webhooks/${hook.id}/deliveries/msg_${'0'.repeat(32)}/redeliver`)).status, 404);
      assert.equal((await writer.post(`/webhooks/${hook.id}/deliveries/${d!.id}/redeliver`)).status, 403);
      assert.ok((await s.admin.get('/audit?action=webhook.redelivered')).body.items.some((e: { target_id: string }) => e.target_id === hook.id));
      receiver.answer = () => 200;
      await s.admin.delete(`/webhooks/${hook.id}`);
    });
  });

  // Several replicas on one Postgres share the outbox: each delivery is claimed by one of them.
  if (dialect === 'postgres') {
    describe('webhook delivery from two replicas (postgres)', () => {
      const receiver = new Receiver();
      let db: TestDatabase;
      const replicas: TestServer[] = [];
      before(async () => {
        await receiver.start();
        db = await freshDatabase('postgres');
        for (let i = 0; i < 2; i++) replicas.push(await startTestServer('postgres', { webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'], pollMs: 50 } }, db));
      });
      after(async () => {
        for (const r of replicas) await r.close();
        await receiver.close();
        await db.drop();
      });

      it('sends each delivery once, whichever replica made the change', async () => {
        const [a, b] = replicas as [TestServer, TestServer];
        const hook = await a.admin.post('/webhooks', { url: `${receiver.url}/shared`, events: ['version.created'] });
        assert.equal(hook.status, 201);
        await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).admin.post(`/prompts/shared-${i}/versions`, { content: `v ${i}` })));
        await eventually(async () => {
          const log = (await b.admin.get(`/webhooks/${hook.body.id}/deliveries`)).body.items as Array<{ status: string }>;
          return log.length === 12 && log.every((d) => d.status === 'succeeded');
        }, 'twelve delivered', 15_000);
        const sent = receiver.on('/shared');
        assert.equal(sent.length, 12, 'no delivery sent twice');
        assert.equal(distinctIds(sent).size, 12);
        assert.deepEqual(sent.map((r) => verified(hook.body.secret, r).data.prompt).sort(), Array.from({ length: 12 }, (_, i) => `shared-${i}`).sort());
      });
    });
  }

  describe(`webhook delivery across a crash (${dialect})`, () => {
    const receiver = new Receiver();
    let db: TestDatabase;
    let server: Spawned | undefined;
    const env = {
      PROMPT_REGISTRY_ADMIN_KEY: ADMIN_KEY,
      PROMPT_REGISTRY_SECRET: TEST_SECRET,
      PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: '127.0.0.1',
      PROMPT_REGISTRY_WEBHOOK_TIMEOUT_MS: '1500',
      PROMPT_REGISTRY_WEBHOOK_RETRY_BASE_MS: '100',
    };
    const serve = async () => {
      const port = await freePort();
      server = start(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', db.url, '--no-log-requests', '--retention-interval', '0'], env);
      await waitForHealthy(`http://127.0.0.1:${port}/readyz`, server);
      return api(`http://127.0.0.1:${port}`);
    };
    before(async () => {
      await receiver.start();
      db = await freshDatabase(dialect);
    });
    after(async () => {
      if (server) killGroup(server);
      await receiver.close();
      await db.drop();
    });

    it('sees every deploy exactly once per delivery id after the server is killed (SIGKILL) mid-delivery and restarted', async () => {
      receiver.answer = () => 'hold';
      let admin = await serve();
      const created = await admin.post('/webhooks', { url: `${receiver.url}/deploys`, events: ['deployment.deployed'] });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const { id, secret } = created.body as { id: string; secret: string };
      // Each deploy answers while the receiver holds the deliveries open: delivery never holds up the change.
      for (let v = 1; v <= 4; v++) {
        assert.equal((await admin.post('/prompts/p/versions', { content: `v${v}` })).status, 201);
        assert.equal((await admin.post('/prompts/p/deployments', { version: v, environment: 'production' })).status, 201);
      }
      await eventually(() => receiver.held.size > 0, 'a delivery in flight', 10_000);
      killGroup(server!, 'SIGKILL');
      await server!.exited;
      const interrupted = distinctIds(receiver.received);
      for (const res of receiver.held) res.destroy();

      receiver.answer = () => 200;
      admin = await serve();
      const answered = () => receiver.received.filter((r) => r.answered === 200);
      await eventually(() => new Set(answered().map((r) => verified(secret, r).data.version)).size === 4, 'every deploy delivered after the restart', 30_000);

      for (const r of receiver.received) verified(secret, r);
      const versionsById = new Map<string, Set<number>>();
      for (const r of receiver.received) {
        const set = versionsById.get(r.headers['webhook-id']!) ?? new Set();
        set.add(verified(secret, r).data.version as number);
        versionsById.set(r.headers['webhook-id']!, set);
      }
      assert.equal(versionsById.size, 4, 'one webhook-id per deploy, across the crash and restart');
      assert.deepEqual([...versionsById.values()].map((s) => [...s]).sort(), [[1], [2], [3], [4]]);
      for (const held of interrupted) assert.ok(answered().some((r) => r.headers['webhook-id'] === held), `${held}, interrupted, was delivered again under its id`);

      await eventually(async () => {
        const log = (await admin.get(`/webhooks/${id}/deliveries`)).body.items as Array<{ id: string; status: string; attempt_count: number }>;
        return log.length === 4 && log.every((d) => d.status === 'succeeded');
      }, 'the log shows four delivered', 10_000);
      const log = (await admin.get(`/webhooks/${id}/deliveries`)).body.items as Array<{ id: string; attempt_count: number }>;
      for (const d of log.filter((d) => interrupted.has(d.id))) assert.ok(d.attempt_count >= 2, 'the interrupted attempt counted');

      process.kill(server!.child.pid!, 'SIGTERM');
      assert.equal(await server!.exited, 0, server!.output());
      server = undefined;
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`webhook outbox depth in the operator metrics (${dialect})`, () => {
    const receiver = new Receiver();
    let s: TestServer;
    before(async () => {
      await receiver.start();
      // A receiver that keeps failing, and a retry a minute away: the delivery stays in the outbox.
      receiver.answer = () => 503;
      s = await startTestServer(dialect, { metricsPort: 0, webhooks: { ...DEFAULT_WEBHOOK_OPTIONS, allowedHosts: ['127.0.0.1'], retryBaseMs: 60_000 } });
    });
    after(async () => {
      await s?.close();
      await receiver.close();
    });

    const outbox = async () => {
      const text = await (await fetch(s.running.metricsUrl!)).text();
      const value = (name: string) => {
        const line = text.split('\n').find((l) => l.startsWith(`${name} `));
        assert.ok(line, `${name} is exported`);
        return Number(line.slice(name.length + 1));
      };
      return { pending: value('prompt_registry_webhook_outbox_pending'), age: value('prompt_registry_webhook_outbox_oldest_pending_age_seconds') };
    };

    it('reports pending deliveries and the oldest one\'s age, and 0 once nothing waits', async () => {
      assert.deepEqual(await outbox(), { pending: 0, age: 0 });
      const hook = await s.admin.post('/webhooks', { url: `${receiver.url}/failing`, events: ['deployment.deployed'] });
      assert.equal(hook.status, 201);
      assert.equal((await s.admin.post('/prompts/o/versions', { content: 'x' })).status, 201);
      assert.equal((await s.admin.post('/prompts/o/deployments', { version: 1, environment: 'production' })).status, 201);
      assert.equal((await s.admin.post('/prompts/o/deployments', { version: 1, environment: 'staging' })).status, 201);
      await eventually(() => receiver.received.length >= 2, 'both first attempts made (and failed)');
      const waiting = await outbox();
      assert.equal(waiting.pending, 2, 'two deliveries wait for their retry');
      assert.ok(waiting.age >= 0 && waiting.age < 3_600, `oldest pending age ${waiting.age} s`);
      // A disabled webhook's deliveries are not sent, so they are not the worker's backlog.
      assert.equal((await s.admin.patch(`/webhooks/${hook.body.id}`, { enabled: false })).status, 200);
      assert.deepEqual(await outbox(), { pending: 0, age: 0 });
    });
  });
}
