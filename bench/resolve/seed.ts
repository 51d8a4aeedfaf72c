/**
 * The benchmark's data: N prompts, each with one version deployed to
 * production, bulk-inserted with multi-row INSERTs through the server's own
 * database adapter (after a server start has run the migrations).
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openDatabase, type Transaction } from '../../server/db/index.js';

export interface BenchDatabase {
  dialect: 'sqlite' | 'postgres';
  url: string;
  /** Removes the database (drops it, or deletes the file). */
  drop(): Promise<void>;
}

export function freshSqlite(): BenchDatabase {
  const dir = mkdtempSync(join(tmpdir(), 'pr-bench-sqlite-'));
  return { dialect: 'sqlite', url: `sqlite:${join(dir, 'registry.db')}`, drop: async () => rmSync(dir, { recursive: true, force: true }) };
}

/** A new database `pr_bench_<random>` on the Postgres server of `adminUrl`. */
export async function freshPostgres(adminUrl: string): Promise<BenchDatabase> {
  const name = `pr_bench_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    dialect: 'postgres',
    url: url.toString(),
    async drop() {
      const client = new pg.Client({ connectionString: adminUrl });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

export const promptName = (i: number) => `support-agent-${String(i + 1).padStart(5, '0')}`;

export const promptContent = (i: number) => `You are a support agent for {{company}}. Answer {{name}}'s question #${i + 1}: {{question}}`;

const BATCH = 500;

async function insertRows(tx: Transaction, table: string, columns: string[], rows: unknown[][]): Promise<void> {
  const values: unknown[] = [];
  const tuples = rows.map((row) => `(${row.map((v) => (values.push(v), `$${values.length}`)).join(', ')})`);
  await tx.run(`INSERT INTO ${table} (${columns.join(', ')}) VALUES ${tuples.join(', ')}`, values);
}

/** Inserts `count` prompts, each with version 1 live in production. The migrations must have run. */
export async function seed(url: string, count: number): Promise<void> {
  const db = await openDatabase(url);
  try {
    const variables = JSON.stringify(['company', 'name', 'question']);
    await db.transaction(async (tx) => {
      for (let start = 0; start < count; start += BATCH) {
        const prompts: unknown[][] = [];
        const versions: unknown[][] = [];
        const deployments: unknown[][] = [];
        for (let i = start; i < Math.min(count, start + BATCH); i++) {
          const promptId = randomUUID();
          const versionId = randomUUID();
          const content = promptContent(i);
          const hash = createHash('sha256').update(content).digest('hex');
          prompts.push([promptId, promptName(i), `Benchmark prompt ${i + 1}`, 'bench']);
          versions.push([versionId, promptId, 1, content, hash, 'gpt-4o', 0.2, 512, variables, 'bench', 'seeded by bench/resolve']);
          deployments.push([randomUUID(), versionId, 'production', 'bench', true, promptId, 1]);
        }
        await insertRows(tx, 'prompts', ['id', 'name', 'description', 'created_by'], prompts);
        await insertRows(
          tx,
          'prompt_versions',
          ['id', 'prompt_id', 'version_number', 'content', 'content_hash', 'model', 'temperature', 'max_tokens', 'variables', 'created_by', 'message'],
          versions,
        );
        await insertRows(tx, 'prompt_deployments', ['id', 'prompt_version_id', 'environment', 'deployed_by', 'is_active', 'prompt_id', 'seq'], deployments);
      }
    });
    // What autovacuum would have done by the time a real registry held this much.
    if (db.dialect === 'postgres') for (const table of ['prompts', 'prompt_versions', 'prompt_deployments']) await db.run(`ANALYZE ${table}`);
    const row = await db.get<{ n: number }>("SELECT COUNT(*) AS n FROM prompt_deployments WHERE environment = 'production' AND is_active");
    if (Number(row?.n) !== count) throw new Error(`seeding left ${row?.n} live deployments, expected ${count}`);
  } finally {
    await db.close();
  }
}
