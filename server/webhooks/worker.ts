import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Database } from '../db/index.js';
import { VERSION } from '../version.js';
import type { AddressPolicy } from './addresses.js';
import * as repo from './repository.js';
import type { ClaimedDelivery } from './repository.js';
import { post, type AttemptResult } from './sender.js';
import { decryptSecret, secretKey, sign } from './signing.js';

export interface WebhookOptions {
  /** PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS: hosts and CIDR ranges webhooks may reach although private. */
  allowedHosts: string[];
  /** The longest one attempt may take, connection to the end of the answer. */
  timeoutMs: number;
  /** The first retry's delay; later ones are multiples of it (RETRY_STEPS). */
  retryBaseMs: number;
  /**
   * The fallback poll: how often an idle worker looks at the outbox although nothing woke it. Changes
   * (here, or on another replica through the change feed) wake it at once, and it sleeps until the next retry is due.
   */
  pollMs: number;
  /** Deliveries in flight at once, per server process. */
  concurrency: number;
}

export const DEFAULT_WEBHOOK_OPTIONS: WebhookOptions = { allowedHosts: [], timeoutMs: 10_000, retryBaseMs: 5_000, pollMs: 30_000, concurrency: 8 };

/**
 * Delays before each retry, in multiples of retryBaseMs: with the default 5 s,
 * 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 8 h, 8 h (about 31.7 h
 * in all, at least 25 h with jitter). Then the delivery is failed.
 */
export const RETRY_STEPS = [1, 6, 24, 120, 360, 720, 1_440, 2_880, 5_760, 5_760, 5_760] as const;
export const MAX_ATTEMPTS = RETRY_STEPS.length + 1;

/** The delay after failed attempt `attempt` (1-based), ±20% jitter, at least what Retry-After asked (within the longest step). */
export function retryDelayMs(attempt: number, baseMs: number, retryAfterMs?: number): number {
  const step = RETRY_STEPS[Math.min(attempt, RETRY_STEPS.length) - 1]!;
  const jittered = Math.round(step * baseMs * (0.8 + randomInt(0, 400_001) / 1_000_000));
  const longest = Math.max(...RETRY_STEPS) * baseMs;
  return Math.max(jittered, Math.min(retryAfterMs ?? 0, longest));
}

const iso = (ms: number) => new Date(ms).toISOString();

/**
 * Sends what the outbox holds: claims due deliveries (a lease, so several
 * replicas share the work and a crash mid-delivery only delays it), signs and
 * posts each, and records the attempt with the next one's time. Runs in the
 * background of the server; a change's request never waits for it.
 */
export class DeliveryWorker {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private again = false;
  private stopped = true;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly db: Database,
    private readonly secretsKey: Buffer,
    private readonly policy: AddressPolicy,
    private readonly options: WebhookOptions,
    private readonly logger: Logger,
  ) {}

  /** A lease outlives an attempt, so only a dead worker's deliveries fall due again. */
  private get leaseMs(): number {
    return 2 * this.options.timeoutMs + 1_000;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops claiming, and waits for the attempts in flight (each bounded by the timeout) to be recorded. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await Promise.allSettled([...this.inFlight]);
  }

  /** Something was queued or finished: look now rather than at the next poll. */
  wake(): void {
    if (this.stopped) return;
    if (this.ticking) this.again = true;
    else this.schedule(0);
  }

  private schedule(ms: number): void {
    clearTimeout(this.timer);
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.tick(), ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    if (this.stopped || this.ticking) return;
    this.ticking = true;
    let delay = this.options.pollMs;
    try {
      const room = this.options.concurrency - this.inFlight.size;
      const due = room > 0 ? await repo.nextDue(this.db) : null;
      const now = Date.now();
      if (due !== null && Date.parse(due) > now) {
        delay = Math.min(delay, Date.parse(due) - now);
      } else if (due !== null) {
        const claimed = await this.db.transaction((tx) => repo.claimDue(tx, iso(now), iso(now + this.leaseMs), room));
        for (const d of claimed) this.track(this.deliver(d));
        if (claimed.length === room) delay = 0;
      }
    } catch (err) {
      this.logger.warn({ err }, 'webhook worker could not read the outbox; trying again');
    } finally {
      this.ticking = false;
      if (this.again) delay = 0;
      this.again = false;
      this.schedule(delay);
    }
  }

  private track(p: Promise<void>): void {
    this.inFlight.add(p);
    void p.finally(() => {
      this.inFlight.delete(p);
      this.wake();
    });
  }

  private async deliver(d: ClaimedDelivery): Promise<void> {
    let result: AttemptResult;
    const at = Date.now();
    try {
      const key = secretKey(decryptSecret(this.secretsKey, d.secret_encrypted));
      if (typeof key === 'string') throw new Error(key);
      const timestamp = Math.floor(at / 1000);
      const headers = {
        'content-type': 'application/json',
        'user-agent': `prompt-registry-webhooks/${VERSION}`,
        'webhook-id': d.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': sign(key, d.id, timestamp, d.payload),
      };
      result = await post(d.url, headers, d.payload, { timeoutMs: this.options.timeoutMs, policy: this.policy });
    } catch (err) {
      result = { statusCode: null, durationMs: 0, error: `could not send: ${(err as Error).message}` };
    }
    const ok = result.error === null;
    const gone = result.statusCode === 410;
    const last = d.attempts >= MAX_ATTEMPTS;
    const next = ok || gone || last ? null : iso(Date.now() + retryDelayMs(d.attempts, this.options.retryBaseMs, result.retryAfterMs));
    const status = ok ? 'succeeded' : next === null ? 'failed' : 'pending';
    const log = { webhook_id: d.webhook_id, delivery_id: d.id, event: d.event_type, attempt: d.attempts, status_code: result.statusCode, duration_ms: result.durationMs };
    try {
      await this.db.transaction(async (tx) => {
        await repo.recordAttempt(tx, { deliveryId: d.id, attempt: d.attempts, at: iso(at), statusCode: result.statusCode, durationMs: result.durationMs, error: result.error, status, nextAttemptAt: next });
        // 410 Gone: the receiver wants no more (Standard Webhooks); an admin turns it back on with PATCH.
        if (gone) await repo.disableWebhook(tx, d.webhook_id, 'the receiver answered 410 Gone', iso(Date.now()));
      });
    } catch (err) {
      // The lease runs out and the delivery is tried again: at least once, never lost.
      this.logger.warn({ ...log, err }, 'could not record a webhook attempt; it will be retried');
      return;
    }
    if (ok) this.logger.debug(log, 'webhook delivered');
    else if (status === 'failed') this.logger.warn({ ...log, error: result.error }, gone ? 'webhook receiver answered 410 Gone; webhook disabled' : 'webhook delivery failed; no retries left');
    else this.logger.info({ ...log, error: result.error, next_attempt_at: next }, 'webhook attempt failed; will retry');
  }
}
