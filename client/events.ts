import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { createParser } from 'eventsource-parser';
import type { RegistryEventType } from '../shared/contract/events.js';

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

/**
 * Listens to the registry's `GET /events` stream (Server-Sent Events) and
 * reconnects with backoff. Uses node:http so its socket can be unref'd: a
 * subscription never keeps an application's process alive on its own.
 */
export class EventSubscription {
  private closed = false;
  private current: { destroy(): void } | undefined;
  private retryMs = 500;
  private timer: NodeJS.Timeout | undefined;
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
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const req = request(url, { headers: { ...auth, Accept: 'text/event-stream' } }, (res) => this.read(res));
    req.on('socket', (socket) => socket.unref());
    // The server sends a comment every 15 s: 45 s of silence means a dead connection.
    req.setTimeout(45_000, () => req.destroy(new Error('no word from the registry\'s event stream for 45 s')));
    req.on('error', (err) => this.retry(err));
    req.end();
    this.current = req;
  }

  private read(res: IncomingMessage): void {
    if (res.statusCode !== 200) {
      this.unauthorized = res.statusCode === 401;
      res.resume();
      this.retry(new Error(`the registry's event stream answered ${res.statusCode}`));
      return;
    }
    if (this.connectedOnce) this.handlers.onResync();
    this.connectedOnce = true;
    this.retryMs = 500;
    res.setEncoding('utf8');
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
        if (err.type === 'max-buffer-size-exceeded') res.destroy(err);
      },
      // Our events are small; a megabyte without an event's end is not a stream of ours.
      maxBufferSize: 1 << 20,
    });
    res.on('data', (chunk: string) => parser.feed(chunk));
    res.on('end', () => this.retry(new Error('the registry closed its event stream')));
    res.on('error', (err) => this.retry(err));
  }

  private retry(err: Error): void {
    if (this.closed || this.timer) return;
    this.handlers.onError(err);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.connect();
    }, this.retryMs);
    this.timer.unref();
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
