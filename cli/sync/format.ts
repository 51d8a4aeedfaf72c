/**
 * The one place that knows the `.prompt` file format (shared/prompt-files/prompt-file.ts):
 * a file's text to the body of a create-version request, and a version back to
 * file text. When the format changes, this adapter is what changes.
 */
import { formatPromptFile, parsePromptFile, versionRequest } from '../../shared/prompt-files/prompt-file.js';
import { createVersionBody } from '../../server/prompts/schemas.js';
import { TemplateError, compileTemplate } from '../../shared/templates/index.js';

/** What a create of this file would store: the request with the registry's defaults applied. */
export interface VersionFields {
  content: string;
  model: string;
  temperature: number;
  max_tokens: number;
  metadata: Record<string, unknown>;
  /** Prompt-level; absent when the file leaves it as it is in the registry. */
  description?: string | null;
  tags?: string[];
}

/** The registry's defaults for what a create leaves out (server/prompts): a file without them compares equal to a version with them. */
const DEFAULTS = { model: 'gpt-4o', temperature: 0, max_tokens: 1000 } as const;

/** The model settings a version carries in its own fields; a version's `config` repeats them. */
const MIRRORED = new Set(['model', 'temperature', 'max_tokens']);

/**
 * What of a registry version this file format cannot hold: a chat prompt's
 * messages, model configuration beyond model, temperature and max_tokens, an
 * input schema. Empty when the version can be written as a file and read back
 * the same. (Registries before chat prompts answer none of these fields.)
 */
export function unrepresentable(version: { model: string; type?: string; config?: Record<string, unknown> | null; input_schema?: unknown }): Array<'type' | 'config' | 'input_schema'> {
  const lost: Array<'type' | 'config' | 'input_schema'> = [];
  if (version.type !== undefined && version.type !== 'text') lost.push('type');
  if (Object.keys(version.config ?? {}).some((k) => !MIRRORED.has(k))) lost.push('config');
  if (version.input_schema !== undefined && version.input_schema !== null) lost.push('input_schema');
  return lost;
}

export interface FileProblem {
  /** 1-based line in the file. */
  line: number;
  message: string;
}

export type ReadFile =
  | { ok: true; name: string | undefined; fields: VersionFields; samples: Record<string, unknown> }
  | { ok: false; problems: FileProblem[] };

/** Parses a `.prompt` file and checks it as the registry would (settings, template); never throws. */
export function readPromptText(text: string): ReadFile {
  const file = parsePromptFile(text);
  if (file.problems.length) return { ok: false, problems: file.problems.map((p) => ({ line: p.span.line, message: p.message })) };
  const bodyLine = file.bodyLine + 1;
  const parsed = createVersionBody.safeParse(versionRequest(file));
  if (!parsed.success) {
    return {
      ok: false,
      problems: parsed.error.issues.map((i) => ({ line: i.path[0] === 'content' ? bodyLine : 1, message: `${i.path.join('.') || 'file'}: ${i.message}` })),
    };
  }
  const d = parsed.data;
  try {
    compileTemplate(d.content ?? '');
  } catch (err) {
    if (!(err instanceof TemplateError)) throw err;
    const line = typeof err.details.line === 'number' ? bodyLine + err.details.line - 1 : bodyLine;
    return { ok: false, problems: [{ line, message: err.message }] };
  }
  const fields: VersionFields = {
    content: d.content ?? '',
    model: d.model ?? DEFAULTS.model,
    temperature: d.temperature ?? DEFAULTS.temperature,
    max_tokens: d.max_tokens ?? DEFAULTS.max_tokens,
    metadata: d.metadata ?? {},
  };
  if (d.description !== undefined) fields.description = d.description;
  if (d.tags !== undefined) fields.tags = [...new Set(d.tags)];
  return { ok: true, name: file.meta.name, fields, samples: file.meta.samples ?? {} };
}

/** The create-version body for a file's fields. */
export function createBody(fields: VersionFields, message?: string) {
  return { ...fields, ...(message ? { message } : {}) };
}

/** A registry version as `.prompt` text; samples are the file's own (the registry keeps none): empty ones per variable unless given. */
export function formatVersion(
  prompt: { name: string; description: string | null; tags: string[] },
  version: { content: string; model: string; temperature: number; max_tokens: number; metadata: Record<string, unknown>; variables: string[] },
  samples?: Record<string, unknown>,
): string {
  return formatPromptFile({
    name: prompt.name,
    description: prompt.description,
    tags: prompt.tags,
    model: version.model,
    temperature: version.temperature,
    max_tokens: version.max_tokens,
    metadata: version.metadata,
    samples: samples ?? Object.fromEntries(version.variables.map((v) => [v, ''])),
    content: version.content,
  });
}
