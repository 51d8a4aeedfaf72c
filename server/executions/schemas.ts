import { z } from 'zod';
import { cursorParam, environmentName, limit, positiveInt, promptName, text, uuid } from '../http/schemas.js';

// The ingest body and row schemas are in ingest-schemas.ts.
export * from './ingest-schemas.js';
import { time } from './ingest-schemas.js';

export const executionParams = z.object({ id: uuid });

const quality = z.coerce.number({ error: 'must be a number' }).min(-1e9).max(1e9);

export const listExecutionsQuery = z
  .object({
    prompt: promptName.optional(),
    version: positiveInt.optional(),
    environment: environmentName.optional(),
    from: time.optional(),
    to: time.optional(),
    status: z.enum(['ok', 'error']).optional(),
    quality_min: quality.optional(),
    quality_max: quality.optional(),
    metric: text(100).min(1).optional(),
    metric_min: quality.optional(),
    metric_max: quality.optional(),
    limit,
    cursor: cursorParam,
  })
  .refine((q) => q.version === undefined || q.prompt !== undefined, { message: 'version needs prompt', path: ['version'] })
  .refine((q) => (q.metric_min === undefined && q.metric_max === undefined) || q.metric !== undefined, { message: 'metric_min and metric_max need metric', path: ['metric'] });
export type ListExecutionsQuery = z.output<typeof listExecutionsQuery>;

export const executionSummarySchema = z.object({
  id: z.string(),
  prompt: z.string().nullable(),
  version: z.number().int().nullable(),
  prompt_version_id: z.string().nullable(),
  environment: z.string().nullable(),
  executed_at: z.string(),
  status: z.enum(['ok', 'error']),
  error: z.string().nullable(),
  input_tokens: z.number().int().nullable(),
  output_tokens: z.number().int().nullable(),
  latency_ms: z.number().int().nullable(),
  cost_usd: z.number().nullable(),
  quality_score: z.number().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  redacted_at: z.string().nullable(),
}).meta({ id: 'ExecutionSummary' });

export const scoreSchema = z.object({
  id: z.string(),
  execution_id: z.string(),
  metric: z.string(),
  type: z.enum(['numeric', 'boolean', 'categorical']),
  value: z.union([z.number(), z.boolean(), z.string()]),
  source: z.enum(['human', 'code', 'llm']),
  comment: z.string().nullable(),
  scored_at: z.string(),
  scored_by: z.string(),
}).meta({ id: 'Score' });

export const executionSchema = executionSummarySchema.extend({
  input_variables: z.record(z.string(), z.unknown()).nullable(),
  rendered_prompt: z.string().nullable(),
  response: z.string().nullable(),
  messages: z.array(z.record(z.string(), z.unknown())).nullable(),
  response_messages: z.array(z.record(z.string(), z.unknown())).nullable(),
  tool_calls: z.array(z.record(z.string(), z.unknown())).nullable(),
  /** Which partial versions the render included (not a payload: shown with read). */
  partials_used: z.array(z.object({ prompt: z.string(), version: z.number().int(), version_id: z.string().optional() })).nullable(),
  /** True when the caller lacks executions:read: the payload fields above (variables, rendered prompt, response, messages, response messages, tool calls) are null whatever was logged. */
  payload_withheld: z.boolean(),
  scores: z.array(scoreSchema),
}).meta({ id: 'ExecutionDetail' });

export const INTERVALS = { hour: 3_600_000, day: 86_400_000 } as const;
export type Interval = keyof typeof INTERVALS;

/** The longest window statistics cover. */
export const MAX_WINDOW_DAYS = 366;

export const statsQuery = z.object({
  environment: environmentName.optional(),
  from: time.optional(),
  to: time.optional(),
  interval: z.enum(['hour', 'day']).optional(),
});

export const compareQuery = z.object({
  a: positiveInt,
  b: positiveInt,
  environment: environmentName.optional(),
  from: time.optional(),
  to: time.optional(),
});

const num = z.number().nullable();
const meanAndSum = z.object({ mean: num, sum: z.number() });

export const metricStatsSchema = z.object({
  mean: z.number().nullable().describe('numeric: the mean; boolean: the share of true; categorical: null'),
  count: z.number().int(),
  categories: z.record(z.string(), z.number().int()).optional().describe('categorical metrics: scores per category'),
}).meta({ id: 'MetricStats' });

export const versionStatsSchema = z.object({
  version: z.number().int(),
  version_id: z.string(),
  count: z.number().int(),
  errors: z.number().int(),
  error_rate: z.number(),
  latency_ms: z.object({ p50: num, p95: num, p99: num, mean: num }),
  input_tokens: meanAndSum,
  output_tokens: meanAndSum,
  cost_usd: z.object({ sum: z.number(), mean: num }),
  quality_score: z.object({ mean: num }),
  metrics: z.record(z.string(), metricStatsSchema),
}).meta({ id: 'VersionStats' });

export const seriesPointSchema = z.object({
  start: z.string().describe('start of the bucket (UTC)'),
  version: z.number().int(),
  count: z.number().int(),
  errors: z.number().int(),
  error_rate: z.number(),
  latency_ms: z.object({ p95: num, mean: num }),
  cost_usd: z.object({ sum: z.number(), mean: num }),
  quality_score: z.object({ mean: num }),
}).meta({ id: 'SeriesPoint' });

export const statsSchema = z.object({
  prompt: z.string(),
  environment: z.string().nullable(),
  from: z.string(),
  to: z.string(),
  interval: z.enum(['hour', 'day']),
  versions: z.array(versionStatsSchema),
  series: z.array(seriesPointSchema),
}).meta({ id: 'PromptStats' });

const side = z.object({ mean: num, count: z.number().int(), categories: z.record(z.string(), z.number().int()).optional() });

export const comparisonSchema = z.object({
  prompt: z.string(),
  environment: z.string().nullable(),
  from: z.string().nullable(),
  to: z.string().nullable(),
  a: z.object({ version: z.number().int(), count: z.number().int() }),
  b: z.object({ version: z.number().int(), count: z.number().int() }),
  metrics: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['builtin', 'custom']),
      type: z.enum(['numeric', 'boolean', 'categorical']),
      a: side,
      b: side,
      difference: z.number().nullable().describe('b.mean − a.mean; null when either side has no data or the metric is categorical'),
    }),
  ),
}).meta({ id: 'Comparison' });
