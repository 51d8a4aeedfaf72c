/**
 * `.prompt` files: YAML front matter between `---` lines, then a Handlebars
 * template. The format is Google's Dotprompt (Firebase Genkit's `.prompt`),
 * with what is ours alone under `promptRegistry.*` keys, which Dotprompt
 * collects into `ext.promptRegistry` and otherwise ignores:
 *
 *   name, description, model                  Dotprompt's own keys
 *   config: temperature, maxOutputTokens, topP, stopSequences, …
 *   input: { schema (Picoschema or JSON Schema), default }
 *   output: { format: json|text, schema }
 *   tools (names), toolDefs (definitions), metadata
 *   promptRegistry.tags, promptRegistry.samples, promptRegistry.output
 *
 * The body is a text template, or a chat: `{{role "system"}}` … markers (see
 * chat-template.ts). Files in the older format (name, description, tags,
 * model, temperature, max_tokens, metadata, samples at the top level) still
 * open; `convertLegacyFile` rewrites one in the new form. Pure: no `vscode`
 * import, so it is unit-tested alone and a CLI can use it.
 */
import { isMap, isScalar, isSeq, LineCounter, parseDocument, stringify, type Document } from 'yaml';
import { z } from 'zod';
import { formatBody, messagesOf, parseBody, unmappable, type BodyStructure, type MessageItem } from './chat-template.js';
import { PicoschemaError, toJsonSchema, type JsonSchema } from './picoschema.js';
import type { Schemas } from '../contract/api.js';

/** 1-based line and column; the end is exclusive. */
export interface Span {
  line: number;
  column: number;
  endLine: number;
  endColumn: number;
}

export interface FileProblem {
  message: string;
  span: Span;
}

/** Our namespace in the front matter: `promptRegistry.tags`, `promptRegistry.samples`, `promptRegistry.output`. */
export const NAMESPACE = 'promptRegistry';

const promptName = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-', starting with a letter or digit").max(255);
const tags = z.array(z.string().min(1).max(100)).max(50);
const record = z.record(z.string(), z.unknown());

const legacySchema = z
  .object({
    name: promptName.optional(),
    description: z.string().max(10_000).nullable().optional(),
    tags: tags.optional(),
    model: z.string().min(1).max(100).optional(),
    temperature: z.number().min(0, 'temperature is 0 to 2').max(2, 'temperature is 0 to 2').optional(),
    max_tokens: z.number().int('max_tokens is a whole number').min(1, 'max_tokens is at least 1').optional(),
    metadata: record.optional(),
    samples: record.optional(),
  })
  .strict();

const toolDef = z.object({ name: z.string().min(1), description: z.string().optional(), inputSchema: z.unknown().optional(), outputSchema: z.unknown().optional() }).strict();

const dotpromptSchema = z
  .object({
    name: promptName.optional(),
    variant: z.string().optional(),
    version: z.string().optional(),
    description: z.string().max(10_000).nullable().optional(),
    model: z.string().min(1).max(100).optional(),
    config: record.optional(),
    input: z.object({ schema: z.unknown().optional(), default: record.optional() }).strict().optional(),
    output: z.object({ format: z.enum(['json', 'text']).optional(), schema: z.unknown().optional() }).strict().optional(),
    tools: z.array(z.string().min(1)).optional(),
    toolDefs: z.array(toolDef).optional(),
    metadata: record.optional(),
    [`${NAMESPACE}.tags`]: tags.optional(),
    [`${NAMESPACE}.samples`]: record.optional(),
    [`${NAMESPACE}.output`]: z.object({ name: z.string().min(1).max(64).optional(), description: z.string().optional(), strict: z.boolean().optional() }).strict().optional(),
  })
  // Other tools' namespaced keys (`genkit.x`, …) are kept, as Dotprompt keeps them.
  .catchall(z.unknown());

/** The model configuration, in the registry's names: the contract's `config`. */
export type PromptConfig = Schemas['PromptConfig'];

