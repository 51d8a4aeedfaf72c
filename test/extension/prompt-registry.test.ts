/**
 * The Prompt Registry extension in a real VS Code (code-server + chromium):
 * the extension-host suite (test/extension/suite, mocha, against the bundled
 * local registry), then UI scenarios with screenshots in
 * test-artifacts/extension/; sign-in against a real identity provider. One file, run in order: one VS Code at a time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { openWorkbench, runExtensionTests, startCodeServer, type CodeServer, type Workbench } from './harness.js';
import { seed } from '../../bench/resolve/seed.js';
import { startEchoRegistry } from '../support/echo-registry.js';
import { startIdp } from '../support/idp.js';
import { ADMIN_KEY, startTestServer } from '../support/server.js';
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

/** The user's part of a device flow at oidc-provider's own pages, in a browser tab: code, login, consent. */
async function signInAtProvider(tab: Page, code: string, login: string): Promise<void> {
  const h1 = (text: string) => tab.locator('h1', { hasText: new RegExp(`^${text}$`) });
  const codeInput = tab.locator('input[name=user_code][type=text]');
  const continueButton = tab.getByRole('button', { name: 'Continue' });
  try {
    // A link with the code in it lands on the confirmation; a bare link asks for the code first.
    await h1('Confirm Device').or(codeInput).first().waitFor({ timeout: 30_000 });
    if (await codeInput.count()) {
      await codeInput.fill(code);
      await continueButton.click();
    }
    await h1('Confirm Device').waitFor({ timeout: 30_000 });
    await continueButton.click();
    await tab.locator('input[name=login]').fill(login, { timeout: 30_000 });
    await tab.locator('input[name=password]').fill('any');
    await tab.getByRole('button', { name: 'Sign-in' }).click();
    await h1('Authorize').waitFor({ timeout: 30_000 });
    await continueButton.click();
    await h1('Sign-in Success').waitFor({ timeout: 30_000 });
  } catch (err) {
    const body = await tab.innerText('body').catch(() => '');
    throw new Error(`${err instanceof Error ? err.message : String(err)}\nat ${tab.url()}: ${body.slice(0, 600)}`);
  }
}

