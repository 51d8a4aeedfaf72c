/**
 * Runs extensions inside a real VS Code, headless and offline: code-server
 * (VS Code 1.139 with a real Node extension host) driven by Debian's chromium
 * through playwright-core. See test/extension/README.md.
 *
 *   - startCodeServer(): a fresh server (own HOME, dirs, port, process group);
 *   - runExtensionTests(): the VS Code way, an `extensionTestsPath` module run
 *     in the extension host, resolving with its exit code;
 *   - openWorkbench(): a browser on the workbench, for UI tests.
 *
 * One chromium per test file (closeBrowser() ends it), a fresh browser context per page.
 *
 * One VS Code at a time on this machine: a server holds a machine-wide lock
 * from start to stop(), so test files run in parallel wait for each other
 * instead of fighting over two cores.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { format } from 'node:util';
import { chromium, type Browser, type ConsoleMessage, type Page } from 'playwright-core';
import { freePort, killGroup, ROOT, start, waitForHealthy, type Spawned } from '../support/process.js';
import { acquireDirLock } from './lock.js';
import { cacheDir, ensureToolchain } from './setup.js';

/** Screenshots and logs that a person can look at afterwards (gitignored). */
export const ARTIFACTS = join(ROOT, 'test-artifacts/extension');

const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Beside the toolchain, not in the temp folder: `npm test` gives each run its own TMPDIR, and the lock is for the whole machine. */
const LOCK = `${cacheDir()}.vscode-e2e.lock`;
/** How long a server waits for another test file's VS Code to finish. */
const LOCK_WAIT_MS = 10 * 60_000;

// ---------------------------------------------------------------------------
// Process bookkeeping: whatever happens to this process, no server outlives it.

const live = new Set<Spawned>();
let lockHolders = 0;
let releaseLock: (() => void) | undefined;

process.on('exit', () => {
  for (const p of live) killGroup(p, 'SIGKILL');
  releaseLock?.();
});

async function holdLock(what: string): Promise<void> {
  // Re-entrant within this process: a file's tests run one at a time, and a
  // suite may hold a server while one of its tests starts another.
  if (lockHolders++ > 0) return;
  try {
    releaseLock = await acquireDirLock(LOCK, what, LOCK_WAIT_MS);
  } catch (err) {
    lockHolders--;
    throw err;
  }
}

function dropLock(): void {
  if (--lockHolders > 0) return;
  releaseLock?.();
  releaseLock = undefined;
}

/**
 * Runs `fn` holding the machine-wide VS Code lock: for builds into dist/,
 * which test files running at the same time would otherwise overwrite under
 * each other's feet.
 */
export async function withVsCodeLock<T>(what: string, fn: () => T | Promise<T>): Promise<T> {
  await holdLock(what);
  try {
    return await fn();
  } finally {
    dropLock();
  }
}

/** The environment without what would leak the caller's VS Code, node:test or tsx into the server. */
function cleanEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const key of Object.keys(env)) {
    if (/^(VSCODE_|ELECTRON_|NODE_TEST_)/.test(key) || key === 'NODE_OPTIONS' || key === 'TSX_TSCONFIG_PATH') delete env[key];
  }
  return env;
}

// ---------------------------------------------------------------------------
// code-server

export interface CodeServerOptions {
  /** Use this extensions dir instead of a fresh one in the temp dir. */
  extensionsDir?: string;
  /** Extension folders (holding a package.json) to copy into the extensions dir before starting. */
  extensions?: string[];
  /** The folder the workbench opens by default (`?folder=` in a URL overrides it). */
  workspace?: string;
  /** Extra environment for the server and so for the extension host. */
  env?: Record<string, string>;
  /**
   * VS Code's smoke-test driver (default on): needed for `payload` URLs
   * (extensionDevelopmentPath, extensionTestsPath), but it also stops
   * notification toasts (they still reach the notification centre).
   */
  smokeTestDriver?: boolean;
  /** User settings, over QUIET_SETTINGS; also the machine's (remote) settings, where machine-scoped ones are read. */
  settings?: Record<string, unknown>;
  /**
   * Shell commands run (as root) in a private mount namespace (`unshare -m`)
   * just before code-server starts in it: mounts made there (a read-only or a
   * full folder, a stub over a binary) are seen by code-server and all it
   * starts, and by nothing else on the machine.
   */
  mountSetup?: string;
}

