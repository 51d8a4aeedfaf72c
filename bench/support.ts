import { embeddedPostgres, type Postgres } from '../test/support/postgres.js';

/**
 * The Postgres a bench creates its databases on: BENCH_DATABASE_URL or
 * TEST_DATABASE_URL (an admin URL), else an embedded one it must stop.
 * Sets TEST_DATABASE_URL, which freshDatabase() reads.
 */
export async function benchPostgres(progress: (message: string) => void): Promise<Postgres | undefined> {
  const url = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL;
  if (url) {
    process.env.TEST_DATABASE_URL = url;
    return undefined;
  }
  progress('starting an embedded Postgres (set BENCH_DATABASE_URL to use your own)');
  const postgres = await embeddedPostgres();
  process.env.TEST_DATABASE_URL = postgres.url;
  return postgres;
}
