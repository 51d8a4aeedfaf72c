import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DeploymentRequest, Me } from '../../client/index.js';
import { ago, awaitingDecision, decisionMessage, expiry, outcomeMessage, pendingMessage, requestDetails, requestText, roleOf } from '../../extension/approvals/model.js';

const NOW = Date.parse('2026-12-01T12:00:00Z');

function request(over: Partial<DeploymentRequest> = {}): DeploymentRequest {
  return {
    id: '1a2b3c4d-0000-4000-8000-000000000000',
    prompt: 'greeting',
    environment: 'production',
    action: 'deploy',
    version: 2,
    from_version: 1,
    comment: 'shorter',
    requested_by: 'bob',
    requested_credential: 'key:1',
    requested_at: '2026-12-01T11:55:00Z',
    expires_at: '2026-12-04T11:55:00Z',
    status: 'pending',
    required_approvals: 1,
    approvals: 0,
    decisions: [],
    decided_at: null,
    deployment_id: null,
    live_version: 1,
    outdated: false,
    ...over,
  };
}

function me(name: string, deploy: Record<string, boolean> = { production: true }): Me {
  return {
    name,
    person: name,
    kind: 'api_key',
    credential: 'key:2',
    scopes: [],
    expires_at: null,
    oidc: null,
    can: { read: true, write: false, admin: false, log_executions: false, read_execution_payloads: false, deploy: Object.fromEntries(Object.entries(deploy).map(([e, allowed]) => [e, { allowed, needs_approval: true, required_approvals: 1 }])) },
  };
}

const approve = (actor: string, comment: string | null = null) => ({ actor, credential: 'key:9', decision: 'approve' as const, comment, decided_at: '2026-12-01T11:58:00Z' });
const reject = (actor: string, comment: string | null = null) => ({ ...approve(actor, comment), decision: 'reject' as const });

