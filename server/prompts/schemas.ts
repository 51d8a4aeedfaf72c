import { z } from 'zod';
import { cursorParam, environmentName, flag, jsonObject, limit, positiveInt, promptName, tag, text } from '../http/schemas.js';
import { rolloutInfoSchema, variantSchema } from '../rollouts/schemas.js';

export const nameParams = z.object({ name: promptName });
export const versionParams = z.object({ name: promptName, version: positiveInt });

export const ROLES = ['system', 'user', 'assistant', 'tool'] as const;
export type Role = (typeof ROLES)[number];

/** A chat message template `{role, content}`, or a placeholder `{type: "placeholder", name}` filled at render time. */
export const messageTemplate = z
  .object({
    role: z.enum(ROLES, { error: `role is one of ${ROLES.join(', ')}` }).optional(),
    content: text(1_000_000).optional(),
    type: z.literal('placeholder', { error: 'type is "placeholder" (or leave it out for a {role, content} message)' }).optional(),
    name: z
      .string()
      .max(100, 'a placeholder name is at most 100 characters')
      .regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'a placeholder name is letters, digits and _, not starting with a digit')
      .optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.type === 'placeholder') {
      if (m.name === undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'a placeholder needs a name' });
      if (m.role !== undefined) ctx.addIssue({ code: 'custom', path: ['role'], message: 'a placeholder has no role' });
      if (m.content !== undefined) ctx.addIssue({ code: 'custom', path: ['content'], message: 'a placeholder has no content' });
      return;
    }
    if (m.role === undefined) ctx.addIssue({ code: 'custom', path: ['role'], message: `role is required: one of ${ROLES.join(', ')}` });
    if (m.content === undefined) ctx.addIssue({ code: 'custom', path: ['content'], message: 'content is required (a template)' });
    if (m.name !== undefined) ctx.addIssue({ code: 'custom', path: ['name'], message: 'name is for placeholders ({"type": "placeholder", "name": …})' });
  });
export type MessageTemplate = { role: Role; content: string } | { type: 'placeholder'; name: string };

const jsonSchemaObject = z.record(z.string(), z.unknown());
const functionName = z.string().min(1).max(64).regex(/^[A-Za-z0-9_-]+$/, 'a function name is letters, digits, _ and -');

/** The model configuration: known keys are checked, other keys are kept as given (provider-specific). */
export const configSchema = z
  .looseObject({
    model: text(100).min(1).optional(),
    temperature: z.number().min(0, 'temperature is 0 to 2').max(2, 'temperature is 0 to 2').optional(),
    top_p: z.number().min(0, 'top_p is 0 to 1').max(1, 'top_p is 0 to 1').optional(),
    max_tokens: z.number().int('max_tokens is a whole number').min(1, 'max_tokens is at least 1').max(2_147_483_647).optional(),
    stop: z.union([text(1000), z.array(text(1000)).max(16, 'at most 16 stop sequences')], { error: 'stop is a string or a list of strings' }).optional(),
    seed: z.number().int('seed is a whole number').optional(),
    presence_penalty: z.number().min(-2, 'presence_penalty is -2 to 2').max(2, 'presence_penalty is -2 to 2').optional(),
    frequency_penalty: z.number().min(-2, 'frequency_penalty is -2 to 2').max(2, 'frequency_penalty is -2 to 2').optional(),
    tools: z
      .array(
        z.looseObject({
          type: z.literal('function', { error: 'a tool\'s type is "function"' }),
          function: z.looseObject({ name: functionName, description: text(10_000).optional(), parameters: jsonSchemaObject.optional() }),
        }),
      )
      .max(128, 'at most 128 tools')
      .optional(),
    tool_choice: z
      .union([z.enum(['auto', 'none', 'required']), z.object({ type: z.literal('function'), function: z.object({ name: functionName }) })], {
        error: 'tool_choice is "auto", "none", "required" or {"type": "function", "function": {"name": …}}',
      })
      .optional(),
    response_format: z
      .discriminatedUnion(
        'type',
        [
          z.object({ type: z.literal('text') }).strict(),
          z.object({ type: z.literal('json_object') }).strict(),
          z
            .object({
              type: z.literal('json_schema'),
              json_schema: z
                .object({ name: functionName, description: text(10_000).optional(), schema: jsonSchemaObject, strict: z.boolean().optional() })
                .strict(),
            })
            .strict(),
        ],
        { error: 'response_format.type is "text", "json_object" or "json_schema"' },
      )
      .optional(),
  })
  .superRefine((c, ctx) => {
    const choice = c.tool_choice;
    if (choice && typeof choice === 'object' && !(c.tools ?? []).some((t) => t.function.name === choice.function.name)) {
      ctx.addIssue({ code: 'custom', path: ['tool_choice', 'function', 'name'], message: `names "${choice.function.name}", which is not in tools` });
    }
    if (JSON.stringify(c).includes('\\u0000')) ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
  });
