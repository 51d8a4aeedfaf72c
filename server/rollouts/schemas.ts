import { z } from 'zod';
import { cursorParam, environmentName, limit, promptName, text } from '../http/schemas.js';

export const rolloutParams = z.object({ name: promptName, environment: environmentName });

/** `GET /rollouts`: the environment is required (a registry-wide list would mix environments' scopes and pages). */
export const listRolloutsQuery = z.object({
  environment: environmentName,
  prompt: promptName.optional(),
  limit,
  cursor: cursorParam,
});

/** Built-in measures a guard can watch; any other name is a numeric custom metric (its scores' mean). */
export const BUILTIN_GUARD_METRICS = ['error_rate', 'latency_ms', 'quality_score'] as const;

export const guardSchema = z
  .object({
    metric: z
      .string()
      .min(1, 'guard.metric is error_rate, latency_ms, quality_score or the name of a numeric metric')
      .max(100, 'guard.metric is at most 100 characters'),
    window: z
      .number({ error: 'guard.window is a number of executions, e.g. 50' })
      .int('guard.window is a whole number of executions')
      .min(1, 'guard.window is at least 1 execution')
      .max(10_000, 'guard.window is at most 10,000 executions'),
    threshold: z.number({ error: 'guard.threshold is a number, e.g. 0.05' }).finite(),
    /**
     * above_live: abort when candidate − live > threshold; below_live: when live − candidate > threshold;
     * above: when candidate > threshold; below: when candidate < threshold.
     */
    comparison: z.enum(['above_live', 'below_live', 'above', 'below'], { error: 'guard.comparison is above_live, below_live, above or below' }).default('above_live'),
  })
  .strict().meta({ id: 'RolloutGuard' });
export type Guard = z.output<typeof guardSchema>;

export const rolloutBody = z
  .object({
    candidate: z.number({ error: 'candidate is a version number, e.g. 4' }).int('candidate is a version number').min(1, 'candidate is a version number, at least 1').max(2_147_483_647),
    weight: z
      .number({ error: 'weight is the percent of traffic the candidate gets, a whole number from 1 to 99' })
      .int('weight is a whole number of percent, from 1 to 99')
      .min(1, 'weight is at least 1 (percent served the candidate); to end a rollout, promote or abort it')
      .max(99, 'weight is at most 99 (percent served the candidate); to serve it to everyone, promote it'),
    guard: guardSchema.nullable().optional(),
    comment: text(2000).optional(),
  })
  .strict();

export const abortBody = z.object({ reason: text(2000).optional() }).strict();
export const promoteBody = z.object({ comment: text(2000).optional() }).strict();

export const rolloutSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  environment: z.string(),
  candidate: z.number().int().describe('the candidate version'),
  live: z.number().int().describe('the version live when the rollout started, serving the rest'),
  weight: z.number().int().describe('percent of keys served the candidate'),
  guard: guardSchema.nullable(),
  status: z.enum(['active', 'promoted', 'aborted', 'superseded']),
  started_at: z.string(),
  started_by: z.string(),
  updated_at: z.string(),
  ended_at: z.string().nullable(),
  ended_by: z.string().nullable(),
  end_reason: z.string().nullable(),
}).meta({ id: 'Rollout' });
export type RolloutView = z.infer<typeof rolloutSchema>;

/** What resolve and render answers carry during a rollout, so clients can assign keys themselves. */
export const rolloutInfoSchema = z.object({
  id: z.string(),
  candidate: z.number().int(),
  live: z.number().int(),
  weight: z.number().int(),
}).meta({ id: 'RolloutInfo' });
export type RolloutInfo = z.infer<typeof rolloutInfoSchema>;

export const variantSchema = z.enum(['candidate', 'live']);
