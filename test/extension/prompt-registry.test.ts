/**
 * The Prompt Registry extension in a real VS Code (code-server + chromium):
 * the extension-host suite (test/extension/suite, mocha, against the bundled
 * local registry), then UI scenarios with screenshots in
 * test-artifacts/extension/; sign-in against a real identity provider and the real registry trusting it.
 * One file, run in order: one VS Code at a time.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Frame, Page } from 'playwright-core';
import { RegistryApi, type ExecutionRecord, type Rollout } from '../../client/index.js';
import { ARTIFACTS, closeBrowser, openWorkbench, runExtensionTests, startCodeServer, withVsCodeLock, type CodeServer, type Workbench } from './harness.js';
import { seed } from '../../bench/resolve/seed.js';
import { startIdp } from '../support/idp.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { MockProvider } from '../support/mock-provider.js';
import { GREETING, SAFETY, SUPPORT_CHAT, SUPPORT_CHAT_V2 } from './greeting.js';
import { ensureToolchain } from './setup.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const MINUTE = 60_000;
/** Whether the registry in this checkout takes chat versions (issue 12's server side); the chat publish step needs it. */

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

/** A workspace with these files and settings; the bundled registry runs on VS Code's own runtime. */
function workspace(files: Record<string, string> = {}, settings: Record<string, unknown> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'pr-ext-ws-'));
  mkdirSync(join(dir, '.vscode'));
  writeFileSync(join(dir, '.vscode', 'settings.json'), JSON.stringify(settings, null, 2));
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

