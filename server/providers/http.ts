import { request as httpRequest, type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';

/** What fetch's `redirect: 'error'` refuses: a provider answering one is unreachable, as with fetch. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** A provider's answer: its status and headers (lower-case names), and its body still to read, decoded. */
export interface ProviderResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The body as sent, for the declared length. */
  raw: IncomingMessage;
  /** The body decoded (gzip, deflate, br), as fetch would answer it. */
  body: Readable;
}

/**
 * POSTs a JSON body over node:http(s) on the runtime's keep-alive agents, so that a connection
 * serves call after call. fetch does the same work at several times the CPU per call (its web
 * streams and request objects), which an experiment of hundreds of calls pays on the server's
 * event loop (bench/experiments). What it did is kept: redirects are an error (`unexpected
 * redirect`, as its `redirect: 'error'`), compressed answers are decoded, `user-agent` is `node`
 * unless the provider's headers name one. `signal` aborts the request and its answer.
 */
export function post(url: string, headers: Record<string, string>, body: string, signal: AbortSignal): Promise<ProviderResponse> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = send(target, { method: 'POST', headers: { 'user-agent': 'node', ...headers, 'content-length': String(Buffer.byteLength(body)) } });
    let res: IncomingMessage | undefined;
    const abort = () => {
      const err = Object.assign(new Error('This operation was aborted'), { name: 'AbortError', code: 'ABORT_ERR' });
      res?.destroy(err);
      req.destroy(err);
    };
    const done = () => signal.removeEventListener('abort', abort);
    req.on('error', (err) => {
      done();
      reject(err);
    });
    if (signal.aborted) return abort();
    signal.addEventListener('abort', abort, { once: true });
    req.on('response', (answer) => {
      res = answer;
      answer.on('close', done);
      const status = answer.statusCode ?? 0;
      if (REDIRECTS.has(status)) {
        answer.destroy();
        return reject(new Error('unexpected redirect'));
      }
      resolve({ status, headers: answer.headers, raw: answer, body: decoded(answer) });
    });
    req.end(body);
  });
}

function decoded(res: IncomingMessage): Readable {
  const encoding = String(res.headers['content-encoding'] ?? '').trim().toLowerCase();
  const decoder = encoding === 'gzip' || encoding === 'x-gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : encoding === 'br' ? createBrotliDecompress() : undefined;
  if (!decoder) return res;
  res.on('error', (err) => decoder.destroy(err));
  return res.pipe(decoder);
}

/** The body read to its end as UTF-8 (a leading BOM dropped, as fetch's text()), failing past `max` characters via `tooLarge`. */
export async function readBody(res: ProviderResponse, max: number, tooLarge: () => Error): Promise<string> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    chunks.push(chunk);
    bytes += chunk.byteLength;
    // UTF-8 text is at most as many characters as bytes: past `max` bytes, the length check needs decoding.
    if (bytes > 4 * max) {
      res.body.destroy();
      throw tooLarge();
    }
  }
  const text = new TextDecoder().decode(chunks.length === 1 ? chunks[0] : Buffer.concat(chunks));
  if (text.length > max) throw tooLarge();
  return text;
}