/**
 * User settings for every server: no welcome page, no chat panel or AI
 * features, no update or experiment checks (there is no network), so that
 * screenshots show the extension and the logs are shorter.
 */
export const QUIET_SETTINGS: Record<string, unknown> = {
  'workbench.startupEditor': 'none',
  'workbench.secondarySideBar.defaultVisibility': 'hidden',
  'chat.disableAIFeatures': true,
  'workbench.enableExperiments': false,
  'workbench.tips.enabled': false,
  'extensions.autoCheckUpdates': false,
  'extensions.autoUpdate': false,
  'update.mode': 'none',
  'telemetry.telemetryLevel': 'off',
};

export interface CodeServer {
  /** http://127.0.0.1:PORT */
  url: string;
  /** 127.0.0.1:PORT, the authority in vscode-remote:// URIs. */
  host: string;
  port: number;
  /** The temp dir holding HOME, config, user data and (unless given) extensions. */
  tmp: string;
  extensionsDir: string;
  /** What the server printed so far. */
  output(): string;
  /** Settles when the server's process exits (by itself or by stop()). */
  exited: Promise<number | null>;
  /** Kills the whole process group and removes the temp dir. */
  stop(): Promise<void>;
}

/**
 * Starts a fresh code-server on a free loopback port, in its own process
 * group, with its own HOME, config, user data and extensions dirs; resolves
 * once /healthz answers.
 */
export async function startCodeServer(options: CodeServerOptions = {}): Promise<CodeServer> {
  const toolchain = await ensureToolchain();
  await holdLock('starting code-server');
  const tmp = mkdtempSync(join(tmpdir(), 'pr-code-server-'));
  let proc: Spawned | undefined;
  try {
    const home = join(tmp, 'home');
    const extensionsDir = options.extensionsDir ?? join(tmp, 'extensions');
    mkdirSync(home, { recursive: true });
    mkdirSync(extensionsDir, { recursive: true });
    writeFileSync(join(tmp, 'config.yaml'), '');
    mkdirSync(join(tmp, 'user-data/User'), { recursive: true });
    writeFileSync(join(tmp, 'user-data/User/settings.json'), JSON.stringify({ ...QUIET_SETTINGS, ...options.settings }, null, 2));
    // The extension host is "remote" in code-server: machine-scoped settings come from the Machine file.
    mkdirSync(join(tmp, 'user-data/Machine'), { recursive: true });
    writeFileSync(join(tmp, 'user-data/Machine/settings.json'), JSON.stringify(options.settings ?? {}, null, 2));
    for (const folder of options.extensions ?? []) installExtensionFolder(folder, extensionsDir);

    const port = await freePort();
    const host = `127.0.0.1:${port}`;
    const args = [
      toolchain.codeServer,
      ...['--config', join(tmp, 'config.yaml'), '--auth', 'none', '--bind-addr', host],
      ...['--disable-telemetry', '--disable-update-check', '--disable-workspace-trust', '--disable-getting-started-override', '--ignore-last-opened'],
      ...['--user-data-dir', join(tmp, 'user-data'), '--extensions-dir', extensionsDir],
      // Extension hosts of closed pages otherwise linger for 3 hours.
      ...['--reconnection-grace-time', '10'],
      // Makes the workbench read `payload` (extensionDevelopmentPath, extensionTestsPath) from its URL.
      ...(options.smokeTestDriver === false ? [] : ['--vscode-option', 'enable-smoke-test-driver']),
      ...(options.workspace ? [resolve(options.workspace)] : []),
    ];
    // A watchdog in the server's process group: if this process dies, even by SIGKILL,
    // it kills the group (code-server leaves children when only its own pid is killed).
    const watchdog = `"$@" & cs=$!; while kill -0 ${process.pid} 2>/dev/null && kill -0 $cs 2>/dev/null; do sleep 1; done; kill -KILL 0`;
    const command = options.mountSetup ? ['unshare', '--mount', '--propagation', 'private', '--', '/bin/sh', '-ec', `${options.mountSetup}\nexec "$@"`, 'mount-setup'] : [];
    proc = start('/bin/sh', ['-c', watchdog, 'code-server', ...command, toolchain.node, ...args], {
      ...cleanEnv(),
      HOME: home,
      XDG_CONFIG_HOME: join(home, '.config'),
      XDG_DATA_HOME: join(home, '.local/share'),
      XDG_CACHE_HOME: join(home, '.cache'),
      ...options.env,
    });
    live.add(proc);
    await waitForHealthy(`http://${host}/healthz`, proc, 60_000);

    const running = proc;
    let stopped: Promise<void> | undefined;
    return {
      url: `http://${host}`,
      host,
      port,
      tmp,
      extensionsDir,
      output: () => running.output(),
      exited: running.exited,
      stop: () => (stopped ??= stopServer(running, tmp)),
    };
  } catch (err) {
    if (proc) await stopServer(proc, tmp);
    else {
      rmSync(tmp, { recursive: true, force: true });
      dropLock();
    }
    throw err;
  }
}