export type PromptConfig = z.output<typeof configSchema>;

export const createVersionBody = z
  .object({
    /** The seed's request carries the name too; when given it must match the path. */
    name: promptName.optional(),
    type: z.enum(['text', 'chat'], { error: 'type is "text" or "chat"' }).default('text'),
    /** The template of a text prompt (absent for chat). */
    content: text(1_000_000).min(1, 'content is required').optional(),
    /** The message templates of a chat prompt. */
    messages: z.array(messageTemplate).min(1, 'a chat prompt has at least one message').max(200, 'at most 200 messages').optional(),
    /** Default gpt-4o (or config.model). */
    model: text(100).min(1).optional(),
    /** Default 0 (or config.temperature). */
    temperature: z.number().min(0, 'temperature is 0 to 2').max(2, 'temperature is 0 to 2').optional(),
    /** Default 1000 (or config.max_tokens). */
    max_tokens: z.number().int('max_tokens is a whole number').min(1, 'max_tokens is at least 1').max(2_147_483_647).optional(),
    config: configSchema.optional(),
    input_schema: jsonSchemaObject.nullable().optional(),
    metadata: jsonObject.default({}),
    description: text(10_000).nullable().optional(),
    tags: z.array(tag).max(50, 'at most 50 tags').optional(),
    message: text(10_000).optional(),
  })
  .strict()
  .superRefine((b, ctx) => refineVersionBody(b, ctx));
export type CreateVersionInput = z.output<typeof createVersionBody>;

/** The checks across fields of a version body (create-version and a run's draft): chat has messages, text has content. */
export function refineVersionBody(
  b: { type: 'text' | 'chat'; content?: string | undefined; messages?: Array<{ type?: 'placeholder' | undefined; name?: string | undefined }> | undefined; input_schema?: Record<string, unknown> | null | undefined; model?: string | undefined; temperature?: number | undefined; max_tokens?: number | undefined; config?: PromptConfig | undefined },
  ctx: z.RefinementCtx,
): void {
  if (b.type === 'chat') {
    if (b.content !== undefined) ctx.addIssue({ code: 'custom', path: ['content'], message: 'a chat prompt has messages, not content' });
    if (b.messages === undefined) ctx.addIssue({ code: 'custom', path: ['messages'], message: 'a chat prompt needs messages' });
    const seen = new Set<string>();
    (b.messages ?? []).forEach((m, i) => {
      if (m.type !== 'placeholder' || m.name === undefined) return;
      if (seen.has(m.name)) ctx.addIssue({ code: 'custom', path: ['messages', i, 'name'], message: `the placeholder "${m.name}" is given twice` });
      seen.add(m.name);
    });
  } else {
    if (b.content === undefined) ctx.addIssue({ code: 'custom', path: ['content'], message: 'content is required' });
    if (b.messages !== undefined) ctx.addIssue({ code: 'custom', path: ['messages'], message: 'messages are for chat prompts: give "type": "chat"' });
  }
  if (b.input_schema && b.input_schema.type !== 'object') {
    ctx.addIssue({ code: 'custom', path: ['input_schema', 'type'], message: 'the input schema describes the variables: "type": "object"' });
  }
  for (const key of ['model', 'temperature', 'max_tokens'] as const) {
    if (b[key] !== undefined && b.config?.[key] !== undefined && b[key] !== b.config[key]) {
      ctx.addIssue({ code: 'custom', path: ['config', key], message: `differs from ${key} (${String(b[key])}); give it once, or the same in both` });
    }
  }
}

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

