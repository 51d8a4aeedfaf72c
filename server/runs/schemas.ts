import { z } from 'zod';
import { environmentName, text } from '../http/schemas.js';
import { providerName } from '../providers/schemas.js';

/** An unpublished version body, as the editor has it: a text template now; chat `messages` once chat prompts exist (issue 12). */
export const draftSchema = z
  .object({
    type: z.enum(['text', 'chat']).default('text'),
    content: text(1_000_000).optional(),
    messages: z.array(z.unknown()).optional(),
    model: text(255).optional(),
    temperature: z.number().min(0).max(2).optional(),
    max_tokens: z.number().int().min(1).max(2_147_483_647).optional(),
    config: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export const runBody = z
  .object({
    version: z.number().int().min(1).max(2_147_483_647).optional(),
    environment: environmentName.optional(),
    draft: draftSchema.optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
    provider: providerName.optional(),
    model: text(255).min(1).optional(),
    config: z.record(z.string(), z.unknown()).optional().describe('Overrides the version\'s config: sampling parameters, tools, tool_choice, response_format, provider-specific keys'),
    stream: z.boolean().default(false),
  })
  .strict()
  .refine((b) => [b.version, b.environment, b.draft].filter((x) => x !== undefined).length <= 1, 'give one of version, environment or draft');
export type RunBody = z.output<typeof runBody>;

const toolCall = z.object({ id: z.string(), type: z.literal('function'), function: z.object({ name: z.string(), arguments: z.string() }) });

export const runResultSchema = z.object({
  output: z.object({
    text: z.string().nullable(),
    message: z.object({ role: z.literal('assistant'), content: z.string().nullable(), tool_calls: z.array(toolCall).optional() }),
  }),
  usage: z.object({ input_tokens: z.number().int().nullable(), output_tokens: z.number().int().nullable() }),
  latency_ms: z.number().int(),
  cost_usd: z.number().nullable().describe('null: the provider has no price for the model'),
  execution_id: z.string().describe('The execution this run was logged as'),
  prompt: z.string(),
  version: z.number().int().describe('The version run; for a draft, the version it was logged against (the latest)'),
  draft: z.boolean(),
  environment: z.string().nullable(),
  provider: z.string(),
  model: z.string(),
  finish_reason: z.string().nullable(),
});
export type RunResult = z.infer<typeof runResultSchema>;
