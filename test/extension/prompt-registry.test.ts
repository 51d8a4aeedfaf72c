/**
 * The Prompt Registry extension in a real VS Code (code-server + chromium):
 * the extension-host suite (test/extension/suite, mocha, against the bundled
 * local registry), then a UI scenario with screenshots in
 * test-artifacts/extension/. One file, run in order: one VS Code at a time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openWorkbench, runExtensionTests, startCodeServer, type CodeServer, type Workbench } from './harness.js';
import { seed } from '../../bench/resolve/seed.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { ensureToolchain } from './setup.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MINUTE = 60_000;

const GREETING = `---
name: greeting
description: Greets a customer
tags: [demo]
model: gpt-4o
temperature: 0.2
samples:
  name: Ann
  company: Acme
---
Hello {{name}}, welcome to {{company}}!
Your order {{order}} ships today.
`;

/** A version's row in the tree: its label is exactly `v1` (the prompt's row also mentions v1). */
function versionRow(wb: Workbench, label: string) {
  return wb.page.locator('.monaco-list-row', { has: wb.page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
}

/** A workspace whose settings point the bundled registry at this Node.js (the ABI it was built for). */
function workspace(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pr-ext-ws-'));
  mkdirSync(join(dir, '.vscode'));
  writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify({ 'promptRegistry.nodePath': process.execPath }, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
}

/**
 * A registry where production needs one approval, with greeting v1 live there
 * (v2, v3 published) and two keys that may deploy there: bob asks, dave approves.
 */
async function approvalsRegistry(): Promise<{ registry: TestServer; bob: string; dave: string }> {
  const registry = await startTestServer('sqlite');
  const key = async (name: string, scopes: string[]) => {
    const r = await registry.admin.post('/keys', { name, scopes });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return r.body.key as string;
  };
  for (const name of ['greeting', 'farewell']) {
    for (let v = 1; v <= 3; v++) assert.equal((await registry.admin.post(`/prompts/${name}/versions`, { content: `${name} ${v}: {{name}}` })).status, 201);
    assert.equal((await registry.admin.post(`/prompts/${name}/deployments`, { version: 1, environment: 'production' })).status, 201);
  }
  const policy = await registry.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ require_approval: true }), { 'Content-Type': 'application/json' });
  assert.equal(policy.status, 200, JSON.stringify(policy.body));
  return { registry, bob: await key('bob', ['read', 'write', 'deploy:production']), dave: await key('dave', ['read', 'deploy:production']) };
}

