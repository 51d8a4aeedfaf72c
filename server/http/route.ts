import type { Request, Response } from 'express';
import { type z } from 'zod';
import { invalid } from '../errors.js';
import type { Principal } from '../auth/principal.js';
import { isWellFormed } from './json-limits.js';

export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface ResponseSpec {
  description: string;
  schema?: z.ZodType;
}

export interface Context {
  req: Request;
  res: Response;
  /** Who is calling; undefined only on routes with `scope: 'none'`. */
  principal: Principal;
  /** Overrides the route's success status (e.g. 200 instead of 201 for an idempotent repeat). */
  status(code: number): void;
}

/**
 * One route, declared once: the router and the OpenAPI document are both
 * built from these declarations, so no route goes undocumented.
 */
export interface Route<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType> {
  method: Method;
  /** Express-style path: `/prompts/:name/versions`. */
  path: string;
  summary: string;
  tag: string;
  /**
   * The scope needed; a function when it depends on the input (deploy:ENV).
   * 'none': no credential at all; 'authenticated': any valid credential, whatever its scopes.
   */
  scope: 'none' | 'authenticated' | string | ((input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }) => string);
  params?: P;
  query?: Q;
  body?: B;
  /** The largest JSON body this route reads (e.g. '10mb'); default: the app's bodyLimit. */
  bodyLimit?: string;
  /** The success status (default 200); a handler may override it through ctx.status. */
  status?: 200 | 201;
  responses: Record<number, ResponseSpec>;
  handler(input: { params: z.output<P>; query: z.output<Q>; body: z.output<B> }, ctx: Context): Promise<unknown> | unknown;
}

export function defineRoute<P extends z.ZodType = z.ZodType, Q extends z.ZodType = z.ZodType, B extends z.ZodType = z.ZodType>(
  route: Route<P, Q, B>,
): Route {
  return route as unknown as Route;
}

/**
 * Refuses a path or query value that no column can hold, whatever the route
 * declares for it: NUL, which Postgres refuses in text (SQLite would match
 * it), and a lone surrogate. One check for every route, so a parameter
 * passed on to SQL as it came is still safe.
 */
function checkParameters(values: Record<string, unknown>, where: 'path' | 'query'): void {
  for (const [name, value] of Object.entries(values)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (typeof v !== 'string' || (!v.includes('\u0000') && isWellFormed(v))) continue;
      const message = v.includes('\u0000') ? 'must not contain NUL characters (%00)' : 'must be valid Unicode text';
      throw invalid('invalid_request', `invalid request: ${where} parameter ${name}: ${message}`, { issues: [{ path: name, message }] });
    }
  }
}

/** Parses the request with the route's schemas; a ZodError becomes a 400 listing the issues. */
export function parseInput(route: Route, req: Request): { params: unknown; query: unknown; body: unknown } {
  checkParameters(req.params, 'path');
  checkParameters(req.query, 'query');
  const params = route.params ? route.params.parse(req.params) : {};
  const query = route.query ? route.query.parse(req.query) : {};
  let body: unknown = undefined;
  if (route.body) {
    if (req.body === undefined) {
      throw invalid('invalid_request', 'the request needs a JSON body with Content-Type: application/json');
    }
    body = route.body.parse(req.body);
  }
  return { params, query, body };
}

export function successStatus(route: Route): number {
  return route.status ?? 200;
}
