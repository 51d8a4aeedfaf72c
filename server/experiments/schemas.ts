import { z } from 'zod';
import { cursorParam, limit, positiveInt, promptName, uuid } from '../http/schemas.js';
import { datasetName } from '../datasets/schemas.js';
import { providerName } from '../providers/schemas.js';

export const createBody = z
  .object({
    prompt: promptName,
    versions: z.array(z.number().int().min(1).max(2_147_483_647)).min(1, 'give at least one version').max(10, 'at most 10 versions'),
    dataset: datasetName,
    evaluators: z.array(z.unknown()).min(1, 'give at least one evaluator').max(20),
    provider: providerName.optional(),
    model: z.string().min(1).max(255).optional(),
    concurrency: z.number().int().min(1).max(32).default(4),
  })
  .strict()
  .refine((b) => new Set(b.versions).size === b.versions.length, { message: 'a version is listed twice', path: ['versions'] });
export type CreateExperimentInput = z.output<typeof createBody>;

export const idParams = z.object({ id: uuid });
export const resultsQuery = z.object({ version: positiveInt.optional(), limit, cursor: cursorParam });

const evaluationSchema = z.object({ score: z.number(), passed: z.boolean(), reason: z.string() });

export const aggregateSchema = z.object({
  version: z.number().int(),
  results: z.number().int(),
  errors: z.number().int(),
  pass_rate: z.number().nullable().describe('Items where every evaluator passed, over the results'),
  mean_scores: z.record(z.string(), z.number().nullable()),
  latency_p50_ms: z.number().nullable(),
  latency_p95_ms: z.number().nullable(),
  input_tokens: z.number().int(),
  output_tokens: z.number().int(),
  cost_usd: z.number(),
});

export const experimentSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  dataset: z.string(),
  dataset_version: z.number().int(),
  versions: z.array(z.number().int()),
  evaluators: z.array(z.unknown()),
  provider: z.string().nullable(),
  model: z.string().nullable(),
  concurrency: z.number().int(),
  status: z.enum(['queued', 'running', 'completed', 'cancelled', 'failed']),
  error: z.string().nullable(),
  progress: z.object({ done: z.number().int(), total: z.number().int() }),
  aggregates: z.array(aggregateSchema),
  created_at: z.string(),
  created_by: z.string(),
  started_at: z.string().nullable(),
  finished_at: z.string().nullable(),
});

export const resultSchema = z.object({
  item_seq: z.number().int(),
  version: z.number().int(),
  status: z.enum(['ok', 'error']),
  output: z.string().nullable(),
  error: z.string().nullable(),
  latency_ms: z.number().nullable(),
  input_tokens: z.number().nullable(),
  output_tokens: z.number().nullable(),
  cost_usd: z.number().nullable(),
  execution_id: z.string().nullable(),
  scores: z.record(z.string(), evaluationSchema),
  passed: z.boolean(),
});

export const compareQuery = z.object({ a: positiveInt, b: positiveInt });

const side = z.object({ status: z.enum(['ok', 'error']), passed: z.boolean(), scores: z.record(z.string(), z.number()) });
const change = z.object({ item_seq: z.number().int(), a: side, b: side, reasons: z.array(z.string()).describe('What got worse (or better): "passed -> failed", "exact: 1 -> 0", "ran -> error"') });

export const comparisonSchema = z.object({
  a: z.number().int(),
  b: z.number().int(),
  compared: z.number().int().describe('Items with a result on both versions'),
  worse: z.array(change).describe('Items b did worse on: it failed where a passed, errored where a ran, or an evaluator scored it lower'),
  better: z.array(change),
});