/** What a file says, in the registry's terms, whichever format it is written in. */
export interface PromptMeta {
  name?: string;
  description?: string | null;
  tags?: string[];
  samples?: Record<string, unknown>;
  config: PromptConfig;
  inputSchema?: JsonSchema;
  metadata?: Record<string, unknown>;
}

export interface PromptFile {
  format: 'dotprompt' | 'legacy';
  meta: PromptMeta;
  /** The template, as it appears after the closing `---`. */
  body: string;
  /** 0-based line of the document where the body starts. */
  bodyLine: number;
  /** Messages, placeholders and partial references of the body. */
  structure: BodyStructure;
  /** Where each sample's key is written, by name. */
  sampleKeys: Map<string, Span>;
  problems: FileProblem[];
}

const FENCE = /^---[ \t]*$/;
/** Keys only the old format has at the top level. */
const LEGACY_KEYS = ['samples', 'tags', 'temperature', 'max_tokens'];

function spanOfLine(line: number, text: string): Span {
  return { line, column: 1, endLine: line, endColumn: text.length + 1 };
}

/** Dotprompt's (Genkit's) config names -> ours; both spellings are read. */
const CONFIG_IN: Record<string, string> = {
  maxOutputTokens: 'max_tokens',
  topP: 'top_p',
  stopSequences: 'stop',
  presencePenalty: 'presence_penalty',
  frequencyPenalty: 'frequency_penalty',
  toolChoice: 'tool_choice',
};
const CONFIG_OUT: Record<string, string> = Object.fromEntries(Object.entries(CONFIG_IN).map(([k, v]) => [v, k]));

const configChecks = z.object({
  temperature: z.number().min(0, 'is 0 to 2').max(2, 'is 0 to 2').optional(),
  top_p: z.number().min(0, 'is 0 to 1').max(1, 'is 0 to 1').optional(),
  max_tokens: z.number().int('is a whole number').min(1, 'is at least 1').optional(),
  stop: z.union([z.string(), z.array(z.string())], 'is a string or a list of strings').optional(),
  seed: z.number().int('is a whole number').optional(),
  presence_penalty: z.number().min(-2, 'is -2 to 2').max(2, 'is -2 to 2').optional(),
  frequency_penalty: z.number().min(-2, 'is -2 to 2').max(2, 'is -2 to 2').optional(),
});

/** Finds the YAML node at a path of keys, for a problem's place. */
function keyRange(doc: Document, path: readonly PropertyKey[]): [number, number] | undefined {
  let node: unknown = doc.contents;
  let found: [number, number] | undefined;
  for (const part of path) {
    if (isMap(node)) {
      const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(part));
      if (!pair) break;
      if (isScalar(pair.key) && pair.key.range) found = [pair.key.range[0], pair.key.range[1]];
      node = pair.value;
    } else if (isSeq(node) && typeof part === 'number') {
      node = node.items[part];
      const r = (node as { range?: [number, number] } | undefined)?.range;
      if (r) found = [r[0], r[1]];
    } else break;
  }
  return found;
}

