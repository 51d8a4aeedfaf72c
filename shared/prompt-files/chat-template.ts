/**
 * The body of a `.prompt` file as Dotprompt writes a chat: `{{role "system"}}`,
 * `{{role "user"}}`, `{{role "model"}}` markers start messages, `{{history}}`
 * stands for the conversation so far, `{{> name}}` includes a partial. Here it
 * becomes the registry's `messages` (and back), and renders with Dotprompt's
 * helpers for the preview. Pure: no `vscode` import.
 */
import Handlebars from 'handlebars';

export type Role = 'system' | 'user' | 'assistant' | 'tool';
export interface ChatMessage {
  role: Role;
  content: string;
}
export interface Placeholder {
  type: 'placeholder';
  name: string;
}
export type MessageItem = ChatMessage | Placeholder;

export const isPlaceholder = (m: MessageItem): m is Placeholder => (m as Placeholder).type === 'placeholder';

/** Dotprompt's role names to ours: `model` is the assistant; `assistant` is accepted too. */
const ROLE_IN_FILE: Record<string, Role> = { system: 'system', user: 'user', model: 'assistant', assistant: 'assistant', tool: 'tool' };
const ROLE_TO_FILE: Record<Role, string> = { system: 'system', user: 'user', assistant: 'model', tool: 'tool' };

/** A range of the body, as offsets (end exclusive). */
export interface Range {
  start: number;
  end: number;
}

export type BodyPart =
  | ({ kind: 'message'; role: Role; content: string; marker: Range | null } & Range)
  | ({ kind: 'placeholder'; name: string } & Range);

export interface PartialReference extends Range {
  /** As written: `safety`, `safety@3`, `safety@production`. */
  ref: string;
  prompt: string;
  version: number | null;
  environment: string | null;
}

export interface BodyStructure {
  /** `chat` when the body has a role marker or `{{history}}` at its top level. */
  kind: 'text' | 'chat';
  parts: BodyPart[];
  partials: PartialReference[];
  problems: Array<{ message: string } & Range>;
  /**
   * The body as the registry's template engine reads it: role and history
   * markers and partials blanked (Dotprompt's `json`, `ifEquals`,
   * `unlessEquals` and `section` are the engine's own); `toBody` maps its
   * offsets back to the body's.
   */
  analysable: { text: string; toBody(offset: number): number };
}

type Node = hbs.AST.Node;
type Statement = hbs.AST.Statement;

/** Line starts, to turn Handlebars' (1-based line, 0-based column) into offsets. */
export function lineStarts(text: string): number[] {
  const starts = [0];
  for (let i = 0; i < text.length; i++) if (text[i] === '\n') starts.push(i + 1);
  return starts;
}

export function offsetAt(starts: number[], line: number, column: number): number {
  return (starts[line - 1] ?? 0) + column;
}

/** The 1-based line and column of an offset. */
export function positionOf(starts: number[], offset: number): { line: number; column: number } {
  let lo = 0;
  let hi = starts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (starts[mid]! <= offset) lo = mid;
    else hi = mid - 1;
  }
  return { line: lo + 1, column: offset - starts[lo]! + 1 };
}

const PARTIAL_REF = /^([A-Za-z0-9][A-Za-z0-9._-]*)(?:@(?:(\d+)|([A-Za-z0-9][A-Za-z0-9._-]*)))?$/;

/** `safety`, `safety@3`, `safety@production`; undefined when it is none of these. */
export function parsePartialRef(ref: string): Omit<PartialReference, 'start' | 'end'> | undefined {
  const m = PARTIAL_REF.exec(ref);
  if (!m) return undefined;
  return { ref, prompt: m[1]!, version: m[2] ? Number(m[2]) : null, environment: m[3] ?? null };
}

interface Edit extends Range {
  text: string;
}

function blank(source: string, r: Range): Edit {
  return { ...r, text: source.slice(r.start, r.end).replace(/[^\n]/g, ' ') };
}

function applyEdits(source: string, edits: Edit[]): BodyStructure['analysable'] {
  const sorted = [...edits].sort((a, b) => a.start - b.start);
  let text = '';
  let at = 0;
  // Each edit: where its replacement starts in the new text, and the original range.
  const placed: Array<{ newStart: number; newEnd: number; start: number; end: number }> = [];
  for (const e of sorted) {
    if (e.start < at) continue; // overlapping: the outer edit wins
    text += source.slice(at, e.start);
    placed.push({ newStart: text.length, newEnd: text.length + e.text.length, start: e.start, end: e.end });
    text += e.text;
    at = e.end;
  }
  text += source.slice(at);
  return {
    text,
    toBody(offset: number): number {
      let delta = 0;
      for (const p of placed) {
        if (offset < p.newStart) break;
        if (offset < p.newEnd) return p.start + Math.min(offset - p.newStart, p.end - p.start);
        delta = p.end - p.newEnd;
      }
      return offset + delta;
    },
  };
}

