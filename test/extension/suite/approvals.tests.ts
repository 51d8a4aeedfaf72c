// Runs inside VS Code against a remote registry where production needs one approval
// (PR_APPROVALS_URL, with the keys of bob, who asks, and dave, who approves).
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import { RegistryApi, type DeployResult, type DeploymentRequest, type RolloutResult } from '../../../client/index.js';
import type { ExtensionApi } from '../../../extension/extension.js';
import { until } from './support.js';

declare const describe: (name: string, fn: () => void) => void;
declare const it: (name: string, fn: () => Promise<void> | void) => void;
declare const before: (fn: () => Promise<void> | void) => void;

const env = (name: string) => {
  const v = process.env[name];
  assert.ok(v, `${name} is set`);
  return v;
};

describe('deployment approvals in VS Code', () => {
  let ext: ExtensionApi;
  let dave: RegistryApi;
  let admin: RegistryApi;
  const settled: Array<{ request: DeploymentRequest; message: string | undefined }> = [];
  const rows = async () => (await ext.approvalsView.getChildren()).map((n) => ({ label: String(n.label), description: String(n.description ?? ''), context: n.contextValue }));
  /** What the Live view shows of greeting in an environment. */
  const liveIn = async (environment: string) => {
    const envs = await ext.live.getChildren();
    const node = envs.find((n) => n.label === environment);
    assert.ok(node, `the Live view lists ${environment}`);
    return (await ext.live.getChildren(node)).map((n) => `${String(n.label)} ${String(n.description).split(' ')[0]}`).filter((l) => l.startsWith('greeting '));
  };

  before(async () => {
    ext = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    dave = new RegistryApi({ url: env('PR_APPROVALS_URL'), apiKey: env('PR_APPROVER_KEY') });
    admin = new RegistryApi({ url: env('PR_APPROVALS_URL'), apiKey: env('PR_ADMIN_KEY') });
    ext.approvals.onDidSettle((s) => settled.push(s));
    await vscode.workspace.getConfiguration('promptRegistry').update('serverUrl', env('PR_APPROVALS_URL'), vscode.ConfigurationTarget.Global);
    await until('asks for a key', () => ext.connection.state.kind === 'needs-key');
    await vscode.commands.executeCommand('promptRegistry.setApiKey', env('PR_REQUESTER_KEY'));
    await until('connected as bob', () => ext.connection.state.kind === 'connected' && ext.approvals.me?.name === 'bob');
  });

  it('knows who the user is from /me, and that production needs an approval', () => {
    assert.deepEqual(ext.approvals.me!.can.deploy.production, { allowed: true, needs_approval: true, required_approvals: 1 });
  });

  it('deploys to production as a pending request, shown in the Approvals view as the user\'s own', async () => {
    const result = await vscode.commands.executeCommand<DeployResult>('promptRegistry.deploy', { prompt: 'greeting', version: 2, environment: 'production', confirmed: true, comment: 'shorter' });
    assert.ok(result?.kind === 'pending', JSON.stringify(result));
    assert.equal(result.request.comment, 'shorter');
    assert.equal((await admin.live('greeting', 'production'))?.version, 1, 'nothing changes before approval');
    const [row, ...rest] = await rows();
    assert.deepEqual(rest, []);
    assert.equal(row!.label, 'greeting v2 → production');
    assert.match(row!.description, /^you · 0\/1 · just now · expires in 3 d$/);
    assert.equal(row!.context, 'request.own', 'Withdraw, not Approve');
    assert.equal(ext.approvalsView.view.badge, undefined, 'nothing awaits bob\'s decision');
    const [node] = await ext.approvalsView.getChildren();
    assert.deepEqual(
      (await ext.approvalsView.getChildren(node)).map((n) => `${String(n.label)} | ${String(n.description)}`),
      ['Requested by you | just now', '“shorter” | ', '0 of 1 approval | ', `Expires in 3 d | ${result.request.expires_at.slice(0, 16).replace('T', ' ')} UTC`, 'Compare v1 → v2 | live now: v1'],
    );
  });

  it('tells the requester when someone else approves it, and the Live view shows it live', async () => {
    const [mine] = (await dave.deploymentRequests({ status: 'pending', requestedBy: 'bob' })).items;
    assert.ok(mine);
    assert.equal((await dave.approve(mine.id, 'ok')).status, 'applied');
    const told = await until('bob is told', () => settled.find((s) => s.request.id === mine.id));
    assert.equal(told.message, 'greeting v2 is live in production (approved by dave).');
    await until('the Approvals view empties', async () => (await rows()).length === 0);
    assert.deepEqual(await liveIn('production'), ['greeting v2']);
  });

  it('approves someone else\'s request from the view, and the server applies it', async () => {
    const asked = await dave.deploy('greeting', 3, 'production', { comment: 'friendlier' });
    assert.ok(asked.kind === 'pending');
    const [row] = await until('dave\'s request shows', async () => {
      const r = await rows();
      return r.length ? r : undefined;
    });
    assert.equal(row!.context, 'request.decide');
    assert.match(row!.description, /^dave · 0\/1/);
    assert.deepEqual(ext.approvalsView.view.badge, { value: 1, tooltip: '1 deployment request awaiting your decision' });
    const decided = await vscode.commands.executeCommand<DeploymentRequest>('promptRegistry.approveRequest', { id: asked.request.id, comment: 'lgtm' });
    assert.equal(decided.status, 'applied');
    const onServer = await admin.deploymentRequest(asked.request.id);
    assert.deepEqual(onServer.decisions.map((d) => [d.actor, d.decision, d.comment]), [['bob', 'approve', 'lgtm']]);
    assert.equal((await admin.live('greeting', 'production'))?.version, 3);
    assert.equal((await admin.history('greeting', { environment: 'production', limit: 1 })).items[0]!.deployed_by, 'dave', 'the requester deploys');
    assert.equal(ext.approvalsView.view.badge, undefined);
    assert.deepEqual(await liveIn('production'), ['greeting v3']);
  });

  it('rejects a request with a comment, and the server keeps what is live', async () => {
    const asked = await dave.rollback('greeting', 'production', { comment: 'back to v2' });
    assert.ok(asked.kind === 'pending');
    await until('the rollback request shows', async () => (await rows()).some((r) => r.description.startsWith('rollback from v3 · dave')));
    const decided = await vscode.commands.executeCommand<DeploymentRequest>('promptRegistry.rejectRequest', { id: asked.request.id, comment: 'keep v3', confirmed: true });
    assert.equal(decided.status, 'rejected');
    const onServer = await admin.deploymentRequest(asked.request.id);
    assert.deepEqual([onServer.status, onServer.decisions[0]?.actor, onServer.decisions[0]?.comment], ['rejected', 'bob', 'keep v3']);
    assert.equal((await admin.live('greeting', 'production'))?.version, 3);
  });

  it('withdraws the user\'s own request, quietly', async () => {
    const result = await vscode.commands.executeCommand<DeployResult>('promptRegistry.rollback', { prompt: 'greeting', environment: 'production', confirmed: true });
    assert.ok(result?.kind === 'pending', JSON.stringify(result));
    const withdrawn = await vscode.commands.executeCommand<DeploymentRequest>('promptRegistry.withdrawRequest', { id: result.request.id, comment: '', confirmed: true });
    assert.equal(withdrawn.status, 'rejected');
    assert.equal((await admin.deploymentRequest(result.request.id)).status, 'rejected');
    await ext.approvals.reload();
    assert.equal(settled.some((s) => s.request.id === result.request.id), false, 'no notification for what bob did himself');
    assert.deepEqual(await rows(), []);
  });

  it('follows a change of key: the same request is dave\'s to decide once the extension uses his key', async () => {
    const asked = await vscode.commands.executeCommand<DeployResult>('promptRegistry.deploy', { prompt: 'greeting', version: 1, environment: 'production', confirmed: true });
    assert.ok(asked?.kind === 'pending');
    await vscode.commands.executeCommand('promptRegistry.setApiKey', env('PR_APPROVER_KEY'));
    await until('connected as dave', () => ext.approvals.me?.name === 'dave');
    await until('the request is dave\'s to decide', async () => (await rows()).some((r) => r.context === 'request.decide' && r.description.startsWith('bob ·')));
    const decided = await vscode.commands.executeCommand<DeploymentRequest>('promptRegistry.rejectRequest', { id: asked.request.id, comment: 'not v1', confirmed: true });
    assert.equal(decided.status, 'rejected');
    assert.deepEqual((await admin.deploymentRequest(asked.request.id)).decisions.map((d) => d.actor), ['dave']);
  });
  /** The Live view's row of greeting in production: `greeting v3 90% · v2 10% (rollout)`. */
  const greetingLive = async () => {
    const envs = await ext.live.getChildren();
    const production = envs.find((n) => n.label === 'production');
    assert.ok(production, 'the Live view lists production');
    const node = (await ext.live.getChildren(production)).find((n) => n.label === 'greeting');
    return node ? `${String(node.label)} ${String(node.description)}` : undefined;
  };

  it('asks for approval to start a rollout: the request is named as a rollout, and once approved the Live view shows both versions', async () => {
    const bob = new RegistryApi({ url: env('PR_APPROVALS_URL'), apiKey: env('PR_REQUESTER_KEY') });
    const asked = await vscode.commands.executeCommand<RolloutResult>('promptRegistry.startRollout', { prompt: 'greeting', environment: 'production', candidate: 2, weight: 10, guard: null, confirmed: true, comment: 'try v2' });
    assert.ok(asked?.kind === 'pending', JSON.stringify(asked));
    assert.deepEqual([asked.request.action, asked.request.version, asked.request.from_version, asked.request.rollout?.weight], ['rollout_start', 2, 3, 10]);
    assert.equal(await admin.rolloutIfAny('greeting', 'production'), undefined, 'nothing runs before approval');
    const row = await until('the request in the Approvals view', async () => (await rows()).find((r) => r.label === 'greeting v2 → production 10%'));
    assert.match(row.description, /^rollout beside v3 · you · 0\/1 · /);
    assert.equal((await bob.approve(asked.request.id, 'go')).status, 'applied');
    const told = await until('dave is told', () => settled.find((s) => s.request.id === asked.request.id));
    assert.equal(told.message, 'The rollout of greeting v2 serves 10% in production (approved by bob).');
    const running = await admin.rollout('greeting', 'production');
    assert.deepEqual([running.candidate, running.live, running.weight], [2, 3, 10]);
    await until('the Live view shows the rollout', async () => (await greetingLive())?.startsWith('greeting v3 90% · v2 10% (rollout)'));
  });

  it("refuses what the registry refuses, and asks for approval to abort: the request is named as an abort, not a rollback", async () => {
    // The live version as the candidate: the registry's 409 at once, no request left behind.
    const refused = await vscode.commands.executeCommand<RolloutResult | undefined>('promptRegistry.startRollout', { prompt: 'greeting', environment: 'production', candidate: 3, weight: 20, guard: null, confirmed: true });
    assert.equal(refused, undefined, 'the command showed the error instead');
    assert.deepEqual((await admin.deploymentRequests({ status: 'pending' })).items, []);

    const bob = new RegistryApi({ url: env('PR_APPROVALS_URL'), apiKey: env('PR_REQUESTER_KEY') });
    const asked = await vscode.commands.executeCommand<RolloutResult>('promptRegistry.abortRollout', { prompt: 'greeting', environment: 'production', reason: 'v2 is slower', confirmed: true });
    assert.ok(asked?.kind === 'pending', JSON.stringify(asked));
    assert.deepEqual([asked.request.action, asked.request.comment], ['rollout_abort', 'v2 is slower']);
    const row = await until('the abort request in the Approvals view', async () => (await rows()).find((r) => r.label === 'greeting v2 rollout in production: abort'));
    assert.match(row.description, /^rollout abort · you · 0\/1 · /);
    assert.doesNotMatch(`${row.label} ${row.description}`, /rollback/);
    assert.equal((await admin.rollout('greeting', 'production')).status, 'active', 'it runs on until approved');
    assert.equal((await bob.approve(asked.request.id)).status, 'applied');
    const told = await until('dave is told', () => settled.find((s) => s.request.id === asked.request.id));
    assert.equal(told.message, 'The rollout of greeting v2 in production is aborted (approved by bob).');
    assert.equal(await admin.rolloutIfAny('greeting', 'production'), undefined);
    await until('the Live view shows greeting v3 alone', async () => (await greetingLive())?.startsWith('greeting v3 · '));
  });
});