/** A message given at render time to fill a placeholder: plain text, not a template. */
export const placeholderMessage = z
  .looseObject({
    role: z.enum(ROLES, { error: `role is one of ${ROLES.join(', ')}` }),
    content: z.string({ error: 'content is a string' }),
  });

export const renderBody = z
  .object({
    variables: z.record(z.string(), z.unknown()).default({}),
    /** Messages for each placeholder of a chat prompt, by name; a placeholder not given renders as nothing. */
    placeholders: z.record(z.string(), z.array(placeholderMessage).max(1000, 'at most 1000 messages')).default({}),
    environment: z.string().optional(),
    version: z.number().int().min(1).max(2_147_483_647).optional(),
    /** A caller key (user or session id): during a rollout, picks the variant (docs/rollouts.md). */
    key: text(1000).min(1, 'key is a caller key (a user or session id), not empty').optional(),
  })
  .strict()
  .refine((b) => !(b.environment !== undefined && b.version !== undefined), 'give environment or version, not both');

export const includeSchema = z.object({
  ref: z.string(),
  prompt: z.string(),
  version: z.number().int().nullable(),
  environment: z.string().nullable(),
}).meta({ id: 'PartialReference' });
export type Include = z.infer<typeof includeSchema>;

export const storedMessageSchema = z.union([
  z.object({ role: z.enum(ROLES), content: z.string() }),
  z.object({ type: z.literal('placeholder'), name: z.string() }),
]).meta({ id: 'PromptMessage' });
/** Answers carry the configuration as stored, which passed `configSchema` when the version was created. */
export const responseConfigSchema = configSchema.meta({ id: 'PromptConfig' });
/** A rendered message (what a placeholder was filled with passes through as given). */
export const chatMessageSchema = z.looseObject({ role: z.enum(ROLES), content: z.string() }).meta({ id: 'ChatMessage' });

const versionFields = {
  version_id: z.string(),
  version: z.number().int(),
  prompt: z.string(),
  type: z.enum(['text', 'chat']),
  content_hash: z.string(),
  model: z.string(),
  temperature: z.number(),
  max_tokens: z.number().int(),
  config: responseConfigSchema,
  input_schema: z.record(z.string(), z.unknown()).nullable(),
  includes: z.array(includeSchema),
  variables: z.array(z.string()),
  metadata: z.record(z.string(), z.unknown()),
  message: z.string().nullable(),
  created_at: z.string(),
  created_by: z.string(),
  environments: z.array(z.string()),
};
export const versionSummarySchema = z.object(versionFields).meta({ id: 'VersionSummary' });
export const versionSchema = z.object({ ...versionFields, content: z.string().nullable(), messages: z.array(storedMessageSchema).nullable() }).meta({ id: 'Version' });
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
}).meta({ id: 'Prompt' });

export const partialUsedSchema = z.object({ prompt: z.string(), version: z.number().int(), version_id: z.string() }).meta({ id: 'PartialUsed' });
export type PartialUsed = z.infer<typeof partialUsedSchema>;

export const renderResultSchema = z.object({
  type: z.enum(['text', 'chat']),
  /** Text prompts: the rendered text; chat prompts: null. */
  rendered: z.string().nullable(),
  /** Chat prompts: the messages in order, placeholders filled, partials expanded; text prompts: null. */
  messages: z.array(chatMessageSchema).nullable(),
  config: responseConfigSchema,
  partials_used: z.array(partialUsedSchema),
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
}).meta({ id: 'RenderResult' });

export const usedByQuery = z.object({ environment: environmentName.optional() });

export const usedBySchema = z.object({
  data: z.array(z.object({ prompt: z.string(), version: z.number().int(), ref: z.string(), live_in: z.array(z.string()) })),
});
