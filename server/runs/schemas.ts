import { z } from 'zod';
import { environmentName, text } from '../http/schemas.js';
import { configSchema, messageTemplate, placeholderMessage, refineVersionBody } from '../prompts/schemas.js';
import { providerName } from '../providers/schemas.js';

/** An unpublished version body, as the editor has it, checked like a create-version body: a text template (`content`) or chat `messages`, with config and input schema. */
export const draftFields = z.object({
  type: z.enum(['text', 'chat'], { error: 'type is "text" or "chat"' }).default('text'),
  content: text(1_000_000).min(1, 'content is required').optional(),
  messages: z.array(messageTemplate).min(1, 'a chat prompt has at least one message').max(200, 'at most 200 messages').optional(),
  model: text(100).min(1).optional(),
  temperature: z.number().min(0, 'temperature is 0 to 2').max(2, 'temperature is 0 to 2').optional(),
  max_tokens: z.number().int('max_tokens is a whole number').min(1, 'max_tokens is at least 1').max(2_147_483_647).optional(),
  config: configSchema.optional(),
  input_schema: z.record(z.string(), z.unknown()).nullable().optional(),
});
export const draftSchema = draftFields.strict().superRefine((b, ctx) => refineVersionBody(b, ctx));
export type DraftInput = z.output<typeof draftSchema>;

export const runBody = z
  .object({
    version: z.number().int().min(1).max(2_147_483_647).optional(),
    environment: environmentName.optional(),
    draft: draftSchema.optional(),
    variables: z.record(z.string(), z.unknown()).default({}),
    /** Messages for each placeholder of a chat prompt, by name, as in a render. */
    placeholders: z.record(z.string(), z.array(placeholderMessage).max(1000, 'at most 1000 messages')).default({}),
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
