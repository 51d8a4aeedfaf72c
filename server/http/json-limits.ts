import { isUtf8 } from 'node:buffer';
import type { IncomingMessage } from 'node:http';
import express, { type RequestHandler } from 'express';
import { invalid } from '../errors.js';

/**
 * The deepest a JSON body may nest (objects and arrays; the body itself is
 * level 1). Far below what anything downstream trips on: zod and our own
 * validators recurse, JSON.stringify overflows the stack near 10,000 levels,
 * SQLite's JSON functions stop at 1,000.
 */
export const MAX_JSON_DEPTH = 64;

// String.prototype.isWellFormed (Node 20+), not yet in the ES2023 typings we compile against.
export const isWellFormed = (s: string): boolean => (s as unknown as { isWellFormed(): boolean }).isWellFormed();

type Segment = string | number;

const IDENTIFIER = /^[A-Za-z_$][\w$]*$/;

const segment = (s: Segment, first: boolean): string => {
  if (typeof s === 'number') return `[${s}]`;
  if (IDENTIFIER.test(s) && s.length <= 40) return first ? s : `.${s}`;
  return `[${JSON.stringify(s.length > 40 ? `${s.slice(0, 40)}…` : s)}]`;
};

/** `metadata.a[0][0]…[0][0][0]`: long keys cut, a long path shown by its start and its end. */
export function describeJsonPath(path: readonly Segment[]): string {
  if (path.length === 0) return '(body)';
  const parts = path.map((s, i) => segment(s, i === 0));
  return parts.length > 10 ? `${parts.slice(0, 6).join('')}…${parts.slice(-3).join('')}` : parts.join('');
}

interface Frame {
  node: object;
  keys: string[] | undefined; // undefined: an array
  next: number;
}

const frame = (node: object): Frame => ({ node, keys: Array.isArray(node) ? undefined : Object.keys(node), next: 0 });
const pathOf = (stack: Frame[]): Segment[] => stack.map((f) => (f.keys ? f.keys[f.next - 1]! : f.next - 1));

interface Problem {
  code: 'json_too_deep' | 'invalid_unicode';
  path: Segment[];
}

/**
 * Where a parsed JSON value nests deeper than `maxDepth`, or holds a string
 * with a lone surrogate (valid JSON, as `"\ud800"`, but with no UTF-8 form:
 * Postgres refuses it, and the drivers would store U+FFFD instead). Walks
 * with a stack of its own, never recursion, so 100,000 levels are found too.
 */
export function findJsonProblem(root: unknown, maxDepth = MAX_JSON_DEPTH, prefix: Segment[] = []): Problem | undefined {
  const at = (stack: Frame[]) => [...prefix, ...pathOf(stack)];
  if (typeof root === 'string' && !isWellFormed(root)) return { code: 'invalid_unicode', path: prefix };
  if (typeof root !== 'object' || root === null) return undefined;
  const stack: Frame[] = [frame(root)];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    const size = top.keys ? top.keys.length : (top.node as unknown[]).length;
    if (top.next >= size) {
      stack.pop();
      continue;
    }
    const key = top.keys?.[top.next];
    const child: unknown = key === undefined ? (top.node as unknown[])[top.next] : (top.node as Record<string, unknown>)[key];
    top.next++;
    if ((key !== undefined && !isWellFormed(key)) || (typeof child === 'string' && !isWellFormed(child))) return { code: 'invalid_unicode', path: at(stack) };
    if (typeof child === 'object' && child !== null) {
      if (stack.length >= maxDepth) return { code: 'json_too_deep', path: at(stack) };
      stack.push(frame(child));
    }
  }
  return undefined;
}

const PROBLEMS = {
  json_too_deep: { what: `nests objects and arrays deeper than ${MAX_JSON_DEPTH} levels`, fix: 'send flatter JSON' },
  invalid_unicode: { what: 'has a string with an unpaired UTF-16 surrogate (a lone \\ud800-\\udfff escape)', fix: 'it has no UTF-8 form' },
};

