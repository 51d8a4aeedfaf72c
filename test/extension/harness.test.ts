/**
 * The real-VS-Code harness, proven on a tiny fixture extension: extension
 * tests run the VS Code way (mocha inside code-server's extension host), and
 * UI scenarios in headless chromium, with screenshots.
 *
 * Slow (10–30 s a test) and all in one file on purpose: node:test runs a
 * file's tests one after another, so this file never has two VS Codes at once;
 * harness.ts's machine-wide lock makes other files wait their turn too.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { closeBrowser, openWorkbench, runExtensionTests, startCodeServer, type CodeServer, type Workbench } from './harness.js';
import { ensureToolchain } from './setup.js';

const fixture = (path: string) => fileURLToPath(new URL(`fixtures/${path}`, import.meta.url));
const HELLO = fixture('hello-extension');
const MINUTE = 60_000;

function tempWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'pr-hello-ws-'));
  writeFileSync(join(dir, 'README.md'), '# A workspace for the hello extension\n');
  return dir;
}

function assertScreenshot(path: string): void {
  assert.ok(statSync(path).size > 10_000, `${path} is a real screenshot`);
}

describe('real VS Code (code-server + chromium)', { concurrency: false }, () => {
  let workspace: string;

  before(
    async () => {
      // Installs the toolchain on a machine that lacks it (about 2.5 min, once); instant afterwards.
      await ensureToolchain();
      workspace = tempWorkspace();
    },
    { timeout: 20 * MINUTE },
  );
  after(async () => {
    await closeBrowser();
    rmSync(workspace, { recursive: true, force: true });
  });

  it('runs mocha tests in the extension host with the extension in development, exit code 0', { timeout: 5 * MINUTE }, async () => {
    const result = await runExtensionTests({
      extensionDevelopmentPath: HELLO,
      extensionTestsPath: fixture('hello-tests/index.js'),
      workspace,
      env: { HELLO_EXPECTED_WORKSPACE: workspace },
    });
    assert.equal(result.code, 0, `exit code ${result.code}; log:\n${result.log}`);
    assert.match(result.log, /4 passing/, result.log);
  });

  it('reports a failing extension test as a non-zero exit code', { timeout: 5 * MINUTE }, async () => {
    const result = await runExtensionTests({
      extensionDevelopmentPath: HELLO,
      extensionTestsPath: fixture('hello-tests/failing.js'),
    });
    assert.notEqual(result.code, 0, result.log);
    assert.match(result.log, /1 failing/, result.log);
    assert.match(result.log, /fails on purpose/, result.log);
  });

  describe('UI, with the extension installed (copied into the extensions dir)', () => {
    let server: CodeServer;
    let workbench: Workbench | undefined;

    before(async () => {
      // Without the smoke-test driver, notifications show as toasts, as a user sees them.
      server = await startCodeServer({ extensions: [HELLO], smokeTestDriver: false });
    }, { timeout: 2 * MINUTE });
    after(async () => {
      await workbench?.close();
      await server?.stop();
    });

    it('shows the tree view from the activity bar and runs the command from the palette', { timeout: 5 * MINUTE }, async () => {
      workbench = await openWorkbench({ url: server.url, folder: workspace });
      // Loaded: the explorer lists the workspace and the extension's icon is in the activity bar.
      await workbench.page.locator('.explorer-folders-view .monaco-list-row', { hasText: 'README.md' }).waitFor({ timeout: MINUTE });
      await workbench.page.locator('.activitybar a.action-label[aria-label^="Hello Container"]').waitFor({ timeout: MINUTE });
      assertScreenshot(await workbench.screenshot('hello-1-workbench'));

      await workbench.openViewContainer('Hello Container');
      assert.deepEqual(await workbench.treeRows('Hello Items'), ['Alpha item', 'Beta item']);
      assertScreenshot(await workbench.screenshot('hello-2-tree-view'));

      await workbench.runCommand('Hello: Say Hello');
      await workbench.waitForNotification('Hello from the hello extension');
      assertScreenshot(await workbench.screenshot('hello-3-command-notification'));
    });
  });

  describe('UI, with the extension in development (payload)', () => {
    let server: CodeServer;
    let workbench: Workbench | undefined;

    before(async () => {
      server = await startCodeServer();
    }, { timeout: 2 * MINUTE });
    after(async () => {
      await workbench?.close();
      await server?.stop();
    });

    it('loads the extension from its folder, without installing it', { timeout: 5 * MINUTE }, async () => {
      workbench = await openWorkbench({ url: server.url, folder: workspace, extensionDevelopmentPath: HELLO });
      await workbench.openViewContainer('Hello Container');
      assert.deepEqual(await workbench.treeRows(), ['Alpha item', 'Beta item']);
      await workbench.runCommand('Hello: Say Hello');
      // The smoke-test driver hides toasts: this finds the message in the notification centre.
      await workbench.waitForNotification('Hello from the hello extension');
      assertScreenshot(await workbench.screenshot('hello-4-dev-notification-centre'));
    });
  });
});
