import { TemplateError } from './errors.js';

/**
 * Budgets for compiling and rendering a template (docs/templates.md, "Limits"). The server, the
 * TypeScript client and the Python client share them and the vectors in test/vectors/render-limits.json.
 */
export interface TemplateLimits {
  /** Longest template, in Unicode code points. */
  maxTemplateChars: number;
  /** Most `{{…}}` tags (a comment is one). */
  maxTags: number;
  /** Deepest nesting of blocks (`{{#…}}`, `{{^…}}`). */
  maxDepth: number;
  /** Most executions of `{{#each}}` bodies in one render, nested loops included. */
  maxIterations: number;
  /** Longest rendered text, in Unicode code points. */
  maxOutputChars: number;
  /** Longest a render may run, in milliseconds. */
  timeoutMs: number;
}

export const DEFAULT_TEMPLATE_LIMITS: Readonly<TemplateLimits> = Object.freeze({
  maxTemplateChars: 200_000,
  maxTags: 5_000,
  maxDepth: 32,
  maxIterations: 100_000,
  maxOutputChars: 1_000_000,
  timeoutMs: 2_000,
});

/** The defaults with what is given; throws on a limit that is not a whole number ≥ 0 (timeout ≥ 1). */
export function templateLimits(given: Partial<TemplateLimits> = {}): TemplateLimits {
  const limits = { ...DEFAULT_TEMPLATE_LIMITS };
  for (const key of Object.keys(DEFAULT_TEMPLATE_LIMITS) as Array<keyof TemplateLimits>) {
    const value = given[key];
    if (value === undefined) continue;
    if (!Number.isSafeInteger(value) || value < (key === 'timeoutMs' ? 1 : 0)) {
      throw new RangeError(`template limit ${key} must be a whole number ${key === 'timeoutMs' ? '≥ 1' : '≥ 0'} (given ${String(value)})`);
    }
    limits[key] = value;
  }
  return limits;
}

/** Unicode code points in `text`: its UTF-16 length minus one per surrogate pair. */
export function codePoints(text: string): number {
  let n = text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n--;
        i++;
      }
    }
  }
  return n;
}

/** More than `max` code points? Counts exactly only when the UTF-16 length is over. */
export function longerThan(text: string, max: number): boolean {
  return text.length > max && codePoints(text) > max;
}

function tooLarge(limit: 'size' | 'tags' | 'depth', max: number, message: string): TemplateError {
  return new TemplateError('template_too_large', message, { limit, max });
}

const SPACE = new Set([' ', '\t', '\n', '\r']);

/**
 * Refuses a template beyond the compile limits before the Handlebars parser sees it (the parser is
 * slow on many tags and quadratic on deep nesting). One linear pass, no recursion; the exact rules
 * are in LIMITS (docs/templates.md) so every engine counts alike.
 */
export function checkTemplateSize(source: string, limits: Pick<TemplateLimits, 'maxTemplateChars' | 'maxTags' | 'maxDepth'>): void {
  if (longerThan(source, limits.maxTemplateChars)) {
    throw tooLarge('size', limits.maxTemplateChars, `the template is ${codePoints(source)} characters long; the limit is ${limits.maxTemplateChars}`);
  }
  let i = 0;
  let tags = 0;
  let depth = 0;
  let closed = true;
  let scannedTo = 0;
  for (;;) {
    const open = source.indexOf('{{', i);
    if (open < 0) return;
    tags += 1;
    if (tags > limits.maxTags) {
      throw tooLarge('tags', limits.maxTags, `the template has more than ${limits.maxTags} {{…}} tags; the limit is ${limits.maxTags}`);
    }
    let j = open + 2;
    if (source[j] === '{') j += 1;
    if (source[j] === '~') j += 1;
    const c = source[j];
    if (c === '!') {
      // A comment: tags inside it count nothing.
      let end: number;
      if (source.startsWith('--', j + 1)) {
        // As Handlebars lexes it, the closing "--}}" (or "--~}}") may start right after "!": "{{!--}}" is closed.
        end = longCommentEnd(source, j + 1);
      } else {
        const a = source.indexOf('}}', j + 1);
        end = a < 0 ? -1 : a + 2;
      }
      if (end < 0) return;
      i = end;
      continue;
    }
    if (c === '#' || (c === '^' && opensInverseBlock(source, j + 1))) {
      depth += 1;
      if (depth > limits.maxDepth) {
        throw tooLarge('depth', limits.maxDepth, `the template nests blocks more than ${limits.maxDepth} deep; the limit is ${limits.maxDepth}`);
      }
    } else if (c === '/') {
      depth = Math.max(0, depth - 1);
    }
    // Sub-expressions nest too, and the parser recurses on them: "(" inside one tag counts against the same depth.
    // A tag that starts inside the previous one, or with no "}}" left, is one the parser refuses anyway:
    // skipping those keeps the scanned stretches apart, so the pass stays linear.
    const close = closed && j >= scannedTo ? source.indexOf('}}', j) : -1;
    if (closed && j >= scannedTo && close < 0) closed = false;
    const nested = close < 0 ? 0 : parenDepth(source, j, close);
    if (close >= 0) scannedTo = close + 2;
    if (nested > limits.maxDepth) {
      throw tooLarge('depth', limits.maxDepth, `a tag nests (sub-expressions) ${nested} deep; the limit is ${limits.maxDepth}`);
    }
    i = j;
  }
}

