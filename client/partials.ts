/**
 * Partials for local rendering: `{{> safety}}`, `{{> "safety@3"}}`, `{{> "safety@production"}}`, resolved
 * from the partials a resolve answer carries (by reference as written, nested ones flattened).
 *
 * The registry's template engine (server/templates) refuses partial tags, so the client expands them in
 * the source before compiling, the way Handlebars runs a partial: in the current context, and a partial
 * alone on its line (a "standalone" tag) takes the line's place, each of its lines indented as the tag was.
 * Two rare differences remain (the Python client, with its own engine, has neither): Handlebars indents
 * the partial's output, so a variable whose value has line breaks, inside an indented standalone partial,
 * has its later lines indented there and not here; and a partial included in the middle of a line whose
 * text starts or ends with a block tag on a line of its own keeps that line break here.
 * The registry's engine gains native partials with chat prompts: once merged, rendering through it
 * (`renderTemplates` with the partials compiled) removes both, and the vectors in test/vectors/chat.json
 * (checked against plain Handlebars) stay the reference.
 */
import Handlebars from 'handlebars';
import { compileTemplate, TemplateError, type CompiledTemplate, type TemplateLimits } from '../shared/templates/index.js';
import type { TemplateErrorCode } from '../shared/templates/errors.js';
import type { PartialUsed, ResolvedPartial } from './types.js';

/** How deep partials may nest (a partial including a partial ...), as the registry allows. */
export const MAX_PARTIAL_DEPTH = 8;

// Codes the registry's engine gains with partials; TemplateErrorCode lists them once that is merged.
const code = (c: string) => c as TemplateErrorCode;

interface Site {
  ref: string;
  /** The source range the partial takes: its tag, with the whitespace its standalone line or `~` removes. */
  from: number;
  to: number;
  /** The indentation of a standalone partial's line, given to each of its lines. */
  indent: string;
}

type Node = hbs.AST.Node;
type Content = hbs.AST.ContentStatement;

const isContent = (n: Node | undefined): n is Content => n?.type === 'ContentStatement';
/** A content statement's text as written (@types/handlebars mistypes `original`). */
const orig = (n: Content): string => (n as unknown as { original: string }).original;

// Handlebars' WhitespaceControl: is the statement alone on its line (whitespace before and after)?
function prevIsWhitespace(body: Node[], i: number, isRoot: boolean): boolean {
  const prev = body[i - 1];
  if (!prev) return isRoot;
  if (!isContent(prev)) return false;
  return (body[i - 2] || !isRoot ? /\r?\n\s*?$/ : /(^|\r?\n)\s*?$/).test(orig(prev));
}

function nextIsWhitespace(body: Node[], i: number, isRoot: boolean): boolean {
  const next = body[i + 1];
  if (!next) return isRoot;
  if (!isContent(next)) return false;
  return (body[i + 2] || !isRoot ? /^\s*?\r?\n/ : /^\s*?(\r?\n|$)/).test(orig(next));
}

function lineOffsets(source: string): number[] {
  const starts = [0];
  const re = /\r\n?|\n/g;
  for (let m = re.exec(source); m; m = re.exec(source)) starts.push(m.index + m[0].length);
  return starts;
}

function unsupported(what: string, node: Node): TemplateError {
  const line = node.loc?.start.line ?? 1;
  const column = (node.loc?.start.column ?? 0) + 1;
  return new TemplateError('template_unsupported', `${what} at line ${line}, column ${column} is not supported in prompt templates`, { line, column });
}

/** The reference a partial tag names: `{{> safety}}` or `{{> "safety@3"}}`; anything else is refused as the registry does. */
function refOf(p: hbs.AST.PartialStatement): string {
  const name = p.name as Node;
  const ref =
    name.type === 'PathExpression' && !(name as hbs.AST.PathExpression).data && (name as hbs.AST.PathExpression).depth === 0
      ? (name as hbs.AST.PathExpression).original
      : name.type === 'StringLiteral'
        ? (name as hbs.AST.StringLiteral).value
        : undefined;
  if (ref === undefined || ref === '') throw unsupported('a partial name other than {{> name}} or {{> "name@version"}}', p);
  if (p.params.length > 0 || (p.hash?.pairs.length ?? 0) > 0) throw unsupported(`arguments to the partial "${ref}"`, p);
  return ref;
}

/** Where a template includes partials; undefined when it does not parse (compiling it reports why, with the position). */
function sites(source: string): Site[] | undefined {
  if (!source.includes('{{')) return [];
  let program: hbs.AST.Program;
  try {
    program = Handlebars.parseWithoutProcessing(source);
  } catch {
    return undefined;
  }
  const lines = lineOffsets(source);
  const offset = (p: hbs.AST.Position) => (lines[p.line - 1] ?? 0) + p.column;
  const found: Site[] = [];
  const walk = (prog: hbs.AST.Program | undefined, isRoot: boolean) => {
    const body = prog?.body ?? [];
    body.forEach((node, i) => {
      if (node.type === 'PartialStatement') {
        const p = node as hbs.AST.PartialStatement & { strip?: { open?: boolean; close?: boolean } };
        const prev = body[i - 1];
        const next = body[i + 1];
        let from = offset(p.loc.start);
        let to = offset(p.loc.end);
        let indent = '';
        const stripOpen = Boolean(p.strip?.open) && isContent(prev);
        const stripClose = Boolean(p.strip?.close) && isContent(next);
        if (stripOpen) from -= /\s*$/.exec(orig(prev as Content))![0].length;
        if (stripClose) to += /^\s*/.exec(orig(next as Content))![0].length;
        if (prevIsWhitespace(body, i, isRoot) && nextIsWhitespace(body, i, isRoot)) {
          if (!stripClose && isContent(next)) to += /^[ \t]*\r?\n?/.exec(orig(next))![0].length;
          if (!stripOpen && isContent(prev)) {
            indent = /[ \t]*$/.exec(orig(prev))![0];
            from -= indent.length;
          }
        }
        found.push({ ref: refOf(p), from, to, indent });
      } else if (node.type === 'PartialBlockStatement') {
        throw unsupported('a partial block ({{#> …}})', node);
      } else if ('program' in node || 'inverse' in node) {
        const b = node as hbs.AST.BlockStatement;
        walk(b.program, false);
        walk(b.inverse, false);
      }
    });
  };
  walk(program, true);
  return found;
}

