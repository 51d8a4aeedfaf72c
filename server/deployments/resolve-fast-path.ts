import type { IncomingMessage, ServerResponse } from 'node:http';
import { grants } from '../auth/principal.js';
import { rateLimitMessage } from '../auth/rate-limit.js';
import type { Authenticator } from '../http/auth.js';
import { SECURITY_HEADERS } from '../http/security-headers.js';
import type { CachedAnswer } from './resolve-cache.js';
import type { DeploymentService } from './service.js';

/** An If-None-Match header matches when it lists the ETag (weak or strong) or is `*`. */
function matches(ifNoneMatch: string | undefined, etag: string): boolean {
  if (!ifNoneMatch) return false;
  if (ifNoneMatch.trim() === '*') return true;
  return ifNoneMatch.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}

/** Sends a resolve answer: 304 when the client has it, else the prepared body. */
export function sendResolved(found: CachedAnswer, req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Cache-Control', 'no-cache');
  if (found.etag) {
    res.setHeader('ETag', found.etag);
    if (matches(req.headers['if-none-match'], found.etag)) {
      res.statusCode = 304;
      res.end();
      return;
    }
  }
  res.statusCode = found.status;
  res.setHeader('Content-Type', 'application/json; charset=utf-8');
  res.setHeader('Content-Length', found.body.length);
  res.end(found.body);
}

// Only the plain form of the request: anything else (other parameters, encoded characters) takes the route.
const PLAIN_RESOLVE = /^\/prompts\/([A-Za-z0-9][A-Za-z0-9._-]*)\/latest(?:\?environment=([a-z0-9][a-z0-9_-]*))?$/;

/**
 * The resolve route's fast path, in node:http's handler ahead of Express: a plain request with a
 * recently verified credential (API key or bearer token) for a cached answer is answered here, and it says
 * true. Everything else (a cache miss, a key not verified lately, an unusual
 * URL) is left to the declared route `GET /prompts/:name/latest`, which
 * answers the same.
 */
export function resolveFastPath(deployments: DeploymentService, auth: Authenticator): (req: IncomingMessage, res: ServerResponse, requestId: string) => boolean {
  return (req, res, requestId) => {
    if (req.method !== 'GET') return false;
    const m = PLAIN_RESOLVE.exec(req.url ?? '');
    if (!m) return false;
    const principal = auth.cached(req);
    if (!principal || !grants(principal.scopes, 'read')) return false;
    const found = deployments.cache.get(m[1]!, m[2] ?? 'production');
    if (!found) return false; // the route will look again, and count the miss
    // Counted only when answered here: a miss goes on to the route, which counts it there.
    const wait = auth.overRate(principal);
    if (wait !== undefined) {
      sendRateLimited(res, requestId, wait);
      return true;
    }
    deployments.cache.stats.hits++;
    // All headers in one writeHead of a flat list: no per-header setHeader bookkeeping on the hottest path.
    const headers = [...FIXED_HEADERS, 'X-Request-Id', requestId, 'Cache-Control', 'no-cache'];
    if (found.etag) {
      headers.push('ETag', found.etag);
      if (matches(req.headers['if-none-match'], found.etag)) {
        res.writeHead(304, headers).end();
        return true;
      }
    }
    headers.push('Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(found.body.length));
    res.writeHead(found.status, headers).end(found.body);
    return true;
  };
}

/** The 429 the route would answer (the error handler's shape), without entering Express. */
function sendRateLimited(res: ServerResponse, requestId: string, wait: number): void {
  const body = JSON.stringify({ error: { code: 'rate_limited', message: rateLimitMessage(wait), retry_after: wait, request_id: requestId } });
  res
    .writeHead(429, [...FIXED_HEADERS, 'X-Request-Id', requestId, 'Retry-After', String(wait), 'Content-Type', 'application/json; charset=utf-8', 'Content-Length', String(Buffer.byteLength(body))])
    .end(body);
}

/** The security headers every answer carries, flattened for writeHead. */
const FIXED_HEADERS: readonly string[] = SECURITY_HEADERS.flat();