/** Parses a `.prompt` document; problems are reported, never thrown. */
export function parsePromptFile(text: string): PromptFile {
  const lines = text.split(/\r?\n/);
  const problems: FileProblem[] = [];
  const empty = (body: string, bodyLine: number): PromptFile => {
    const structure = parseBody(body);
    const file: PromptFile = { format: 'dotprompt', meta: { config: {} }, body, bodyLine, structure, sampleKeys: new Map(), problems };
    for (const p of structure.problems) problems.push({ message: p.message, span: bodySpan(file, p.start, p.end) });
    return file;
  };
  if (!FENCE.test(lines[0] ?? '')) return empty(text, 0); // No front matter: the whole file is the template.
  const close = lines.findIndex((l, i) => i > 0 && FENCE.test(l));
  if (close < 0) {
    problems.push({ message: 'the front matter has no closing "---" line', span: spanOfLine(1, lines[0]!) });
    return empty('', lines.length);
  }
  const body = lines.slice(close + 1).join(text.includes('\r\n') ? '\r\n' : '\n');
  const file = empty(body, close + 1);
  const counter = new LineCounter();
  const doc = parseDocument(lines.slice(1, close).join('\n'), { lineCounter: counter, prettyErrors: false });
  // Offsets in the YAML are shifted one line down in the document (the opening fence).
  const at = (offset: number, endOffset = offset + 1): Span => {
    const s = counter.linePos(offset);
    const e = counter.linePos(endOffset);
    return { line: s.line + 1, column: s.col, endLine: e.line + 1, endColumn: e.col };
  };
  const place = (path: readonly PropertyKey[]): Span => {
    const r = keyRange(doc, path);
    return r ? at(r[0], r[1]) : spanOfLine(1, '---');
  };
  for (const err of doc.errors) problems.push({ message: `front matter: ${err.message.split('\n')[0]}`, span: at(err.pos[0], err.pos[1]) });
  if (doc.errors.length) return file;

  const value: unknown = doc.toJS() ?? {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    problems.push({ message: 'front matter: expected keys and values', span: spanOfLine(1, '---') });
    return file;
  }
  const keys = Object.keys(value as object);
  const legacy = keys.some((k) => LEGACY_KEYS.includes(k)) && !keys.some((k) => ['config', 'input', 'output', 'tools', 'toolDefs'].includes(k) || k.includes('.'));
  const schema = legacy ? legacySchema : dotpromptSchema;
  const parsed = schema.safeParse(value);
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    if (issue.code === 'unrecognized_keys') {
      const hint = issue.keys.some((k) => LEGACY_KEYS.includes(k)) ? ' (in the Dotprompt form, write it under config: or promptRegistry.*)' : '';
      problems.push({ message: `front matter: unknown field "${issue.keys.join('", "')}"${hint}`, span: place([...issue.path, issue.keys[0]!]) });
    } else {
      problems.push({ message: `front matter: ${issue.path.join('.')}: ${issue.message}`, span: place(issue.path) });
    }
  }
  if (!parsed.success) return file;

  file.format = legacy ? 'legacy' : 'dotprompt';
  const samplesKey = legacy ? 'samples' : `${NAMESPACE}.samples`;
  const samples = isMap(doc.contents) ? doc.contents.items.find((p) => isScalar(p.key) && p.key.value === samplesKey) : undefined;
  if (samples && isMap(samples.value)) {
    for (const item of samples.value.items) if (isScalar(item.key) && item.key.range) file.sampleKeys.set(String(item.key.value), at(item.key.range[0], item.key.range[1]));
  }
  if (legacy) {
    const f = parsed.data as z.infer<typeof legacySchema>;
    const config: PromptConfig = {};
    if (f.model !== undefined) config.model = f.model;
    if (f.temperature !== undefined) config.temperature = f.temperature;
    if (f.max_tokens !== undefined) config.max_tokens = f.max_tokens;
    file.meta = { name: f.name, description: f.description, tags: f.tags, samples: f.samples, config, metadata: f.metadata };
  } else {
    file.meta = dotpromptMeta(parsed.data as z.infer<typeof dotpromptSchema>, (message, path) => problems.push({ message, span: place(path) }));
  }
  return file;
}

/** A span of the document for a range of the body. */
export function bodySpan(file: Pick<PromptFile, 'body' | 'bodyLine'>, start: number, end: number): Span {
  const starts = [0];
  for (let i = 0; i < file.body.length; i++) if (file.body[i] === '\n') starts.push(i + 1);
  const pos = (offset: number) => {
    let line = 0;
    while (line + 1 < starts.length && starts[line + 1]! <= offset) line++;
    return { line: line + 1 + file.bodyLine, column: offset - starts[line]! + 1 };
  };
  const s = pos(start);
  const e = pos(end);
  return { line: s.line, column: s.column, endLine: e.line, endColumn: e.column };
}

