import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { RegistryApi, RegistryError, type RegistryEvent } from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`RegistryApi: protected environments and approvals (${dialect})`, () => {
    let s: TestServer;
    let admin: RegistryApi;
    let requester: RegistryApi;
    let approver: RegistryApi;
    const key = async (name: string, scopes: string[]) => {
      const r = await s.admin.post('/keys', { name, scopes });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return new RegistryApi({ url: s.url, apiKey: r.body.key as string });
    };

    before(async () => {
      s = await startTestServer(dialect);
      admin = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
      requester = await key('bob', ['read', 'write', 'deploy:production']);
      approver = await key('dave', ['read', 'deploy:production']);
      for (const content of ['A {{x}}', 'B {{x}}', 'C {{x}}']) await admin.createVersion('greeting', { content });
      assert.equal((await admin.deploy('greeting', 1, 'production')).kind, 'applied');
    });
    after(() => s.close());

    it('reads and sets an environment policy, and /me says what that means for the caller', async () => {
      assert.equal((await admin.environmentPolicy('production')).required_approvals, 0);
      const set = await admin.setEnvironmentPolicy('production', { require_approval: true, approval_ttl_hours: 24 });
      assert.equal(set.required_approvals, 1);
      assert.equal(set.approval_ttl_hours, 24);
      assert.deepEqual(await requester.environmentPolicy('production'), set);
      await assert.rejects(requester.setEnvironmentPolicy('production', { required_approvals: 0 }), (err: unknown) => err instanceof RegistryError && err.status === 403);

      const me = await requester.me();
      assert.equal(me.name, 'bob');
      assert.equal(me.kind, 'api_key');
      assert.deepEqual(me.can.deploy.production, { allowed: true, needs_approval: true, required_approvals: 1 });
      assert.equal(me.can.deploy.staging!.allowed, false);
    });

    it('answers a deploy to a protected environment with the pending request, and applies it on approval', async () => {
      const events: RegistryEvent[] = [];
      const sub = approver.events({ onEvent: (e) => events.push(e), onResync: () => undefined, onError: () => undefined });
      try {
        // Wait until the stream is open: deploy to dev (no policy) until one is heard.
        for (let i = 0; !events.length && i < 100; i++) {
          await admin.deploy('greeting', (i % 2) + 1, 'dev');
          await new Promise((r) => setTimeout(r, 100));
        }
        const result = await requester.deploy('greeting', 2, 'production', { comment: 'shorter' });
        assert.equal(result.kind, 'pending');
        assert.ok(result.kind === 'pending');
        const req = result.request;
        assert.deepEqual(
          { prompt: req.prompt, environment: req.environment, action: req.action, version: req.version, status: req.status, comment: req.comment, by: req.requested_by, needs: req.required_approvals, has: req.approvals },
          { prompt: 'greeting', environment: 'production', action: 'deploy', version: 2, status: 'pending', comment: 'shorter', by: 'bob', needs: 1, has: 0 },
        );
        assert.equal((await admin.live('greeting', 'production'))?.version, 1, 'v1 stays live until approval');

        const again = await requester.deploy('greeting', 2, 'production');
        assert.ok(again.kind === 'pending' && again.request.id === req.id, 'asking again answers the waiting request');
        const pending = await approver.deploymentRequests({ status: 'pending' });
        assert.deepEqual(pending.items.map((r) => r.id), [req.id]);
        assert.deepEqual((await approver.deploymentRequests({ requestedBy: 'dave' })).items, []);
        assert.equal((await approver.deploymentRequest(req.id)).status, 'pending');

        await assert.rejects(requester.approve(req.id), (err: unknown) => err instanceof RegistryError && err.status === 403 && err.code === 'self_approval');
        const applied = await approver.approve(req.id, 'looks good');
        assert.equal(applied.status, 'applied');
        assert.ok(applied.deployment_id);
        assert.deepEqual(applied.decisions.map((d) => [d.actor, d.decision, d.comment]), [['dave', 'approve', 'looks good']]);
        assert.equal((await admin.live('greeting', 'production'))?.version, 2);
        await assert.rejects(approver.approve(req.id), (err: unknown) => err instanceof RegistryError && err.status === 409 && err.code === 'request_not_pending');

        const deadline = Date.now() + 10_000;
        while (!events.some((e) => e.type === 'deployment_request.decided') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
        const created = events.find((e) => e.type === 'deployment_request.created');
        const decided = events.find((e) => e.type === 'deployment_request.decided');
        assert.equal(created?.request_id, req.id);
        assert.deepEqual([decided?.request_id, decided?.status, decided?.prompt, decided?.environment, decided?.version], [req.id, 'applied', 'greeting', 'production', 2]);
      } finally {
        sub.close();
      }
    });

    it('answers a rollback there with a request too (a dry run answers at once), and a rejection keeps what is live', async () => {
      const plan = await requester.rollback('greeting', 'production', { dryRun: true });
      assert.deepEqual([plan.version, plan.previous_version], [1, 2], 'the dry run says what it would restore');
      const result = await requester.rollback('greeting', 'production', { comment: 'undo' });
      assert.ok(result.kind === 'pending', JSON.stringify(result));
      assert.deepEqual([result.request.action, result.request.version, result.request.from_version], ['rollback', 1, 2]);
      const rejected = await approver.reject(result.request.id, 'not now');
      assert.equal(rejected.status, 'rejected');
      assert.equal(rejected.decisions[0]?.comment, 'not now');
      assert.equal((await admin.live('greeting', 'production'))?.version, 2);
    });

    it('lets the requester withdraw their own request', async () => {
      const result = await requester.deploy('greeting', 3, 'production');
      assert.ok(result.kind === 'pending');
      const withdrawn = await requester.reject(result.request.id);
      assert.equal(withdrawn.status, 'rejected');
      assert.deepEqual(withdrawn.decisions.map((d) => [d.actor, d.decision]), [['bob', 'reject']]);
      assert.deepEqual((await approver.deploymentRequests({ status: 'pending' })).items, []);
    });
  });
}