const name = (node: Node): string | undefined => {
  const path = (node as hbs.AST.MustacheStatement).path as hbs.AST.PathExpression | undefined;
  return path?.type === 'PathExpression' && path.parts.length === 1 && !path.data ? path.original : undefined;
};

/** Splits a body into messages and placeholders; never throws (a syntax error is left to the template engine). */
export function parseBody(source: string): BodyStructure {
  const starts = lineStarts(source);
  const range = (node: Node): Range => ({
    start: offsetAt(starts, node.loc.start.line, node.loc.start.column),
    end: offsetAt(starts, node.loc.end.line, node.loc.end.column),
  });
  const problems: BodyStructure['problems'] = [];
  const partials: PartialReference[] = [];
  const edits: Edit[] = [];
  const markers: Array<Range & ({ role: Role } | { history: true })> = [];

  let program: hbs.AST.Program;
  try {
    program = Handlebars.parse(source);
  } catch {
    return { kind: 'text', parts: [{ kind: 'message', role: 'user', content: source, marker: null, start: 0, end: source.length }], partials, problems, analysable: { text: source, toBody: (o) => o } };
  }

  const visit = (statements: Statement[], block: string | undefined): void => {
    for (const node of statements) {
      const r = range(node);
      switch (node.type) {
        case 'MustacheStatement': {
          const m = node as hbs.AST.MustacheStatement;
          const helper = name(m);
          if (helper === 'role') {
            edits.push(blank(source, r));
            const arg = m.params[0];
            const role = arg?.type === 'StringLiteral' && m.params.length === 1 ? ROLE_IN_FILE[(arg as hbs.AST.StringLiteral).value] : undefined;
            if (!role) problems.push({ ...r, message: '{{role}} takes one quoted role: "system", "user", "model" or "tool"' });
            else if (block) problems.push({ ...r, message: `a {{role}} marker inside {{#${block}}}…{{/${block}}} cannot become a message: move it out of the block` });
            else markers.push({ ...r, role });
          } else if (helper === 'history') {
            edits.push(blank(source, r));
            if (m.params.length || m.hash?.pairs.length) problems.push({ ...r, message: '{{history}} takes no arguments' });
            else if (block) problems.push({ ...r, message: `{{history}} inside {{#${block}}}…{{/${block}}} cannot become a placeholder: move it out of the block` });
            else if (markers.some((x) => 'history' in x)) problems.push({ ...r, message: 'only one {{history}} per prompt' });
            else markers.push({ ...r, history: true });
          }
          break;
        }
        case 'BlockStatement': {
          const b = node as hbs.AST.BlockStatement;
          const helper = name(b);
          visit(b.program?.body ?? [], helper ?? block ?? 'block');
          visit(b.inverse?.body ?? [], helper ?? block ?? 'block');
          break;
        }
        case 'PartialStatement': {
          const p = node as hbs.AST.PartialStatement;
          edits.push(blank(source, r));
          const n = p.name as hbs.AST.PathExpression | hbs.AST.StringLiteral | hbs.AST.SubExpression;
          const written = n.type === 'PathExpression' ? n.original : n.type === 'StringLiteral' ? n.value : undefined;
          const parsed = written === undefined ? undefined : parsePartialRef(written);
          if (!parsed) problems.push({ ...r, message: `{{> ${written ?? '(…)'}}} is not a prompt reference: write {{> name}}, {{> "name@3"}} or {{> "name@production"}}` });
          else if (p.params.length || p.hash?.pairs.length) problems.push({ ...r, message: `{{> ${written}}} takes no arguments: a partial renders with the prompt's own variables` });
          else partials.push({ ...r, ...parsed });
          break;
        }
        case 'PartialBlockStatement':
          problems.push({ ...r, message: 'partial blocks ({{#> name}}…{{/name}}) are not supported' });
          break;
        default:
          break;
      }
    }
  };
  visit(program.body, undefined);

  const analysable = applyEdits(source, edits);
  if (markers.length === 0) {
    return { kind: 'text', parts: [{ kind: 'message', role: 'user', content: source, marker: null, start: 0, end: source.length }], partials, problems, analysable };
  }

  const parts: BodyPart[] = [];
  // Between markers: the text of a message, without the line break after its marker and the one before the next.
  const addText = (from: number, to: number, role: Role, marker: Range | null) => {
    let start = from;
    let end = to;
    if (marker) {
      if (source.startsWith('\r\n', start)) start += 2;
      else if (source[start] === '\n') start += 1;
    }
    if (end > start && source[end - 1] === '\n') end -= source[end - 2] === '\r' ? 2 : 1;
    const content = source.slice(start, end);
    if (content.trim() === '') return;
    parts.push({ kind: 'message', role, content, marker, start, end });
  };
  // Text before the first marker is a user message; after {{history}}, the model's (as Dotprompt does).
  let role: Role = 'user';
  let marker: Range | null = null;
  let at = 0;
  for (const m of markers) {
    addText(at, m.start, role, marker);
    if ('history' in m) {
      parts.push({ kind: 'placeholder', name: 'history', start: m.start, end: m.end });
      role = 'assistant';
      marker = { start: m.start, end: m.end };
    } else {
      role = m.role;
      marker = { start: m.start, end: m.end };
    }
    at = m.end;
  }
  addText(at, source.length, role, marker);
  return { kind: 'chat', parts, partials, problems, analysable };
}

