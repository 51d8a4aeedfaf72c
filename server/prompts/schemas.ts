import { z } from 'zod';
import { cursorParam, environmentName, flag, jsonObject, limit, positiveInt, promptName, tag, text } from '../http/schemas.js';
import { rolloutInfoSchema, variantSchema } from '../rollouts/schemas.js';

export const nameParams = z.object({ name: promptName });
export const versionParams = z.object({ name: promptName, version: positiveInt });

export const createVersionBody = z
  .object({
    /** The seed's request carries the name too; when given it must match the path. */
    name: promptName.optional(),
    content: text(1_000_000).min(1, 'content is required'),
    model: text(100).min(1).default('gpt-4o'),
    temperature: z.number().min(0, 'temperature is 0 to 2').max(2, 'temperature is 0 to 2').default(0),
    max_tokens: z.number().int('max_tokens is a whole number').min(1, 'max_tokens is at least 1').max(2_147_483_647).default(1000),
    metadata: jsonObject.default({}),
    description: text(10_000).nullable().optional(),
    tags: z.array(tag).max(50, 'at most 50 tags').optional(),
    message: text(10_000).optional(),
  })
  .strict();
export type CreateVersionInput = z.output<typeof createVersionBody>;

export const createVersionQuery = z.object({ idempotent: flag });

export const listPromptsQuery = z.object({
  search: text(255).optional(),
  /** Only prompts with a version live in this environment. */
  environment: environmentName.optional(),
  tag: z.union([tag, z.array(tag).max(20)]).optional().transform((t) => (t === undefined ? [] : Array.isArray(t) ? t : [t])),
  limit,
  cursor: cursorParam,
});

export const updatePromptBody = z
  .object({
    description: text(10_000).nullable().optional(),
    tags: z.array(tag).max(50, 'at most 50 tags').optional(),
  })
  .strict()
  .refine((b) => b.description !== undefined || b.tags !== undefined, 'give description or tags to change');

export const listVersionsQuery = z.object({ limit, cursor: cursorParam });

export const renderBody = z
  .object({
    variables: z.record(z.string(), z.unknown()).default({}),
    environment: z.string().optional(),
    version: z.number().int().min(1).max(2_147_483_647).optional(),
    /** A caller key (user or session id): during a rollout, picks the variant (docs/rollouts.md). */
    key: text(1000).min(1, 'key is a caller key (a user or session id), not empty').optional(),
  })
  .strict()
  .refine((b) => !(b.environment !== undefined && b.version !== undefined), 'give environment or version, not both');

const versionFields = {
  version_id: z.string(),
  version: z.number().int(),
  prompt: z.string(),
  content_hash: z.string(),
  model: z.string(),
  temperature: z.number(),
  max_tokens: z.number().int(),
  variables: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  message: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
  environments: z.array(z.string()),
};
export const versionSummarySchema = z.object(versionFields);
export const versionSchema = z.object({ ...versionFields, content: z.string() });
export const createdVersionSchema = versionSchema.extend({ created: z.boolean() });

export const promptSchema = z.object({
  id: z.string(),
  name: z.string(),
  description: z.string().nullable(),
  tags: z.array(z.string()),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
  latest_version: z.number().int().nullable(),
  environments: z.record(z.string(), z.object({ version: z.number().int(), deployed_at: z.string(), deployed_by: z.string() })),
});

export const renderResultSchema = z.object({
  rendered: z.string(),
  prompt: z.string(),
  version: z.number().int(),
  version_id: z.string(),
  environment: z.string().nullable(),
  model: z.string(),
  temperature: z.number(),
  max_tokens: z.number().int(),
  /** During a rollout (rendering an environment): which variant served, and the rollout. */
  variant: variantSchema.optional(),
  rollout: rolloutInfoSchema.optional(),
});