describe('deployment requests in the extension', () => {
  it('says how the user stands to a request: theirs, theirs to decide, decided, or not theirs to touch', () => {
    assert.equal(roleOf(request(), me('bob')), 'own');
    assert.equal(roleOf(request(), me('dave')), 'decide');
    assert.equal(roleOf(request({ decisions: [approve('dave')], approvals: 1, required_approvals: 2 }), me('dave')), 'decided');
    assert.equal(roleOf(request(), me('carol', { production: false })), 'view');
    assert.equal(roleOf(request({ environment: 'moon' }), me('dave')), 'view', 'an environment /me does not list');
    assert.equal(roleOf(request(), undefined), 'decide', 'without /me the server decides');
  });

  it('counts what awaits the user for the badge', () => {
    const all = [request(), request({ id: 'x', requested_by: 'dave' }), request({ id: 'y', status: 'expired' }), request({ id: 'z', environment: 'staging' })];
    assert.equal(awaitingDecision(all, me('dave')), 1);
    assert.equal(awaitingDecision(all, me('erin', { production: true, staging: true })), 3);
  });

  it('formats ages and expiries', () => {
    assert.equal(ago('2026-12-01T11:59:30Z', NOW), 'just now');
    assert.equal(ago('2026-12-01T11:55:00Z', NOW), '5 min ago');
    assert.equal(ago('2026-12-01T09:00:00Z', NOW), '3 h ago');
    assert.equal(ago('2026-11-28T12:00:00Z', NOW), '3 d ago');
    assert.equal(expiry('2026-12-04T12:00:00Z', NOW), 'expires in 3 d');
    assert.equal(expiry('2026-12-01T13:00:00Z', NOW), 'expires in 1 h');
    assert.equal(expiry('2026-12-01T12:00:00Z', NOW), 'expired');
  });

  it('describes a row: what goes where, who asked, approvals so far of needed, age, expiry', () => {
    const t = requestText(request(), me('dave'), NOW);
    assert.equal(t.label, 'greeting v2 → production');
    assert.equal(t.description, 'bob · 0/1 · 5 min ago · expires in 3 d');
    assert.match(t.tooltip, /^Deploy of greeting v2 to production \(live there now: v1\)\nRequested by bob, 5 min ago/);
    assert.match(t.tooltip, /“shorter”/);
    assert.match(t.tooltip, /Request 1a2b3c4d-0000/);
    const own = requestText(request({ action: 'rollback', version: 1, from_version: 2, decisions: [approve('erin', 'ok')], approvals: 1, required_approvals: 2 }), me('bob'), NOW);
    assert.equal(own.label, 'greeting v1 → production');
    assert.equal(own.description, 'rollback from v2 · you · 1/2 · 5 min ago · expires in 3 d');
    assert.match(own.tooltip, /erin approved: “ok”/);
    assert.match(own.tooltip, /you may withdraw it/);
  });

  it('details a request in the rows under it, the last one opening what would change', () => {
    const rows = requestDetails(request({ decisions: [approve('erin', 'ok')], approvals: 1, required_approvals: 2 }), me('dave'), NOW);
    assert.deepEqual(
      rows.map((r) => [r.label, r.description]),
      [
        ['Requested by bob', '5 min ago'],
        ['“shorter”', ''],
        ['1 of 2 approvals', 'erin approved: “ok”'],
        ['Expires in 3 d', '2026-12-04 11:55 UTC'],
        ['Compare v1 → v2', 'live now: v1'],
      ],
    );
    assert.deepEqual(rows[4]!.compare, { prompt: 'greeting', from: 1, to: 2 });
    const first = requestDetails(request({ from_version: null, comment: null }), me('bob'), NOW);
    assert.deepEqual(
      first.map((r) => r.label),
      ['Requested by you', '0 of 1 approval', 'Expires in 3 d', 'Open v2'],
    );
    assert.deepEqual(first[3]!.compare, { prompt: 'greeting', from: null, to: 2 });
  });

  it('says when a request is outdated: something else went live since it was asked for', () => {
    const stale = request({ version: 3, from_version: 2, live_version: 4, outdated: true });
    const text = requestText(stale, me('carol'), NOW);
    assert.match(text.description, /^outdated · bob · /);
    assert.match(text.tooltip, /^Deploy of greeting v3 to production: outdated, v4 is live there now, not v2 as when it was asked for\. It can't be approved; reject it and ask again\./);
    const rows = requestDetails(stale, me('carol'), NOW);
    assert.deepEqual(
      rows.filter((r) => r.icon === 'warning').map((r) => [r.label, r.description]),
      [['Outdated: v4 is live now', "asked when v2 was; it can't be approved"]],
    );
    assert.ok(!requestDetails(request({ live_version: 1, outdated: false }), me('carol'), NOW).some((r) => r.icon === 'warning'));
    assert.doesNotMatch(requestText(request(), me('carol'), NOW).description, /outdated/);
  });

  it('tells the requester what is waiting, and then how it ended', () => {
    assert.equal(pendingMessage(request()), 'Deploy of greeting v2 to production is waiting for 1 approval; request 1a2b3c4d.');
    assert.equal(pendingMessage(request({ action: 'rollback', version: 1, required_approvals: 3, approvals: 1 })), 'Rollback of greeting in production to v1 is waiting for 2 approvals; request 1a2b3c4d.');
    assert.deepEqual(outcomeMessage(request({ status: 'applied', approvals: 1, decisions: [approve('dave')] }), me('bob')), {
      text: 'greeting v2 is live in production (approved by dave).',
      warning: false,
    });
    assert.deepEqual(outcomeMessage(request({ status: 'rejected', decisions: [reject('dave', 'too risky')] }), me('bob')), {
      text: 'Your deploy of greeting v2 to production was rejected by dave: too risky',
      warning: true,
    });
    assert.equal(outcomeMessage(request({ status: 'rejected', decisions: [reject('bob')] }), me('bob')), undefined, 'withdrawn by the requester: nothing to tell');
    assert.match(outcomeMessage(request({ status: 'expired' }), me('bob'))!.text, /^Your deploy of greeting v2 to production expired with 0 of 1 approval;/);
    assert.equal(outcomeMessage(request(), me('bob')), undefined);
  });

  it('names rollout requests as rollouts, never as rollbacks', () => {
    const start = request({ action: 'rollout_start', version: 4, from_version: 3, rollout: { weight: 10, guard: null, id: null } });
    const abort = request({ action: 'rollout_abort', version: 4, from_version: 3, rollout: { weight: null, guard: null, id: '9f8e7d6c-0000-4000-8000-000000000000' } });
    assert.equal(pendingMessage(start), 'Rollout of greeting v4 to 10% in production is waiting for 1 approval; request 1a2b3c4d.');
    assert.equal(pendingMessage(abort), 'Abort of the greeting v4 rollout in production is waiting for 1 approval; request 1a2b3c4d.');
    const startRow = requestText(start, me('carol'), NOW);
    assert.equal(startRow.label, 'greeting v4 → production 10%');
    assert.match(startRow.description, /^rollout beside v3 · bob · 0\/1/);
    assert.match(startRow.tooltip, /^Rollout of greeting v4 to 10% in production \(live there now: v3\)/);
    const abortRow = requestText(abort, me('carol'), NOW);
    assert.equal(abortRow.label, 'greeting v4 rollout in production: abort');
    assert.match(abortRow.description, /^rollout abort · bob/);
    for (const text of [startRow.label, startRow.description, startRow.tooltip, abortRow.label, abortRow.description, abortRow.tooltip]) assert.doesNotMatch(text, /rollback/i);
    assert.deepEqual(outcomeMessage({ ...start, status: 'applied', approvals: 1, decisions: [approve('dave')] }, me('bob')), {
      text: 'The rollout of greeting v4 serves 10% in production (approved by dave).',
      warning: false,
    });
    assert.equal(decisionMessage({ ...abort, status: 'applied' }, 'approve'), 'The rollout of greeting v4 in production is aborted: yours was the final approval.');
    assert.equal(decisionMessage({ ...abort, status: 'rejected' }, 'reject'), 'Rejected the abort of the greeting v4 rollout in production requested by bob.');
  });

  it('tells a decider what their decision did', () => {
    assert.equal(decisionMessage(request({ status: 'applied' }), 'approve'), 'greeting v2 is live in production: yours was the final approval.');
    assert.equal(decisionMessage(request({ required_approvals: 3, approvals: 1 }), 'approve'), 'Approved the deploy of greeting v2 to production; it needs 2 more approvals.');
    assert.equal(decisionMessage(request({ status: 'rejected' }), 'reject'), 'Rejected the deploy of greeting v2 to production requested by bob.');
    assert.equal(decisionMessage(request({ status: 'rejected' }), 'withdraw'), 'Withdrew your deploy of greeting v2 to production.');
  });
});