async function stopServer(proc: Spawned, tmp: string): Promise<void> {
  const gone = (ms: number) => Promise.race([proc.exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), ms))]);
  killGroup(proc, 'SIGTERM');
  if (!(await gone(3_000))) {
    killGroup(proc, 'SIGKILL');
    await gone(3_000);
  }
  // Whatever ignored SIGTERM, and the watchdog itself.
  killGroup(proc, 'SIGKILL');
  live.delete(proc);
  rmSync(tmp, { recursive: true, force: true });
  dropLock();
}

/**
 * Copies an extension folder into an extensions dir, named publisher.name-version
 * as VS Code installs them. For UI tests of an installed (not in-development) extension.
 */
export function installExtensionFolder(folder: string, extensionsDir: string): string {
  const manifest = JSON.parse(readFileSync(join(folder, 'package.json'), 'utf8')) as { publisher: string; name: string; version: string };
  const target = join(extensionsDir, `${manifest.publisher}.${manifest.name}-${manifest.version}`.toLowerCase());
  cpSync(folder, target, { recursive: true, dereference: true, filter: (src) => basename(src) !== '.git' });
  return target;
}

/** The workbench URL opening `folder`, with the smoke-test driver's payload when given. */
export function workbenchUrl(server: Pick<CodeServer, 'url' | 'host'>, folder: string, payload: Record<string, string> = {}): string {
  const params = new URLSearchParams({ folder: resolve(folder) });
  const entries = Object.entries(payload).map(([key, path]) => [key, `vscode-remote://${server.host}${resolve(path)}`]);
  if (entries.length) params.set('payload', JSON.stringify(entries));
  return `${server.url}/?${params.toString()}`;
}

// ---------------------------------------------------------------------------
// The browser

interface LaunchedBrowser {
  browser: Browser;
  page: Page;
  log: string[];
  /** Resolves once every console message so far is in `log`. */
  settled(): Promise<void>;
  /** Closes this page's browser context (the browser stays for the next one: closeBrowser() ends it). */
  close(): Promise<void>;
}

/**
 * One chromium for the whole test file: each workbench and each payload run gets a fresh browser
 * context of its own (its own cookies, storage and cache, as a new profile would), which costs
 * a fraction of a browser's start. The test file ends it with closeBrowser().
 */