/** A workspace whose settings point the bundled registry at this Node.js (the ABI it was built for). */
function workspace(files: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pr-ext-ws-'));
  mkdirSync(join(dir, '.vscode'));
  writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify({ 'promptRegistry.nodePath': process.execPath }, null, 2));
  for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
  return dir;
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

  describe('Sign In with the identity provider', { concurrency: false }, () => {
    it('signs in with the device flow in the extension host: tokens stored, refreshed, sent, cleared at sign-out, ended when refused; provider from settings', { timeout: 6 * MINUTE }, async () => {
      // Access tokens of 8 s: the extension refreshes them at half their life, so the test sees it happen.
      const idp = await startIdp({ interval: 1, accessTokenTtl: 8 });
      const registry = await startEchoRegistry({ issuer: idp.issuer, client_id: idp.clientId });
      try {
        const ws = workspace();
        dirs.push(ws);
        const result = await runExtensionTests({
          extensionDevelopmentPath: ROOT,
          extensionTestsPath: join(ROOT, 'dist/extension-tests/index.cjs'),
          workspace: ws,
          env: { PR_SIGNIN_IDP: idp.issuer, PR_SIGNIN_REGISTRY: registry.url },
          timeoutMs: 5 * MINUTE,
        });
        assert.equal(result.code, 0, `sign-in tests failed; log: ${result.logFile}\n${result.log.slice(-4_000)}`);
        assert.match(result.log, /3 passing/);
        // Seen from outside: a device-code grant, refreshes, and the refresh token revoked at sign-out.
        assert.equal(idp.tokenRequests.filter((g) => g === 'device_code').at(-1), 'device_code');
        assert.ok(idp.tokenRequests.filter((g) => g === 'refresh_token').length >= 2, idp.tokenRequests.join(' '));
        assert.equal(idp.revoked.length, 2, 'at sign-out, and by the second test');
      } finally {
        await registry.close();
        await idp.close();
      }
    });

    describe('UI', { concurrency: false }, () => {
      let idp: Awaited<ReturnType<typeof startIdp>>;
      let registry: Awaited<ReturnType<typeof startEchoRegistry>>;
      let server: CodeServer;
      let wb: Workbench;
      before(
        async () => {
          // Not 127.0.0.1: VS Code forwards localhost and 127.0.0.1 links opened from a remote
          // extension host to the remote's port (right for a real remote, wrong when all is one machine).
          idp = await startIdp({ interval: 1, host: '127.0.0.2' });
          registry = await startEchoRegistry({ issuer: idp.issuer, client_id: idp.clientId });
          const ws = workspace();
          dirs.push(ws);
          const settingsFile = join(ws, '.vscode', 'settings.json');
          writeFileSync(settingsFile, JSON.stringify({ 'promptRegistry.nodePath': process.execPath, 'promptRegistry.serverUrl': registry.url }, null, 2));
          server = await startCodeServer({ workspace: ws });
          wb = await openWorkbench({ url: server.url, folder: ws, extensionDevelopmentPath: ROOT });
        },
        { timeout: 3 * MINUTE },
      );
      after(async () => {
        await wb?.close();
        await server?.stop();
        await registry?.close();
        await idp?.close();
      });

      it('shows the code, signs in at the provider page in a browser tab, and names who is signed in', { timeout: 3 * MINUTE }, async () => {
        await wb.openViewContainer('Prompt Registry');
        await wb.page.locator('.welcome-view-content', { hasText: 'This registry needs you to sign in' }).first().waitFor({ timeout: MINUTE });
        await wb.runCommand('Prompt Registry: Sign In');
        const codeNote = /Signing in to 127\.0\.0\.1:\d+ with 127\.0\.0\.2:\d+: enter code ([A-Z]{4}-[A-Z]{4}) at (\S+)\./;
        await wb.waitForNotification(codeNote, 30_000);
        const note = wb.page.locator('.notification-list-item, .notification-toast', { hasText: codeNote }).first();
        const [, code, verificationUri] = codeNote.exec(await note.innerText())!;
        assert.equal(new URL(verificationUri!).origin, idp.issuer);
        await wb.screenshot('signin-01-code');

        // The user follows the notification's link: the provider's page opens in a new tab (openExternal).
        const opened = wb.page.context().waitForEvent('page', { timeout: 30_000 });
        await note.locator('a', { hasText: 'Copy Code and Open Browser' }).click();
        // VS Code asks before opening a site outside its trusted domains, as it would for a user.
        const ask = wb.page.locator('.monaco-dialog-box', { hasText: 'open the external website' });
        await ask.waitFor({ timeout: 30_000 });
        await wb.screenshot('signin-02-open-external');
        await ask.locator('.monaco-button', { hasText: /^Open$/ }).first().click();
        const tab = await opened;
        try {
          await tab.waitForLoadState();
          process.stdout.write(`# the sign-in link opened ${tab.url()}\n`);
          await signInAtProvider(tab, code!, 'ann');
          await tab.screenshot({ path: join(ROOT, 'test-artifacts/extension/signin-03-provider-success.png') });
        } finally {
          await tab.close();
        }

        const account = wb.page.locator('.statusbar-item', { hasText: 'ann@example.com' }).first();
        await account.waitFor({ timeout: MINUTE });
        await wb.waitForNotification('Signed in to the Prompt Registry', 30_000);
        await account.hover();
        const hover = wb.page.locator('.monaco-hover, .workbench-hover', { hasText: 'Identity provider' }).first();
        await hover.waitFor({ timeout: 30_000 });
        const tooltip = await hover.innerText();
        assert.ok(tooltip.includes(registry.url) && tooltip.includes(idp.issuer), tooltip);
        await wb.screenshot('signin-04-signed-in');
        assert.ok(registry.seen.some((h) => h.startsWith('Bearer ')), registry.seen.join(' | '));
      });

      it('signs out from the palette: the account leaves the status bar', { timeout: 2 * MINUTE }, async () => {
        await wb.page.mouse.move(0, 0);
        await wb.runCommand('Prompt Registry: Sign Out');
        await wb.page.locator('.statusbar-item', { hasText: 'ann@example.com' }).first().waitFor({ state: 'detached', timeout: MINUTE });
        await wb.page.locator('.welcome-view-content', { hasText: 'This registry needs you to sign in' }).first().waitFor({ timeout: MINUTE });
        await wb.screenshot('signin-05-signed-out');
        assert.equal(idp.revoked.length, 1);
      });
    });
  });
});