function dotpromptMeta(f: z.infer<typeof dotpromptSchema>, problem: (message: string, path: PropertyKey[]) => void): PromptMeta {
  const config: PromptConfig = {};
  if (f.model !== undefined) config.model = f.model;
  for (const [key, value] of Object.entries(f.config ?? {})) {
    const ours = CONFIG_IN[key] ?? key;
    if (ours in config && ours !== 'model') problem(`front matter: config.${key}: given twice (also as ${CONFIG_OUT[ours] ?? ours})`, ['config', key]);
    config[ours] = value;
  }
  if (typeof config.stop === 'string') config.stop = [config.stop];
  const checked = configChecks.safeParse(config);
  for (const issue of checked.success ? [] : checked.error.issues) {
    const key = String(issue.path[0]);
    const written = Object.keys(f.config ?? {}).find((k) => (CONFIG_IN[k] ?? k) === key) ?? key;
    problem(`front matter: config.${written} ${issue.message}`, ['config', written]);
  }

  const schema = (value: unknown, path: PropertyKey[]): JsonSchema | undefined => {
    try {
      return toJsonSchema(value);
    } catch (err) {
      if (!(err instanceof PicoschemaError)) throw err;
      problem(`front matter: ${[...path, ...err.path].join('.')}: ${err.message}`, [...path, ...err.path]);
      return undefined;
    }
  };

  // Tools: Dotprompt lists names in `tools` and definitions in `toolDefs`.
  const defs = new Map((f.toolDefs ?? []).map((d, i) => [d.name, { d, i }]));
  const names = [...(f.tools ?? []), ...[...defs.keys()].filter((n) => !(f.tools ?? []).includes(n))];
  if (names.length) {
    config.tools = names.map((name) => {
      const def = defs.get(name);
      const parameters = def?.d.inputSchema === undefined ? undefined : schema(def.d.inputSchema, ['toolDefs', def.i, 'inputSchema']);
      return { type: 'function' as const, function: { name, ...(def?.d.description ? { description: def.d.description } : {}), ...(parameters ? { parameters } : {}) } };
    });
  }

  const extOutput = f[`${NAMESPACE}.output`] as { name?: string; description?: string; strict?: boolean } | undefined;
  if (f.output) {
    const outSchema = f.output.schema === undefined ? undefined : schema(f.output.schema, ['output', 'schema']);
    if (f.output.format === 'text') config.response_format = { type: 'text' };
    else if (outSchema) {
      config.response_format = {
        type: 'json_schema',
        json_schema: { name: extOutput?.name ?? 'output', ...(extOutput?.description ? { description: extOutput.description } : {}), schema: outSchema, ...(extOutput?.strict !== undefined ? { strict: extOutput.strict } : {}) },
      };
    } else if (f.output.format === 'json') config.response_format = { type: 'json_object' };
  }

  let inputSchema = f.input?.schema === undefined ? undefined : schema(f.input.schema, ['input', 'schema']);
  const defaults = f.input?.default;
  if (defaults && Object.keys(defaults).length) {
    // Dotprompt's input.default becomes each property's JSON Schema default, which the registry applies at render.
    const base = inputSchema ?? { type: 'object', properties: {} };
    const properties = { ...((base.properties as Record<string, JsonSchema> | undefined) ?? {}) };
    for (const [k, v] of Object.entries(defaults)) properties[k] = { ...(properties[k] ?? {}), default: v };
    inputSchema = { ...base, properties };
  }

  return {
    name: f.name,
    description: f.description,
    tags: f[`${NAMESPACE}.tags`] as string[] | undefined,
    samples: f[`${NAMESPACE}.samples`] as Record<string, unknown> | undefined,
    config,
    inputSchema,
    metadata: f.metadata,
  };
}