/** Each line of a standalone partial, indented as its tag was (a last empty line excepted). */
function indentLines(text: string, indent: string): string {
  const lines = text.split('\n');
  return lines.map((line, i) => (line === '' && i === lines.length - 1 ? line : indent + line)).join('\n');
}

/** The template with its partial tags blanked (same length, same lines): what the engine checks for syntax and budgets. */
function blanked(source: string, found: readonly Site[]): string {
  let out = source;
  for (const s of found) {
    const start = s.from + s.indent.length;
    const tag = out.slice(start, s.to).replace(/[^\r\n]/g, ' ');
    out = out.slice(0, start) + tag + out.slice(s.to);
  }
  return out;
}

/**
 * The templates of one prompt with their partials, checked and compiled: each template (and each
 * partial) within the compile limits on its own, as the registry checks them; the partial tree
 * without a missing partial, a cycle or more than MAX_PARTIAL_DEPTH levels.
 */
export function compileWithPartials(
  promptName: string,
  templates: readonly string[],
  partials: Readonly<Record<string, ResolvedPartial>>,
  limits: TemplateLimits,
): { compiled: CompiledTemplate[]; used: PartialUsed[] } {
  const checkedSources = new Map<string, { found: Site[]; compiled: CompiledTemplate }>();
  const check = (source: string) => {
    let entry = checkedSources.get(source);
    if (!entry) {
      const found = sites(source) ?? [];
      // The engine reports syntax errors and budgets with this template's own lines and columns.
      entry = { found, compiled: compileTemplate(found.length ? blanked(source, found) : source, limits) };
      checkedSources.set(source, entry);
    }
    return entry;
  };
  const siteOf = (source: string): Site[] => check(source).found;
  const used: PartialUsed[] = [];
  const seenVersions = new Set<string>();
  const checked = new Map<string, number>();
  const walk = (source: string, chain: string[]) => {
    for (const site of siteOf(source)) {
      const partial = partials[site.ref];
      if (!partial) throw new TemplateError(code('missing_partial'), `the partial "${site.ref}" was not given`, { partial: site.ref });
      if (chain.includes(partial.prompt)) {
        const cycle = [...chain, partial.prompt];
        throw new TemplateError(code('reference_cycle'), `the partials make a cycle: ${cycle.join(' -> ')}`, { chain: cycle });
      }
      if (chain.length > MAX_PARTIAL_DEPTH) {
        throw new TemplateError(code('reference_too_deep'), `partials nest more than ${MAX_PARTIAL_DEPTH} deep: ${[...chain, partial.prompt].join(' -> ')}`, {
          max: MAX_PARTIAL_DEPTH,
        });
      }
      if (!seenVersions.has(partial.version_id)) {
        seenVersions.add(partial.version_id);
        used.push({ prompt: partial.prompt, version: partial.version, versionId: partial.version_id });
      }
      // Checked from this depth (or a shallower one) already: its subtree fits.
      if ((checked.get(site.ref) ?? Infinity) <= chain.length) continue;
      walk(partial.content, [...chain, partial.prompt]);
      checked.set(site.ref, chain.length);
    }
  };
  for (const t of templates) walk(t, [promptName]);

  // Expanded, a template may be as large as itself and every level of partials within it.
  const scale = MAX_PARTIAL_DEPTH + 1;
  const maxChars = limits.maxTemplateChars * scale;
  const expanded = new Map<string, string>();
  const expand = (source: string): string => {
    const found = siteOf(source);
    if (found.length === 0) return source;
    let out = source;
    for (const s of [...found].sort((a, b) => b.from - a.from)) {
      const content = partials[s.ref]!.content;
      let text = expanded.get(s.ref);
      if (text === undefined) {
        text = expand(content);
        expanded.set(s.ref, text);
      }
      out = out.slice(0, s.from) + (s.indent ? indentLines(text, s.indent) : text) + out.slice(s.to);
      if (out.length > maxChars) {
        throw new TemplateError('template_too_large', `the template with its partials expanded is longer than ${maxChars} characters`, { limit: 'size', max: maxChars });
      }
    }
    return out;
  };
  const wide = { ...limits, maxTemplateChars: maxChars, maxTags: limits.maxTags * scale, maxDepth: limits.maxDepth * scale };
  const compiled = templates.map((t) => (siteOf(t).length === 0 ? check(t).compiled : compileTemplate(expand(t), wide)));
  return { compiled, used };
}