/**
 * Where a `{{!--` comment ends: after the first "--" followed by "}}" or "~}}".
 * One pass from `from`, so many comments cost linear time, never a rescan to the end each.
 */
function longCommentEnd(source: string, from: number): number {
  for (let k = from; ; ) {
    const dashes = source.indexOf('--', k);
    if (dashes < 0) return -1;
    if (source.startsWith('}}', dashes + 2)) return dashes + 4;
    if (source.startsWith('~}}', dashes + 2)) return dashes + 5;
    k = dashes + 1;
  }
}

/** The deepest "(" nesting between `from` and `to` (a tag's closing "}}"). */
function parenDepth(source: string, from: number, to: number): number {
  let depth = 0;
  let deepest = 0;
  for (let k = from; k < to; k++) {
    const ch = source[k];
    if (ch === '(') deepest = Math.max(deepest, ++depth);
    else if (ch === ')') depth = Math.max(0, depth - 1);
  }
  return deepest;
}

/** `{{^x}}` opens a block; `{{^}}` (an else) does not. */
function opensInverseBlock(source: string, from: number): boolean {
  let k = from;
  while (k < source.length && SPACE.has(source[k]!)) k++;
  return source[k] !== '}' && source[k] !== '~';
}

function renderTooLarge(limit: 'iterations' | 'output' | 'time', max: number, message: string): TemplateError {
  return new TemplateError('render_too_large', message, { limit, max });
}

export const iterationsExceeded = (max: number) =>
  renderTooLarge(
    'iterations',
    max,
    `rendering ran more than ${max} loop iterations; the limit is ${max} (a loop inside a loop multiplies: check nested {{#each}})`,
  );
export const outputExceeded = (max: number) => renderTooLarge('output', max, `the rendered text is longer than ${max} characters; the limit is ${max}`);
export const timeExceeded = (max: number) =>
  renderTooLarge('time', max, `rendering took longer than ${max} ms; the limit is ${max} ms (check loops over large lists)`);

/**
 * What one render has spent. The `each` helper ticks it once per body; the output helper and each
 * finished body add what they produced, so a runaway render stops early rather than at the end.
 */
export class RenderBudget {
  private iterations = 0;
  /** UTF-16 units known to be in the output so far (literal text of finished loop bodies and every variable written). */
  private produced = 0;
  /** Per open loop body: UTF-16 units of its output already counted (variables and inner bodies). */
  private readonly counted: number[] = [0];
  private readonly deadline: number;

  constructor(private readonly limits: TemplateLimits) {
    this.deadline = performance.now() + limits.timeoutMs;
  }

  /** Before a loop body runs. */
  enterBody(): void {
    this.iterations += 1;
    if (this.iterations > this.limits.maxIterations) throw iterationsExceeded(this.limits.maxIterations);
    if (performance.now() > this.deadline) throw timeExceeded(this.limits.timeoutMs);
    this.counted.push(0);
  }

  /** After a loop body ran, with its output (which holds what its variables and inner loops wrote). */
  leaveBody(output: string): void {
    const inner = this.counted.pop() ?? 0;
    this.add(output.length - inner);
    this.counted[this.counted.length - 1]! += output.length;
  }

  /** A variable written to the output. */
  wrote(text: string): void {
    this.add(text.length);
    this.counted[this.counted.length - 1]! += text.length;
  }

  private add(units: number): void {
    this.produced += units;
    // A code point is at most two UTF-16 units: past twice the limit the output is surely too long.
    // The exact count is made on the whole text at the end.
    if (this.produced > 2 * this.limits.maxOutputChars) throw outputExceeded(this.limits.maxOutputChars);
  }

  /** UTF-16 units one piece of output may reach before it is surely over the output limit (`json` stops building there). */
  get outputCap(): number {
    return 2 * this.limits.maxOutputChars;
  }

  /** The whole rendered text, checked exactly. */
  finish(output: string): string {
    if (longerThan(output, this.limits.maxOutputChars)) throw outputExceeded(this.limits.maxOutputChars);
    return output;
  }
}
