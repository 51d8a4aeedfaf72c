import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PromptNotFoundError, RegistryApi, RegistryError, RegistryUnreachableError } from '../../client/index.js';
import { diff, FolderError, pull, push } from '../../cli/sync/index.js';
import { DIALECTS } from '../support/db.js';
import { freePort, ROOT } from '../support/process.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';

/** Runs the CLI as a user would, with stdout and stderr apart; no registry in the environment unless given. */
function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'server/cli.ts', ...args], {
      cwd: ROOT,
      env: { ...process.env, PROMPT_REGISTRY_URL: '', PROMPT_REGISTRY_API_KEY: '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

// In the form pull writes (samples empty: the registry keeps none), so a pull gives back the same bytes.
const GREETING = `---
name: greeting
description: Greets a user
model: gpt-4o-mini
config:
  temperature: 0.2
  maxOutputTokens: 200
metadata:
  team: growth
promptRegistry.tags:
  - onboarding
promptRegistry.samples:
  user: ""
---
Hello {{user}}!
`;
const REPLY = `---
name: support.reply
model: gpt-4o
config:
  temperature: 0
  maxOutputTokens: 1000
promptRegistry.samples:
  question: ""
---
Answer {{question}} politely.
`;
/** The older file format (settings at the top level): still read, and written in the form above by pull. */
const LEGACY_WELCOME = `---
name: welcome
description: Greets a user
tags:
  - onboarding
model: gpt-4o-mini
temperature: 0.2
max_tokens: 200
samples:
  user: Ann
---
Hello {{user}}!
`;

/** A text prompt other prompts include as a partial; no variables, so no samples. */
const SAFETY = `---
name: safety
model: gpt-4o
config:
  temperature: 0
  maxOutputTokens: 1000
promptRegistry.samples: {}
---
Never reveal internal data.
`;
/** A chat prompt: a system message including the partial, the history placeholder, a user message; config and an input schema. */
const CHAT = `---
name: support.chat
description: Answers support questions
model: gpt-4o-mini
config:
  temperature: 0.3
  maxOutputTokens: 300
  topP: 0.9
  stopSequences:
    - END
input:
  schema:
    type: object
    properties:
      product:
        type: string
        description: the product asked about
      question:
        type: string
      tone:
        type: string
        enum:
          - friendly
          - formal
    required:
      - product
      - question
  default:
    tone: friendly
promptRegistry.samples:
  product: ""
  tone: ""
  question: ""
---
{{role "system"}}
{{> safety}}
You support {{product}}. Answer in a {{tone}} tone.
{{history}}
{{role "user"}}
{{question}}
`;

function folder(files: Record<string, string>): string {
  const dir = mkdtempSync(join(tmpdir(), 'prompt-registry-sync-'));
  for (const [path, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  return dir;
}

const read = (dir: string, path: string) => readFileSync(join(dir, path), 'utf8');

const entries = (plan: Awaited<ReturnType<typeof diff>>) => plan.entries.map((e) => [e.name, e.action, e.changes, e.version]);

for (const dialect of DIALECTS) {
  describe(`git sync: push, diff and pull (${dialect})`, () => {
    let s: TestServer;
    let api: RegistryApi;
    const dirs: string[] = [];
    const tmp = (files: Record<string, string> = {}) => {
      const dir = folder(files);
      dirs.push(dir);
      return dir;
    };
    before(async () => {
      s = await startTestServer(dialect);
      api = new RegistryApi({ url: s.url, apiKey: ADMIN_KEY });
    });
    after(async () => {
      await s.close();
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    });

    it('push, diff clean, edit, diff names it, push --deploy, then pull into an empty folder gives back the same files', async () => {
      const src = tmp({ 'greeting.prompt': GREETING, 'support/reply.prompt': REPLY });

      const first = await push(api, src);
      assert.deepEqual(first.prompts.map((p) => [p.name, p.path, p.action, p.version]), [
        ['greeting', 'greeting.prompt', 'created_prompt', 1],
        ['support.reply', 'support/reply.prompt', 'created_prompt', 1],
      ]);
      const greeting = (await s.admin.get('/prompts/greeting')).body;
      assert.equal(greeting.description, 'Greets a user');
      assert.deepEqual(greeting.tags, ['onboarding']);
      const v1 = (await s.admin.get('/prompts/greeting/versions/1')).body;
      assert.deepEqual([v1.content, v1.model, v1.temperature, v1.max_tokens, v1.metadata], ['Hello {{user}}!\n', 'gpt-4o-mini', 0.2, 200, { team: 'growth' }]);

      // A second push changes nothing.
      const again = await push(api, src);
      assert.equal(again.changed, false);
      assert.deepEqual(again.prompts.map((p) => p.action), ['none', 'none']);
      assert.equal((await s.admin.get('/prompts/greeting')).body.latest_version, 1);
      assert.equal((await s.admin.get('/prompts/support.reply')).body.latest_version, 1);
      const clean = await diff(api, src);
      assert.equal(clean.changed, false);
      assert.deepEqual(entries(clean), [
        ['greeting', 'none', [], 1],
        ['support.reply', 'none', [], 1],
      ]);

      writeFileSync(join(src, 'support/reply.prompt'), REPLY.replace('politely', 'politely and briefly').replace('temperature: 0\n', 'temperature: 0.5\n'));
      writeFileSync(join(src, 'greeting.prompt'), GREETING.replace('Greets a user', 'Welcomes a user'));
      const dirty = await diff(api, src);
      assert.equal(dirty.changed, true);
      assert.deepEqual(entries(dirty), [
        ['greeting', 'update_prompt', ['description'], 1],
        ['support.reply', 'create_version', ['content', 'temperature'], null],
      ]);
      assert.equal((await s.admin.get('/prompts/support.reply')).body.latest_version, 1, 'diff changes nothing');

      const second = await push(api, src, { deploy: 'staging', message: 'shorter answers' });
      assert.deepEqual(second.prompts.map((p) => [p.name, p.action, p.version, p.deploy?.status]), [
        ['greeting', 'updated_prompt', 1, 'deployed'],
        ['support.reply', 'created_version', 2, 'deployed'],
      ]);
      const reply = (await s.admin.get('/prompts/support.reply')).body;
      assert.deepEqual([reply.latest_version, reply.environments.staging.version], [2, 2]);
      assert.equal((await s.admin.get('/prompts/support.reply/versions/2')).body.message, 'shorter answers');
      assert.equal((await s.admin.get('/prompts/greeting')).body.description, 'Welcomes a user');
      assert.equal((await diff(api, src)).changed, false);

      const out = tmp();
      await pull(api, out, { layout: 'nested' });
      assert.equal(read(out, 'greeting.prompt'), read(src, 'greeting.prompt'));
      assert.equal(read(out, 'support/reply.prompt'), read(src, 'support/reply.prompt'));
      const live = tmp();
      const fromStaging = await pull(api, live, { environment: 'staging', layout: 'nested' });
      assert.deepEqual(fromStaging.prompts.map((p) => [p.name, p.path, p.version, p.written]), [
        ['greeting', 'greeting.prompt', 1, true],
        ['support.reply', 'support/reply.prompt', 2, true],
      ]);
      assert.equal(read(live, 'support/reply.prompt'), read(src, 'support/reply.prompt'));
      const flat = tmp();
      await pull(api, flat, { environment: 'staging' });
      assert.equal(read(flat, 'support.reply.prompt'), read(src, 'support/reply.prompt'), 'flat: the name is the file name');
      assert.deepEqual(await pull(api, tmp(), { environment: 'production' }), { prompts: [], folder_only: [], skipped: [] }, 'nothing live in production');
    });

    it('names prompts by path, keeps a file where it is and its samples on pull, and deploys a file that matches an older version', async () => {
      const src = tmp({
        // No name in the front matter: the path names it.
        'billing/refund.prompt': 'Refund {{order}} for {{customer}}.\n',
        // In the older format: still read and pushed.
        'elsewhere/welcome.prompt': LEGACY_WELCOME,
      });
      await push(api, src);
      assert.equal((await s.admin.get('/prompts/billing.refund/versions/1')).body.content, 'Refund {{order}} for {{customer}}.\n');
      const welcomeV1 = (await s.admin.get('/prompts/welcome/versions/1')).body;
      assert.deepEqual([welcomeV1.model, welcomeV1.temperature, welcomeV1.max_tokens, welcomeV1.content], ['gpt-4o-mini', 0.2, 200, 'Hello {{user}}!\n']);

      // Pulled into the same folder: written where the file is, in the Dotprompt form, keeping its sample values.
      const pulled = await pull(api, src);
      const welcome = pulled.prompts.find((p) => p.name === 'welcome');
      assert.deepEqual([welcome?.path, welcome?.written], ['elsewhere/welcome.prompt', true], 'the old-format file is rewritten');
      assert.equal(read(src, 'elsewhere/welcome.prompt'), GREETING.replace('greeting', 'welcome').replace('\nmetadata:\n  team: growth', '').replace('user: ""', 'user: Ann'));
      assert.equal((await pull(api, src)).prompts.find((p) => p.name === 'welcome')?.written, false, 'a second pull has nothing to write');
      assert.match(read(src, 'billing/refund.prompt'), /^---\nname: billing\.refund\n/, 'the file is written out in full');
      assert.deepEqual(pulled.folder_only, []);
      assert.equal((await diff(api, src)).changed, false);

      // Back to version 1's text after a version 2: the registry keeps one version per content, so nothing to create.
      const v1 = read(src, 'billing/refund.prompt');
      writeFileSync(join(src, 'billing/refund.prompt'), v1.replace('}}.', '}} today.'));
      await push(api, src);
      writeFileSync(join(src, 'billing/refund.prompt'), v1);
      const older = await diff(api, src);
      assert.equal(older.changed, false);
      assert.deepEqual(older.entries.find((e) => e.name === 'billing.refund'), { name: 'billing.refund', path: 'billing/refund.prompt', action: 'none', changes: ['content'], latest: 2, version: 1 });
      const deployed = await push(api, src, { deploy: 'production' });
      assert.equal(deployed.prompts.find((p) => p.name === 'billing.refund')?.version, 1);
      const refund = (await s.admin.get('/prompts/billing.refund')).body;
      assert.deepEqual([refund.latest_version, refund.environments.production.version], [2, 1]);
    });

    it('a chat prompt with a partial: push, diff exit 0, edit a message, diff exit 2 naming it, push, pull gives back the same files', async () => {
      const registry = { PROMPT_REGISTRY_URL: s.url, PROMPT_REGISTRY_API_KEY: ADMIN_KEY };
      // The chat prompt comes first in the folder; push still creates the partial it includes first.
      const src = tmp({ 'support/chat.prompt': CHAT, 'safety.prompt': SAFETY });
      const first = await push(api, src);
      assert.deepEqual(first.prompts.map((p) => [p.name, p.action, p.version]), [
        ['safety', 'created_prompt', 1],
        ['support.chat', 'created_prompt', 1],
      ]);
      const v1 = (await s.admin.get('/prompts/support.chat/versions/1')).body;
      assert.equal(v1.type, 'chat');
      assert.deepEqual(v1.messages, [
        { role: 'system', content: '{{> safety}}\nYou support {{product}}. Answer in a {{tone}} tone.' },
        { type: 'placeholder', name: 'history' },
        { role: 'user', content: '{{question}}' },
      ]);
      assert.deepEqual([v1.model, v1.temperature, v1.max_tokens, v1.config.top_p, v1.config.stop], ['gpt-4o-mini', 0.3, 300, 0.9, ['END']]);
      assert.deepEqual(v1.input_schema.properties.tone, { type: 'string', enum: ['friendly', 'formal'], default: 'friendly' });
      assert.deepEqual(v1.includes.map((i: any) => i.prompt), ['safety']);
      const rendered = (await s.admin.post('/prompts/support.chat/render', { version: 1, variables: { product: 'Acme', question: 'Hi?' }, placeholders: { history: [{ role: 'assistant', content: 'Hello' }] } })).body;
      assert.deepEqual(rendered.messages.map((m: any) => [m.role, m.content]), [
        ['system', 'Never reveal internal data.\nYou support Acme. Answer in a friendly tone.'],
        ['assistant', 'Hello'],
        ['user', 'Hi?'],
      ]);

      assert.equal((await push(api, src)).changed, false, 'a second push changes nothing');
      const clean = await cli(['diff', src], registry);
      assert.equal(clean.code, 0, clean.stdout + clean.stderr);
      assert.match(clean.stdout, /unchanged\s+support\.chat \(support\/chat\.prompt\) v1/);

      writeFileSync(join(src, 'support/chat.prompt'), CHAT.replace('{{role "user"}}\n{{question}}', '{{role "user"}}\nQuestion: {{question}}'));
      const dirty = await cli(['diff', src], registry);
      assert.equal(dirty.code, 2, dirty.stdout + dirty.stderr);
      assert.match(dirty.stdout, /new version\s+support\.chat \(support\/chat\.prompt\): messages \(latest is v1\)/);
      assert.match(dirty.stdout, /unchanged\s+safety/);
      const second = await push(api, src);
      assert.deepEqual(second.prompts.map((p) => [p.name, p.action, p.version]), [
        ['safety', 'none', 1],
        ['support.chat', 'created_version', 2],
      ]);
      assert.equal((await s.admin.get('/prompts/support.chat/versions/2')).body.messages[2].content, 'Question: {{question}}');
      assert.equal((await diff(api, src)).changed, false);

      // A message list the file format cannot hold is reported by name, not written half; the rest is pulled.
      const examples = await s.admin.post('/prompts/few-shot/versions', { type: 'chat', messages: [{ type: 'placeholder', name: 'examples' }, { role: 'user', content: '{{q}}' }] });
      assert.equal(examples.status, 201, JSON.stringify(examples.body));
      const out = tmp();
      const pulled = await pull(api, out, { layout: 'nested' });
      assert.deepEqual(pulled.skipped.map((k) => [k.name, k.version]), [['few-shot', 1]]);
      assert.match(pulled.skipped[0]!.reason, /placeholder "examples" has no \.prompt form/);
      assert.equal(read(out, 'safety.prompt'), read(src, 'safety.prompt'));
      assert.equal(read(out, 'support/chat.prompt'), read(src, 'support/chat.prompt'));
      assert.equal((await diff(api, out)).changed, false);
    });

    it('refuses an invalid folder naming each file and line with nothing pushed; a refused credential and an unreachable registry are errors', async () => {
      const bad = tmp({
        'fine.prompt': '---\nname: fine-one\n---\nHi {{x}}\n',
        'broken.prompt': '---\nname: broken\ntemperature: [1,\n---\nHi\n',
        'settings.prompt': '---\nname: settings\ntemperature: 7\n---\nHi\n',
        'template.prompt': '---\nname: template-one\n---\nline one\nHi {{#if x}} never closed\n',
        'empty.prompt': '---\nname: empty\n---\n',
        'twice.prompt': '---\nname: fine-one\n---\nHello\n',
      });
      const refused = await push(api, bad).then(
        () => assert.fail('pushed an invalid folder'),
        (err: unknown) => err,
      );
      assert.ok(refused instanceof FolderError);
      assert.deepEqual(
        refused.problems.map((p) => `${p.path}:${p.line}`),
        ['broken.prompt:3', 'empty.prompt:4', 'settings.prompt:3', 'template.prompt:6', 'twice.prompt:1'],
      );
      assert.match(refused.message, /settings\.prompt:3: front matter: temperature: temperature is 0 to 2/);
      assert.match(refused.message, /empty\.prompt:4: content: content is required/);
      assert.match(refused.message, /twice\.prompt:1: prompt "fine-one" is also in fine\.prompt/);
      assert.equal((await s.admin.get('/prompts')).body.items.some((p: any) => p.name === 'fine-one'), false, 'the valid file was not pushed either');

      // A partial neither in the folder nor in the registry: refused before anything is created, by diff too.
      const dangling = tmp({ 'alone.prompt': 'Hi\n', 'asks.prompt': '{{role "system"}}\nBe kind.\n{{role "user"}}\n{{> nowhere}} {{q}}\n' });
      await assert.rejects(push(api, dangling), /asks\.prompt:4: \{\{> nowhere\}\}: no prompt "nowhere", in the folder or in the registry/);
      await assert.rejects(diff(api, dangling), FolderError);
      assert.equal((await s.admin.get('/prompts/alone')).status, 404, 'nothing pushed');

      const good = tmp({ 'ok.prompt': 'Hi {{x}}\n' });
      // A push the credential could not finish is refused before anything is created.
      const writer = (await s.admin.post('/keys', { name: 'ci-writer', scopes: ['read', 'write', 'deploy:staging'] })).body.key;
      const asWriter = new RegistryApi({ url: s.url, apiKey: writer });
      await assert.rejects(push(asWriter, good, { deploy: 'production' }), /"ci-writer" may not deploy to production .*nothing was pushed/);
      await assert.rejects(push(asWriter, good, { deploy: 'qa' }), /no environment "qa" \(it has dev, staging, production\): nothing was pushed/);
      const reader = (await s.admin.post('/keys', { name: 'ci-reader', scopes: ['read'] })).body.key;
      await assert.rejects(push(new RegistryApi({ url: s.url, apiKey: reader }), good), /"ci-reader" may not publish/);
      assert.equal((await diff(new RegistryApi({ url: s.url, apiKey: reader }), good)).changed, true, 'a read key may diff');
      const wrongKey = await push(new RegistryApi({ url: s.url, apiKey: 'not-a-key' }), good).catch((err: unknown) => err);
      assert.ok(wrongKey instanceof RegistryError && wrongKey.status === 401, String(wrongKey));
      const unreachable = await diff(new RegistryApi({ url: `http://127.0.0.1:${await freePort()}`, apiKey: ADMIN_KEY }), good).catch((err: unknown) => err);
      assert.ok(unreachable instanceof RegistryUnreachableError, String(unreachable));
      await assert.rejects(api.getPrompt('ok'), PromptNotFoundError);
    });
  });
}

describe('the push, diff and pull commands (sqlite)', () => {
  let s: TestServer;
  const dirs: string[] = [];
  const tmp = (files: Record<string, string> = {}) => {
    const dir = folder(files);
    dirs.push(dir);
    return dir;
  };
  before(async () => {
    s = await startTestServer('sqlite');
  });
  after(async () => {
    await s.close();
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  });

  it('exit 0 after a push, 2 with the changed file named, 1 on a bad file (nothing pushed), an unreachable registry or no credential', async () => {
    const registry = { PROMPT_REGISTRY_URL: s.url, PROMPT_REGISTRY_API_KEY: ADMIN_KEY };
    const src = tmp({ 'greeting.prompt': GREETING, 'support/reply.prompt': REPLY });
    const pushed = await cli(['push', src], registry);
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.match(pushed.stdout, /support\.reply\s+created with v1 \(support\/reply\.prompt\)/);
    assert.match(pushed.stdout, /2 created, 0 updated, 0 unchanged\n/);
    const clean = await cli(['diff', src], registry);
    assert.equal(clean.code, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /0 new prompts, 0 new versions, 0 prompt updates, 2 unchanged/);

    writeFileSync(join(src, 'support/reply.prompt'), REPLY.replace('politely', 'politely and briefly'));
    const [dirty, asJson] = await Promise.all([cli(['diff', src], registry), cli(['diff', src, '--json', '--url', s.url, '--api-key', ADMIN_KEY])]);
    assert.equal(dirty.code, 2, dirty.stdout + dirty.stderr);
    assert.match(dirty.stdout, /new version\s+support\.reply \(support\/reply\.prompt\): content \(latest is v1\)/);
    assert.match(dirty.stdout, /unchanged\s+greeting/);
    assert.equal(asJson.code, 2);
    assert.deepEqual(JSON.parse(asJson.stdout).entries.map((e: any) => [e.name, e.action]), [['greeting', 'none'], ['support.reply', 'create_version']]);

    const bad = tmp({ 'fine.prompt': 'Hi {{x}}\n', 'broken.prompt': '---\nname: broken\n' });
    const [refused, unreachable, noKey, noUrl] = await Promise.all([
      cli(['push', bad], registry),
      cli(['pull', tmp(), '--url', `http://127.0.0.1:${await freePort()}`, '--api-key', ADMIN_KEY]),
      cli(['push', src, '--url', s.url]),
      cli(['diff', src, '--api-key', ADMIN_KEY]),
    ]);
    assert.equal(refused.code, 1, refused.stdout);
    assert.match(refused.stderr, /broken\.prompt:1: the front matter has no closing "---" line/);
    assert.equal((await s.admin.get('/prompts/fine')).status, 404, 'nothing pushed');
    assert.equal(unreachable.code, 1);
    assert.match(unreachable.stderr, /prompt-registry: the prompt registry at http:\/\/127\.0\.0\.1:\d+ is unreachable/);
    assert.equal(noKey.code, 1);
    assert.match(noKey.stderr, /no credential: give --api-key or set PROMPT_REGISTRY_API_KEY/);
    assert.equal(noUrl.code, 1);
    assert.match(noUrl.stderr, /no registry: give --url or set PROMPT_REGISTRY_URL/);
    assert.equal((await s.admin.get('/prompts/support.reply')).body.latest_version, 1, 'no push ran');
  });
});
