import type { request as nodeRequest } from 'node:http';
import { createParser } from 'eventsource-parser';
import type { RegistryEventType } from '../shared/contract/events.js';
import { nodeBuiltin, unrefTimer } from './runtime.js';

export interface RegistryEvent {
  type: RegistryEventType;
  prompt?: string;
  environment?: string;
  version?: number;
  /** Deployment requests: which one, and its status now (`pending`, `applied`, `rejected`). */
  request_id?: string;
  status?: string;
  /** rollout.changed: which rollout, and its weight now. */
  rollout_id?: string;
  weight?: number;
  at: string;
}

/** The last event of a stream whose credential stopped working (its key revoked, or the key or token expired). */
const CREDENTIAL_ENDS = new Set(['credential_expired', 'credential_revoked']);

export interface EventHandlers {
  onEvent(event: RegistryEvent): void;
  /** Connected again after a gap: events may have been missed. */
  onResync(): void;
  onError(error: Error): void;
}

/** The server sends a comment every 15 s: 45 s of silence means a dead connection. */
const SILENCE_MS = 45_000;

/**
 * Listens to the registry's `GET /events` stream (Server-Sent Events) and
 * reconnects with backoff. In Node.js it uses node:http, so its socket can be
 * unref'd: a subscription never keeps an application's process alive on its
 * own. Elsewhere (browsers, Deno, edge runtimes) it reads a `fetch` stream.
 */
export class EventSubscription {
  private closed = false;
  private current: { destroy(): void } | undefined;
  private retryMs = 500;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private connectedOnce = false;
  /** The last answer was 401: the next connect asks for a refreshed credential, not the same one. */
  private unauthorized = false;

  constructor(
    private readonly url: string,
    /** The credential's headers, asked again at each (re)connect; `afterUnauthorized` asks for a refreshed token. */
    private readonly authHeaders: (afterUnauthorized: boolean) => Promise<Record<string, string>>,
    private readonly handlers: EventHandlers,
  ) {
    this.connect();
  }

  private connect(): void {
    if (this.closed) return;
    const refresh = this.unauthorized;
    this.unauthorized = false;
    this.authHeaders(refresh).then(
      (headers) => this.open(headers),
      (err: unknown) => this.retry(err instanceof Error ? err : new Error(String(err))),
    );
  }

  private open(auth: Record<string, string>): void {
    if (this.closed) return;
    const url = new URL('/events', this.url);
    const headers = { ...auth, Accept: 'text/event-stream' };
    const http = nodeBuiltin(url.protocol === 'https:' ? 'node:https' : 'node:http');
    if (http) this.openNode(http.request, url, headers);
    else this.openFetch(url, headers);
  }

  private openNode(request: typeof nodeRequest, url: URL, headers: Record<string, string>): void {
    const req = request(url, { headers }, (res) => {
      if (!this.accepted(res.statusCode ?? 0)) {
        res.resume();
        return;
      }
      res.setEncoding('utf8');
      const feed = this.parser((err) => res.destroy(err));
      res.on('data', feed);
      res.on('end', () => this.retry(new Error('the registry closed its event stream')));
      res.on('error', (err) => this.retry(err));
    });
    req.on('socket', (socket) => socket.unref());
    req.setTimeout(SILENCE_MS, () => req.destroy(new Error('no word from the registry\'s event stream for 45 s')));
    req.on('error', (err) => this.retry(err));
    req.end();
    this.current = req;
  }

  private openFetch(url: URL, headers: Record<string, string>): void {
    const abort = new AbortController();
    this.current = { destroy: () => abort.abort(new Error('the event subscription was closed')) };
    let silence: ReturnType<typeof setTimeout> | undefined;
    const heard = () => {
      clearTimeout(silence);
      silence = setTimeout(() => abort.abort(new Error('no word from the registry\'s event stream for 45 s')), SILENCE_MS);
      unrefTimer(silence);
    };
    heard();
    const read = async () => {
      const res = await fetch(url, { headers, signal: abort.signal });
      if (!this.accepted(res.status)) {
        await res.body?.cancel();
        return;
      }
      const feed = this.parser((err) => abort.abort(err));
      const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
      for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) {
        heard();
        feed(chunk.value);
      }
      this.retry(new Error('the registry closed its event stream'));
    };
    read()
      .catch((err: unknown) => {
        const cause: unknown = abort.signal.aborted ? abort.signal.reason : err;
        this.retry(cause instanceof Error ? cause : new Error(String(cause)));
      })
      .finally(() => clearTimeout(silence));
  }

  /** Whether the stream's answer is one to read; anything but 200 is retried (a 401 with a refreshed credential). */
  private accepted(status: number): boolean {
    if (status !== 200) {
      this.unauthorized = status === 401;
      this.retry(new Error(`the registry's event stream answered ${status}`));
      return false;
    }
    if (this.connectedOnce) this.handlers.onResync();
    this.connectedOnce = true;
    this.retryMs = 500;
    return true;
  }

  /** A parser of the stream's text, which hands events to the handlers; `drop` ends a stream that is not ours. */
  private parser(drop: (err: Error) => void): (text: string) => void {
    const parser = createParser({
      onRetry: (ms) => (this.retryMs = Math.min(Math.max(ms, 1), 30_000)),
      onEvent: (message) => {
        if (!message.data) return;
        if (message.event && CREDENTIAL_ENDS.has(message.event)) {
          // The registry ends the stream after this: reconnect with a refreshed credential, as after a 401.
          this.unauthorized = true;
          this.handlers.onError(new Error(`the registry ended its event stream: ${messageOf(message.data) ?? message.event}`));
          return;
        }
        try {
          this.handlers.onEvent(JSON.parse(message.data) as RegistryEvent);
        } catch (err) {
          this.handlers.onError(err as Error);
        }
      },
      // Unknown fields and bad retry values are ignored, as browsers do; an event that never ends drops the connection, which retries.
      onError: (err) => {
        if (err.type === 'max-buffer-size-exceeded') drop(err);
      },
      // Our events are small; a megabyte without an event's end is not a stream of ours.
      maxBufferSize: 1 << 20,
    });
    return (text) => parser.feed(text);
  }

  private retry(err: Error): void {
    if (this.closed || this.timer) return;
    this.handlers.onError(err);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, this.retryMs);
    unrefTimer(this.timer);
    this.retryMs = Math.min(this.retryMs * 2, 30_000);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.current?.destroy();
  }
}

/** The message of our error shape (`{"error": {"message"}}`), if `data` holds one. */
function messageOf(data: string): string | undefined {
  try {
    const message = (JSON.parse(data) as { error?: { message?: unknown } }).error?.message;
    return typeof message === 'string' ? message : undefined;
  } catch {
    return undefined;
  }
}
