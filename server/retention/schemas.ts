import { z } from 'zod';
import { environmentName, flag, promptName } from '../http/schemas.js';

export const MAX_DAYS = 36_500;

export const policySchema = z
  .object({
    prompt: promptName.nullable().optional(),
    environment: environmentName.nullable().optional(),
    days: z.number({ error: 'days is a whole number of days' }).int('days is a whole number of days').min(1, 'days is at least 1').max(MAX_DAYS, `days is at most ${MAX_DAYS}`),
    action: z.enum(['delete', 'redact']),
  })
  .strict();
export type PolicyInput = z.output<typeof policySchema>;

export const putRetentionBody = z.object({ policies: z.array(policySchema).max(1_000, 'at most 1,000 policies') }).strict();

export const runQuery = z.object({ dry_run: flag });

const policyView = z.object({ prompt: z.string().nullable(), environment: z.string().nullable(), days: z.number().int(), action: z.enum(['delete', 'redact']) });

export const retentionSchema = z.object({
  policies: z.array(policyView).describe('most specific first: prompt and environment, prompt, environment, the default'),
  updated_at: z.string().nullable(),
  updated_by: z.string().nullable(),
  interval_minutes: z.number().describe('how often this server applies the policies; 0: never on its own'),
});

export const runResultSchema = z.object({
  dry_run: z.boolean(),
  deleted: z.number().int().describe('executions deleted (or, in a dry run, that would be)'),
  redacted: z.number().int().describe('executions redacted (or, in a dry run, that would be)'),
  policies: z.array(policyView.extend({ cutoff: z.string(), count: z.number().int() })),
});
