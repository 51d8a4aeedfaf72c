import { z } from 'zod';
import { cursorParam, environmentName, flag, limit, text } from '../http/schemas.js';
import { responseConfigSchema, storedMessageSchema } from '../prompts/schemas.js';
import { rolloutInfoSchema, variantSchema } from '../rollouts/schemas.js';

export const deployBody = z
  .object({
    version: z.number({ error: 'version is a version number, e.g. 3' }).int().min(1).max(2_147_483_647),
    environment: environmentName,
    /** Why: shown to approvers when the environment needs approval. */
    comment: text(2000).optional(),
  })
  .strict();

export const rollbackBody = z
  .object({
    environment: environmentName,
    version: z.number().int().min(1).max(2_147_483_647).optional(),
    comment: text(2000).optional(),
  })
  .strict();

export const rollbackQuery = z.object({ dry_run: flag });

export const historyQuery = z.object({ environment: environmentName.optional(), limit, cursor: cursorParam });

export const latestQuery = z.object({
  environment: environmentName.default('production'),
  /** A caller key (user or session id): during a rollout, picks the variant (docs/rollouts.md). */
  key: text(1000).min(1, 'key is a caller key (a user or session id), not empty').optional(),
});

export const deploymentSchema = z.object({
  id: z.string(),
  prompt: z.string(),
  environment: z.string(),
  version: z.number().int(),
  version_id: z.string(),
  action: z.enum(['deploy', 'rollback']),
  previous_version: z.number().int().nullable(),
  deployed_at: z.string(),
  deployed_by: z.string(),
  is_active: z.boolean(),
  rollback_of: z.string().nullable(),
}).meta({ id: 'Deployment' });

export const resolvedSchema = z.object({
  prompt: z.string(),
  environment: z.string(),
  type: z.enum(['text', 'chat']),
  /** Text prompts: the template; chat prompts: null. */
  content: z.string().nullable(),
  /** Chat prompts: the message templates and placeholders; text prompts: null. */
  messages: z.array(storedMessageSchema).nullable(),
  /** The model configuration, with model, temperature and max_tokens mirrored in. */
  config: responseConfigSchema,
  input_schema: z.record(z.string(), z.unknown()).nullable(),
  /** Every partial the templates include (nested ones too), by reference as written, resolved in this environment. */
  partials: z.record(z.string(), z.object({ prompt: z.string(), version: z.number().int(), version_id: z.string(), content: z.string() })),
  model: z.string(),
  temperature: z.number(),
  max_tokens: z.number().int(),
  variables: z.array(z.string()),
  version_number: z.number().int(),
  version: z.number().int(),
  version_id: z.string(),
  content_hash: z.string(),
  metadata: z.record(z.string(), z.unknown()),
  deployed_at: z.string(),
  /** During a rollout: which variant this is, and the rollout, so clients can assign keys themselves. */
  variant: variantSchema.optional(),
  rollout: rolloutInfoSchema.optional(),
}).meta({ id: 'ResolvedPrompt' });

export const exportQuery = z.object({ environment: environmentName.default('production') });

export const BUNDLE_FORMAT = 'prompt-registry-bundle/v1';

export const bundleSchema = z.object({
  format: z.literal(BUNDLE_FORMAT),
  environment: z.string(),
  exported_at: z.string(),
  prompts: z.record(z.string(), resolvedSchema),
});
