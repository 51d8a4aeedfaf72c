import { isUtf8 } from 'node:buffer';
import type { Request } from 'express';
import { AppError, invalid } from '../errors.js';
import { invalidUtf8Offset } from './json-limits.js';

/**
 * Reads a text body (CSV, JSON Lines) of at most `maxBytes`, for the routes that take files
 * rather than JSON: refused as 413 past the limit (without reading the rest), 415 for a
 * Content-Type not listed, 400 when not UTF-8.
 */
export async function readTextBody(req: Request, maxBytes: number, types: readonly string[]): Promise<string> {
  const type = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (!types.includes(type)) {
    throw new AppError('unsupported_media_type', 'unsupported_media_type', `the body must be one of ${types.join(', ')} (it is ${type || 'unlabelled'})`, { accepted: types });
  }
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > maxBytes) throw new AppError('too_large', 'payload_too_large', `the request body is larger than the limit of ${maxBytes} bytes`, { limit: maxBytes });
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > maxBytes) throw new AppError('too_large', 'payload_too_large', `the request body is larger than the limit of ${maxBytes} bytes`, { limit: maxBytes });
    chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  if (!isUtf8(body)) {
    throw invalid('invalid_utf8', `the request body is not valid UTF-8: byte ${invalidUtf8Offset(body)} starts no UTF-8 character`, { offset: invalidUtf8Offset(body) });
  }
  return body.toString('utf8');
}