describe('Prompt Registry extension in a real VS Code', { concurrency: false }, () => {
  const dirs: string[] = [];
  before(
    async () => {
      await ensureToolchain();
      const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build-extension.mjs'), '--tests'], { cwd: ROOT, encoding: 'utf8' });
      assert.equal(build.status, 0, build.stderr);
    },
    { timeout: 10 * MINUTE },
  );
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('passes the extension-host suite: publish, identical, edit, deploy, rollback, tree, preview, diagnostics', { timeout: 6 * MINUTE }, async () => {
    const ws = workspace();
    dirs.push(ws);
    const result = await runExtensionTests({
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: join(ROOT, 'dist/extension-tests/index.cjs'),
      workspace: ws,
      timeoutMs: 5 * MINUTE,
    });
    const passing = /(\d+) passing/.exec(result.log)?.[1];
    assert.equal(result.code, 0, `extension tests failed; log: ${result.logFile}\n${result.log.slice(-4_000)}`);
    assert.ok(Number(passing) >= 11, `mocha reported ${passing} passing`);
    const timing = /TIMING activate_ms=([\d.]+) connected_ms=(\d+)/.exec(result.log);
    assert.ok(timing, 'the suite reports activation timings');
    process.stdout.write(`# extension activation: ${timing[1]} ms before the server; connected to the bundled server after ${timing[2]} ms\n`);
  });

  it('shows the first level of a 10,000-prompt tree from a remote registry', { timeout: 6 * MINUTE }, async () => {
    const registry = await startTestServer('sqlite');
    try {
      await seed(registry.database.url, 10_000);
      const ws = workspace();
      dirs.push(ws);
      const result = await runExtensionTests({
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: join(ROOT, 'dist/extension-tests/index.cjs'),
        workspace: ws,
        env: { PR_TREE_URL: registry.url, PR_TREE_KEY: ADMIN_KEY },
        timeoutMs: 5 * MINUTE,
      });
      assert.equal(result.code, 0, `tree test failed; log: ${result.logFile}\n${result.log.slice(-4_000)}`);
      const timing = /TIMING tree_first_level_ms=([\d.]+)/.exec(result.log);
      assert.ok(timing, 'the tree test reports its timing');
      process.stdout.write(`# first tree level of 10,000 prompts: ${timing[1]} ms\n`);
    } finally {
      await registry.close();
    }
  });

  // Up to 10 minutes of this go to waiting for another VS Code on the machine to finish (harness lock).
  it('asks for approval, approves, rejects and withdraws deploys against a registry whose production needs approval', { timeout: 16 * MINUTE }, async () => {
    const { registry, bob, dave } = await approvalsRegistry();
    try {
      const ws = workspace();
      dirs.push(ws);
      const result = await runExtensionTests({
        extensionDevelopmentPath: ROOT,
        extensionTestsPath: join(ROOT, 'dist/extension-tests/index.cjs'),
        workspace: ws,
        env: { PR_APPROVALS_URL: registry.url, PR_REQUESTER_KEY: bob, PR_APPROVER_KEY: dave, PR_ADMIN_KEY: ADMIN_KEY },
        timeoutMs: 5 * MINUTE,
      });
      const passing = /(\d+) passing/.exec(result.log)?.[1];
      assert.equal(result.code, 0, `approvals tests failed; log: ${result.logFile}\n${result.log.slice(-4_000)}`);
      assert.equal(Number(passing), 7, `mocha reported ${passing} passing`);
    } finally {
      await registry.close();
    }
  });

  describe('UI scenario', { concurrency: false }, () => {
    let server: CodeServer;
    let wb: Workbench;
    let ws: string;
    before(
      async () => {
        ws = workspace({ 'greeting.prompt': GREETING });
        dirs.push(ws);
        server = await startCodeServer({ workspace: ws });
        wb = await openWorkbench({ url: server.url, folder: ws, extensionDevelopmentPath: ROOT });
      },
      { timeout: 3 * MINUTE },
    );
    after(async () => {
      await wb?.close();
      await server?.stop();
    });

    it('opens the Prompt Registry view, connected to the bundled registry', { timeout: 2 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      await wb.page.locator('.pane-header', { hasText: 'Prompts' }).first().waitFor({ timeout: MINUTE });
      // The welcome content shows once the bundled registry answers, with nothing in it yet.
      await wb.page.locator('.welcome-view-content', { hasText: 'No prompts yet' }).first().waitFor({ timeout: MINUTE });
      await wb.page.locator('.statusbar-item', { hasText: 'Prompts: local' }).first().waitFor({ timeout: MINUTE });
      await wb.screenshot('01-view-empty');
    });

    it('shows sample values inline in a .prompt file, and warns of the variable without one', { timeout: 2 * MINUTE }, async () => {
      await wb.page.keyboard.press('Control+P');
      await wb.page.locator('.quick-input-widget input').fill('greeting.prompt');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'greeting.prompt' }).first().waitFor({ timeout: 10_000 });
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'welcome to' }).first().waitFor({ timeout: 30_000 });
      // Inline values are ::after content of decoration spans: read them as a user's eyes would.
      const inline = async () =>
        wb.page.evaluate<string[]>(`[...document.querySelectorAll('.monaco-editor .view-lines span')]
          .map((el) => getComputedStyle(el, '::after').content)
          .filter((c) => c && c !== 'none' && c !== 'normal')`);
      let shown: string[] = [];
      const deadline = Date.now() + 30_000;
      while (Date.now() < deadline && !(shown.some((c) => c.includes('= Ann')) && shown.some((c) => c.includes('= Acme')))) {
        await new Promise((r) => setTimeout(r, 250));
        shown = await inline();
      }
      assert.ok(shown.some((c) => c.includes('= Ann')), `inline samples: ${shown.join(' | ')}`);
      assert.ok(shown.some((c) => c.includes('= Acme')));
      assert.ok(shown.some((c) => c.includes('(no sample)')), 'the order variable has none');
      await wb.page.locator('.squiggly-warning').first().waitFor({ timeout: 30_000 });
      await wb.screenshot('02-inline-preview');
    });

    it('publishes from the palette and shows the version in the tree', { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('Prompt Registry: Publish Version');
      await wb.waitForNotification('Published greeting version 1', 30_000);
      const rows = await wb.treeRows('Prompts');
      assert.ok(rows.some((r) => r.includes('greeting')), rows.join(' | '));
      await wb.page.locator('.monaco-list-row', { hasText: 'greeting' }).first().click();
      await versionRow(wb, 'v1').waitFor({ timeout: 30_000 });
      await wb.screenshot('03-published');
    });

    it('deploys from the context menu, confirming the protected environment', { timeout: 2 * MINUTE }, async () => {
      await versionRow(wb, 'v1').click({ button: 'right' });
      const menuItem = wb.page.locator('.context-view .action-label', { hasText: 'Deploy Version…' }).first();
      await menuItem.waitFor({ timeout: 30_000 });
      await wb.screenshot('04-context-menu');
      await menuItem.click();
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'production' }).first().waitFor({ timeout: 30_000 });
      await wb.screenshot('05-pick-environment');
      await wb.page.locator('.quick-input-widget input').fill('production');
      await wb.page.keyboard.press('Enter');
      const dialog = wb.page.locator('.monaco-dialog-box', { hasText: 'Deploy greeting v1 to production?' });
      await dialog.waitFor({ timeout: 30_000 });
      await wb.screenshot('06-confirm-protected');
      await dialog.locator('.monaco-button', { hasText: 'Deploy' }).first().click();
      await wb.waitForNotification('greeting v1 is live in production', 30_000);
      await wb.page.locator('.monaco-list-row', { hasText: '● production' }).first().waitFor({ timeout: 30_000 });
      await wb.screenshot('07-deployed');
    });
  });

  describe('UI scenario: approvals', { concurrency: false }, () => {
    let server: CodeServer;
    let wb: Workbench;
    let registry: TestServer;
    let keys: { bob: string; dave: string };
    const approvalRows = () => wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: 'Approvals' }) }).locator('.monaco-list-row');
    before(
      async () => {
        const made = await approvalsRegistry();
        registry = made.registry;
        keys = made;
        const ws = workspace();
        dirs.push(ws);
        writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'promptRegistry.serverUrl': registry.url }, null, 2));
        server = await startCodeServer({ workspace: ws });
        wb = await openWorkbench({ url: server.url, folder: ws, extensionDevelopmentPath: ROOT });
      },
      { timeout: 3 * MINUTE },
    );
    after(async () => {
      await wb?.close();
      await server?.stop();
      await registry?.close();
    });

    it('connects with bob\'s key and lists his request and dave\'s, with the badge counting the one bob may decide', { timeout: 2 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      await wb.page.locator('.welcome-view-content', { hasText: 'needs an API key' }).first().waitFor({ timeout: MINUTE });
      await wb.runCommand('Prompt Registry: Set API Key');
      await wb.page.locator('.quick-input-widget input[type="password"]').fill(keys.bob);
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.statusbar-item', { hasText: 'Prompts: remote' }).first().waitFor({ timeout: MINUTE });
      assert.equal((await registry.as(keys.bob).post('/prompts/greeting/deployments', { version: 2, environment: 'production', comment: 'shorter' })).status, 202);
      assert.equal((await registry.as(keys.dave).post('/prompts/farewell/deployments', { version: 2, environment: 'production', comment: 'warmer goodbye' })).status, 202);
      await approvalRows().nth(1).waitFor({ timeout: MINUTE });
      const texts = (await approvalRows().allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
      assert.ok(texts.some((t) => t.includes('farewell v2 → production') && t.includes('dave · 0/1')), texts.join(' | '));
      assert.ok(texts.some((t) => t.includes('greeting v2 → production') && t.includes('you · 0/1')), texts.join(' | '));
      // The badge on the activity bar: one request awaits bob's decision.
      await wb.page.locator('.activitybar .badge-content', { hasText: '1' }).first().waitFor({ timeout: 30_000 });
      // Expanded, a request shows who asked and why, the approvals so far, the expiry, and what would change.
      await approvalRows().filter({ hasText: 'farewell' }).first().click();
      await approvalRows().filter({ hasText: 'Compare v1 → v2' }).first().waitFor({ timeout: 10_000 });
      assert.ok((await approvalRows().allInnerTexts()).some((t) => t.includes('warmer goodbye')));
      await approvalRows().filter({ hasText: 'farewell' }).first().hover();
      await approvalRows().filter({ hasText: 'farewell' }).locator('.action-label[aria-label="Approve"]').first().waitFor({ timeout: 10_000 });
      await wb.screenshot('10-approvals-pending');
    });

    it('tells bob when dave approves his request', { timeout: 2 * MINUTE }, async () => {
      const pending = (await registry.admin.get('/deployment-requests?status=pending&requested_by=bob')).body.items as Array<{ id: string }>;
      assert.equal(pending.length, 1);
      assert.equal((await registry.as(keys.dave).post(`/deployment-requests/${pending[0]!.id}/approve`, { comment: 'ok' })).body.status, 'applied');
      await wb.waitForNotification('greeting v2 is live in production (approved by dave)', 30_000);
      // The notification centre shows one line of each; expand it to show the whole message.
      const item = wb.page.locator('.notification-list-item', { hasText: 'greeting v2 is live' }).first();
      await item.hover();
      await item.locator('.action-label[aria-label^="Expand"]').first().click({ timeout: 5_000 }).catch(() => undefined);
      await wb.screenshot('11-live-notification');
    });

    it('approves dave\'s request from the inline action, with a comment', { timeout: 2 * MINUTE }, async () => {
      await wb.page.keyboard.press('Escape'); // close the notification centre, if it was opened
      const row = approvalRows().filter({ hasText: 'farewell' }).first();
      await row.hover();
      await row.locator('.action-label[aria-label="Approve"]').first().click();
      const input = wb.page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10_000 });
      await input.fill('lgtm');
      await wb.page.keyboard.press('Enter');
      await wb.waitForNotification('farewell v2 is live in production: yours was the final approval', 30_000);
      const live = (await registry.admin.get('/prompts/farewell/latest?environment=production')).body.version as number;
      assert.equal(live, 2);
      const audit = (await registry.admin.get('/deployment-requests?prompt=farewell')).body.items as Array<{ status: string; decisions: Array<{ actor: string; comment: string }> }>;
      assert.deepEqual([audit[0]!.status, audit[0]!.decisions[0]!.actor, audit[0]!.decisions[0]!.comment], ['applied', 'bob', 'lgtm']);
      await wb.page.locator('.welcome-view-content', { hasText: 'No deployment requests are waiting' }).first().waitFor({ timeout: 30_000 });
      await wb.screenshot('12-approved-from-view');
    });
  });
});
