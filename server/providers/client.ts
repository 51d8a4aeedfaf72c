import { setTimeout as sleep } from 'node:timers/promises';
import { createParser } from 'eventsource-parser';
import { post, readBody, type ProviderResponse } from './http.js';
import type { ProviderKind } from './schemas.js';
import {
  anthropicBody,
  anthropicStream,
  authHeaders,
  endpoint,
  MalformedAnswer,
  openAiBody,
  openAiStream,
  parseAnthropicAnswer,
  parseOpenAiAnswer,
  type ModelAnswer,
  type ModelRequest,
} from './wire.js';

/** How calls to providers behave: docs/evaluate.md, "Providers". */
export interface ProviderCallOptions {
  /** How long one attempt may wait for the answer (streaming: for the headers, then between two chunks). */
  timeoutMs: number;
  /** Attempts after the first, on 429, 5xx and failed connections. */
  maxRetries: number;
  /** The first backoff; each retry doubles it (with jitter), up to maxDelayMs. */
  baseDelayMs: number;
  maxDelayMs: number;
  /** A Retry-After longer than this is not waited for: the call fails instead. */
  maxRetryAfterMs: number;
}

export const DEFAULT_PROVIDER_CALL_OPTIONS: ProviderCallOptions = {
  timeoutMs: 60_000,
  maxRetries: 3,
  baseDelayMs: 500,
  maxDelayMs: 8_000,
  maxRetryAfterMs: 60_000,
};

/**
 * Why a call failed. `unreachable` (connection failed, 5xx or 429 after the retries, a 4xx),
 * `malformed` (an answer not in the wire format): 502; `timeout`: 504; `cancelled`: the caller went away.
 */
export class ProviderCallError extends Error {
  constructor(
    readonly reason: 'unreachable' | 'status' | 'malformed' | 'timeout' | 'cancelled',
    message: string,
    readonly status: number | null = null,
    readonly attempts = 1,
  ) {
    super(message);
    this.name = 'ProviderCallError';
  }
}

export interface ProviderTarget {
  name: string;
  kind: ProviderKind;
  baseUrl: string | null;
  apiKey: string | null;
  headers: Record<string, string>;
}

/** Seconds or an HTTP date, as milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Exponential backoff with full jitter on the upper half: base·2^n/2 to base·2^n, capped. */
export function backoffMs(attempt: number, o: Pick<ProviderCallOptions, 'baseDelayMs' | 'maxDelayMs'>): number {
  const ceiling = Math.min(o.maxDelayMs, o.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + Math.random() * (ceiling / 2));
}

const MAX_ANSWER_BYTES = 20 * 1024 * 1024;

/** Removes the key from anything a provider says (some echo part or all of a bad key back). */
function scrub(text: string, apiKey: string | null): string {
  const short = text.length > 300 ? `${text.slice(0, 300)}…` : text;
  return apiKey ? short.split(apiKey).join('[redacted]') : short;
}

/** The message in an error answer ({error: {message}} on both formats), else the start of the body. */
function providerMessage(body: string): string {
  try {
    const parsed = JSON.parse(body) as { error?: { message?: unknown } | string; message?: unknown };
    if (typeof parsed.error === 'object' && typeof parsed.error?.message === 'string') return parsed.error.message;
    if (typeof parsed.error === 'string') return parsed.error;
    if (typeof parsed.message === 'string') return parsed.message;
  } catch {
    // not JSON: the text itself
  }
  return body.trim() || '(empty body)';
}

async function readText(res: ProviderResponse): Promise<string> {
  const length = Number(res.headers['content-length'] ?? 0);
  if (length > MAX_ANSWER_BYTES) {
    res.raw.destroy();
    throw new MalformedAnswer(`the answer is ${length} bytes, more than the ${MAX_ANSWER_BYTES} accepted`);
  }
  return readBody(res, MAX_ANSWER_BYTES, () => new MalformedAnswer(`the answer is more than the ${MAX_ANSWER_BYTES} bytes accepted`));
}

/**
 * One model call (over node:http(s) with keep-alive, server/providers/http.ts): retries 429, 5xx and failed connections
 * with exponential backoff, honouring Retry-After; a timeout per attempt;
 * cancelled through `signal`. With `onDelta`, the call streams (SSE, parsed
 * by eventsource-parser) and each text delta is handed over as it comes; the
 * answer is the whole of it. Retries happen only before the first delta.
 */
