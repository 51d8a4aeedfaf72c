import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { isDatabaseUnavailable, isForeignKeyViolation, isReadOnlyStorage, isStorageFull, isUniqueViolation, violatedConstraint } from '../db/errors.js';
import { AppError, type ErrorCode, type ErrorKind } from '../errors.js';
import { TemplateError } from '../../shared/templates/index.js';

const STATUS: Record<ErrorKind, number> = {
  invalid: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  too_large: 413,
  unprocessable: 422,
  rate_limited: 429,
  unavailable: 503,
  bad_gateway: 502,
  gateway_timeout: 504,
  unsupported_media_type: 415,
};

export interface ErrorBody {
  error: { code: string; message: string; request_id?: string; [key: string]: unknown };
}

interface Mapped {
  status: number;
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

function describePath(path: readonly PropertyKey[]): string {
  return path.length ? path.map((p) => (typeof p === 'number' ? `[${p}]` : String(p))).join('.').replace(/\.\[/g, '[') : '(body)';
}

/** A zod error as the list of problems a person can fix. */
export function validationIssues(err: z.ZodError): Array<{ path: string; message: string }> {
  return err.issues.map((issue) => ({ path: describePath(issue.path), message: issue.message }));
}

/** Seconds a client is asked to wait before retrying while the database cannot answer. */
export const DATABASE_RETRY_AFTER_SECONDS = 5;

/** Unreachable, refusing, overloaded (pool or server full) or timed out: 503, so clients and load balancers retry. */
function databaseUnavailable(err: unknown): Mapped | undefined {
  if (!isDatabaseUnavailable(err)) return undefined;
  return {
    status: 503,
    code: 'database_unavailable',
    message: 'the database is not answering right now (unreachable, overloaded or too slow); nothing was changed unless a retry finds it done, retry shortly',
    details: { retry_after: DATABASE_RETRY_AFTER_SECONDS },
  };
}

function map(err: unknown): Mapped | undefined {
  if (err instanceof AppError) return { status: STATUS[err.kind], code: err.code, message: err.message, details: err.details };
  if (err instanceof TemplateError) return { status: 422, code: err.code, message: err.message, details: err.details };
  if (err instanceof z.ZodError) {
    const issues = validationIssues(err);
    const first = issues[0];
    const message = first ? `invalid request: ${first.path}: ${first.message}` : 'invalid request';
    return { status: 400, code: 'invalid_request', message, details: { issues } };
  }
  // body-parser marks its errors with a type and a status.
  const e = err as { type?: unknown; status?: unknown; expose?: unknown; limit?: unknown };
  if (e && typeof e === 'object' && typeof e.type === 'string') {
    if (e.type === 'entity.parse.failed') return { status: 400, code: 'invalid_json', message: 'the request body is not valid JSON' };
    if (e.type === 'entity.too.large') {
      return { status: 413, code: 'payload_too_large', message: `the request body is larger than the limit of ${String(e.limit)} bytes` };
    }
    if (e.type === 'encoding.unsupported' || e.type === 'charset.unsupported') {
      return { status: 415, code: 'unsupported_encoding', message: 'the request body must be UTF-8 JSON' };
    }
  }
  if (err instanceof URIError) return { status: 400, code: 'invalid_request', message: 'the URL has invalid percent-encoding' };
  // Other client errors from Express and body-parser carry a 4xx status.
  if (e && typeof e === 'object' && typeof e.status === 'number' && e.status >= 400 && e.status < 500) {
    return { status: e.status, code: 'invalid_request', message: 'the request could not be read' };
  }
  const unavailable = databaseUnavailable(err);
  if (unavailable) return unavailable;
  if (isUniqueViolation(err)) {
    return { status: 409, code: 'conflict', message: 'a conflicting change was made at the same time; retry the request', details: { constraint: violatedConstraint(err) } };
  }
  if (isForeignKeyViolation(err)) {
    return { status: 409, code: 'conflict', message: 'the request refers to something that no longer exists' };
  }
  // Faults of where the data lives: the write was not made, and the person running the server can fix it.
  if (isStorageFull(err)) {
    return { status: 507, code: 'storage_full', message: 'the registry\'s database is out of disk space, so nothing was written: free space where it is stored, then retry' };
  }
  if (isReadOnlyStorage(err)) {
    return { status: 503, code: 'storage_read_only', message: 'the registry\'s database cannot be written (its file or folder is read-only), so nothing was written: make it writable, then retry' };
  }
  return undefined;
}

export function errorBody(code: ErrorCode, message: string, details: Record<string, unknown> = {}, requestId?: string): ErrorBody {
  return { error: { code, message, ...details, ...(requestId ? { request_id: requestId } : {}) } };
}

/** Maps every error to the one JSON shape; unknown errors are logged and answered as a bare 500. */
export function errorHandler(logger: Logger, onDatabaseUnavailable?: () => void): ErrorRequestHandler {
  return (err, req, res, _next) => {
    const requestId = res.getHeader('x-request-id') as string | undefined;
    const mapped = map(err);
    if (!mapped) {
      logger.error({ err, request_id: requestId, method: req.method, url: req.originalUrl }, 'unhandled error');
    } else if (mapped.code === 'database_unavailable') {
      onDatabaseUnavailable?.();
      logger.warn({ reason: (err as Error).message, code: (err as { code?: unknown }).code, request_id: requestId, method: req.method, url: req.originalUrl }, 'database unavailable');
    }
    const { status, code, message, details } = mapped ?? { status: 500, code: 'internal_error', message: 'internal error; the server log has the details' };
    if (res.headersSent) {
      res.destroy();
      return;
    }
    if (typeof details?.retry_after === 'number') res.setHeader('Retry-After', String(details.retry_after));
    res.status(status).json(errorBody(code, message, details, requestId));
  };
}

export const notFoundHandler: RequestHandler = (req, res) => {
  res.status(404).json(errorBody('route_not_found', `no route ${req.method} ${req.path}`, {}, res.getHeader('x-request-id') as string | undefined));
};
