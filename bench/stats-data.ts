/**
 * The statistics workload both bench:stats and bench:sqlite-drivers load: prompts with three
 * versions each, inserted directly (the migrations have run), and executions spread over their versions.
 */
import { randomUUID } from 'node:crypto';
import type { Database } from '../server/db/index.js';
import type { ExecutionRecord } from '../server/executions/store/index.js';

export interface StatsPrompt {
  id: string;
  name: string;
  versions: string[];
}

export async function seedStatsPrompts(db: Database, count: number): Promise<StatsPrompt[]> {
  const prompts = Array.from({ length: count }, (_, i) => ({ id: randomUUID(), name: `stats-prompt-${i + 1}`, versions: [randomUUID(), randomUUID(), randomUUID()] }));
  await db.transaction(async (tx) => {
    for (const p of prompts) {
      await tx.run('INSERT INTO prompts (id, name, created_by) VALUES ($1, $2, $3)', [p.id, p.name, 'bench']);
      for (const [n, id] of p.versions.entries()) {
        await tx.run(
          'INSERT INTO prompt_versions (id, prompt_id, version_number, content, content_hash, model, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)',
          [id, p.id, n + 1, `v${n + 1} {{q}}`, 'a'.repeat(64), 'gpt-4o', 'bench'],
        );
      }
    }
  });
  return prompts;
}

/** Execution `i` of the workload (round-robin over `prompts`), run at `executedAt`. */
export function statsExecution(prompts: readonly StatsPrompt[], i: number, executedAt: string): ExecutionRecord {
  const p = prompts[i % prompts.length]!;
  return {
    id: randomUUID(),
    prompt_version_id: p.versions[Math.floor(i / prompts.length) % 3]!,
    prompt_id: p.id,
    executed_at: executedAt,
    environment: Math.floor(i / prompts.length) % 5 === 4 ? 'staging' : 'production',
    status: i % 40 === 0 ? 'error' : 'ok',
    error: i % 40 === 0 ? 'timeout' : null,
    input_variables: '{"q":"where is my order?"}',
    rendered_prompt: null,
    response: null,
    input_tokens: 200 + (i % 300),
    output_tokens: 50 + ((i * 7) % 400),
    latency_ms: 150 + ((i * 7919) % 2500),
    cost_usd: 0.0001 * (1 + (i % 17)),
    quality_score: (i % 11) / 10,
    metadata: '{}',
  };
}
