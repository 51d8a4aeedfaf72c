import { z } from 'zod';
import { cursorParam, limit, positiveInt, promptName, uuid } from '../http/schemas.js';
import { datasetName } from '../datasets/schemas.js';
import { providerName } from '../providers/schemas.js';
import { refineVersionBody } from '../prompts/schemas.js';
import { draftFields } from '../runs/schemas.js';

/** A draft's label: how results, aggregates and compare name it (`draft:LABEL` in a query). */
export const draftLabel = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a draft label is 1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit');

/** An unpublished body to evaluate: the body a run takes as `draft`, with a label. */
export const experimentDraft = draftFields
  .extend({ label: draftLabel })
  .strict()
  .superRefine((b, ctx) => refineVersionBody(b, ctx));
export type ExperimentDraftInput = z.output<typeof experimentDraft>;

export const createBody = z
  .object({
    prompt: promptName,
    versions: z.array(z.number().int().min(1).max(2_147_483_647)).max(10, 'at most 10 versions').default([]),
    drafts: z.array(experimentDraft).max(10, 'at most 10 drafts').default([]).describe('Unpublished bodies to run beside the versions, each named by its label'),
    dataset: datasetName,
    evaluators: z.array(z.unknown()).min(1, 'give at least one evaluator').max(20),
    provider: providerName.optional(),
    model: z.string().min(1).max(255).optional(),
    concurrency: z.number().int().min(1).max(32).default(4),
  })
  .strict()
  .refine((b) => b.versions.length + b.drafts.length > 0, { message: 'give at least one version or draft', path: ['versions'] })
  .refine((b) => b.versions.length + b.drafts.length <= 10, { message: 'at most 10 versions and drafts together', path: ['drafts'] })
  .refine((b) => new Set(b.versions).size === b.versions.length, { message: 'a version is listed twice', path: ['versions'] })
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.drafts.forEach((d, i) => {
      if (seen.has(d.label)) ctx.addIssue({ code: 'custom', path: ['drafts', i, 'label'], message: `a second draft labelled "${d.label}"; give each a distinct label` });
      seen.add(d.label);
    });
  });
export type CreateExperimentInput = z.output<typeof createBody>;

/** A column of an experiment in a query: a version number, or `draft:LABEL`. */
export const columnParam = z.union([positiveInt, z.string().regex(/^draft:[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'a version number, or draft:LABEL')]);

/** Which column a result or aggregate is: a version (draft null), or a draft (version null). */
const column = {
  version: z.number().int().nullable().describe('The version run; null for a draft'),
  draft: z.string().nullable().describe("The draft's label; null for a version"),
};

export const idParams = z.object({ id: uuid });
export const resultsQuery = z.object({ version: positiveInt.optional(), draft: draftLabel.optional(), limit, cursor: cursorParam });

const evaluationSchema = z.object({ score: z.number(), passed: z.boolean(), reason: z.string() });

export const aggregateSchema = z.object({
  ...column,
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
  drafts: z.array(z.string()).describe('The labels of the drafts it runs'),
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
  ...column,
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

export const compareQuery = z.object({ a: columnParam, b: columnParam });

const side = z.object({ status: z.enum(['ok', 'error']), passed: z.boolean(), scores: z.record(z.string(), z.number()) });
const change = z.object({ item_seq: z.number().int(), a: side, b: side, reasons: z.array(z.string()).describe('What got worse (or better): "passed -> failed", "exact: 1 -> 0", "ran -> error"') });

export const comparisonSchema = z.object({
  a: z.union([z.number().int(), z.string()]).describe('As asked: a version number, or draft:LABEL'),
  b: z.union([z.number().int(), z.string()]),
  compared: z.number().int().describe('Items with a result on both versions'),
  worse: z.array(change).describe('Items b did worse on: it failed where a passed, errored where a ran, or an evaluator scored it lower'),
  better: z.array(change),
});