/** Why a message list cannot be written as a `.prompt` body; empty when it can. */
export function unmappable(messages: readonly MessageItem[]): string[] {
  const problems: string[] = [];
  messages.forEach((m, i) => {
    if (isPlaceholder(m)) {
      if (m.name !== 'history') problems.push(`messages[${i}]: the placeholder "${m.name}" has no .prompt form: Dotprompt writes only {{history}}`);
      return;
    }
    const s = parseBody(m.content);
    if (s.kind === 'chat') problems.push(`messages[${i}] (${m.role}): its content holds a {{role}} or {{history}} marker, which a .prompt file would read as a new message`);
    if (m.content.trim() === '') problems.push(`messages[${i}] (${m.role}): an empty message has no .prompt form`);
  });
  return problems;
}

/** The `.prompt` body for a message list: each message under its role marker. Check `unmappable()` first. */
export function formatBody(messages: readonly MessageItem[]): string {
  return messages.map((m) => (isPlaceholder(m) ? '{{history}}\n' : `{{role "${ROLE_TO_FILE[m.role]}"}}\n${m.content}\n`)).join('');
}

/** The message list of a parsed chat body. */
export function messagesOf(structure: BodyStructure): MessageItem[] {
  return structure.parts.map((p) => (p.kind === 'placeholder' ? { type: 'placeholder', name: p.name } : { role: p.role, content: p.content }));
}

// ---------------------------------------------------------------------------
// Rendering, for the preview and for tests against Dotprompt itself.

/** Dotprompt's helpers: `json`, `ifEquals`, `unlessEquals`, and `section` (which leaves no text). */
function withHelpers(env: typeof Handlebars): typeof Handlebars {
  env.registerHelper('json', (value: unknown, options: Handlebars.HelperOptions) => JSON.stringify(value, null, Number(options.hash?.indent) || 0));
  env.registerHelper('ifEquals', function (this: unknown, a: unknown, b: unknown, options: Handlebars.HelperOptions) {
    return a === b ? options.fn(this) : options.inverse(this);
  });
  env.registerHelper('unlessEquals', function (this: unknown, a: unknown, b: unknown, options: Handlebars.HelperOptions) {
    return a !== b ? options.fn(this) : options.inverse(this);
  });
  env.registerHelper('section', () => '');
  return env;
}

export interface RenderedMessage {
  role: Role;
  content: string;
  /** Came from a placeholder (its name), not from the template. */
  placeholder?: string;
}

/**
 * Renders a message list as the registry does: each message's template with
 * the variables, partials by their ref as written, placeholders filled from
 * `placeholders` (missing: nothing). Not strict: a missing variable renders
 * empty (the caller lists what is missing); a missing partial throws.
 */
export function renderMessages(
  messages: readonly MessageItem[],
  variables: Record<string, unknown>,
  opts: { partials?: Record<string, string>; placeholders?: Record<string, Array<{ role: Role; content: string }>> } = {},
): RenderedMessage[] {
  const env = withHelpers(Handlebars.create());
  for (const [ref, text] of Object.entries(opts.partials ?? {})) env.registerPartial(ref, text);
  const out: RenderedMessage[] = [];
  for (const m of messages) {
    if (isPlaceholder(m)) {
      for (const h of opts.placeholders?.[m.name] ?? []) out.push({ role: h.role, content: h.content, placeholder: m.name });
      continue;
    }
    out.push({ role: m.role, content: env.compile(m.content, { noEscape: true })(variables) });
  }
  return out;
}

/** Renders a text template with the same helpers and partials. */
export function renderText(template: string, variables: Record<string, unknown>, partials: Record<string, string> = {}): string {
  const env = withHelpers(Handlebars.create());
  for (const [ref, text] of Object.entries(partials)) env.registerPartial(ref, text);
  return env.compile(template, { noEscape: true })(variables);
}
