// Runs inside VS Code against a remote registry holding 10,000 prompts (PR_TREE_URL, PR_TREE_KEY).
import assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../../extension/extension.js';

declare const describe: (name: string, fn: () => void) => void;
declare const it: (name: string, fn: () => Promise<void> | void) => void;

async function until(what: string, check: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('a registry of 10,000 prompts', () => {
  it('connects to a remote registry with a key from secret storage, shows the first page at once and loads more on demand', async () => {
    const api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    await vscode.workspace.getConfiguration('promptRegistry').update('serverUrl', process.env.PR_TREE_URL, vscode.ConfigurationTarget.Global);
    await until('asks for a key', () => api.connection.state.kind === 'needs-key');
    await vscode.commands.executeCommand('promptRegistry.setApiKey', process.env.PR_TREE_KEY);
    await until('connected to the remote registry', () => api.connection.state.kind === 'connected' && api.connection.state.mode === 'remote');

    const started = performance.now();
    const first = await api.prompts.getChildren();
    const firstLevelMs = performance.now() - started;
    assert.equal(first.length, 101, 'a page of 100 prompts and "Load more…"');
    assert.equal(first[0]!.label, 'support-agent-00001');
    const more = first[100];
    // The test bundle has its own copy of the classes: compare by contextValue, not instanceof.
    assert.equal(more?.contextValue, 'loadMore');
    await vscode.commands.executeCommand('promptRegistry.loadMore', more);
    const next = await api.prompts.getChildren();
    assert.equal(next.length, 201);
    assert.equal(next[199]!.label, 'support-agent-00200');
    console.log(`TIMING tree_first_level_ms=${firstLevelMs.toFixed(1)} prompts=10000`);
  });

  it("shows another client's deploy in the Live tree without a refresh", async () => {
    const api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    const liveIn = async (environment: string) => {
      const envs = await api.live.getChildren();
      const env = envs.find((e) => e.label === environment);
      assert.ok(env, `the Live tree lists ${environment}`);
      return (await api.live.getChildren(env)).map((n) => n.label);
    };
    assert.ok(!(await liveIn('staging')).includes('support-agent-00042'), 'not live before the deploy');
    let heard: string | undefined;
    const listening = api.liveUpdates.onDidChange((e) => (heard = e?.prompt));
    try {
      // Another client: a plain HTTP call with its own key, not the extension.
      const res = await fetch(`${process.env.PR_TREE_URL}/prompts/support-agent-00042/deployments`, {
        method: 'POST',
        headers: { 'X-API-Key': process.env.PR_TREE_KEY!, 'Content-Type': 'application/json' },
        body: JSON.stringify({ version: 1, environment: 'staging' }),
      });
      assert.equal(res.status, 201, await res.text());
      await until('the extension hears the deploy and refreshes', () => heard === 'support-agent-00042');
      assert.ok((await liveIn('staging')).includes('support-agent-00042'), 'live in staging after the event, with no refresh command');
    } finally {
      listening.dispose();
    }
  });
});