/**
 * Refuses a body with a problem findJsonProblem finds: 400 json_too_deep or
 * invalid_unicode, with the `path`. A batch (an array body: POST /executions)
 * is checked row by row and the refusal lists each bad row in `rows`, as
 * invalid_executions does, so a client can drop those and resend the rest.
 */
export function checkJsonBody(body: unknown): void {
  const rows: Array<{ index: number; problem: Problem }> = [];
  if (Array.isArray(body)) {
    body.forEach((row, index) => {
      const problem = findJsonProblem(row, MAX_JSON_DEPTH - 1, [index]);
      if (problem) rows.push({ index, problem });
    });
  } else {
    const problem = findJsonProblem(body);
    if (problem) rows.push({ index: -1, problem });
  }
  const first = rows[0]?.problem;
  if (!first) return;
  const where = describeJsonPath(first.path);
  const { what, fix } = PROBLEMS[first.code];
  const others = rows.length > 1 ? ` (and ${rows.length - 1} more of the ${(body as unknown[]).length} rows; nothing was stored)` : '';
  throw invalid(first.code, `the request body ${what}, at ${where}; ${fix}${others}`, {
    path: where,
    ...(first.code === 'json_too_deep' ? { max_depth: MAX_JSON_DEPTH } : {}),
    ...(Array.isArray(body)
      ? { rows: rows.map(({ index, problem }) => ({ index, issues: [{ path: problem.path.length > 1 ? describeJsonPath(problem.path.slice(1)) : '(row)', message: PROBLEMS[problem.code].what }] })) }
      : {}),
  });
}

/** The offset of the first byte that does not start a well-formed UTF-8 sequence (Unicode table 3-7), or -1. */
export function invalidUtf8Offset(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const b = bytes[i]!;
    if (b < 0x80) {
      i++;
      continue;
    }
    let more: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (b >= 0xc2 && b <= 0xdf) more = 1;
    else if (b >= 0xe0 && b <= 0xef) {
      more = 2;
      if (b === 0xe0) lo = 0xa0; // no overlong forms
      if (b === 0xed) hi = 0x9f; // no surrogates
    } else if (b >= 0xf0 && b <= 0xf4) {
      more = 3;
      if (b === 0xf0) lo = 0x90;
      if (b === 0xf4) hi = 0x8f; // nothing past U+10FFFF
    } else return i;
    for (let k = 1; k <= more; k++) {
      const c = bytes[i + k];
      if (c === undefined || c < (k === 1 ? lo : 0x80) || c > (k === 1 ? hi : 0xbf)) return i;
    }
    i += more + 1;
  }
  return -1;
}

const notUtf8Charset = () =>
  // body-parser's own type for a refused charset: the error handler answers it 415 unsupported_encoding.
  Object.assign(new Error('the request body must be UTF-8 JSON'), { type: 'charset.unsupported' });

/**
 * Checks the raw body before it is decoded: UTF-8 only (RFC 8259 §8.1), and
 * well-formed, because decoding would quietly turn a bad byte into U+FFFD and
 * store text (and a content hash) the client never sent.
 */
function verifyUtf8(_req: IncomingMessage, _res: unknown, body: Buffer, encoding: string): void {
  if (encoding !== 'utf-8' && encoding !== 'utf8') throw notUtf8Charset();
  if (isUtf8(body)) return;
  const offset = invalidUtf8Offset(body);
  throw invalid('invalid_utf8', `the request body is not valid UTF-8: byte ${offset} starts no UTF-8 character; send the text UTF-8 encoded`, { offset });
}

/**
 * The JSON body parser of every route: a body of at most `limit`, valid
 * UTF-8, and then no deeper than MAX_JSON_DEPTH, all checked before any
 * schema, validator or database sees it.
 */
export function jsonBody(limit: string): RequestHandler {
  const parse = express.json({ limit, type: ['application/json', 'application/*+json'], verify: verifyUtf8 });
  return (req, res, next) => {
    void parse(req, res, (err?: unknown) => {
      if (err) return next(err);
      try {
        checkJsonBody(req.body);
      } catch (e) {
        return next(e);
      }
      next();
    });
  };
}
