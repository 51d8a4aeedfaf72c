/**
 * The one place that knows the `.prompt` file format (shared/prompt-files/prompt-file.ts,
 * Dotprompt with our `promptRegistry.*` keys; docs/prompt-files.md): a file's
 * text to the body of a create-version request, and a version back to file
 * text. Text and chat prompts alike; files in the older format are read too.
 */
import { configOf, formatPromptFile, MappingError, parsePromptFile, versionRequest, bodySpan, type PromptFile } from '../../shared/prompt-files/prompt-file.js';
import { AppError } from '../../server/errors.js';
import { checkJsonSchema } from '../../server/prompts/json-schemas.js';
import { createVersionBody, type MessageTemplate } from '../../server/prompts/schemas.js';
import { TemplateError, compileTemplate } from '../../shared/templates/index.js';
import { VERSION_DEFAULTS } from '../../shared/contract/defaults.js';

/** What a create of this file would store: the request with the registry's defaults applied. */
export interface VersionFields {
  type: 'text' | 'chat';
  /** The template of a text prompt; null for chat. */
  content: string | null;
  /** The message templates and placeholders of a chat prompt; null for text. */
  messages: MessageTemplate[] | null;
  model: string;
  temperature: number;
  max_tokens: number;
  /** The rest of the model configuration, as the registry stores it (model, temperature and max_tokens are the fields above). */
  config: Record<string, unknown>;
  input_schema: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
  /** Prompt-level; absent when the file leaves it as it is in the registry. */
  description?: string | null;
  tags?: string[];
}

/** The registry's defaults for what a create leaves out (server/prompts): a file without them compares equal to a version with them. */
export const DEFAULTS = VERSION_DEFAULTS;

/** The model settings a version carries in its own fields; the registry's `config` repeats them. */
export const MIRRORED = ['model', 'temperature', 'max_tokens'] as const;

/** A registry's `config` without the settings it mirrors from the version's own fields: what it stores. */
export function storedConfig(config: Record<string, unknown> | null | undefined): Record<string, unknown> {
  const rest = { ...(config ?? {}) };
  for (const key of MIRRORED) delete rest[key];
  return rest;
}

export interface FileProblem {
  /** 1-based line in the file. */
  line: number;
  message: string;
}

/** A prompt a file includes as a partial, and the line that first includes it. */
export interface PartialUse {
  prompt: string;
  line: number;
}

export type ReadFile =
  | {
      ok: true;
      name: string | undefined;
      fields: VersionFields;
      samples: Record<string, unknown>;
      /** The prompts its templates include (`{{> safety}}`) and the line of each first reference, so a push creates those first. */
      includes: PartialUse[];
    }
  | { ok: false; problems: FileProblem[] };

/** The document line where a chat message's content starts (else its part starts). */
function messageLine(file: PromptFile, index: number): number {
  const part = file.structure.parts[index];
  if (!part) return file.bodyLine + 1;
  const at = part.kind === 'message' && part.content ? file.body.indexOf(part.content, part.start) : -1;
  return bodySpan(file, at >= 0 ? at : part.start, at >= 0 ? at : part.start).line;
}

/** The front matter keys a request field comes from (Dotprompt's, then the older format's). */
const FRONT_KEYS: Record<string, string[]> = {
  input_schema: ['input'],
  config: ['config', 'output', 'toolDefs', 'tools'],
  model: ['model'],
  temperature: ['config', 'temperature'],
  max_tokens: ['config', 'max_tokens'],
  metadata: ['metadata'],
  description: ['description'],
  tags: ['promptRegistry.tags', 'tags'],
};

/** Where a problem of the create request is written in the file: its message, or its front matter key (else line 1). */
function lineOfPath(file: PromptFile, text: string, path: readonly PropertyKey[]): number {
  const field = String(path[0] ?? '');
  if (field === 'content') return file.bodyLine + 1;
  if (field === 'messages') return typeof path[1] === 'number' ? messageLine(file, path[1]) : file.bodyLine + 1;
  const front = text.split(/\r?\n/).slice(0, file.bodyLine);
  let keys = FRONT_KEYS[field] ?? [];
  if (field === 'config' && path[1] === 'response_format') keys = ['output'];
  if (field === 'config' && path[1] === 'tools') keys = ['toolDefs', 'tools'];
  for (const key of keys) {
    const i = front.findIndex((l) => l.startsWith(`${key}:`));
    if (i >= 0) return i + 1;
  }
  return 1;
}

/** A path as the server's messages write it (`config.tools[0].function.parameters`), back to its parts. */
const pathOf = (written: string): string[] => written.split(/[.[\]]+/).filter(Boolean);

