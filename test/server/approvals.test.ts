import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DIALECTS } from '../support/db.js';
import { startTestServer, type Api, type TestServer } from '../support/server.js';

for (const dialect of DIALECTS) {
  describe(`protected environments and deploy approvals (${dialect})`, () => {
    let s: TestServer;
    let requester: Api;
    let approver1: Api;
    let approver2: Api;
    let reader: Api;
    let stager: Api;
    const key = async (name: string, scopes: string[]) => {
      const r = await s.admin.post('/keys', { name, scopes });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      return s.as(r.body.key as string);
    };
    const live = async (environment = 'production') => (await s.admin.get(`/prompts/p/latest?environment=${environment}`)).body.version as number;
    const policy = (environment: string, body: Record<string, unknown>) => s.admin.raw('PUT', `/environments/${environment}/policy`, JSON.stringify(body), { 'Content-Type': 'application/json' });

    before(async () => {
      s = await startTestServer(dialect);
      for (let i = 1; i <= 4; i++) assert.equal((await s.admin.post('/prompts/p/versions', { content: `v${i} {{x}}` })).status, 201);
      assert.equal((await s.admin.post('/prompts/p/deployments', { version: 1, environment: 'production' })).status, 201);
      requester = await key('requester', ['read', 'deploy:production']);
      approver1 = await key('approver-1', ['deploy:production']);
      approver2 = await key('approver-2', ['deploy']);
      reader = await key('reader', ['read']);
      stager = await key('stager', ['deploy:staging']);
    });
    after(() => s.close());

    it('has no policy by default, and only admins set one (audited)', async () => {
      const none = await s.admin.get('/environments/production/policy');
      assert.equal(none.status, 200);
      assert.deepEqual(
        { protected: none.body.protected, deploy_scopes: none.body.deploy_scopes, required_approvals: none.body.required_approvals, approval_ttl_hours: none.body.approval_ttl_hours },
        { protected: false, deploy_scopes: ['deploy:production'], required_approvals: 0, approval_ttl_hours: 72 },
      );
      const denied = await requester.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 1 }), { 'Content-Type': 'application/json' });
      assert.equal(denied.status, 403);
      assert.equal((await policy('production', { required_approvals: 11 })).status, 400);
      const badScope = await policy('production', { deploy_scopes: ['superuser'] });
      assert.equal(badScope.status, 400);
      assert.equal(badScope.body.error.code, 'invalid_scope');
      assert.equal((await policy('moon', { required_approvals: 1 })).body.error.code, 'unknown_environment');

      const disagree = await policy('production', { require_approval: true, required_approvals: 0 });
      assert.equal(disagree.status, 400);
      assert.match(disagree.body.error.message, /disagree/);
      const set = await policy('production', { require_approval: true });
      assert.equal(set.status, 200);
      assert.equal(set.body.protected, true);
      assert.equal(set.body.require_approval, true);
      assert.equal(set.body.required_approvals, 1, 'one approval by default');
      assert.equal(set.body.updated_by, 'admin', 'a plain name, nothing derived from the key');
      const envs = (await reader.get('/environments')).body.items as Array<{ name: string; required_approvals: number }>;
      assert.equal(envs.find((e) => e.name === 'production')!.required_approvals, 1);
      assert.equal(envs.find((e) => e.name === 'staging')!.required_approvals, 0);
      const audit = await s.admin.get('/audit?action=environment.policy_updated');
      assert.equal(audit.body.items.length, 1);
      assert.equal(audit.body.items[0].environment, 'production');
      assert.equal(audit.body.items[0].details.after.required_approvals, 1);
      assert.equal(audit.body.items[0].details.before.required_approvals, 0);
    });

    it('turns a deploy into a pending request that goes live when someone else approves', async () => {
      const asked = await requester.post('/prompts/p/deployments', { version: 2, environment: 'production', comment: 'ship the fix' });
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      assert.equal(asked.body.status, 'pending');
      assert.equal(asked.body.version, 2);
      assert.equal(asked.body.from_version, 1);
      assert.equal(asked.body.requested_by, 'requester');
      assert.equal(asked.body.comment, 'ship the fix');
      const hours = (Date.parse(asked.body.expires_at) - Date.parse(asked.body.requested_at)) / 3_600_000;
      assert.equal(hours, 72);
      assert.equal(await live(), 1, 'nothing changes before approval');

      const twice = await requester.post('/prompts/p/deployments', { version: 2, environment: 'production' });
      assert.equal(twice.status, 202);
      assert.equal(twice.body.id, asked.body.id, 'asking again answers the waiting request');

      const pending = await reader.get('/deployment-requests?status=pending');
      assert.deepEqual(pending.body.items.map((r: { id: string }) => r.id), [asked.body.id]);

      const self = await requester.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(self.status, 403);
      assert.equal(self.body.error.code, 'self_approval');
      const notAllowed = await reader.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(notAllowed.status, 403);
      assert.equal((await stager.post(`/deployment-requests/${asked.body.id}/approve`, {})).status, 403, 'deploy:staging cannot approve production');

      const approved = await approver1.post(`/deployment-requests/${asked.body.id}/approve`, { comment: 'lgtm' });
      assert.equal(approved.status, 200, JSON.stringify(approved.body));
      assert.equal(approved.body.status, 'applied');
      assert.equal(approved.body.approvals, 1);
      assert.deepEqual(approved.body.decisions.map((d: { actor: string; decision: string; comment: string }) => [d.actor, d.decision, d.comment]), [['approver-1', 'approve', 'lgtm']]);
      assert.ok(approved.body.deployment_id);
      assert.equal(await live(), 2);

      const history = await s.admin.get('/prompts/p/deployments?environment=production&limit=1');
      assert.equal(history.body.items[0].id, approved.body.deployment_id);
      assert.equal(history.body.items[0].deployed_by, 'requester', 'the requester deploys');
      const entry = (await s.admin.get('/audit?action=deployment.created&limit=1')).body.items[0];
      assert.equal(entry.actor, 'approver-1', 'the audit log names the approver');
      assert.equal(entry.details.requested_by, 'requester');
      assert.deepEqual(entry.details.approved_by, ['approver-1']);
      assert.equal(entry.details.request_id, asked.body.id);

      const again = await approver2.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'request_not_pending');
      assert.equal((await reader.get(`/deployment-requests/${asked.body.id}`)).body.status, 'applied');
      // Someone without the right to deploy there learns nothing from deciding: a 403 before any state.
      for (const decision of ['approve', 'reject']) {
        const denied = await stager.post(`/deployment-requests/${asked.body.id}/${decision}`, {});
        assert.equal(denied.status, 403, `${decision}: ${JSON.stringify(denied.body)}`);
      }
    });

    it('needs N distinct approvers when N is set', async () => {
      assert.equal((await policy('production', { required_approvals: 2 })).status, 200);
      const asked = await requester.post('/prompts/p/deployments', { version: 3, environment: 'production' });
      assert.equal(asked.body.required_approvals, 2);
      const first = await approver1.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(first.body.status, 'pending');
      assert.equal(first.body.approvals, 1);
      const twice = await approver1.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(twice.status, 409);
      assert.equal(twice.body.error.code, 'already_decided');
      assert.equal(await live(), 2);
      const second = await approver2.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(second.body.status, 'applied');
      assert.equal(await live(), 3);
      assert.equal((await policy('production', { required_approvals: 1 })).status, 200);
    });

    it('lets anyone who may deploy there reject, and the requester withdraw', async () => {
      const a = await requester.post('/prompts/p/deployments', { version: 4, environment: 'production' });
      const rejected = await approver2.post(`/deployment-requests/${a.body.id}/reject`, { comment: 'not today' });
      assert.equal(rejected.status, 200);
      assert.equal(rejected.body.status, 'rejected');
      assert.equal((await approver1.post(`/deployment-requests/${a.body.id}/approve`, {})).status, 409);
      const b = await requester.post('/prompts/p/deployments', { version: 4, environment: 'production' });
      assert.equal((await requester.post(`/deployment-requests/${b.body.id}/reject`, {})).body.status, 'rejected');
      assert.equal((await approver1.post(`/deployment-requests/${b.body.id}/reject`, {})).status, 409, 'decided already');
      assert.equal((await reader.post(`/deployment-requests/${b.body.id}/reject`, {})).status, 403, 'a reader may not decide, whatever the state');
      assert.equal(await live(), 3);
      const rejectedList = await reader.get('/deployment-requests?status=rejected&prompt=p&environment=production');
      assert.deepEqual(rejectedList.body.items.map((r: { id: string }) => r.id), [b.body.id, a.body.id]);
      const actions = (await s.admin.get('/audit?action=deployment_request.*&limit=100')).body.items.map((e: { action: string }) => e.action);
      for (const action of ['deployment_request.created', 'deployment_request.approved', 'deployment_request.rejected']) assert.ok(actions.includes(action), action);
    });

    it('expires requests: an expired one cannot be approved and lists as expired', async () => {
      const asked = await requester.post('/prompts/p/deployments', { version: 4, environment: 'production' });
      await s.running.db.transaction((tx) => tx.run('UPDATE deployment_requests SET expires_at = $2 WHERE id = $1', [asked.body.id, new Date(Date.now() - 1_000).toISOString()]));
      assert.equal((await reader.get(`/deployment-requests/${asked.body.id}`)).body.status, 'expired');
      assert.ok(!(await reader.get('/deployment-requests?status=pending')).body.items.some((r: { id: string }) => r.id === asked.body.id));
      assert.ok((await reader.get('/deployment-requests?status=expired')).body.items.some((r: { id: string }) => r.id === asked.body.id));
      const audited = async () => (await s.admin.get('/audit?action=deployment_request.expired&limit=100')).body.items.filter((e: { target_id: string }) => e.target_id === asked.body.id);
      assert.equal((await stager.post(`/deployment-requests/${asked.body.id}/approve`, {})).status, 403);
      assert.deepEqual(await audited(), [], 'a refused caller records nothing in their name');
      const late = await approver1.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(late.status, 409);
      assert.equal(late.body.error.code, 'request_expired');
      assert.equal(await live(), 3);
      const row = await s.running.db.get<{ status: string }>('SELECT status FROM deployment_requests WHERE id = $1', [asked.body.id]);
      assert.equal(row!.status, 'expired', 'the expiry is written down');
    });

    it('applies once when two people approve at the same moment', async () => {
      const asked = await requester.post('/prompts/p/deployments', { version: 4, environment: 'production' });
      const before = (await s.admin.get('/prompts/p/deployments?environment=production&limit=100')).body.items.length;
      const answers = await Promise.all([approver1, approver2].map((a) => a.post(`/deployment-requests/${asked.body.id}/approve`, {})));
      assert.deepEqual(answers.map((r) => r.status).sort(), [200, 409], JSON.stringify(answers.map((r) => r.body)));
      assert.equal(answers.find((r) => r.status === 409)!.body.error.code, 'request_not_pending');
      const afterwards = (await s.admin.get('/prompts/p/deployments?environment=production&limit=100')).body.items.length;
      assert.equal(afterwards, before + 1, 'one deployment, not two');
      assert.equal(await live(), 4);
    });

    it('turns a rollback into a request for the version it would restore, refused if the environment changed since', async () => {
      const asked = await requester.post('/prompts/p/rollback', { environment: 'production' });
      assert.equal(asked.status, 202, JSON.stringify(asked.body));
      assert.equal(asked.body.action, 'rollback');
      assert.equal(asked.body.version, 3);
      assert.equal(asked.body.from_version, 4);
      const dry = await requester.post('/prompts/p/rollback?dry_run=true', { environment: 'production' });
      assert.equal(dry.status, 200, 'a dry run needs no approval');
      const done = await approver1.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(done.body.status, 'applied');
      assert.equal(await live(), 3);
      const rolled = (await s.admin.get('/prompts/p/deployments?environment=production&limit=1')).body.items[0];
      assert.equal(rolled.action, 'rollback');
      assert.equal(rolled.deployed_by, 'requester');

      // A rollback asked for while 3 was live, approved after 4 went live again: refused, nothing changes.
      const stale = await requester.post('/prompts/p/rollback', { environment: 'production' });
      const redeploy = await requester.post('/prompts/p/deployments', { version: 4, environment: 'production' });
      assert.equal((await approver2.post(`/deployment-requests/${redeploy.body.id}/approve`, {})).body.status, 'applied');
      const outdated = await approver1.post(`/deployment-requests/${stale.body.id}/approve`, {});
      assert.equal(outdated.status, 409);
      assert.equal(outdated.body.error.code, 'request_outdated');
      assert.equal(await live(), 4);
      assert.equal((await reader.get(`/deployment-requests/${stale.body.id}`)).body.status, 'pending', 'the refused approval left nothing behind');
      assert.equal((await reader.get(`/deployment-requests/${stale.body.id}`)).body.approvals, 0);
    });

    it('narrows who may deploy with deploy_scopes, and leaves other environments alone', async () => {
      assert.equal((await policy('production', { deploy_scopes: ['admin'], required_approvals: 0 })).status, 200);
      const denied = await requester.post('/prompts/p/deployments', { version: 2, environment: 'production' });
      assert.equal(denied.status, 403);
      assert.match(denied.body.error.message, /policy needs one of admin/);
      const direct = await s.admin.post('/prompts/p/deployments', { version: 2, environment: 'production' });
      assert.equal(direct.status, 201, 'no approval needed now: an admin deploys at once');
      assert.equal((await stager.post('/prompts/p/deployments', { version: 2, environment: 'staging' })).status, 201);
      assert.equal((await requester.get('/me')).body.can.deploy.production.allowed, false);
    });

    it('refuses bad request ids and filters with 4xx, and pages through requests', async () => {
      assert.equal((await reader.get('/deployment-requests/not-a-uuid')).status, 400);
      const missing = await reader.get('/deployment-requests/00000000-0000-4000-8000-000000000000');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.error.code, 'request_not_found');
      assert.equal((await reader.get('/deployment-requests?status=maybe')).status, 400);
      const all: string[] = [];
      let cursor: string | null = null;
      do {
        const page: { body: { items: Array<{ id: string }>; next_cursor: string | null } } = await reader.get(`/deployment-requests?limit=2${cursor ? `&cursor=${cursor}` : ''}`);
        all.push(...page.body.items.map((r) => r.id));
        cursor = page.body.next_cursor;
      } while (cursor);
      const count = await s.running.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM deployment_requests');
      assert.equal(all.length, Number(count!.n));
      assert.equal(new Set(all).size, all.length, 'no request twice');
    });
  });
}