/** The values the preview and inline hints use: samples, else the input defaults. */
export function sampleValues(file: PromptFile): Record<string, unknown> {
  const defaults: Record<string, unknown> = {};
  const props = file.meta.inputSchema?.properties as Record<string, { default?: unknown }> | undefined;
  for (const [k, p] of Object.entries(props ?? {})) if (p && 'default' in p) defaults[k] = p.default;
  return { ...defaults, ...(file.meta.samples ?? {}) };
}

/** A version as the registry answers it (the chat contract's fields optional: an older registry lacks them). */
export interface VersionShape {
  type?: 'text' | 'chat';
  content?: string | null;
  messages?: MessageItem[] | null;
  config?: PromptConfig | null;
  input_schema?: JsonSchema | null;
  model?: string;
  temperature?: number;
  max_tokens?: number;
  metadata?: Record<string, unknown>;
}

/** POST /prompts/{name}/versions body for the file (contract: chat prompts). */
export interface VersionRequest {
  type?: 'chat';
  content?: string;
  messages?: MessageItem[];
  model?: string;
  temperature?: number;
  max_tokens?: number;
  config?: PromptConfig;
  input_schema?: JsonSchema;
  metadata?: Record<string, unknown>;
  description?: string | null;
  tags?: string[];
  message?: string;
}

/**
 * The registry's request for the file. `model`, `temperature` and `max_tokens`
 * go at the top level (every registry reads them there; a chat-aware one
 * mirrors them into `config`), the rest of the configuration in `config`.
 */
