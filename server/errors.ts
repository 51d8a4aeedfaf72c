/**
 * Domain errors: services throw these, never HTTP statuses. Each carries a
 * stable code; `http/error-handler.ts` is the one place that maps kinds to
 * statuses.
 */
import type { ErrorCode } from '../shared/contract/errors.js';

export type { ErrorCode };

export type ErrorKind = 'invalid' | 'unauthorized' | 'forbidden' | 'not_found' | 'conflict' | 'too_large' | 'unprocessable' | 'rate_limited' | 'unavailable' | 'bad_gateway' | 'gateway_timeout' | 'unsupported_media_type';

export class AppError extends Error {
  constructor(
    readonly kind: ErrorKind,
    readonly code: ErrorCode,
    message: string,
    readonly details: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const invalid = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new AppError('invalid', code, message, details);
export const notFound = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new AppError('not_found', code, message, details);
export const conflict = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new AppError('conflict', code, message, details);
export const unauthorized = (message: string, details?: Record<string, unknown>) => new AppError('unauthorized', 'unauthorized', message, details);
export const forbidden = (message: string, details?: Record<string, unknown>) => new AppError('forbidden', 'forbidden', message, details);
/** `retry_after` (seconds) also becomes the Retry-After header. */
export const rateLimited = (code: ErrorCode, message: string, retryAfterSeconds: number) =>
  new AppError('rate_limited', code, message, { retry_after: retryAfterSeconds });
export const unavailable = (code: ErrorCode, message: string) => new AppError('unavailable', code, message);
/** An upstream service (a model provider) failed or answered garbage: 502. */
export const badGateway = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new AppError('bad_gateway', code, message, details);
/** An upstream service (a model provider) did not answer in time: 504. */
export const gatewayTimeout = (code: ErrorCode, message: string, details?: Record<string, unknown>) => new AppError('gateway_timeout', code, message, details);