for (const dialect of DIALECTS) {
  describe(`stale deploy requests (${dialect})`, () => {
    let s: TestServer;
    let requester: Api;
    let approver: Api;
    const live = async () => (await s.admin.get('/prompts/q/latest?environment=production')).body.version as number;

    before(async () => {
      s = await startTestServer(dialect);
      for (let i = 1; i <= 4; i++) assert.equal((await s.admin.post('/prompts/q/versions', { content: `v${i}` })).status, 201);
      assert.equal((await s.admin.post('/prompts/q/deployments', { version: 2, environment: 'production' })).status, 201);
      const policy = await s.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 1 }), { 'Content-Type': 'application/json' });
      assert.equal(policy.status, 200);
      requester = s.as((await s.admin.post('/keys', { name: 'asker', scopes: ['read', 'deploy:production'] })).body.key);
      approver = s.as((await s.admin.post('/keys', { name: 'approver', scopes: ['read', 'deploy:production'] })).body.key);
    });
    after(() => s.close());

    it('refuses approving a deploy request made against a version no longer live, and says it is outdated', async () => {
      const v3 = await requester.post('/prompts/q/deployments', { version: 3, environment: 'production' });
      const v4 = await requester.post('/prompts/q/deployments', { version: 4, environment: 'production' });
      assert.equal(v3.status, 202);
      assert.deepEqual([v3.body.from_version, v4.body.from_version], [2, 2]);
      assert.equal(v3.body.outdated, false);
      assert.equal(v3.body.live_version, 2);

      assert.equal((await approver.post(`/deployment-requests/${v4.body.id}/approve`, {})).body.status, 'applied');
      assert.equal(await live(), 4);

      // The approver is told, before deciding, that "2 -> 3" no longer describes what approving would do.
      const shown = await approver.get(`/deployment-requests/${v3.body.id}`);
      assert.equal(shown.body.status, 'pending');
      assert.equal(shown.body.outdated, true);
      assert.equal(shown.body.live_version, 4);
      const listed = (await approver.get('/deployment-requests?status=pending')).body.items as Array<{ id: string; outdated: boolean }>;
      assert.deepEqual(listed.map((r) => [r.id, r.outdated]), [[v3.body.id, true]]);

      const refused = await approver.post(`/deployment-requests/${v3.body.id}/approve`, {});
      assert.equal(refused.status, 409, JSON.stringify(refused.body));
      assert.equal(refused.body.error.code, 'request_outdated');
      assert.match(refused.body.error.message, /version 4 of "q" is live in production now, not version 2/);
      assert.equal(refused.body.error.current_version, 4);
      assert.equal(await live(), 4, 'v3 did not go live over v4');
      const after = await approver.get(`/deployment-requests/${v3.body.id}`);
      assert.deepEqual([after.body.status, after.body.approvals, after.body.decisions.length], ['pending', 0, 0], 'the refused approval left nothing behind');
      const deploys = (await s.admin.get('/audit?action=deployment.created')).body.items as Array<{ details: { version: number } }>;
      assert.ok(!deploys.some((d) => d.details.version === 3), 'no deployment of v3 was recorded');

      // Asking again makes a fresh request from what is live now, rather than answering the outdated one.
      const again = await requester.post('/prompts/q/deployments', { version: 3, environment: 'production' });
      assert.equal(again.status, 202);
      assert.notEqual(again.body.id, v3.body.id);
      assert.deepEqual([again.body.from_version, again.body.outdated], [4, false]);

      // The outdated one can still be rejected (or withdrawn), which takes it off the pending list.
      assert.equal((await approver.post(`/deployment-requests/${v3.body.id}/reject`, {})).body.status, 'rejected');
      assert.equal((await approver.get(`/deployment-requests/${v3.body.id}`)).body.outdated, false, 'only a pending request is outdated');
      assert.equal((await approver.post(`/deployment-requests/${again.body.id}/approve`, {})).body.status, 'applied');
      assert.equal(await live(), 3);
    });
  });
}