export function versionRequest(file: PromptFile, message?: string): VersionRequest {
  const { model, temperature, max_tokens, ...rest } = file.meta.config;
  const m = file.meta;
  const chat = file.structure.kind === 'chat';
  return {
    ...(chat ? { type: 'chat' as const, messages: messagesOf(file.structure) } : { content: file.body }),
    ...(model !== undefined ? { model } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(max_tokens !== undefined ? { max_tokens } : {}),
    ...(Object.keys(rest).length ? { config: rest } : {}),
    ...(m.inputSchema ? { input_schema: m.inputSchema } : {}),
    ...(m.metadata !== undefined ? { metadata: m.metadata } : {}),
    ...(m.description !== undefined ? { description: m.description } : {}),
    ...(m.tags !== undefined ? { tags: m.tags } : {}),
    ...(message ? { message } : {}),
  };
}

/** The version the file stands for, in the shape the registry answers (for comparing a file with a version). */
export function versionOf(file: PromptFile): Required<Pick<VersionShape, 'type' | 'content' | 'messages' | 'config' | 'input_schema'>> & { metadata: Record<string, unknown> } {
  const chat = file.structure.kind === 'chat';
  return {
    type: chat ? 'chat' : 'text',
    content: chat ? null : file.body,
    messages: chat ? messagesOf(file.structure) : null,
    config: file.meta.config,
    input_schema: file.meta.inputSchema ?? null,
    metadata: file.meta.metadata ?? {},
  };
}

/** A version that cannot be written as a `.prompt` file (a placeholder other than history, a marker inside a message). */
export class MappingError extends Error {
  constructor(readonly problems: string[]) {
    super(`cannot be written as a .prompt file: ${problems.join('; ')}`);
  }
}

/** The version's whole configuration, the top-level fields folded in. */
export function configOf(v: VersionShape): PromptConfig {
  const config: PromptConfig = { ...(v.config ?? {}) };
  if (config.model === undefined && v.model !== undefined) config.model = v.model;
  if (config.temperature === undefined && v.temperature !== undefined) config.temperature = v.temperature;
  if (config.max_tokens === undefined && v.max_tokens !== undefined) config.max_tokens = v.max_tokens;
  return config;
}

/**
 * Writes a `.prompt` document in the Dotprompt form for a version (Pull into
 * Workspace, Open Version, Convert). Throws MappingError for a message list
 * the format cannot express.
 */
export function formatPromptFile(
  v: VersionShape & { name: string; description?: string | null; tags?: string[]; samples?: Record<string, unknown> },
): string {
  const chat = v.type === 'chat' || (v.messages !== undefined && v.messages !== null);
  const problems = chat ? unmappable(v.messages ?? []) : [];
  if (problems.length) throw new MappingError(problems);
  const { model, tools, response_format, ...rest } = configOf(v);
  const front: Record<string, unknown> = { name: v.name };
  if (v.description) front.description = v.description;
  if (model !== undefined) front.model = model;
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(rest)) config[CONFIG_OUT[key] ?? key] = value;
  if (Object.keys(config).length) front.config = config;

  const schema = v.input_schema ?? undefined;
  if (schema) {
    // Defaults go to Dotprompt's input.default; the schema stays JSON Schema (Dotprompt reads both).
    const props = { ...((schema.properties as Record<string, JsonSchema> | undefined) ?? {}) };
    const defaults: Record<string, unknown> = {};
    for (const [k, p] of Object.entries(props)) {
      if (p && typeof p === 'object' && 'default' in p) {
        const { default: d, ...without } = p;
        defaults[k] = d;
        props[k] = without;
      }
    }
    const onlyDefaults = Object.values(props).every((p) => Object.keys(p).length === 0) && Object.keys(schema).every((k) => k === 'type' || k === 'properties');
    front.input = {
      ...(onlyDefaults ? {} : { schema: { ...schema, properties: props } }),
      ...(Object.keys(defaults).length ? { default: defaults } : {}),
    };
  }
  if (response_format) {
    if (response_format.type === 'text') front.output = { format: 'text' };
    else if (response_format.type === 'json_object') front.output = { format: 'json' };
    else if (response_format.type === 'json_schema') {
      const js = response_format.json_schema;
      front.output = { format: 'json', schema: js.schema };
      if (js.name !== 'output' || js.description || js.strict !== undefined) {
        front[`${NAMESPACE}.output`] = { name: js.name, ...(js.description ? { description: js.description } : {}), ...(js.strict !== undefined ? { strict: js.strict } : {}) };
      }
    }
  }
  if (tools?.length) {
    front.tools = tools.map((t) => t.function.name);
    const defs = tools
      .filter((t) => t.function.description || t.function.parameters)
      .map((t) => ({ name: t.function.name, ...(t.function.description ? { description: t.function.description } : {}), ...(t.function.parameters ? { inputSchema: t.function.parameters } : {}) }));
    if (defs.length) front.toolDefs = defs;
  }
  if (v.metadata && Object.keys(v.metadata).length) front.metadata = v.metadata;
  if (v.tags?.length) front[`${NAMESPACE}.tags`] = v.tags;
  front[`${NAMESPACE}.samples`] = v.samples ?? {};
  // The output key's position: keep it next to output.
  const ordered: Record<string, unknown> = {};
  for (const key of ['name', 'description', 'model', 'config', 'input', 'output', `${NAMESPACE}.output`, 'tools', 'toolDefs', 'metadata', `${NAMESPACE}.tags`, `${NAMESPACE}.samples`]) {
    if (key in front) ordered[key] = front[key];
  }
  const body = chat ? formatBody(v.messages ?? []) : (v.content ?? '');
  return `---\n${stringify(ordered, { lineWidth: 0 })}---\n${body}`;
}

/**
 * Rewrites a file in the older format (name, description, tags, model,
 * temperature, max_tokens, metadata, samples at the top level) in the
 * Dotprompt form; a file already in it is returned unchanged. Throws
 * MappingError when the file has problems.
 */
export function convertLegacyFile(text: string, fallbackName: string): string {
  const file = parsePromptFile(text);
  if (file.problems.length) throw new MappingError(file.problems.map((p) => `line ${p.span.line}: ${p.message}`));
  if (file.format !== 'legacy') return text;
  const m = file.meta;
  return formatPromptFile({
    name: m.name ?? fallbackName,
    description: m.description,
    tags: m.tags,
    samples: m.samples,
    ...versionOf(file),
  });
}