/** Parses a `.prompt` file and checks it as the registry would (settings, schemas, every template); never throws. */
export function readPromptText(text: string): ReadFile {
  const file = parsePromptFile(text);
  if (file.problems.length) return { ok: false, problems: file.problems.map((p) => ({ line: p.span.line, message: p.message })) };
  const parsed = createVersionBody.safeParse(versionRequest(file));
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ line: lineOfPath(file, text, i.path), message: `${i.path.join('.') || 'file'}: ${i.message}` })),
    };
  }
  const d = parsed.data;
  const problems: FileProblem[] = [];
  try {
    (d.config?.tools ?? []).forEach((tool, i) => {
      if (tool.function.parameters !== undefined) checkJsonSchema(tool.function.parameters, `config.tools[${i}].function.parameters`);
    });
    if (d.config?.response_format?.type === 'json_schema') checkJsonSchema(d.config.response_format.json_schema.schema, 'config.response_format.json_schema.schema');
    if (d.input_schema) checkJsonSchema(d.input_schema, 'input_schema');
  } catch (err) {
    if (!(err instanceof AppError)) throw err;
    const at = typeof err.details.path === 'string' ? err.details.path : '';
    problems.push({ line: lineOfPath(file, text, pathOf(at)), message: err.message });
  }
  // Each template compiled by the registry's engine; a problem's line is the file's.
  const templates = d.type === 'chat'
    ? (d.messages ?? []).flatMap((m, i) => (m.content === undefined ? [] : [{ source: m.content, line: messageLine(file, i), field: `messages[${i}].content: ` }]))
    : [{ source: d.content ?? '', line: file.bodyLine + 1, field: '' }];
  for (const t of templates) {
    try {
      compileTemplate(t.source);
    } catch (err) {
      if (!(err instanceof TemplateError)) throw err;
      const line = typeof err.details.line === 'number' ? t.line + err.details.line - 1 : t.line;
      problems.push({ line, message: `${t.field}${err.message}` });
    }
  }
  if (problems.length) return { ok: false, problems };

  const fields: VersionFields = {
    type: d.type,
    content: d.type === 'chat' ? null : (d.content ?? ''),
    messages: d.type === 'chat' ? (d.messages as MessageTemplate[]) : null,
    model: d.model ?? d.config?.model ?? DEFAULTS.model,
    temperature: d.temperature ?? d.config?.temperature ?? DEFAULTS.temperature,
    max_tokens: d.max_tokens ?? d.config?.max_tokens ?? DEFAULTS.max_tokens,
    config: storedConfig(d.config),
    input_schema: d.input_schema ?? null,
    metadata: d.metadata,
  };
  if (d.description !== undefined) fields.description = d.description;
  if (d.tags !== undefined) fields.tags = [...new Set(d.tags)];
  const includes: PartialUse[] = [];
  for (const p of file.structure.partials) {
    if (!includes.some((i) => i.prompt === p.prompt)) includes.push({ prompt: p.prompt, line: bodySpan(file, p.start, p.end).line });
  }
  return { ok: true, name: file.meta.name, fields, samples: file.meta.samples ?? {}, includes };
}

/** The create-version body for a file's fields. */
export function createBody(fields: VersionFields, message?: string) {
  const { type, content, messages, config, input_schema, ...rest } = fields;
  return {
    ...(type === 'chat' ? { type, messages: messages ?? [] } : { content: content ?? '' }),
    ...rest,
    ...(Object.keys(config).length ? { config } : {}),
    ...(input_schema ? { input_schema } : {}),
    ...(message ? { message } : {}),
  };
}

/** JSON Schema keywords first, in the order people write them; other keys after, sorted. */
const KEY_ORDER = ['type', 'title', 'description', 'properties', 'items', 'required', 'enum', 'default', 'additionalProperties'];
/** The model settings in the order a file gives them. */
const CONFIG_ORDER = ['temperature', 'max_tokens', 'top_p', 'stop', 'seed', 'presence_penalty', 'frequency_penalty', 'tool_choice', 'tools', 'response_format'];

function keyRank(order: readonly string[], key: string): number {
  const i = order.indexOf(key);
  return i < 0 ? order.length : i;
}

/**
 * The same object with its keys in one order, deeply: a registry on Postgres
 * (jsonb) answers keys in its own order, so pull orders them itself and writes
 * the same bytes whichever database the registry runs on.
 */
export function ordered(value: unknown, order: readonly string[] = KEY_ORDER): unknown {
  if (Array.isArray(value)) return value.map((v) => ordered(v));
  if (!value || typeof value !== 'object') return value;
  const keys = Object.keys(value).sort((a, b) => keyRank(order, a) - keyRank(order, b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(keys.map((k) => [k, ordered((value as Record<string, unknown>)[k])]));
}

/** A version as the registry answers it (type, messages, config and input_schema absent from registries before chat prompts). */
export interface RegistryVersion {
  type?: 'text' | 'chat';
  content?: string | null;
  messages?: MessageTemplate[] | null;
  model: string;
  temperature: number;
  max_tokens: number;
  config?: Record<string, unknown> | null;
  input_schema?: Record<string, unknown> | null;
  metadata: Record<string, unknown>;
  variables: string[];
}

/**
 * A registry version as `.prompt` text (the Dotprompt form); samples are the
 * file's own (the registry keeps none): an empty one per variable unless given.
 * Throws MappingError for a version the format cannot hold.
 */
export function formatVersion(prompt: { name: string; description: string | null; tags: string[] }, version: RegistryVersion, samples?: Record<string, unknown>): string {
  const chat = version.type === 'chat';
  return formatPromptFile({
    name: prompt.name,
    description: prompt.description,
    tags: prompt.tags,
    type: chat ? 'chat' : 'text',
    content: chat ? null : (version.content ?? ''),
    messages: chat ? (version.messages ?? []) : null,
    config: ordered(configOf(version), CONFIG_ORDER) as Record<string, unknown>,
    input_schema: (ordered(version.input_schema ?? null) as Record<string, unknown> | null) ?? null,
    metadata: ordered(version.metadata) as Record<string, unknown>,
    samples: samples ?? Object.fromEntries(version.variables.map((v) => [v, ''])),
  });
}

/** Why a version cannot be written as a `.prompt` file (a placeholder other than history, a role marker inside a message); null when it can. */
export function unrepresentable(prompt: { name: string; description: string | null; tags: string[] }, version: RegistryVersion): string | null {
  try {
    formatVersion(prompt, version);
    return null;
  } catch (err) {
    if (err instanceof MappingError) return err.problems.join('; ');
    throw err;
  }
}