/** The webview frame whose page has `selector` (webviews are iframes inside iframes). */
async function webviewFrame(page: Page, selector: string, timeoutMs = 60_000): Promise<Frame> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    for (const frame of page.frames()) {
      if (await frame.locator(selector).count().catch(() => 0)) return frame;
    }
    if (Date.now() > deadline) {
      await page.screenshot({ path: join(ARTIFACTS, `failed-webview-${selector.replace(/\W/g, '')}.png`) });
      throw new Error(`no webview with ${selector} within ${timeoutMs} ms (screenshot: failed-webview-…png)`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Polls `get` until `ok` holds; fails with the last value. */
async function eventually<T>(what: string, get: () => Promise<T>, ok: (v: T) => boolean, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await get();
    if (ok(value)) return value;
    if (Date.now() > deadline) throw new Error(`${what}: still ${JSON.stringify(value)} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * Three versions of a support prompt with three days of executions: each
 * version faster, cheaper and better than the one before, a few errors, and
 * metrics with some scores. Deterministic (no Math.random), so the screenshots
 * look the same run to run.
 */
async function seedExecutionLog(api: RegistryApi): Promise<void> {
  await api.createVersion('support-reply', { content: 'You help customers of {{company}}. Answer {{name}}: {{question}}', tags: ['support'], description: 'Answers support tickets' });
  await api.createVersion('support-reply', { content: 'You help customers of {{company}}. Answer {{name}} briefly: {{question}}', temperature: 0.3 });
  await api.createVersion('support-reply', { content: 'You are {{company}} support. Answer {{name}} in two sentences: {{question}}', temperature: 0.2 });
  await api.deploy('support-reply', 2, 'staging');
  await api.deploy('support-reply', 3, 'production');
  await api.createMetric({ name: 'accuracy', type: 'numeric', min: 0, max: 1, description: 'graded against the answer key' });
  await api.createMetric({ name: 'tone', type: 'categorical', categories: ['warm', 'neutral', 'cold'] });
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const profile = { 1: { latency: 900, cost: 0.0031, quality: 0.7, from: 72, to: 40 }, 2: { latency: 680, cost: 0.0024, quality: 0.8, from: 60, to: 0 }, 3: { latency: 430, cost: 0.0012, quality: 0.88, from: 30, to: 0 } } as const;
  const questions = ['Where is my order?', 'Can I change my address?', 'How do I return a jacket?', 'Is the store open on Sunday?'];
  const rows: ExecutionRecord[] = [];
  const now = Date.now();
  for (let hoursAgo = 72; hoursAgo >= 1; hoursAgo--) {
    for (const version of [1, 2, 3] as const) {
      const p = profile[version];
      if (hoursAgo > p.from || hoursAgo <= p.to) continue;
      const question = questions[hoursAgo % questions.length]!;
      const failed = rand() < 0.05;
      rows.push({
        prompt: 'support-reply',
        version,
        environment: version === 2 && hoursAgo < 30 ? 'staging' : 'production',
        executed_at: new Date(now - hoursAgo * 3_600_000 + Math.floor(rand() * 3_000_000)).toISOString(),
        input_variables: { company: 'Acme', name: 'Ann', question },
        rendered_prompt: `You help customers of Acme. Answer Ann: ${question}`,
        response: failed ? null : `Hi Ann, thanks for asking. ${question.replace('?', '')}: here is what to do…`,
        input_tokens: 380 + Math.floor(rand() * 80),
        output_tokens: 60 + Math.floor(rand() * 60),
        latency_ms: Math.round(p.latency * (0.6 + rand() * 0.8)),
        cost_usd: Number((p.cost * (0.8 + rand() * 0.4)).toFixed(6)),
        quality_score: failed ? null : Number(Math.min(1, p.quality + (rand() - 0.5) * 0.2).toFixed(3)),
        metadata: { trace: `trace-${hoursAgo}-${version}` },
        ...(failed ? { status: 'error' as const, error: 'upstream timeout after 30 s' } : {}),
      });
    }
  }
  const { ids } = await api.logExecutions(rows);
  for (const [i, id] of ids.entries()) {
    if (i % 9 === 0) await api.addScore(id, { metric: 'accuracy', value: Number((0.6 + (i % 4) / 10).toFixed(2)), source: 'llm' });
    if (i % 13 === 0) await api.addScore(id, { metric: 'tone', value: ['warm', 'neutral', 'cold'][i % 3]!, source: 'human' });
  }
}

/**
 * A partial and the prompts that include it, and a rollout: safety v1 live in
 * production and staging (v2 published); support-reply v1 live in production
 * with v2 rolled out to 10% beside it (v3 published), each including
 * `{{> safety}}`; greeter live in staging following `safety@production`; faq
 * pinning `safety@1`. Executions of both variants since the rollout started.
 */
async function seedRollouts(api: RegistryApi): Promise<Rollout> {
  await api.createVersion('safety', { content: 'Never share payment details.', description: 'Safety preamble, included by other prompts' });
  await api.createVersion('safety', { content: 'Never share payment details or passwords.' });
  await api.deploy('safety', 1, 'production');
  await api.deploy('safety', 1, 'staging');
  await api.createVersion('support-reply', { content: '{{> safety}}\nAnswer {{name}}: {{question}}', description: 'Answers support tickets' });
  await api.createVersion('support-reply', { content: '{{> safety}}\nAnswer {{name}} briefly: {{question}}' });
  await api.createVersion('support-reply', { content: '{{> safety}}\nAnswer {{name}} in two sentences: {{question}}' });
  await api.deploy('support-reply', 1, 'production');
  await api.createVersion('greeter', { content: '{{> "safety@production"}}\nGreet {{name}} warmly.' });
  await api.deploy('greeter', 1, 'staging');
  await api.createVersion('faq', { content: '{{> "safety@1"}}\nAnswer from the FAQ: {{question}}' });
  const started = await api.rolloutStart('support-reply', 'production', { candidate: 2, weight: 10, guard: { metric: 'error_rate', window: 200, threshold: 0.05, comparison: 'above_live' } });
  assert.ok(started.kind === 'applied' && started.created, JSON.stringify(started));
  // Logged now, so after the rollout started: v1 serves most keys, v2 is faster and scores better.
  const rows: ExecutionRecord[] = [];
  for (let i = 0; i < 150; i++) {
    const version = i % 5 === 0 ? 2 : 1;
    const failed = version === 1 ? i % 40 === 1 : false;
    rows.push({
      prompt: 'support-reply',
      version,
      environment: 'production',
      input_variables: { name: 'Ann', question: 'Where is my order?' },
      response: failed ? null : 'Hi Ann, your order ships today.',
      input_tokens: 300 + (i % 7) * 10,
      output_tokens: version === 2 ? 40 + (i % 5) : 90 + (i % 9),
      latency_ms: (version === 2 ? 380 : 720) + (i % 11) * 20,
      cost_usd: version === 2 ? 0.0009 : 0.0016,
      quality_score: failed ? null : version === 2 ? 0.9 - (i % 3) / 100 : 0.78 + (i % 4) / 100,
      metadata: { variant: version === 2 ? 'candidate' : 'live', rollout_id: started.rollout.id },
      ...(failed ? { status: 'error' as const, error: 'upstream timeout after 30 s' } : {}),
    });
  }
  await api.logExecutions(rows);
  return started.rollout;
}

/** The experiments the registry holds, newest first (through the audit log: there is no list route). */
async function registryExperiments(api: RegistryApi): Promise<Array<{ versions: number[]; drafts: string[]; status: string }>> {
  const res = await fetch(`${api.url}/audit?action=experiment.created&limit=10`, { headers: { 'X-API-Key': ADMIN_KEY } });
  const entries = ((await res.json()) as { items: Array<{ target_id: string }> }).items;
  return Promise.all(entries.map((e) => api.experiment(e.target_id)));
}

describe('Prompt Registry extension in a real VS Code', { concurrency: false }, () => {
  const dirs: string[] = [];
  before(
    async () => {
      await ensureToolchain();
      await withVsCodeLock('building the extension', () => {
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

  /**
   * The extensionTestsPath suite in a fresh workspace, chosen and configured by
   * `env` (suite/index.ts); fails unless mocha exited 0, and answers its log.
   */
  async function runHostSuite(what: string, env: Record<string, string> = {}): Promise<string> {
    const ws = workspace();
    dirs.push(ws);
    const result = await runExtensionTests({
      extensionDevelopmentPath: ROOT,
      extensionTestsPath: join(ROOT, 'dist/extension-tests/index.cjs'),
      workspace: ws,
      env,
      timeoutMs: 5 * MINUTE,
    });
    assert.equal(result.code, 0, `${what} failed; log: ${result.logFile}\n${result.log.slice(-4_000)}`);
    return result.log;
  }

  /**
   * A UI scenario's before/after: `setup` makes the workspace (and what the
   * scenario needs, handing `onClose` what must be closed after), then a fresh
   * code-server and a browser open on it; `opened` receives the workbench.
   */
  function uiScenario(setup: (onClose: (close: () => Promise<unknown>) => void) => Promise<string>, opened: (wb: Workbench) => void): void {
    let server: CodeServer | undefined;
    let wb: Workbench | undefined;
    const closers: Array<() => Promise<unknown>> = [];
    before(
      async () => {
        const ws = await setup((close) => closers.push(close));
        dirs.push(ws);
        server = await startCodeServer({ workspace: ws });
        wb = await openWorkbench({ url: server.url, folder: ws, extensionDevelopmentPath: ROOT });
        opened(wb);
      },
      { timeout: 3 * MINUTE },
    );
    after(async () => {
      await wb?.close();
      await server?.stop();
      for (const close of closers.reverse()) await close();
    });
  }

  it('passes the extension-host suite: publish, identical, edit, deploy, rollback, tree, preview, diagnostics', { timeout: 6 * MINUTE }, async () => {
    const log = await runHostSuite('extension tests');
    const passing = /(\d+) passing/.exec(log)?.[1];
    assert.ok(Number(passing) >= 11, `mocha reported ${passing} passing`);
    const timing = /TIMING activate_ms=([\d.]+) connected_ms=(\d+)/.exec(log);
    assert.ok(timing, 'the suite reports activation timings');
    process.stdout.write(`# extension activation: ${timing[1]} ms before the server; connected to the bundled server after ${timing[2]} ms\n`);
  });

  it('shows the first level of a 10,000-prompt tree from a remote registry, and follows another client\'s deploy live', { timeout: 6 * MINUTE }, async () => {
    const registry = await startTestServer('sqlite');
    try {
      await seed(registry.database.url, 10_000);
      const log = await runHostSuite('tree test', { PR_TREE_URL: registry.url, PR_TREE_KEY: ADMIN_KEY });
      const timing = /TIMING tree_first_level_ms=([\d.]+)/.exec(log);
      assert.ok(timing, 'the tree test reports its timing');
      assert.match(log, /2 passing/, "the first level, and another client's deploy followed live");
      process.stdout.write(`# first tree level of 10,000 prompts: ${timing[1]} ms\n`);
    } finally {
      await registry.close();
    }
  });

  // Up to 10 minutes of this go to waiting for another VS Code on the machine to finish (harness lock).
  it('asks for approval, approves, rejects and withdraws deploys and rollouts against a registry whose production needs approval', { timeout: 16 * MINUTE }, async () => {
    const { registry, bob, dave } = await approvalsRegistry();
    try {
      const log = await runHostSuite('approvals tests', { PR_APPROVALS_URL: registry.url, PR_REQUESTER_KEY: bob, PR_APPROVER_KEY: dave, PR_ADMIN_KEY: ADMIN_KEY });
      const passing = /(\d+) passing/.exec(log)?.[1];
      assert.equal(Number(passing), 9, `mocha reported ${passing} passing`);
    } finally {
      await registry.close();
    }
  });

  describe('UI scenario', { concurrency: false }, () => {
    let wb: Workbench;
    uiScenario(
      async () => workspace({ 'greeting.prompt': GREETING, 'support.prompt': SUPPORT_CHAT, 'support-v2.prompt': SUPPORT_CHAT_V2, 'safety.prompt': SAFETY }),
      (opened) => (wb = opened),
    );
    /** The ::after content of the editor's decorations: the inline values as a user's eyes read them. */
    const inlineValues = async () =>
      wb.page.evaluate<string[]>(`[...document.querySelectorAll('.monaco-editor .view-lines span')]
        .map((el) => getComputedStyle(el, '::after').content)
        .filter((c) => c && c !== 'none' && c !== 'normal')`);
    async function openFile(name: string, text: string): Promise<void> {
      await wb.page.keyboard.press('Control+P');
      await wb.page.locator('.quick-input-widget input').fill(name);
      // The file's own row: recently opened editors (the compare panel, "support.prompt ↔ support-v2.prompt") are listed too.
      const label = new RegExp(`^${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
      const row = wb.page.locator('.quick-input-list .monaco-list-row', { has: wb.page.locator('.label-name', { hasText: label }) }).first();
      // The window title names the active editor ("[Extension Development Host] support.prompt - folder - code-server"):
      // on a loaded machine the list can re-sort under the click and open a neighbour (support-v2.prompt for
      // support.prompt) whose text matches too; then the file is opened again.
      const titled = new RegExp(`(^|\\] )(● )?${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}( - |$)`);
      for (let attempt = 1; ; attempt++) {
        await row.waitFor({ timeout: 10_000 });
        await row.click();
        const deadline = Date.now() + 10_000;
        while (!titled.test(await wb.page.title()) && Date.now() < deadline) await wb.page.waitForTimeout(200);
        if (titled.test(await wb.page.title())) break;
        if (attempt === 3) throw new Error(`opened "${await wb.page.title()}", not ${name}`);
        await wb.page.keyboard.press('Control+P');
        await wb.page.locator('.quick-input-widget input').fill(name);
      }
      await wb.page.locator('.monaco-editor .view-lines', { hasText: text }).first().waitFor({ timeout: 30_000 });
    }

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

    it('shows sample values inline in two messages of a chat .prompt file', { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('View: Close All Editors');
      await wb.runCommand('Notifications: Clear All Notifications');
      await openFile('support.prompt', 'You answer customers of');
      const shown = await eventually('inline values in the system and the user message', inlineValues, (c) => c.some((x) => x.includes('= Acme')) && c.some((x) => x.includes('= Where is my parcel?')));
      assert.ok(shown.some((c) => c.includes('= true')), shown.join(' | '));
      assert.equal(await wb.page.locator('.monaco-editor .squiggly-warning, .monaco-editor .squiggly-error').count(), 0, 'no problems in the chat file');
      await wb.screenshot('30-chat-inline-values');
    });

    it('previews the chat as a conversation, the partial expanded and the history from the samples', { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('Prompt Registry: Preview Rendered Prompt');
      const preview = await webviewFrame(wb.page, '#conversation li.bubble');
      const bubbles = await eventually('four bubbles', () => preview.locator('#conversation li.bubble').allInnerTexts(), (b) => b.length === 4);
      assert.match(bubbles[0]!, /^SYSTEM\s+You answer customers of Acme\.\nNever share payment details\.\nBe extra polite\.$/);
      assert.match(bubbles[1]!, /^USER · FROM \{\{HISTORY\}\}\s+Hi, I ordered boots last week\.$/);
      assert.match(bubbles[3]!, /^USER\s+Where is my parcel\?$/);
      await wb.screenshot('31-chat-preview');
    });

    it('compares two chat files message by message and config by config', { timeout: 2 * MINUTE }, async () => {
      await openFile('support.prompt', 'You answer customers of');
      await wb.runCommand('Prompt Registry: Compare with Another .prompt File…');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'support-v2.prompt' }).first().click({ timeout: 30_000 });
      const diff = await webviewFrame(wb.page, '#messages li.row');
      const rows = await eventually('four message rows', () => diff.locator('#messages li.row').evaluateAll((r) => r.map((x) => x.className)), (r) => r.length === 4);
      assert.deepEqual(rows, ['row changed', 'row same', 'row same', 'row added']);
      assert.deepEqual(await diff.locator('#messages li.row.changed .line.added').allInnerTexts(), ['You answer customers of {{company}} in two sentences.']);
      assert.deepEqual(await diff.locator('#config tr.changed th, #config tr.added th').allInnerTexts(), ['temperature', 'response_format']);
      await wb.screenshot('32-chat-diff');
      await diff.locator('#config').scrollIntoViewIfNeeded();
      await wb.screenshot('32b-chat-diff-config');
    });

    it('reads well in a dark theme: the conversation preview and the diff', { timeout: 2 * MINUTE }, async () => {
      await wb.page.keyboard.press('F1');
      await wb.page.locator('.quick-input-widget input').fill('>Preferences: Color Theme');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
      await wb.page.locator('.quick-input-widget input').fill('Dark 2026');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Dark 2026' }).first().click();
      const diff = await webviewFrame(wb.page, '#messages li.row');
      await eventually('the dark theme reaches the webview', () => diff.evaluate<string>(`document.body.className`), (c) => c.includes('vscode-dark'));
      // The preview is still open beside the diff: both in one window.
      const preview = await webviewFrame(wb.page, '#conversation li.bubble');
      await eventually('the dark preview', () => preview.evaluate<string>(`document.body.className`), (c) => c.includes('vscode-dark'));
      // Scrolling repaints both panels in the new colours before the screenshot (as the statistics scenario does).
      await diff.locator('#messages li.row').first().scrollIntoViewIfNeeded();
      await preview.locator('#conversation li.bubble').first().scrollIntoViewIfNeeded();
      await wb.screenshot('33-chat-diff-and-preview-dark');
    });

    it('publishes the chat file as a chat version with its messages and config', { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('View: Close All Editors');
      await openFile('safety.prompt', 'Never share payment details');
      await wb.runCommand('Prompt Registry: Publish Version');
      await wb.waitForNotification('Published safety version 1', 30_000);
      await openFile('support.prompt', 'You answer customers of');
      await wb.runCommand('Prompt Registry: Publish Version');
      await wb.waitForNotification('Published support-reply version 1', 30_000);
      await wb.screenshot('35-chat-published');
    });

    it('marks the file as differing from the registry once it is edited (drift)', { timeout: 2 * MINUTE }, async () => {
      const drift = wb.page.locator('.statusbar-item', { hasText: 'support-reply:' });
      await drift.filter({ hasText: 'same as v1' }).first().waitFor({ timeout: 30_000 });
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'You answer customers of' }).first().click();
      await wb.page.keyboard.press('Control+End');
      await wb.page.keyboard.type('Thank them for waiting.');
      await wb.page.keyboard.press('Control+S');
      await drift.filter({ hasText: 'differs from v1' }).first().waitFor({ timeout: 30_000 });
      await drift.first().hover();
      await wb.page.locator('.monaco-hover', { hasText: '1 message' }).first().waitFor({ timeout: 10_000 });
      await wb.screenshot('36-chat-drift');
    });
  });
  describe('execution log UI scenario, against a shared registry on Postgres', { concurrency: false }, () => {
    let api: RegistryApi;
    let wb: Workbench;
    uiScenario(
      async (onClose) => {
        const registry = await startTestServer('postgres');
        onClose(() => registry.close());
        api = new RegistryApi({ url: registry.url, apiKey: ADMIN_KEY });
        await seedExecutionLog(api);
        return workspace({}, { 'promptRegistry.serverUrl': registry.url, 'promptRegistry.executions.refreshInterval': 5 });
      },
      (opened) => (wb = opened),
    );

    it('connects with a key typed into the palette', { timeout: 2 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      await wb.runCommand('Prompt Registry: Set API Key');
      await wb.page.locator('.quick-input-widget input').fill(ADMIN_KEY);
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.statusbar-item', { hasText: 'Prompts: remote' }).first().waitFor({ timeout: MINUTE });
      await wb.page.locator('.monaco-list-row', { hasText: 'support-reply' }).first().click();
      await versionRow(wb, 'v3').waitFor({ timeout: 30_000 });
    });

    it('"Show Executions" on v3 opens the panel filtered to v3, with real rows', { timeout: 2 * MINUTE }, async () => {
      await versionRow(wb, 'v3').click({ button: 'right' });
      const item = wb.page.locator('.context-view .action-label', { hasText: 'Show Executions' }).first();
      await item.waitFor({ timeout: 30_000 });
      // The menu takes a moment to accept clicks (a click at once only highlights the item).
      await wb.page.waitForTimeout(500);
      await wb.screenshot('09-context-menu-show-executions');
      await item.click();
      const panel = await webviewFrame(wb.page, '#filters');
      const expected = (await api.listExecutions({ prompt: 'support-reply', version: 3, limit: 100 })).items;
      assert.ok(expected.length > 20, `seeded ${expected.length} v3 executions`);
      const versions = await eventually('v3 rows', () => panel.locator('#rows tr td:nth-child(3)').allInnerTexts(), (v) => v.length === expected.length);
      assert.ok(versions.every((v) => v === 'v3'), versions.join(' '));
      assert.deepEqual(await panel.locator('#rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id'))), expected.map((e) => e.id), 'newest first, as the registry answers');
      assert.equal(await panel.locator('#version').inputValue(), '3');
      assert.match(await panel.locator('#summary').innerText(), new RegExp(`^${expected.length} executions`));
      await wb.screenshot('10-executions-panel');
    });

    it('filters by environment and loads more through the cursor', { timeout: 2 * MINUTE }, async () => {
      const panel = await webviewFrame(wb.page, '#filters');
      await panel.locator('#version').selectOption('');
      await panel.locator('#environment').selectOption('staging');
      const staging = (await api.listExecutions({ prompt: 'support-reply', environment: 'staging', limit: 100 })).items;
      const envs = await eventually('staging rows', () => panel.locator('#rows tr td:nth-child(4)').allInnerTexts(), (v) => v.length === staging.length);
      assert.ok(envs.every((e) => e === 'staging'), envs.join(' '));
      await panel.locator('#environment').selectOption('');
      await eventually('a first page of 100', () => panel.locator('#rows tr').count(), (n) => n === 100);
      await panel.locator('#more').click();
      const first = await api.listExecutions({ prompt: 'support-reply', limit: 100 });
      const second = await api.listExecutions({ prompt: 'support-reply', limit: 100, cursor: first.next_cursor });
      const ids = await eventually(
        'the second page below the first',
        () => panel.locator('#rows tr').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-id'))),
        (v) => v.length === first.items.length + second.items.length,
      );
      assert.deepEqual(ids, [...first.items, ...second.items].map((e) => e.id));
    });

    it('opens an execution from its row; Add Score refuses a value out of range, then stores one', { timeout: 2 * MINUTE }, async () => {
      const panel = await webviewFrame(wb.page, '#filters');
      const first = panel.locator('#rows tr').first();
      const id = (await first.getAttribute('data-id'))!;
      await first.click();
      const detail = await webviewFrame(wb.page, '#score-form');
      await eventually('the detail', () => detail.locator('#rendered').innerText(), (t) => t.startsWith('You help customers of Acme'));
      const logged = await api.getExecution(id);
      assert.equal(await detail.locator('#title').innerText(), `support-reply v${logged.version}`);
      assert.match(await detail.locator('#variables').innerText(), /"company": "Acme"/);
      await wb.screenshot('11-execution-detail');
      await detail.locator('#metric').selectOption('accuracy');
      await detail.locator('#value').fill('7');
      await detail.locator('#add').click();
      assert.equal(await detail.locator('#score-error').innerText(), 'accuracy is a number from 0 to 1; 7 is outside.');
      await detail.locator('#value').fill('0.8');
      await detail.locator('#comment').fill('clear and correct');
      await detail.locator('#add').click();
      await detail.locator('#score-rows tr[data-metric="accuracy"]', { hasText: 'human' }).waitFor({ timeout: 30_000 });
      const human = (await api.getExecution(id)).scores.filter((s) => s.source === 'human');
      assert.deepEqual(human.map((s) => [s.metric, s.value, s.comment]), [['accuracy', 0.8, 'clear and correct']]);
      await detail.locator('#score-form').scrollIntoViewIfNeeded();
      await wb.screenshot('11b-execution-scored');
    });

    it('shows the statistics: the per-version table and four charts, drawn in the theme\'s colours', { timeout: 2 * MINUTE }, async () => {
      const detail = await webviewFrame(wb.page, '#score-form');
      await detail.locator('#stats').click();
      const stats = await webviewFrame(wb.page, '#versions-rows');
      await eventually('three versions', () => stats.locator('#versions-rows tr').count(), (n) => n === 3);
      const expected = await api.stats('support-reply', { interval: 'hour' });
      const cells = await stats.locator('#versions-rows tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td')].map((td) => td.textContent)));
      assert.deepEqual(cells.map((c) => c[0]), ['v1', 'v2', 'v3']);
      assert.deepEqual(cells.map((c) => c[1]), expected.versions.map((v) => v.count.toLocaleString('en-US')));
      const headers = await stats.locator('#versions-head th').allInnerTexts();
      assert.ok(headers.includes('accuracy') && headers.includes('tone'), headers.join(' | '));
      await eventually('four charts', () => stats.locator('.chart canvas').count(), (n) => n === 4);
      // Each canvas has painted pixels (axes and lines), and its legend names the versions.
      const painted = await stats.evaluate<number[]>(`[...document.querySelectorAll('.chart canvas')].map((c) => {
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
        let n = 0;
        for (let i = 3; i < d.length; i += 4) if (d[i]) n++;
        return n;
      })`);
      assert.ok(painted.every((n) => n > 1000), `painted pixels: ${painted.join(', ')}`);
      const legend = await stats.locator('.chart').first().locator('.u-legend .u-label').allInnerTexts();
      assert.deepEqual(legend.slice(1), ['v1', 'v2', 'v3']);
      const blue = await stats.evaluate<string>(`getComputedStyle(document.documentElement).getPropertyValue('--vscode-charts-blue').trim()`);
      const stroke = await stats.evaluate<string>(`getComputedStyle(document.querySelector('.u-series:nth-child(2) .u-marker')).borderColor`);
      assert.ok(blue, 'the theme defines --vscode-charts-blue');
      assert.notEqual(stroke, '', 'the legend marker has the series colour');
      // The whole window for the statistics, as a user reading them would make it.
      await wb.runCommand('View: Hide Panel');
      await wb.page.locator('[aria-label^="Toggle Primary Side Bar"]').first().click();
      // Each chart follows its card's width when the layout changes (none cut off, none left narrow).
      await eventually(
        'charts as wide as their cards',
        () => stats.locator('.chart').evaluateAll((charts) => charts.map((c) => Math.abs((c.querySelector('canvas')?.getBoundingClientRect().width ?? 0) - c.clientWidth))),
        (gaps) => gaps.length === 4 && gaps.every((g) => g < 24),
      );
      await wb.screenshot('12-statistics');
      await stats.locator('#compare').click();
      await eventually('the comparison', () => stats.locator('#comparison-rows tr').count(), (n) => n >= 6);
      await stats.locator('#comparison').scrollIntoViewIfNeeded();
      await wb.screenshot('13-statistics-compare');
    });

    it('redraws the charts in a dark theme\'s colours', { timeout: 2 * MINUTE }, async () => {
      // "Preferences: Color Theme" (its row, not the marketplace one listed first), then the theme.
      await wb.page.keyboard.press('F1');
      await wb.page.locator('.quick-input-widget input').fill('>Preferences: Color Theme');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
      await wb.page.locator('.quick-input-widget input').fill('Dark 2026');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Dark 2026' }).first().click();
      const stats = await webviewFrame(wb.page, '#versions-rows');
      await eventually('the dark theme reaches the webview', () => stats.evaluate<string>(`document.body.className`), (c) => c.includes('vscode-dark'));
      await stats.locator('header').scrollIntoViewIfNeeded();
      await wb.screenshot('14-statistics-dark');
    });
  });

  describe('UI scenario: run and evaluate a .prompt file against a mock provider', { concurrency: false }, () => {
    let wb: Workbench;
    let api: RegistryApi;
    const mock = new MockProvider();
    const N = 6;
    /** The quiz: "plain" answers a sentence (unsure for multiples of 3), "json" an object. */
    const answer = (content: string) => {
      const n = Number(/Q(\d+)/.exec(content)?.[1]);
      if (content.includes('json')) return JSON.stringify({ answer: n });
      return n % 3 === 0 ? `I am not sure about question ${n}.` : `The answer to question ${n} is ${n}.`;
    };
    uiScenario(
      async (onClose) => {
        await mock.start();
        onClose(() => mock.close());
        mock.respond = (call) => ({ text: answer(String(call.body.messages?.at(-1)?.content ?? '')), usage: { input: 21, output: 9 } });
        const registry = await startTestServer('sqlite', { providerCalls: { timeoutMs: 20_000, maxRetries: 0, baseDelayMs: 10, maxDelayMs: 20, maxRetryAfterMs: 1_000 } });
        onClose(() => registry.close());
        api = new RegistryApi({ url: registry.url, apiKey: ADMIN_KEY });
        const provider = await registry.admin.post('/providers', { name: 'mock', kind: 'openai', base_url: mock.openAiBase, api_key: 'sk-test', default_model: 'mock-1', prices: { 'mock-1': { input_per_million: 2, output_per_million: 10 } } });
        assert.equal(provider.status, 201, JSON.stringify(provider.body));
        // What is live answers JSON; the file in the workspace (the draft) asks for a sentence.
        await api.createVersion('quiz', { content: 'Q{{n}} json', model: 'mock-1' } as never);
        await api.deploy('quiz', 1, 'production');
        await api.createDataset('quiz-set', 'Six questions with their answers');
        await api.addDatasetItems('quiz-set', Array.from({ length: N }, (_, i) => ({ input: { n: i + 1 }, expected: `The answer to question ${i + 1} is ${i + 1}.` })));
        const file = ['---', 'name: quiz', 'model: mock-1', 'promptRegistry.samples:', '  n: 7', '---', 'Q{{n}} plain', ''].join('\n');
        return workspace({ 'quiz.prompt': file }, { 'promptRegistry.serverUrl': registry.url });
      },
      (opened) => (wb = opened),
    );

    const quickPick = (text: string | RegExp) => wb.page.locator('.quick-input-list .monaco-list-row', { hasText: text }).first();

    it('runs the file as a draft from the palette, the output streaming into the Run panel with usage, latency and cost', { timeout: 3 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      await wb.runCommand('Prompt Registry: Set API Key');
      await wb.page.locator('.quick-input-widget input').fill(ADMIN_KEY);
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.statusbar-item', { hasText: 'Prompts: remote' }).first().waitFor({ timeout: MINUTE });
      // "Prompts: remote" is also the connecting state's text: the tree's row says it connected.
      await wb.page.locator('.monaco-list-row', { hasText: 'quiz' }).first().waitFor({ timeout: MINUTE });
      await wb.page.keyboard.press('Control+P');
      await wb.page.locator('.quick-input-widget input').fill('quiz.prompt');
      await quickPick('quiz.prompt').waitFor({ timeout: 10_000 });
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'plain' }).first().waitFor({ timeout: 30_000 });
      await wb.runCommand('Prompt Registry: Run Prompt');
      // The provider and its price table's models; mock-1 is the one priced.
      await quickPick(/^mock-1/).waitFor({ timeout: 30_000 });
      await quickPick(/^mock-1/).click();
      const panel = await webviewFrame(wb.page, '#output');
      await eventually('the streamed output', () => panel.locator('#output').innerText(), (t) => t === 'The answer to question 7 is 7.');
      assert.equal(await panel.locator('#status').innerText(), 'Done');
      const fact = (k: string) => panel.locator(`dd[data-fact="${k}"]`).innerText();
      assert.equal(await fact('Tokens (in → out)'), '21 → 9');
      assert.equal(await fact('Cost'), '$0.00013');
      assert.match(await fact('Latency'), /^\d+ ms$|s$/);
      // Sent as a draft, streamed, and logged as a draft run of quiz.
      const call = mock.calls.at(-1)!;
      assert.equal(call.body.stream, true);
      assert.equal(call.body.messages.at(-1).content, 'Q7 plain\n');
      const logged = await api.getExecution(await fact('Execution'));
      assert.equal(logged.metadata?.draft, true);
      assert.equal(logged.response, 'The answer to question 7 is 7.');
      await wb.screenshot('40-run-panel');
    });

    it('shows the provider failure in the panel, and Cancel aborts a run in flight', { timeout: 3 * MINUTE }, async () => {
      mock.script({ status: 500 });
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'plain' }).first().click();
      await wb.runCommand('Prompt Registry: Run Prompt');
      await quickPick(/last used/).waitFor({ timeout: 30_000 });
      assert.match(await wb.page.locator('.quick-input-list .monaco-list-row').first().innerText(), /mock-1/, 'the last choice comes first');
      await wb.page.keyboard.press('Enter');
      const panel = await webviewFrame(wb.page, '#output');
      await eventually('the error', () => panel.locator('#message').innerText(), (t) => t.startsWith('The provider answered 500: '));
      assert.equal(await panel.locator('#status').innerText(), 'Failed');
      assert.match(await panel.locator('#message').innerText(), /The failed run was logged as execution [0-9a-f-]{36}\./);
      mock.script({ delayMs: 15_000 });
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'plain' }).first().click();
      await wb.runCommand('Prompt Registry: Run Prompt');
      await quickPick(/last used/).waitFor({ timeout: 30_000 });
      await wb.page.keyboard.press('Enter');
      await eventually('running', () => panel.locator('#status').innerText(), (t) => t === 'Running…');
      await panel.locator('#cancel').click();
      await eventually('cancelled', () => panel.locator('#status').innerText(), (t) => t === 'Cancelled');
      assert.equal(await panel.locator('#cancel').isVisible(), false);
    });

    it('evaluates the file (as a draft) and the live version on a dataset, and shows the matrix', { timeout: 4 * MINUTE }, async () => {
      // Room for the matrix: the Run panel closed (the next run opens it again), the side bar hidden.
      await wb.runCommand('View: Close All Editor Groups');
      await wb.page.locator('.tab', { hasText: 'Run: quiz' }).first().waitFor({ state: 'detached', timeout: 10_000 });
      await wb.page.locator('[aria-label^="Toggle Primary Side Bar"]').first().click();
      await wb.page.keyboard.press('Control+P');
      await wb.page.locator('.quick-input-widget input').fill('quiz.prompt');
      await quickPick('quiz.prompt').waitFor({ timeout: 10_000 });
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'plain' }).first().click({ timeout: 30_000 });
      await wb.runCommand('Prompt Registry: Evaluate Against Dataset');
      await quickPick(/^quiz-set/).waitFor({ timeout: 30_000 });
      await quickPick(/^quiz-set/).click();
      // Evaluators: exact_match is ticked already; tick contains too.
      await quickPick(/^contains/).waitFor({ timeout: 30_000 });
      await quickPick(/^contains/).click();
      await wb.page.keyboard.press('Enter');
      await quickPick(/^production/).waitFor({ timeout: 30_000 });
      await quickPick(/^production/).click();
      await quickPick(/last used/).waitFor({ timeout: 30_000 });
      await wb.page.keyboard.press('Enter');
      const matrix = await webviewFrame(wb.page, '#matrix-rows', 2 * MINUTE);
      await eventually('six rows', () => matrix.locator('#matrix-rows tr').count(), (n) => n === N);
      const heads = await matrix.locator('#matrix-head th.col').allInnerTexts();
      assert.deepEqual(heads, ['draft (quiz.prompt)', 'v1 (production)']);
      const classes = await matrix.locator('#matrix-rows tr').evaluateAll((rows) => rows.map((r) => [...r.querySelectorAll('td.cell')].map((td) => td.className.replace('cell ', ''))));
      // The draft answers the sentence, except for multiples of 3; the live version answers JSON.
      assert.deepEqual(classes, Array.from({ length: N }, (_, i) => [(i + 1) % 3 === 0 ? 'fail' : 'pass', 'fail']));
      const foot = await matrix.locator('#matrix-foot tr').evaluateAll((rows) => rows.map((r) => [...r.children].map((c) => c.textContent)));
      assert.deepEqual(foot[0], ['Pass rate', '67%', '0%']);
      assert.deepEqual(foot[1], ['Mean exact_match', '0.67', '0']);
      // The registry agrees: one experiment of the draft and v1.
      const x = (await eventually('the experiment', async () => (await registryExperiments(api))[0], (e) => e !== undefined))!;
      assert.deepEqual([x.versions, x.drafts, x.status], [[1], ['draft'], 'completed']);
      await wb.screenshot('42-eval-matrix');
      await matrix.locator('#matrix-rows tr[data-seq="2"]').click();
      await matrix.locator('#item').waitFor({ state: 'visible', timeout: 10_000 });
      assert.equal(await matrix.locator('#item-title').innerText(), 'Item 2');
      const outputs = await matrix.locator('#item-outputs pre').allInnerTexts();
      assert.deepEqual(outputs, ['The answer to question 2 is 2.', '{"answer":2}']);
      assert.deepEqual(await matrix.locator('#item-diff .line').allInnerTexts(), ['− {"answer":2}', '+ The answer to question 2 is 2.']);
      await matrix.locator('#item').scrollIntoViewIfNeeded();
      await wb.screenshot('43-eval-matrix-item');
    });

    it('reads well in a dark theme: the matrix', { timeout: 2 * MINUTE }, async () => {
      await wb.page.keyboard.press('F1');
      await wb.page.locator('.quick-input-widget input').fill('>Preferences: Color Theme');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
      await wb.page.locator('.quick-input-widget input').fill('Dark 2026');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Dark 2026' }).first().click();
      const matrix = await webviewFrame(wb.page, '#matrix-rows');
      await eventually('the dark theme reaches the matrix', () => matrix.evaluate<string>('document.body.className'), (c) => c.includes('vscode-dark'));
      await matrix.locator('#title').scrollIntoViewIfNeeded();
      await wb.screenshot('44-eval-matrix-dark');
    });

    it('runs again in the dark theme, and adds the run\'s execution to a new dataset from the execution panel', { timeout: 3 * MINUTE }, async () => {
      await wb.page.locator('.tab', { hasText: 'quiz.prompt' }).first().click();
      await wb.page.locator('.monaco-editor .view-lines', { hasText: 'plain' }).first().click();
      await wb.runCommand('Prompt Registry: Run Prompt');
      await quickPick(/last used/).waitFor({ timeout: 30_000 });
      await wb.page.keyboard.press('Enter');
      const run = await webviewFrame(wb.page, '#output');
      await eventually('done', () => run.locator('#status').innerText(), (t) => t === 'Done');
      await eventually('the dark theme reaches the Run panel', () => run.evaluate<string>('document.body.className'), (c) => c.includes('vscode-dark'));
      await wb.screenshot('41-run-panel-dark');
      const id = await run.locator('dd[data-fact="Execution"]').innerText();
      await run.locator('#execution').click();
      const detail = await webviewFrame(wb.page, '#add-to-dataset');
      await eventually('the detail', () => detail.locator('#response').innerText(), (t) => t === 'The answer to question 7 is 7.');
      await detail.locator('#add-to-dataset').click();
      await quickPick('New Dataset').waitFor({ timeout: 30_000 });
      await quickPick('New Dataset').click();
      await wb.page.locator('.quick-input-widget input').fill('from-runs');
      await wb.page.keyboard.press('Enter');
      await eventually('the note', () => detail.locator('#dataset-note').innerText(), (t) => t === 'Added to dataset from-runs as item 1.');
      const items = (await api.datasetItems('from-runs')).items;
      assert.deepEqual(items.map((i) => [i.seq, i.input, i.expected, i.source_execution_id]), [[1, { n: 7 }, 'The answer to question 7 is 7.', id]]);
      await wb.screenshot('45-add-to-dataset');
    });
  });

  describe('UI scenario: approvals', { concurrency: false }, () => {
    let wb: Workbench;
    let registry: TestServer;
    let keys: { bob: string; dave: string };
    const approvalRows = () => wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: 'Approvals' }) }).locator('.monaco-list-row');
    uiScenario(
      async (onClose) => {
        const made = await approvalsRegistry();
        registry = made.registry;
        onClose(() => made.registry.close());
        keys = made;
        const ws = workspace();
        writeFileSync(join(ws, '.vscode', 'settings.json'), JSON.stringify({ 'promptRegistry.serverUrl': registry.url }, null, 2));
        return ws;
      },
      (opened) => (wb = opened),
    );

    it('connects with bob\'s key and lists his request and dave\'s, with the badge counting the one bob may decide', { timeout: 2 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      await wb.page.locator('.welcome-view-content', { hasText: 'This registry needs you to sign in, or an API key' }).first().waitFor({ timeout: MINUTE });
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
      await wb.screenshot('15-approvals-pending');
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
      await wb.screenshot('16-live-notification');
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
      await wb.screenshot('17-approved-from-view');
    });
  });

  describe('UI scenario: rollouts and partials, against a remote registry', { concurrency: false }, () => {
    let api: RegistryApi;
    let registry: TestServer;
    let wb: Workbench;
    let rollout: Rollout;
    const pane = (title: string) => wb.page.locator('.pane', { has: wb.page.locator('.pane-header', { hasText: new RegExp(`^\\s*${title}`) }) });
    /** A row of a view by its label, exactly. */
    const row = (view: string, label: string) => pane(view).locator('.monaco-list-row', { has: wb.page.locator('.label-name', { hasText: new RegExp(`^${label}$`) }) }).first();
    /** A row's label and description, as a user reads them side by side. */
    const rowText = async (view: string, label: string) => {
      const r = row(view, label);
      const description = (await r.locator('.label-description').allInnerTexts()).join(' ');
      return `${label} ${description}`.replace(/\s+/g, ' ').trim();
    };
    /** Opens the row's context menu and clicks `item` once the menu takes clicks. */
    async function contextMenu(target: ReturnType<typeof row>, item: string, screenshot?: string): Promise<void> {
      await target.click({ button: 'right' });
      const entry = wb.page.locator('.context-view .action-label', { hasText: item }).first();
      await entry.waitFor({ timeout: 30_000 });
      // The menu takes a moment to accept clicks (a click at once only highlights the item).
      await wb.page.waitForTimeout(500);
      if (screenshot) await wb.screenshot(screenshot);
      await entry.click();
    }
    async function theme(name: string): Promise<void> {
      await wb.page.keyboard.press('F1');
      await wb.page.locator('.quick-input-widget input').fill('>Preferences: Color Theme');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: /^Preferences: Color Theme/ }).first().click();
      await wb.page.locator('.quick-input-widget input').fill(name);
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: name }).first().click();
      const dark = name.startsWith('Dark');
      await wb.page.locator(dark ? '.monaco-workbench.vs-dark' : '.monaco-workbench.vs').first().waitFor({ timeout: 30_000 });
    }
    /** The notification centre shows one line of each; expand this one to show the whole message. */
    async function expandNotification(text: string): Promise<void> {
      const item = wb.page.locator('.notification-list-item, .notification-toast', { hasText: text }).first();
      await item.hover();
      await item.locator('.action-label[aria-label^="Expand"]').first().click({ timeout: 5_000 }).catch(() => undefined);
      await wb.page.mouse.move(0, 0);
    }
    async function dialog(text: string | RegExp) {
      const box = wb.page.locator('.monaco-dialog-box', { hasText: text });
      await box.waitFor({ timeout: 30_000 });
      return box;
    }
    uiScenario(
      async (onClose) => {
        // With its Prometheus counters: which routes the trees asked.
        registry = await startTestServer('sqlite', { metricsPort: 0 });
        onClose(() => registry.close());
        api = new RegistryApi({ url: registry.url, apiKey: ADMIN_KEY });
        rollout = await seedRollouts(api);
        return workspace({}, { 'promptRegistry.serverUrl': registry.url, 'workbench.colorTheme': 'Light 2026' });
      },
      (opened) => (wb = opened),
    );

    it('shows the rollout where the live version is shown: both versions and their weights', { timeout: 3 * MINUTE }, async () => {
      await wb.openViewContainer('Prompt Registry');
      await wb.runCommand('Prompt Registry: Set API Key');
      await wb.page.locator('.quick-input-widget input').fill(ADMIN_KEY);
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.statusbar-item', { hasText: 'Prompts: remote' }).first().waitFor({ timeout: MINUTE });
      // Room for the trees: a wider side bar (its sash dragged), the Approvals view folded.
      const sidebar = (await wb.page.locator('.part.sidebar').first().boundingBox())!;
      const edge = { x: sidebar.x + sidebar.width, y: sidebar.y + sidebar.height / 2 };
      await wb.page.mouse.move(edge.x, edge.y);
      await wb.page.mouse.down();
      await wb.page.mouse.move(edge.x + 220, edge.y, { steps: 8 });
      await wb.page.mouse.up();
      await eventually('a wider side bar', async () => (await wb.page.locator('.part.sidebar').first().boundingBox())!.width, (w) => w > sidebar.width + 150);
      await pane('Approvals').locator('.pane-header').click();
      await row('Live', 'production').click();
      await row('Live', 'support-reply').filter({ hasText: 'v1 90% · v2 10% (rollout)' }).waitFor({ timeout: 30_000 });
      assert.equal(await rowText('Live', 'support-reply'), 'support-reply v1 90% · v2 10% (rollout)');
      // Under the prompt in the Prompts view too, above its versions.
      await row('Prompts', 'support-reply').click();
      await row('Prompts', 'production').filter({ hasText: 'v1 90% · v2 10% (rollout)' }).waitFor({ timeout: 30_000 });
      await row('Prompts', 'v3').waitFor({ timeout: 30_000 });
      await wb.screenshot('50-rollout-tree');
      // The environment's rollouts in one list request (two prompts are live in production), none per prompt.
      const asked = await registry.running.registry.operatorMetrics!.registry.getSingleMetric('prompt_registry_http_requests_total')!.get();
      const count = (route: string) => asked.values.filter((v) => v.labels.method === 'GET' && v.labels.route === route).reduce((n, v) => n + v.value, 0);
      assert.ok(count('/rollouts') >= 1, JSON.stringify(asked.values));
      assert.equal(count('/prompts/:name/rollouts/:environment'), 0, JSON.stringify(asked.values));
    });

    it('changes the weight from the context menu; the tree follows', { timeout: 2 * MINUTE }, async () => {
      await contextMenu(row('Live', 'support-reply'), 'Change Rollout Weight…', '51-rollout-context-menu');
      const input = wb.page.locator('.quick-input-widget input');
      await eventually('the current weight to start from', () => input.inputValue(), (v) => v === '10');
      await input.fill('50');
      await wb.page.keyboard.press('Enter');
      // production is protected: a confirmation first.
      const box = await dialog('Change the rollout of support-reply in production to v1 50% · v2 50%?');
      await box.locator('.monaco-button', { hasText: 'Change Weight' }).first().click();
      await wb.waitForNotification('support-reply in production: v1 50% · v2 50% (rollout).', 30_000);
      await row('Live', 'support-reply').filter({ hasText: 'v1 50% · v2 50% (rollout)' }).waitFor({ timeout: 30_000 });
      const now = await api.rollout('support-reply', 'production');
      assert.deepEqual([now.id, now.weight, now.guard?.metric], [rollout.id, 50, 'error_rate'], 'the same rollout, its guard kept');
    });

    it('compares the two variants side by side since the rollout started', { timeout: 2 * MINUTE }, async () => {
      await contextMenu(row('Live', 'support-reply'), 'Compare Rollout Variants');
      const stats = await webviewFrame(wb.page, '#comparison-rows tr');
      const expected = await api.compare('support-reply', 1, 2, { environment: 'production', from: rollout.started_at });
      assert.deepEqual([expected.a.count, expected.b.count], [120, 30]);
      await eventually('the comparison heads', async () => [await stats.locator('#head-a').innerText(), await stats.locator('#head-b').innerText()], (h) => h[0] === 'v1 live (120)' && h[1] === 'v2 candidate (30)');
      assert.ok((await stats.locator('#comparison-rows tr').count()) >= 6);
      assert.match(await stats.locator('#rollout').innerText(), /^Rollout in production: v1 \(live\) 50% · v2 \(candidate\) 50%, since /);
      assert.equal(await stats.locator('#range').inputValue(), 'rollout');
      assert.equal(await stats.locator('#environment').inputValue(), 'production');
      assert.deepEqual(await stats.locator('#versions-rows tr').evaluateAll((rows) => rows.map((r) => r.querySelector('td')?.textContent)), ['v1', 'v2']);
      await wb.runCommand('Notifications: Clear All Notifications');
      // The comparison leads the page, under the rollout's banner.
      assert.equal(await stats.locator('#content > section').first().getAttribute('id'), 'compare-section');
      await wb.screenshot('53-rollout-stats-compare');
    });

    it('reads well in a dark theme: the tree and the comparison', { timeout: 2 * MINUTE }, async () => {
      await theme('Dark 2026');
      const stats = await webviewFrame(wb.page, '#comparison-rows tr');
      await eventually('the dark theme reaches the webview', () => stats.evaluate<string>(`document.body.className`), (c) => c.includes('vscode-dark'));
      await stats.locator('#rollout').scrollIntoViewIfNeeded();
      await wb.screenshot('54-rollout-dark');
      await theme('Light 2026');
    });

    it('promotes from the context menu: the candidate is live for every key', { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('View: Close All Editors');
      await wb.runCommand('Notifications: Clear All Notifications');
      await contextMenu(row('Live', 'support-reply'), 'Promote Rollout');
      const box = await dialog('Promote support-reply v2 in production? It serves every key; v1 serves none.');
      await box.locator('.monaco-button', { hasText: 'Promote' }).first().click();
      await wb.waitForNotification('support-reply v2 is live in production for every key (promoted; was v1).', 30_000);
      await expandNotification('for every key');
      await eventually('the Live view without the rollout', () => rowText('Live', 'support-reply'), (t) => /^support-reply v2 · \S+ · \d{4}-\d\d-\d\d$/.test(t));
      assert.equal((await api.live('support-reply', 'production'))?.version, 2);
      assert.equal(await api.rolloutIfAny('support-reply', 'production'), undefined);
      await eventually('the Prompts view without the rollout row', () => row('Prompts', 'production').count(), (n) => n === 0);
      await wb.screenshot('52-rollout-promoted');
    });

    it("follows another client's rollout live, and shows the registry's refusal of a second one", { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('Notifications: Clear All Notifications');
      const started = await api.rolloutStart('support-reply', 'production', { candidate: 3, weight: 20 });
      assert.ok(started.kind === 'applied');
      // No refresh: the event stream brings it.
      await row('Live', 'support-reply').filter({ hasText: 'v2 80% · v3 20% (rollout)' }).waitFor({ timeout: 30_000 });
      await row('Prompts', 'production').filter({ hasText: 'v2 80% · v3 20% (rollout)' }).waitFor({ timeout: 30_000 });
      // Start Rollout of v1 from its row: the registry answers 409 rollout_exists, shown as it says it.
      await contextMenu(row('Prompts', 'v1'), 'Start Rollout…');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'production' }).first().click({ timeout: 30_000 });
      await eventually('the weight, 10 to start from', () => wb.page.locator('.quick-input-widget input').inputValue(), (v) => v === '10');
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'No guard' }).first().click({ timeout: 30_000 });
      const box = await dialog('Start a rollout of support-reply in production: v2 90% · v1 10%?');
      await box.locator('.monaco-button', { hasText: 'Start Rollout' }).first().click();
      await wb.waitForNotification('a rollout of version 3 of "support-reply" is already running in production; promote or abort it before rolling out version 1', 30_000);
      await expandNotification('is already running');
      await wb.screenshot('57-rollout-refused');
      assert.equal((await api.rollout('support-reply', 'production')).candidate, 3, 'nothing changed');
    });

    it('aborts from the context menu with a reason; then starts one with a guard from the Live view', { timeout: 3 * MINUTE }, async () => {
      await wb.runCommand('Notifications: Clear All Notifications');
      await contextMenu(row('Live', 'support-reply'), 'Abort Rollout…');
      const input = wb.page.locator('.quick-input-widget input');
      await input.waitFor({ timeout: 10_000 });
      await input.fill('answers too long');
      await wb.page.keyboard.press('Enter');
      await wb.waitForNotification('The rollout of support-reply v3 in production is aborted: v2 serves every key again.', 30_000);
      await eventually('the Live view without the rollout', () => rowText('Live', 'support-reply'), (t) => /^support-reply v2 · \S+ · \d{4}-\d\d-\d\d$/.test(t));
      const audit = (await registry.admin.get('/audit?action=rollout.aborted')).body.items as Array<{ actor: string; details: { reason?: string } }>;
      assert.equal(audit[0]?.details.reason, 'answers too long');

      await contextMenu(row('Live', 'support-reply'), 'Start Rollout…');
      await wb.page.locator('.quick-input-list .monaco-list-row', { has: wb.page.locator('.label-name', { hasText: /^v3$/ }) }).first().click({ timeout: 30_000 });
      await eventually('the weight, 10 to start from', () => input.inputValue(), (v) => v === '10');
      await input.fill('25');
      await wb.page.keyboard.press('Enter');
      await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'Error rate' }).first().click({ timeout: 30_000 });
      await eventually('the window, 200 to start from', () => input.inputValue(), (v) => v === '200');
      await wb.page.keyboard.press('Enter');
      await eventually('the threshold, 0.05 to start from', () => input.inputValue(), (v) => v === '0.05');
      await input.fill('0.02');
      await wb.page.keyboard.press('Enter');
      const box = await dialog('Start a rollout of support-reply in production: v2 75% · v3 25%?');
      assert.match(await box.innerText(), /Guard: aborts when error_rate over its last 200 executions, more than 0.02 above the live version’s\./);
      await box.locator('.monaco-button', { hasText: 'Start Rollout' }).first().click();
      await wb.waitForNotification('support-reply in production: v2 75% · v3 25% (rollout started).', 30_000);
      await row('Live', 'support-reply').filter({ hasText: 'v2 75% · v3 25% (rollout)' }).waitFor({ timeout: 30_000 });
      const running = await api.rollout('support-reply', 'production');
      assert.deepEqual([running.candidate, running.weight, running.guard], [3, 25, { metric: 'error_rate', window: 200, threshold: 0.02, comparison: 'above_live' }]);
    });

    it('shows who includes a partial under it: "Used by", with where each is live', { timeout: 2 * MINUTE }, async () => {
      await wb.runCommand('Notifications: Clear All Notifications');
      await row('Prompts', 'support-reply').click(); // collapsed: safety's versions are the only v1, v2
      await pane('Live').locator('.pane-header').click(); // folded: room for the Prompts view
      await row('Prompts', 'safety').click();
      await row('Prompts', 'Used by').waitFor({ timeout: 30_000 });
      assert.equal(await rowText('Prompts', 'Used by'), 'Used by 5 versions of 3 prompts, 2 live');
      await row('Prompts', 'Used by').click();
      await row('Prompts', 'faq v1').waitFor({ timeout: 30_000 });
      const rows = await Promise.all(['support-reply v3', 'support-reply v2', 'support-reply v1', 'greeter v1', 'faq v1'].map((l) => rowText('Prompts', l)));
      assert.deepEqual(rows, ['support-reply v3 not live', 'support-reply v2 live in production', 'support-reply v1 not live', 'greeter v1 live in staging', 'faq v1 not live']);
      await wb.screenshot('55-used-by');
    });

    it('before deploying the partial, the confirmation lists the live prompts that follow it', { timeout: 3 * MINUTE }, async () => {
      const deployV2 = async () => {
        await contextMenu(row('Prompts', 'v2'), 'Deploy Version…');
        await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'production' }).first().waitFor({ timeout: 30_000 });
        await wb.page.locator('.quick-input-widget input').fill('production');
        await wb.page.keyboard.press('Enter');
        return dialog('Deploy safety v2 to production?');
      };
      let box = await deployV2();
      const text = await box.innerText();
      assert.match(text, /2 live prompts include safety as a partial; their text changes with what is live in production:/);
      assert.match(text, /• support-reply v2 \(live in production\) includes \{\{> safety\}\}/);
      assert.match(text, /• greeter v1 \(live in staging\) includes \{\{> "safety@production"\}\}/);
      assert.doesNotMatch(text, /faq/, 'a pinned reference does not move');
      await wb.screenshot('56-deploy-partial-confirm');
      await box.locator('.monaco-button', { hasText: 'Cancel' }).first().click();
      assert.equal((await api.live('safety', 'production'))?.version, 1, 'cancelled: nothing deployed');

      await theme('Dark 2026');
      await wb.screenshot('55-used-by-dark');
      box = await deployV2();
      await wb.screenshot('56-deploy-partial-confirm-dark');
      await box.locator('.monaco-button', { hasText: 'Deploy' }).first().click();
      await wb.waitForNotification('safety v2 is live in production (was v1).', 30_000);
      assert.equal((await api.live('safety', 'production'))?.version, 2);
    });
  });

  describe('Sign In with the identity provider', { concurrency: false }, () => {
    it('signs in with the device flow in the extension host: the registry takes the token, publishes as the person; refreshed, cleared at sign-out, ended when refused; provider from settings', { timeout: 6 * MINUTE }, async () => {
      // Access tokens of 8 s: the extension refreshes them at half their life, so the test sees it happen.
      const idp = await startIdp({ interval: 1, accessTokenTtl: 8 });
      // The real registry trusting the provider; it tells the extension where and how to sign in (GET /auth/config).
      const registry = await startTestServer('sqlite', { oidc: idp.config() });
      assert.equal((await registry.admin.post('/prompts/seeded/versions', { content: 'Seeded {{x}}' })).status, 201);
      try {
        const log = await runHostSuite('sign-in tests', { PR_SIGNIN_IDP: idp.issuer, PR_SIGNIN_REGISTRY: registry.url, PR_SIGNIN_ADMIN_KEY: ADMIN_KEY });
        assert.match(log, /4 passing/);
        // Seen from outside: a device-code grant, refreshes, and the refresh token revoked at sign-out.
        assert.equal(idp.tokenRequests.filter((g) => g === 'device_code').at(-1), 'device_code');
        assert.ok(idp.tokenRequests.filter((g) => g === 'refresh_token').length >= 2, idp.tokenRequests.join(' '));
        assert.equal(idp.revoked.length, 3, 'at the two sign-outs, and by the second test');
      } finally {
        await registry.close();
        await idp.close();
      }
    });

    describe('UI', { concurrency: false }, () => {
      let idp: Awaited<ReturnType<typeof startIdp>>;
      let registry: TestServer;
      let wb: Workbench;
      uiScenario(
        async (onClose) => {
          // Not 127.0.0.1: VS Code forwards localhost and 127.0.0.1 links opened from a remote
          // extension host to the remote's port (right for a real remote, wrong when all is one machine).
          // ann may publish (ml-eng), vic may only read.
          idp = await startIdp({ interval: 1, host: '127.0.0.2', groups: { ann: ['ml-eng'], vic: ['readers'] } });
          onClose(() => idp.close());
          registry = await startTestServer('sqlite', { oidc: idp.config() });
          onClose(() => registry.close());
          for (const name of ['onboarding', 'support-reply']) assert.equal((await registry.admin.post(`/prompts/${name}/versions`, { content: `${name} for {{name}}` })).status, 201);
          return workspace({ 'greeting.prompt': GREETING }, { 'promptRegistry.serverUrl': registry.url });
        },
        (opened) => (wb = opened),
      );

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
        // The registry took the token: the tree shows its prompts.
        await wb.page.locator('.monaco-list-row', { hasText: 'support-reply' }).first().waitFor({ timeout: MINUTE });
        const rows = await wb.treeRows('Prompts');
        assert.deepEqual(rows.filter((r) => /onboarding|support-reply/.test(r)).length, 2, rows.join(' | '));
        await account.hover();
        const hover = wb.page.locator('.monaco-hover, .workbench-hover', { hasText: 'Identity provider' }).first();
        await hover.waitFor({ timeout: 30_000 });
        const tooltip = await hover.innerText();
        assert.ok(tooltip.includes(registry.url) && tooltip.includes(idp.issuer), tooltip);
        await wb.screenshot('signin-04-signed-in');
      });

      it('publishes a .prompt file as the signed-in person', { timeout: 2 * MINUTE }, async () => {
        await wb.page.mouse.move(0, 0);
        await wb.page.keyboard.press('Control+P');
        await wb.page.locator('.quick-input-widget input').fill('greeting.prompt');
        await wb.page.locator('.quick-input-list .monaco-list-row', { hasText: 'greeting.prompt' }).first().waitFor({ timeout: 10_000 });
        await wb.page.keyboard.press('Enter');
        await wb.page.locator('.monaco-editor .view-lines', { hasText: 'welcome to' }).first().waitFor({ timeout: 30_000 });
        await wb.runCommand('Prompt Registry: Publish Version');
        await wb.waitForNotification('Published greeting version 1', 30_000);
        const v = await registry.admin.get('/prompts/greeting/versions/1');
        assert.equal(v.body.created_by, 'ann@example.com');
        await wb.page.locator('.monaco-list-row', { hasText: 'greeting' }).first().waitFor({ timeout: MINUTE });
        await wb.screenshot('signin-04b-published-as-ann');
      });

      it('signs out from the palette: the account leaves the status bar', { timeout: 2 * MINUTE }, async () => {
        await wb.page.mouse.move(0, 0);
        await wb.runCommand('Prompt Registry: Sign Out');
        await wb.page.locator('.statusbar-item', { hasText: 'ann@example.com' }).first().waitFor({ state: 'detached', timeout: MINUTE });
        await wb.page.locator('.welcome-view-content', { hasText: 'This registry needs you to sign in' }).first().waitFor({ timeout: MINUTE });
        await wb.screenshot('signin-05-signed-out');
        assert.equal(idp.revoked.length, 1);
      });

      it('shows the registry\'s 403 to a person who may read but not publish', { timeout: 2 * MINUTE }, async () => {
        await wb.runCommand('Prompt Registry: Sign In');
        const codeNote = /enter code ([A-Z]{4}-[A-Z]{4}) at (\S+)\./;
        await wb.waitForNotification(codeNote, 30_000);
        const note = wb.page.locator('.notification-list-item, .notification-toast', { hasText: codeNote }).first();
        const [, code, verificationUri] = codeNote.exec(await note.innerText())!;
        // The provider's part over HTTP this time: the browser tab was shown above.
        await idp.approve(verificationUri!, code!, 'vic');
        await wb.page.locator('.statusbar-item', { hasText: 'vic@example.com' }).first().waitFor({ timeout: MINUTE });
        await wb.page.locator('.monaco-list-row', { hasText: 'support-reply' }).first().waitFor({ timeout: MINUTE });
        // greeting.prompt is still the active editor: the same file ann published.
        await wb.runCommand('Prompt Registry: Publish Version');
        await wb.waitForNotification('the credential "vic@example.com" lacks the scope "write" (it has: read)', 30_000);
        await wb.screenshot('signin-06-forbidden');
        assert.equal((await registry.admin.get('/prompts/greeting')).body.latest_version, 1, 'nothing published');
      });
    });
  });
});
