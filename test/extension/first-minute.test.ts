/**
 * What a new user meets in the first minute, in a real VS Code (code-server +
 * chromium) with the packaged .vsix installed: .prompt files are ours alone
 * (no diagnostics from VS Code's own prompt-file language), typed {{name}}
 * stays {{name}}, the local registry's faults (a read-only or full data
 * folder, a database from a newer version) are told plainly, and the local
 * registry starts on VS Code's own runtime where no `node` can be found.
 * Screenshots in test-artifacts/extension/. One file, one VS Code at a time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { openDatabase } from '../../server/db/index.js';
import { loadMigrations } from '../../server/db/migrate.js';
import { freePort, killGroup, start, waitForHealthy } from '../support/process.js';
import { api, startTestServer } from '../support/server.js';
import { closeBrowser, openWorkbench, runExtensionTests, startCodeServer, withVsCodeLock, type CodeServer, type CodeServerOptions, type Workbench } from './harness.js';
import { GREETING } from './greeting.js';
import { ensureToolchain } from './setup.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MINUTE = 60_000;

/** The shell-quoted form of a path, for mountSetup scripts. */
const q = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;

describe('A new user\'s first minute with the .vsix, in a real VS Code', { concurrency: false }, () => {
  const dirs: string[] = [];
  let installed: string;
  const tmp = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };

  before(
    async () => {
      await ensureToolchain();
      await withVsCodeLock('building the .vsix', () => {
        const pack = spawnSync('npm', ['run', 'package'], { cwd: ROOT, encoding: 'utf8' });
        assert.equal(pack.status, 0, pack.stdout + pack.stderr);
        const unpacked = tmp('pr-vsix-');
        const unzip = spawnSync('unzip', ['-q', join(ROOT, 'dist/prompt-registry.vsix'), '-d', unpacked], { encoding: 'utf8' });
        assert.equal(unzip.status, 0, unzip.stderr);
        installed = join(unpacked, 'extension');
        // The extension-host suite, for the run with no node at all.
        const build = spawnSync(process.execPath, [join(ROOT, 'scripts/build-extension.mjs'), '--tests'], { cwd: ROOT, encoding: 'utf8' });
        assert.equal(build.status, 0, build.stderr);
      });
    },
    { timeout: 10 * MINUTE },
  );
  after(async () => {
    await closeBrowser();
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('the .vsix holds no native module, and its bundled server runs by hand on Node 24 with no other module: /healthz, publish, deploy, render', { timeout: 2 * MINUTE }, async () => {
    const listing = spawnSync('unzip', ['-Z1', join(ROOT, 'dist/prompt-registry.vsix')], { encoding: 'utf8' }).stdout.split('\n');
    assert.deepEqual(listing.filter((f) => f.endsWith('.node') || /better-sqlite3/.test(f)), []);
    // The one package shipped beside the bundle: piscina, plain JavaScript (it starts the template workers from its own files).
    const packages = new Set(listing.map((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(f)?.[1]).filter(Boolean));
    assert.deepEqual([...packages], ['piscina']);
    const { node } = await ensureToolchain();
    const cwd = tmp('pr-by-hand-');
    const port = await freePort();
    const key = 'by-hand-admin-key-0123456789';
    // A bare environment: no NODE_PATH, no project on any path; the server's own folder is all it has.
    const server = start(node, [join(installed, 'dist/bundled-server/cli.mjs'), 'serve', '--port', String(port), '--db', `sqlite:${join(cwd, 'registry.db')}`], {
      ...Object.fromEntries(Object.keys(process.env).map((k) => [k, undefined])),
      PATH: '/usr/bin:/bin',
      HOME: cwd,
      PROMPT_REGISTRY_ADMIN_KEY: key,
    });
    try {
      await waitForHealthy(`http://127.0.0.1:${port}/healthz`, server);
      const registry = api(`http://127.0.0.1:${port}`, key);
      assert.equal((await registry.get('/healthz')).body.database, 'sqlite');
      assert.equal((await registry.post('/prompts/greeting/versions', { content: 'Hello {{name}}' })).status, 201);
      assert.equal((await registry.post('/prompts/greeting/deployments', { version: 1, environment: 'production' })).status, 201);
      const rendered = await registry.post('/prompts/greeting/render', { variables: { name: 'Ann' }, environment: 'production' });
      assert.equal(rendered.body.rendered, 'Hello Ann');
      assert.match(server.output(), /"driver":"node"/);
    } finally {
      killGroup(server, 'SIGTERM');
      await server.exited;
    }
  });

  /** A workspace with these files. */
  function workspace(files: Record<string, string>): string {
    const dir = tmp('pr-first-ws-');
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    return dir;
  }

  /**
   * A fresh code-server with the .vsix installed and toasts shown as a user
   * sees them (no smoke-test driver), and a browser on `folder`.
   */
  function scenario(name: string, setup: () => Promise<{ folder: string; settings?: Record<string, unknown>; mountSetup?: string }>, opened: (wb: Workbench) => void): void {
    let server: CodeServer | undefined;
    let wb: Workbench | undefined;
    before(
      async () => {
        const s = await setup();
        const options: CodeServerOptions = {
          extensions: [installed],
          smokeTestDriver: false,
          workspace: s.folder,
          settings: s.settings ?? {},
          ...(s.mountSetup ? { mountSetup: s.mountSetup } : {}),
        };
        server = await startCodeServer(options);
        wb = await openWorkbench({ url: server.url, folder: s.folder });
        opened(wb);
      },
      { timeout: 3 * MINUTE },
    );
    after(async () => {
      // How the window looked at the end, for a failure's post-mortem.
      await wb?.screenshot(`end-${name}`).catch(() => undefined);
      await wb?.close();
      await server?.stop();
    });
  }

  /** Opens a file from the Explorer, as a user would (a double click on its row). */
  async function openFile(wb: Workbench, name: string, text: string): Promise<void> {
    if (!(await wb.page.locator('.explorer-folders-view').isVisible())) await wb.openViewContainer('Explorer');
    const row = wb.page.locator('.explorer-folders-view .monaco-list-row', { hasText: name }).filter({ hasNotText: `${name}.` }).first();
    await row.waitFor({ timeout: MINUTE });
    await row.dblclick();
    await wb.page.locator('.monaco-editor .view-lines', { hasText: text }).first().waitFor({ timeout: 30_000 });
  }

  /** The rows of the Problems panel, as text. */
  async function problems(wb: Workbench): Promise<string[]> {
    return (await wb.page.locator('.markers-panel .monaco-list-row').allInnerTexts()).map((t) => t.replace(/\s+/g, ' ').trim());
  }

  describe('.prompt files are ours alone, and typing works', { concurrency: false }, () => {
    let wb: Workbench;
    let folder: string;
    scenario(
      'prompt-files',
      async () => {
        folder = workspace({
          'greeting.prompt': GREETING,
          'typed.prompt': '---\nname: typed\nsamples:\n  name: Ann\n  raw: <b>hi</b>\n  vip: true\n---\n',
        });
        // As a user has it: the chat features on (they bring VS Code's prompt-file validation).
        return { folder, settings: { 'chat.disableAIFeatures': false } };
      },
      (opened) => (wb = opened),
    );

    it('opens a fresh .prompt file in the "Prompt Registry" language, with no diagnostics but ours and no chat actions', { timeout: 3 * MINUTE }, async () => {
      await openFile(wb, 'greeting.prompt', 'welcome to');
      await wb.page.locator('.statusbar-item[id="status.editor.mode"]', { hasText: 'Prompt Registry' }).first().waitFor({ timeout: 30_000 });
      await wb.page.keyboard.press('Control+Shift+M');
      await wb.page.locator('.markers-panel .monaco-list-row', { hasText: 'has no sample value' }).first().waitFor({ timeout: MINUTE });
      // Give other validators (VS Code's own prompt-file checks, when it thinks the file is its own) time to report.
      await wb.page.waitForTimeout(3_000);
      const rows = await problems(wb);
      const markers = rows.filter((r) => !r.startsWith('greeting.prompt'));
      assert.ok(markers.length >= 1, rows.join(' | '));
      for (const r of markers) assert.match(r, /prompt-registry/, `every problem is ours: ${rows.join(' | ')}`);
      assert.ok(!rows.some((r) => /not supported in prompt files/.test(r)), rows.join(' | '));
      // VS Code's own chat action, not ours ("Run Prompt" of Prompt Registry runs the file on a provider).
      assert.equal(await wb.page.locator('.editor-actions .action-label[aria-label*="In New Chat"]').count(), 0, 'no "Run Prompt In New Chat" title action');
      assert.ok(await wb.page.locator('.editor-actions .action-label[aria-label^="Publish Version"]').count(), 'our Publish action is in the title');
      await wb.screenshot('20-prompt-file-only-our-diagnostics');
    });

    it('typing {{name}}, {{{raw}}} and {{#if vip}}…{{/if}} character by character gives exactly what was typed', { timeout: 3 * MINUTE }, async () => {
      await openFile(wb, 'typed.prompt', 'name: typed');
      // Into the editor (the Problems panel had the focus), at the end of the file.
      await wb.page.locator('.editor-instance .monaco-editor .view-lines').first().click();
      await wb.page.keyboard.press('Control+End');
      const typed = 'Hi {{name}}: {{{raw}}} {{#if vip}}(VIP){{/if}} "ok".';
      await wb.page.keyboard.type(typed, { delay: 60 });
      await wb.page.keyboard.press('Escape'); // a completion list, if one is open
      await wb.page.keyboard.press('Control+S');
      const onDisk = async () => readFileSync(join(folder, 'typed.prompt'), 'utf8');
      const deadline = Date.now() + 30_000;
      while (!(await onDisk()).includes('Hello') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 200));
      const text = await onDisk();
      assert.equal(text.split('---\n').at(-1), typed);
      await wb.page.keyboard.press('Home'); // the line's start in view, for the screenshot
      await wb.page.locator('.monaco-editor .view-lines span', { hasText: 'VIP' }).first().waitFor({ timeout: 10_000 });
      await wb.screenshot('22-typed-variables');
    });
  });

  /** A SQLite registry in `folder` with greeting v1 published, as a user's would be. */
  async function seededFolder(): Promise<string> {
    const folder = tmp('pr-data-');
    const registry = await startTestServer('sqlite', {}, { url: `sqlite:${join(folder, 'registry.db')}`, drop: async () => undefined });
    assert.equal((await registry.admin.post('/prompts/greeting/versions', { content: 'Hello {{name}}' })).status, 201);
    await registry.close();
    return folder;
  }

  async function versionsIn(folder: string): Promise<number> {
    const db = await openDatabase(`sqlite:${join(folder, 'registry.db')}`);
    try {
      return Number((await db.all<{ n: number }>('SELECT COUNT(*) AS n FROM prompt_versions'))[0]!.n);
    } finally {
      await db.close();
    }
  }

  /** The toast naming `text`, then its "Show Log" opens the Output channel with the same message. */
  async function seeFault(wb: Workbench, text: RegExp, shot: string): Promise<string> {
    const toast = wb.page.locator('.notification-toast', { hasText: text }).first();
    await toast.waitFor({ timeout: MINUTE });
    await wb.page.locator('.notification-toast.notification-fade-in-done', { hasText: text }).first().waitFor({ timeout: 5_000 }).catch(() => undefined);
    const message = (await toast.locator('.notification-list-item-message').innerText()).trim();
    await wb.page.locator('.statusbar-item', { hasText: 'Prompts: local, unreachable' }).first().waitFor({ timeout: 30_000 });
    await wb.screenshot(shot);
    await toast.locator('.monaco-button', { hasText: 'Show Log' }).click();
    await wb.page.locator('.output-view .view-lines', { hasText: `error: ${message.slice(0, 24)}` }).first().waitFor({ timeout: 30_000 });
    await wb.screenshot(`${shot}-log`);
    return message;
  }

  describe('a data folder that cannot be written', { concurrency: false }, () => {
    let wb: Workbench;
    let data: string;
    scenario(
      'read-only',
      async () => {
        data = await seededFolder();
        // Read-only for code-server and all it starts: a read-only bind mount (root would write through a chmod).
        return { folder: workspace({}), settings: { 'promptRegistry.localDataFolder': data }, mountSetup: `mount --bind ${q(data)} ${q(data)}\nmount -o remount,bind,ro ${q(data)}` };
      },
      (opened) => (wb = opened),
    );

    it('says the folder cannot be written, where it is and what to do; the prompts are untouched', { timeout: 4 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      const message = await seeFault(wb, /cannot write to its data folder/, '23-fault-read-only-folder');
      assert.ok(message.includes(data), message);
      assert.match(message, /Make the folder writable, or set "promptRegistry.localDataFolder" to a folder you can write to, then Retry/);
      assert.equal(await versionsIn(data), 1);
    });
  });

  describe('a full disk', { concurrency: false }, () => {
    let wb: Workbench;
    let data: string;
    scenario(
      'disk-full',
      async () => {
        const seeded = await seededFolder();
        data = tmp('pr-full-');
        // A small disk of its own, holding the registry, then filled to the last byte.
        const size = Math.ceil((statSync(join(seeded, 'registry.db')).size + 256 * 1024) / 4096) * 4096;
        return {
          folder: workspace({}),
          settings: { 'promptRegistry.localDataFolder': data },
          mountSetup: `mount -t tmpfs -o size=${size} tmpfs ${q(data)}\ncp ${q(join(seeded, 'registry.db'))} ${q(data)}/\ndd if=/dev/zero of=${q(join(data, 'filler'))} bs=4096 2>/dev/null || true`,
        };
      },
      (opened) => (wb = opened),
    );

    it('says the disk is full, where the folder is and what to do', { timeout: 4 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      const message = await seeFault(wb, /is full, so it did not start/, '24-fault-disk-full');
      assert.ok(message.includes(data), message);
      assert.match(message, /Free some space there, or set "promptRegistry.localDataFolder" to a folder on another disk, then Retry/);
    });
  });

  describe('a database from a newer version', { concurrency: false }, () => {
    let wb: Workbench;
    let data: string;
    const known = Math.max(...loadMigrations('sqlite').map((m) => m.version));
    scenario(
      'newer-schema',
      async () => {
        data = await seededFolder();
        const db = await openDatabase(`sqlite:${join(data, 'registry.db')}`);
        await db.transaction((tx) => tx.run('INSERT INTO schema_migrations (version, name) VALUES ($1, $2)', [known + 3, 'from_a_newer_version']));
        await db.close();
        return { folder: workspace({}), settings: { 'promptRegistry.localDataFolder': data } };
      },
      (opened) => (wb = opened),
    );

    it('refuses to open it, names both versions, and leaves it as it was', { timeout: 4 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      const message = await seeFault(wb, /written by a newer version/, '25-fault-newer-schema');
      assert.ok(message.includes(join(data, 'registry.db')), message);
      assert.match(message, new RegExp(`schema version ${known + 3}; this one knows up to ${known}`));
      assert.match(message, /update the extension/);
      assert.equal(await versionsIn(data), 1, 'not reset: greeting v1 is still there');
    });
  });

  describe('a runtime without node:sqlite (as in a VS Code older than 1.101)', { concurrency: false }, () => {
    let wb: Workbench;
    // The machine's Node.js 20 stands in for an old editor's runtime: it has no node:sqlite either.
    const old = spawnSync('sh', ['-lc', 'command -v node'], { encoding: 'utf8' }).stdout.trim();
    const version = spawnSync(old, ['-p', 'process.versions.node'], { encoding: 'utf8' }).stdout.trim();
    scenario(
      'old-runtime',
      async () => ({ folder: workspace({}), settings: { 'promptRegistry.nodePath': old } }),
      (opened) => (wb = opened),
    );

    // Only where the machine's node is a Node.js 20 (as here and in CI) can it stand in for an old editor.
    if (version.startsWith('20.')) it('names the minimum Node.js and what to do', { timeout: 4 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      const message = await seeFault(wb, /needs Node\.js 22\.13\.0 or later/, '27-fault-runtime-without-sqlite');
      assert.ok(message.includes(`"${old}" (the promptRegistry.nodePath setting) is Node.js ${version} without node:sqlite`), message);
      assert.match(message, /Point "promptRegistry.nodePath" at a Node.js 22.13.0 or later, or clear it to use VS Code's own runtime/);
    });
  });

  describe('no Node.js anywhere: the local registry runs on VS Code\'s own runtime', { concurrency: false }, () => {
    // Every node binary of the machine, hidden behind a stub that answers "not found" (code-server's own Node 24 stays).
    const hideNode = () => {
      const stub = join(tmp('pr-no-node-'), 'node');
      writeFileSync(stub, '#!/bin/sh\necho "node: not found (hidden by the test)" >&2\nexit 127\n');
      chmodSync(stub, 0o755);
      const found = new Set<string>();
      for (const name of ['node', 'nodejs']) {
        const which = spawnSync('sh', ['-lc', `which -a ${name}`], { encoding: 'utf8' });
        for (const p of which.stdout.split('\n').filter(Boolean)) found.add(realpathSync(p));
      }
      for (const p of ['/usr/local/bin/node', '/usr/bin/node', '/opt/node/bin/node']) if (existsSync(p)) found.add(realpathSync(p));
      const binaries = [...found].filter((p) => !p.includes('prompt-registry-e2e'));
      assert.ok(binaries.length > 0, 'there is a node to hide');
      // The proof, from inside: a login shell (what VS Code reads its environment from) finds no working node.
      const check = `if sh -lc 'node -e 0' 2>/dev/null; then echo "a node is still visible" >&2; exit 1; fi`;
      return `${binaries.map((b) => `mount --bind ${q(stub)} ${q(b)}`).join('\n')}\n${check}`;
    };

    it('starts, publishes, deploys and rolls back in the extension host, and reports activation → connected', { timeout: 6 * MINUTE }, async () => {
      const ws = workspace({});
      const result = await runExtensionTests({ extensionDevelopmentPath: ROOT, extensionTestsPath: join(ROOT, 'dist/extension-tests/index.cjs'), workspace: ws, mountSetup: hideNode(), timeoutMs: 5 * MINUTE });
      assert.equal(result.code, 0, `log: ${result.logFile}\n${result.log.slice(-4_000)}`);
      const timing = /TIMING activate_ms=([\d.]+) connected_ms=(\d+)/.exec(result.log);
      assert.ok(timing, 'the suite reports its timings');
      process.stdout.write(`# no node on the machine: activation ${timing[1]} ms; connected to the local registry ${timing[2]} ms after activation began\n`);
      mkdirSync(join(ROOT, 'test-artifacts/extension'), { recursive: true });
      writeFileSync(join(ROOT, 'test-artifacts/extension/no-node-timing.txt'), `${timing[0]}\n`);
    });

    describe('UI', { concurrency: false }, () => {
      let wb: Workbench;
      scenario(
        'no-node-ui',
        async () => ({ folder: workspace({ 'greeting.prompt': GREETING }), mountSetup: hideNode() }),
        (opened) => (wb = opened),
      );

      it('shows the local registry in the tree and publishes to it', { timeout: 3 * MINUTE }, async () => {
        await wb.openViewContainer('Prompt Registry');
        await wb.page.locator('.welcome-view-content', { hasText: 'No prompts yet' }).first().waitFor({ timeout: 2 * MINUTE });
        await wb.page.locator('.statusbar-item', { hasText: 'Prompts: local' }).first().waitFor({ timeout: MINUTE });
        await openFile(wb, 'greeting.prompt', 'welcome to');
        await wb.runCommand('Prompt Registry: Publish Version');
        await wb.waitForNotification('Published greeting version 1', MINUTE);
        await wb.openViewContainer('Prompt Registry');
        const prompts = wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: 'Prompts' }) });
        await prompts.locator('.monaco-list-row', { hasText: 'greeting' }).first().click({ timeout: MINUTE });
        await prompts.locator('.monaco-list-row', { has: wb.page.locator('.label-name', { hasText: /^v1$/ }) }).first().waitFor({ timeout: 30_000 });
        const rows = await wb.treeRows('Prompts');
        assert.ok(rows.some((r) => r.includes('greeting')), rows.join(' | '));
        await wb.screenshot('26-no-node-local-registry');
      });
    });
  });
});
