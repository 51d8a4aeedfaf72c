import { z } from 'zod';
import { cursorParam, limit, text } from '../http/schemas.js';

/** Names the statistics already use for the built-in measures; a custom metric can't take one. */
export const BUILTIN_METRICS = ['latency_ms', 'input_tokens', 'output_tokens', 'cost_usd', 'quality_score', 'error_rate'] as const;

export const metricName = z
  .string()
  .min(1, 'a metric name is required')
  .max(100, 'a metric name is at most 100 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a metric name starts with a letter or digit and has only letters, digits, '.', '_' and '-'");

const category = z
  .string()
  .min(1)
  .max(100, 'a category is at most 100 characters')
  .regex(/^[^\p{Cc}]+$/u, 'a category has no control characters');

const bound = z.number().min(-1e15, 'bounds are within ±1e15').max(1e15, 'bounds are within ±1e15');

export const createMetricBody = z
  .object({
    name: metricName.refine((n) => !(BUILTIN_METRICS as readonly string[]).includes(n), {
      message: `the names ${BUILTIN_METRICS.join(', ')} are the built-in statistics`,
    }),
    type: z.enum(['numeric', 'boolean', 'categorical']),
    min: bound.optional(),
    max: bound.optional(),
    categories: z.array(category).min(1, 'give at least one category').max(100, 'at most 100 categories').optional(),
    description: text(10_000).optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.type !== 'numeric' && (m.min !== undefined || m.max !== undefined)) {
      ctx.addIssue({ code: 'custom', path: ['min'], message: 'min and max are for numeric metrics' });
    }
    if (m.min !== undefined && m.max !== undefined && m.min > m.max) ctx.addIssue({ code: 'custom', path: ['max'], message: 'max must be at least min' });
    if (m.type === 'categorical' && m.categories === undefined) ctx.addIssue({ code: 'custom', path: ['categories'], message: 'a categorical metric needs categories' });
    if (m.type !== 'categorical' && m.categories !== undefined) ctx.addIssue({ code: 'custom', path: ['categories'], message: 'categories are for categorical metrics' });
    if (m.categories && new Set(m.categories).size !== m.categories.length) ctx.addIssue({ code: 'custom', path: ['categories'], message: 'categories must be distinct' });
  });
export type CreateMetricInput = z.output<typeof createMetricBody>;

export const listMetricsQuery = z.object({ limit, cursor: cursorParam });

export const metricSchema = z.object({
  id: z.string(),
  name: z.string(),
  type: z.enum(['numeric', 'boolean', 'categorical']),
  min: z.number().nullable(),
  max: z.number().nullable(),
  categories: z.array(z.string()).nullable(),
  description: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
}).meta({ id: 'Metric' });

export const scoreBody = z
  .object({
    metric: metricName,
    value: z.union([z.number().min(-1e15).max(1e15), z.boolean(), z.string().max(100)], {
      error: 'value is a number (numeric metrics), true or false (boolean) or a category (categorical)',
    }),
    source: z.enum(['human', 'code', 'llm']),
    comment: text(10_000).optional(),
  })
  .strict();
export type ScoreInput = z.output<typeof scoreBody>;
