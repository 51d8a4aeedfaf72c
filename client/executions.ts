import { RegistryError } from './errors.js';
import type { Http } from './http.js';
import { nodeProcess, randomId, unrefTimer } from './runtime.js';
import type { ExecutionInput, LoggingOptions } from './types.js';

type Payload = Record<string, unknown> & { id: string };

function payload(e: ExecutionInput): Payload {
  const executedAt = e.executedAt === undefined ? new Date() : e.executedAt;
  const p: Record<string, unknown> = {
    id: e.id ?? randomId(),
    executed_at: executedAt instanceof Date ? executedAt.toISOString() : executedAt,
    prompt_version_id: e.promptVersionId,
    prompt: e.prompt,
    version: e.version,
    environment: e.environment,
    input_variables: e.inputVariables,
    rendered_prompt: e.renderedPrompt,
    messages: e.messages,
    partials_used: e.partialsUsed?.map((u) => ({ prompt: u.prompt, version: u.version, version_id: u.versionId })),
    response_messages: e.responseMessages,
    tool_calls: e.toolCalls,
    response: e.response,
    input_tokens: e.inputTokens,
    output_tokens: e.outputTokens,
    latency_ms: e.latencyMs === undefined ? undefined : Math.round(e.latencyMs),
    cost_usd: e.costUsd,
    quality_score: e.qualityScore,
    status: e.status,
    error: e.error,
    metadata: e.metadata,
  };
  for (const k of Object.keys(p)) if (p[k] === undefined) delete p[k];
  return p as Payload;
}

export interface LoggerStats {
  /** Acknowledged by the registry. */
  sent: number;
  /** Dropped because the buffer was full (oldest first). */
  dropped: number;
  /** Refused by the registry as invalid (not retried). */
  rejected: number;
  /** Waiting to be sent. */
  buffered: number;
}

/**
 * Buffers executions and sends them to `POST /executions` in batches, on
 * size or on an interval. Never blocks or throws at the caller: a failed send
 * is retried with backoff (the same ids, so the registry stores each once),
 * and when the buffer is full the oldest executions are dropped and counted.
 */
export class ExecutionLogger {
  private buffer: Payload[] = [];
  private readonly batchSize: number;
  private readonly flushIntervalMs: number;
  private readonly maxBuffer: number;
  private readonly maxBackoffMs: number;
  private sending: Promise<void> | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private failures = 0;
  private closed = false;
  readonly stats: LoggerStats = { sent: 0, dropped: 0, rejected: 0, buffered: 0 };

  constructor(
    private readonly http: Http,
    options: LoggingOptions,
    private readonly onError: (error: Error) => void,
  ) {
    this.batchSize = Math.max(1, Math.min(options.batchSize ?? 100, 1000));
    this.flushIntervalMs = options.flushIntervalMs ?? 2_000;
    this.maxBuffer = Math.max(this.batchSize, options.maxBuffer ?? 10_000);
    this.maxBackoffMs = options.maxBackoffMs ?? 30_000;
    // Node.js: send what is left when the application's work is done (a listener does not keep it alive).
    nodeProcess()?.once?.('beforeExit', this.beforeExit);
  }

  private readonly beforeExit = () => {
    if (this.buffer.length) void this.flush();
  };

  /** Queues an execution and answers its id at once. */
  log(execution: ExecutionInput): string {
    const p = payload(execution);
    if (this.closed) {
      this.stats.dropped++;
      return p.id;
    }
    this.buffer.push(p);
    if (this.buffer.length > this.maxBuffer) {
      const excess = this.buffer.length - this.maxBuffer;
      this.buffer.splice(0, excess);
      this.stats.dropped += excess;
    }
    this.stats.buffered = this.buffer.length;
    if (this.buffer.length >= this.batchSize && this.failures === 0) this.kick(0);
    else this.kick(this.flushIntervalMs);
    return p.id;
  }

  private kick(delayMs: number): void {
    if (this.sending) return;
    if (this.timer && delayMs > 0) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.drain();
    }, delayMs);
    unrefTimer(this.timer);
  }

  /** Sends batches until the buffer is empty or a send fails (then retries later). */
  private drain(): Promise<void> {
    if (this.sending) return this.sending;
    this.sending = (async () => {
      while (this.buffer.length) {
        const batch = this.buffer.slice(0, this.batchSize);
        try {
          await this.http.request('POST', '/executions', { body: batch });
          this.remove(batch);
          this.stats.sent += batch.length;
          this.failures = 0;
        } catch (err) {
          if (err instanceof RegistryError && err.status >= 400 && err.status < 500 && err.status !== 408 && err.status !== 429) {
            // Invalid rows: retrying them can't help. When the registry names them, drop only those.
            const bad = Array.isArray(err.details.rows) ? (err.details.rows as Array<{ index?: unknown }>).map((r) => r.index).filter((i): i is number => typeof i === 'number') : [];
            const refused = bad.length ? bad.map((i) => batch[i]).filter((p): p is Payload => p !== undefined) : batch;
            this.remove(refused);
            this.stats.rejected += refused.length;
            this.onError(err);
            continue;
          }
          this.failures++;
          this.onError(err as Error);
          const backoff = Math.min(this.maxBackoffMs, 100 * 2 ** Math.min(this.failures, 16));
          this.sending = undefined;
          if (!this.closed) this.kick(backoff * (0.5 + Math.random() / 2));
          return;
        }
      }
      this.sending = undefined;
    })();
    return this.sending;
  }

  /** Removes a sent batch; entries dropped meanwhile are simply gone. */
  private remove(batch: Payload[]): void {
    const ids = new Set(batch.map((p) => p.id));
    this.buffer = this.buffer.filter((p) => !ids.has(p.id));
    this.stats.buffered = this.buffer.length;
  }

  /** Sends everything buffered now; resolves when the buffer is empty or a send has failed. */
  async flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    await this.drain();
  }

  /** Flushes, retrying for up to `timeoutMs`, then stops accepting executions. */
  async close(timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (this.buffer.length && Date.now() < deadline) {
      await this.flush();
      if (this.buffer.length) await new Promise((r) => setTimeout(r, Math.min(200, Math.max(0, deadline - Date.now()))));
    }
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    nodeProcess()?.off?.('beforeExit', this.beforeExit);
  }
}