let shared: { browser: Promise<Browser>; home: string } | undefined;

/** Debian's chromium with a temp HOME, started on first use. */
function sharedBrowser(): Promise<Browser> {
  if (shared) return shared.browser;
  const home = mkdtempSync(join(tmpdir(), 'pr-chromium-home-'));
  const mine: { browser: Promise<Browser>; home: string } = {
    home,
    browser: ensureToolchain().then(({ chromium: executablePath }) =>
      chromium.launch({
        executablePath,
        headless: true,
        args: CHROMIUM_ARGS,
        env: { ...cleanEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
        timeout: 60_000,
      }),
    ),
  };
  shared = mine;
  mine.browser.then(
    // A browser that crashed or was closed is not handed out again: the next page starts another.
    (browser) => browser.on('disconnected', () => void (shared === mine && (shared = undefined))),
    () => {
      if (shared === mine) shared = undefined;
      rmSync(home, { recursive: true, force: true });
    },
  );
  return mine.browser;
}

/** Ends the test file's chromium (see sharedBrowser) and removes its HOME: call it in the file's last `after`. */
export async function closeBrowser(): Promise<void> {
  const mine = shared;
  shared = undefined;
  if (!mine) return;
  const browser = await mine.browser.catch(() => undefined);
  await browser?.close().catch(() => undefined);
  rmSync(mine.home, { recursive: true, force: true });
}

/** A page in a fresh browser context of the shared chromium. */
async function launchBrowser(): Promise<LaunchedBrowser> {
  const browser = await sharedBrowser();
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  try {
    const page = await context.newPage();
    const log: string[] = [];
    const pending = new Set<Promise<void>>();
    page.on('console', (m) => {
      // A slot now, filled once the arguments are read: the log keeps the order of the messages.
      const at = log.push(m.text()) - 1;
      const done = consoleLine(m).then((line) => void (log[at] = line));
      pending.add(done);
      void done.finally(() => pending.delete(done));
    });
    page.on('pageerror', (e) => log.push(`[pageerror] ${e.stack ?? e.message}`));
    let closed: Promise<void> | undefined;
    const close = () => (closed ??= context.close().catch(() => undefined));
    const settled = async () => void (await Promise.all(pending));
    return { browser, page, log, settled, close };
  } catch (err) {
    await context.close().catch(() => undefined);
    throw err;
  }
}

/**
 * A console message as text, formatted as the browser console would show it.
 * The workbench prints the extension host's output as ('%c INFO', 'color: …',
 * format, ...args): the level, then the extension's own console.log arguments.
 */
async function consoleLine(m: ConsoleMessage): Promise<string> {
  const values = await Promise.all(
    m.args().map((a) =>
      a
        .evaluate((v: unknown) => (v instanceof Error ? String(v.stack) : typeof v === 'object' && v !== null ? JSON.stringify(v) : v))
        .catch(() => '?'),
    ),
  );
  let prefix = '';
  if (typeof values[0] === 'string' && values[0].startsWith('%c') && values.length >= 2) {
    prefix = values[0].replace(/%c/g, '').trim() + ' ';
    values.splice(0, 2);
  }
  const text = prefix + format(...values);
  return m.type() === 'log' || m.type() === 'info' ? text : `[${m.type()}] ${text}`;
}

// ---------------------------------------------------------------------------
// Extension tests, the VS Code way

export interface ExtensionTestRun {
  /** The folder whose package.json is the extension under test (loaded in development mode). */
  extensionDevelopmentPath: string;
  /** A CommonJS module exporting `run(): Promise<void>`, run in the extension host. */
  extensionTestsPath: string;
  /** The folder the window opens; a fresh empty one when omitted. */
  workspace?: string;
  /** Extra environment for the server and so for the extension host. */
  env?: Record<string, string>;
  /** As CodeServerOptions.mountSetup. */
  mountSetup?: string;
  /** Time-box for the whole run; 5 minutes when omitted. */
  timeoutMs?: number;
}

export interface ExtensionTestResult {
  /** The extension host's exit code: 0 when run() resolved. */
  code: number;
  /** The browser console: the tests' output (mocha's reporter) and the workbench's messages. */
  log: string;
  /** Where the log was also written. */
  logFile: string;
}

/**
 * Starts a fresh code-server, opens the workbench with a payload naming the
 * extension and its tests, and resolves with the extension host's exit code
 * once the tests' run() settles. Fails if it takes longer than `timeoutMs`.
 * Cleans up everything it started in any case.
 */
export async function runExtensionTests(run: ExtensionTestRun): Promise<ExtensionTestResult> {
  const timeoutMs = run.timeoutMs ?? 5 * 60_000;
  const emptyWorkspace = run.workspace ? undefined : mkdtempSync(join(tmpdir(), 'pr-workspace-'));
  const workspace = run.workspace ?? emptyWorkspace!;
  const logFile = join(ARTIFACTS, `${basename(resolve(run.extensionTestsPath)).replace(/\.[cm]?js$/, '')}-${basename(resolve(run.extensionDevelopmentPath))}.log`);
  let server: CodeServer | undefined;
  let browser: LaunchedBrowser | undefined;
  let timer: NodeJS.Timeout | undefined;
  const log: string[] = [];
  try {
    const deadline = Date.now() + timeoutMs;
    server = await startCodeServer({ env: run.env ?? {}, ...(run.mountSetup ? { mountSetup: run.mountSetup } : {}) });
    browser = await launchBrowser();
    const { page } = browser;
    // Exposed before the page loads: the workbench calls it when the extension host exits.
    let exit!: (code: number) => void;
    const exited = new Promise<number>((done) => (exit = done));
    await page.exposeFunction('codeAutomationExit', (code: number) => exit(code));
    // Whichever comes first: the time-box, a crashed page, or a server that died.
    const running = server;
    const failed = new Promise<never>((_, fail) => {
      timer = setTimeout(() => fail(new Error(`the extension tests gave no exit code within ${timeoutMs} ms`)), Math.max(0, deadline - Date.now()));
      page.once('crash', () => fail(new Error('the browser page crashed')));
      void running.exited.then((c) => fail(new Error(`code-server exited (${c}) before the tests did`)));
    });
    failed.catch(() => undefined); // raced below; not every outcome is awaited
    await Promise.race([
      page.goto(
        workbenchUrl(server, workspace, {
          extensionDevelopmentPath: run.extensionDevelopmentPath,
          extensionTestsPath: run.extensionTestsPath,
        }),
        // The run's own time-box bounds the page load too (playwright's 30 s is short on a loaded machine).
        { timeout: Math.max(1, deadline - Date.now()) },
      ),
      failed,
    ]);
    const code = await Promise.race([exited, failed]);
    await browser.settled();
    log.push(...browser.log);
    return { code, log: saveLog(logFile, log), logFile };
  } catch (err) {
    log.push(...(browser?.log ?? []), '', '== code-server output', server?.output() ?? '(not started)');
    saveLog(logFile, log);
    throw new Error(`${err instanceof Error ? err.message : String(err)}\n(log: ${logFile})`, { cause: err });
  } finally {
    clearTimeout(timer);
    await browser?.close();
    await server?.stop();
    if (emptyWorkspace) rmSync(emptyWorkspace, { recursive: true, force: true });
  }
}

function saveLog(file: string, lines: string[]): string {
  const text = lines.join('\n') + '\n';
  mkdirSync(ARTIFACTS, { recursive: true });
  writeFileSync(file, text);
  return text;
}

// ---------------------------------------------------------------------------
// UI tests

export interface WorkbenchOptions {
  /** The server's URL (a CodeServer works too). */
  url: string;
  /** The folder to open. */
  folder: string;
  /** Load this extension in development mode (no install needed); the server must be one of startCodeServer's. */
  extensionDevelopmentPath?: string;
}

export interface Workbench {
  page: Page;
  browser: Browser;
  /** The browser console so far. */
  log: string[];
  /** Clicks the view container named `title` in the activity bar. */
  openViewContainer(title: string): Promise<void>;
  /** Runs a command from the palette by its full title ("Category: Title"). */
  runCommand(title: string): Promise<void>;
  /** Waits for a notification toast containing `text`. */
  waitForNotification(text: string | RegExp, timeoutMs?: number): Promise<void>;
  /** The texts of the tree rows, in the view titled `viewTitle` when given; waits for a first row. */
  treeRows(viewTitle?: string): Promise<string[]>;
  /** Saves a PNG of the page as test-artifacts/extension/NAME.png; returns its path. */
  screenshot(name: string): Promise<string>;
  close(): Promise<void>;
}

/** Opens the workbench on `folder` in a fresh browser; resolves once `.monaco-workbench` is there. */
export async function openWorkbench(options: WorkbenchOptions): Promise<Workbench> {
  const url = new URL(options.url);
  const payload: Record<string, string> = options.extensionDevelopmentPath ? { extensionDevelopmentPath: options.extensionDevelopmentPath } : {};
  const launched = await launchBrowser();
  const { page, browser, log } = launched;
  try {
    // A loaded machine (other test runs beside) can take well over the default 30 s to load the page.
    await page.goto(workbenchUrl({ url: url.origin, host: url.host }, options.folder, payload), { timeout: 120_000 });
    await page.waitForSelector('.monaco-workbench', { timeout: 60_000 });
  } catch (err) {
    await launched.close();
    throw err;
  }

  const workbench: Workbench = {
    page,
    browser,
    log,
    async openViewContainer(title) {
      const item = page.locator(`.activitybar .action-item a.action-label[aria-label^="${title}"]`).first();
      await item.waitFor({ timeout: 60_000 });
      await item.click();
    },
    async runCommand(title) {
      await page.keyboard.press('F1');
      const input = page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10_000 });
      await input.fill(`>${title}`);
      await page.locator('.quick-input-list .monaco-list-row', { hasText: title }).first().waitFor({ timeout: 10_000 });
      await page.keyboard.press('Enter');
    },
    async waitForNotification(text, timeoutMs = 10_000) {
      const toast = page.locator('.notifications-toasts .notification-toast', { hasText: text }).first();
      const listed = page.locator('.notifications-center .notification-list-item', { hasText: text }).first();
      // A toast, as a user sees it; under the smoke-test driver there are none, so after a
      // moment look in the notification centre.
      const deadline = Date.now() + timeoutMs;
      let opened = false;
      for (;;) {
        if (await toast.isVisible()) {
          // Let it fade in, for screenshots (the class comes at the end of the CSS transition).
          await page.locator('.notification-toast.notification-fade-in-done', { hasText: text }).first().waitFor({ timeout: 2_000 }).catch(() => undefined);
          return;
        }
        if (await listed.isVisible()) return;
        if (Date.now() > deadline) throw new Error(`no notification ${String(text)} within ${timeoutMs} ms`);
        if (!opened && Date.now() > deadline - timeoutMs + 2_000) {
          opened = true;
          await workbench.runCommand('Notifications: Show Notifications');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    },
    async treeRows(viewTitle) {
      const scope = viewTitle ? page.locator('.pane', { has: page.locator('.pane-header', { hasText: viewTitle }) }).locator('.pane-body') : page;
      const rows = scope.locator('.monaco-list-row');
      await rows.first().waitFor({ timeout: 30_000 });
      return (await rows.allInnerTexts()).map((t) => t.trim());
    },
    async screenshot(name) {
      mkdirSync(ARTIFACTS, { recursive: true });
      const path = join(ARTIFACTS, `${name}.png`);
      await page.screenshot({ path });
      return path;
    },
    close: () => launched.close(),
  };
  return workbench;
}