export async function callModel(
  target: ProviderTarget,
  request: ModelRequest,
  options: ProviderCallOptions,
  signal?: AbortSignal,
  onDelta?: (text: string) => void,
): Promise<ModelAnswer & { attempts: number }> {
  const stream = onDelta !== undefined;
  const url = endpoint(target.kind, target.baseUrl);
  const body = JSON.stringify(target.kind === 'openai' ? openAiBody(request, stream) : anthropicBody(request, stream));
  const headers = { 'content-type': 'application/json', accept: stream ? 'text/event-stream' : 'application/json', ...target.headers, ...authHeaders(target.kind, target.apiKey) };
  const who = `provider "${target.name}"`;
  for (let attempt = 0; ; attempt++) {
    const attempts = attempt + 1;
    if (signal?.aborted) throw new ProviderCallError('cancelled', 'the run was cancelled', null, attempt);
    const controller = new AbortController();
    let timedOut = false;
    let timer: NodeJS.Timeout | undefined;
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        timedOut = true;
        controller.abort();
      }, options.timeoutMs);
    };
    const cancel = () => controller.abort();
    signal?.addEventListener('abort', cancel, { once: true });
    const failure = (err: unknown): ProviderCallError => {
      if (err instanceof ProviderCallError) return err;
      if (signal?.aborted) return new ProviderCallError('cancelled', 'the run was cancelled', null, attempts);
      if (timedOut) return new ProviderCallError('timeout', `${who} did not answer within ${options.timeoutMs} ms`, null, attempts);
      if (err instanceof MalformedAnswer) return new ProviderCallError('malformed', `${who} answered something that is not a ${target.kind === 'openai' ? 'Chat Completions' : 'Messages'} answer: ${scrub(err.message, target.apiKey)}`, null, attempts);
      // fetch put the reason in `cause`; node:http errors carry it themselves (code ECONNREFUSED...).
      const cause = (err as { cause?: { code?: string; message?: string } }).cause ?? (err as { code?: string; message?: string });
      return new ProviderCallError('unreachable', `${who} could not be reached at ${url}: ${cause?.code ?? cause?.message ?? (err as Error).message}`, null, attempts);
    };
    let retryIn: number | undefined;
    let lastError: ProviderCallError;
    try {
      arm();
      const res = await post(url, headers, body, controller.signal);
      if (res.status >= 200 && res.status < 300) {
        if (!stream || !String(res.headers['content-type'] ?? '').includes('text/event-stream')) {
          const text = await readText(res);
          let parsed: unknown;
          try {
            parsed = JSON.parse(text);
          } catch {
            throw new MalformedAnswer(`the body is not JSON: ${text.slice(0, 80)}`);
          }
          const answer = target.kind === 'openai' ? parseOpenAiAnswer(parsed) : parseAnthropicAnswer(parsed);
          if (stream && answer.text) onDelta(answer.text);
          return { ...answer, attempts };
        }
        return { ...(await readStream(target.kind, res, arm, onDelta)), attempts };
      }
      const text = await readText(res).catch(() => '');
      const message = `${who} answered ${res.status}: ${scrub(providerMessage(text), target.apiKey)}`;
      if (res.status !== 429 && res.status < 500) throw new ProviderCallError('status', message, res.status, attempts);
      lastError = new ProviderCallError('unreachable', message, res.status, attempts);
      const asked = retryAfterMs(res.headers['retry-after'] ?? null);
      if (asked !== undefined && asked > options.maxRetryAfterMs) {
        throw new ProviderCallError('unreachable', `${message} (it asks to retry after ${Math.ceil(asked / 1000)} s, longer than the ${options.maxRetryAfterMs / 1000} s waited)`, res.status, attempts);
      }
      retryIn = asked ?? backoffMs(attempt, options);
    } catch (err) {
      const e = failure(err);
      if (e.reason !== 'unreachable' || e.status !== null) throw e;
      // A connection that failed: retried like a 5xx.
      lastError = e;
      retryIn = backoffMs(attempt, options);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', cancel);
    }
    if (attempt >= options.maxRetries) {
      throw new ProviderCallError(lastError.reason, `${lastError.message} (after ${attempts} attempts)`, lastError.status, attempts);
    }
    try {
      await sleep(retryIn, undefined, { signal });
    } catch {
      throw new ProviderCallError('cancelled', 'the run was cancelled', null, attempts);
    }
  }
}

async function readStream(kind: ProviderKind, res: ProviderResponse, rearm: () => void, onDelta: (text: string) => void): Promise<ModelAnswer> {
  const acc = kind === 'openai' ? openAiStream() : anthropicStream();
  let failure: unknown;
  let finished = false;
  const parser = createParser({
    onEvent(event) {
      if (failure || finished) return;
      try {
        const delta = acc.push(event.event, event.data);
        if (delta === 'done') finished = true;
        else if (delta) onDelta(delta);
      } catch (err) {
        failure = err;
      }
    },
  });
  const decoder = new TextDecoder();
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    rearm();
    bytes += chunk.byteLength;
    if (bytes > MAX_ANSWER_BYTES) throw new MalformedAnswer(`the stream is longer than the ${MAX_ANSWER_BYTES} bytes accepted`);
    parser.feed(decoder.decode(chunk, { stream: true }));
    if (failure) throw failure;
    if (finished) break;
  }
  if (failure) throw failure;
  return acc.finish();
}
