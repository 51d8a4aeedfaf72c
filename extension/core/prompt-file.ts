/**
 * `.prompt` files: YAML front matter (name, description, tags, model,
 * temperature, max_tokens, metadata, samples) between `---` lines, then the
 * Handlebars template. Pure: no `vscode` import, so it is unit-tested alone.
 */
import { isMap, isScalar, LineCounter, parseDocument, stringify } from 'yaml';
import { z } from 'zod';

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

const frontMatterSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "letters, digits, '.', '_' and '-', starting with a letter or digit").max(255).optional(),
    description: z.string().max(10_000).nullable().optional(),
    tags: z.array(z.string().min(1).max(100)).max(50).optional(),
    model: z.string().min(1).max(100).optional(),
    temperature: z.number().min(0, 'temperature is 0 to 2').max(2, 'temperature is 0 to 2').optional(),
    max_tokens: z.number().int('max_tokens is a whole number').min(1, 'max_tokens is at least 1').optional(),
    metadata: z.record(z.string(), z.unknown()).optional(),
    samples: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type FrontMatter = z.infer<typeof frontMatterSchema>;

export interface PromptFile {
  frontMatter: FrontMatter;
  /** The template, as it appears after the closing `---`. */
  body: string;
  /** 0-based line of the document where the body starts. */
  bodyLine: number;
  /** Where each sample's key is written, by name. */
  sampleKeys: Map<string, Span>;
  problems: FileProblem[];
}

const FENCE = /^---[ \t]*$/;

function spanOfLine(line: number, text: string): Span {
  return { line, column: 1, endLine: line, endColumn: text.length + 1 };
}

/** Parses a `.prompt` document; problems are reported, never thrown. */
export function parsePromptFile(text: string): PromptFile {
  const lines = text.split(/\r?\n/);
  const problems: FileProblem[] = [];
  if (!FENCE.test(lines[0] ?? '')) {
    // No front matter: the whole file is the template.
    return { frontMatter: {}, body: text, bodyLine: 0, sampleKeys: new Map(), problems };
  }
  const close = lines.findIndex((l, i) => i > 0 && FENCE.test(l));
  if (close < 0) {
    problems.push({ message: 'the front matter has no closing "---" line', span: spanOfLine(1, lines[0]!) });
    return { frontMatter: {}, body: '', bodyLine: lines.length, sampleKeys: new Map(), problems };
  }
  const yamlText = lines.slice(1, close).join('\n');
  const counter = new LineCounter();
  const doc = parseDocument(yamlText, { lineCounter: counter, prettyErrors: false });
  // Offsets in the YAML are shifted one line down in the document (the opening fence).
  const at = (offset: number, endOffset = offset + 1): Span => {
    const s = counter.linePos(offset);
    const e = counter.linePos(endOffset);
    return { line: s.line + 1, column: s.col, endLine: e.line + 1, endColumn: e.col };
  };
  for (const err of doc.errors) problems.push({ message: `front matter: ${err.message.split('\n')[0]}`, span: at(err.pos[0], err.pos[1]) });

  let frontMatter: FrontMatter = {};
  const sampleKeys = new Map<string, Span>();
  if (doc.errors.length === 0) {
    const value: unknown = doc.toJS() ?? {};
    const parsed = frontMatterSchema.safeParse(value);
    if (parsed.success) frontMatter = parsed.data;
    for (const issue of parsed.success ? [] : parsed.error.issues) {
      // Point at the offending key where we can find it.
      const key = issue.path[0];
      let span = spanOfLine(1, '---');
      if (isMap(doc.contents)) {
        const pair = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === (issue.code === 'unrecognized_keys' ? issue.keys[0] : key));
        const range = (isScalar(pair?.key) && pair.key.range) || undefined;
        if (range) span = at(range[0], range[1]);
      }
      const where = issue.code === 'unrecognized_keys' ? `unknown field "${issue.keys.join('", "')}"` : `${issue.path.join('.')}: ${issue.message}`;
      problems.push({ message: `front matter: ${where}`, span });
    }
    if (parsed.success && isMap(doc.contents)) {
      const samples = doc.contents.items.find((p) => isScalar(p.key) && p.key.value === 'samples');
      if (samples && isMap(samples.value)) {
        for (const item of samples.value.items) {
          if (isScalar(item.key) && item.key.range) sampleKeys.set(String(item.key.value), at(item.key.range[0], item.key.range[1]));
        }
      }
    }
  }
  const body = lines.slice(close + 1).join(text.includes('\r\n') ? '\r\n' : '\n');
  return { frontMatter, body, bodyLine: close + 1, sampleKeys, problems };
}

/** The registry's settings for a version, from the front matter (defaults left to the registry). */
export function versionRequest(file: PromptFile, message?: string) {
  const f = file.frontMatter;
  return {
    content: file.body,
    ...(f.model !== undefined ? { model: f.model } : {}),
    ...(f.temperature !== undefined ? { temperature: f.temperature } : {}),
    ...(f.max_tokens !== undefined ? { max_tokens: f.max_tokens } : {}),
    ...(f.metadata !== undefined ? { metadata: f.metadata } : {}),
    ...(f.description !== undefined ? { description: f.description } : {}),
    ...(f.tags !== undefined ? { tags: f.tags } : {}),
    ...(message ? { message } : {}),
  };
}

/** Writes a `.prompt` document for a version (Pull into Workspace). */
export function formatPromptFile(v: {
  name: string;
  description?: string | null;
  tags?: string[];
  model: string;
  temperature: number;
  max_tokens: number;
  metadata?: Record<string, unknown>;
  samples: Record<string, unknown>;
  content: string;
}): string {
  const front: Record<string, unknown> = { name: v.name };
  if (v.description) front.description = v.description;
  if (v.tags?.length) front.tags = v.tags;
  front.model = v.model;
  front.temperature = v.temperature;
  front.max_tokens = v.max_tokens;
  if (v.metadata && Object.keys(v.metadata).length) front.metadata = v.metadata;
  front.samples = v.samples;
  return `---\n${stringify(front, { lineWidth: 0 })}---\n${v.content}`;
}
