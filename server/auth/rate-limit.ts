/**
 * A token bucket per credential (`key:<id>`, `oidc:<subject>`), in this
 * process's memory: each credential may send `burst` requests at once and
 * `perSecond` a second after that. A credential over its rate is told how long
 * to wait; other credentials are untouched, so one runaway client cannot
 * take the server from everyone else. Behind a load balancer each replica
 * counts on its own.
 */
export class CredentialRateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private readonly perMs: number;

  constructor(
    /** Requests a second each credential may send, sustained; 0: no limit. */
    readonly perSecond: number,
    /** Requests a credential may send at once after a quiet spell (at least 1). */
    readonly burst: number,
  ) {
    this.perMs = perSecond / 1000;
  }

  get enabled(): boolean {
    return this.perSecond > 0;
  }

  /**
   * Takes one request from the credential's bucket: undefined when it may go
   * ahead, else the whole seconds to wait (for Retry-After). Cheap enough for
   * the resolve fast path: one Map lookup and a little arithmetic.
   */
  take(credential: string, now = Date.now()): number | undefined {
    if (this.perSecond <= 0) return undefined;
    let b = this.buckets.get(credential);
    if (!b) {
      // Bounded memory: many credentials (bearer tokens of many people) only ever evict full buckets, or all.
      if (this.buckets.size >= 100_000) this.sweep(now);
      b = { tokens: this.burst, at: now };
      this.buckets.set(credential, b);
    } else if (now > b.at) {
      b.tokens = Math.min(this.burst, b.tokens + (now - b.at) * this.perMs);
      b.at = now;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return undefined;
    }
    return Math.max(1, Math.ceil((1 - b.tokens) / this.perSecond));
  }

  private sweep(now: number): void {
    for (const [credential, b] of this.buckets) if (b.tokens + (now - b.at) * this.perMs >= this.burst) this.buckets.delete(credential);
    if (this.buckets.size >= 100_000) this.buckets.clear();
  }
}

/** The message of a 429 for a credential over its rate. */
export const rateLimitMessage = (wait: number): string =>
  `too many requests with this credential; try again in ${wait} s (each credential may send a limited number of requests a second: give each application its own key, or ask the operator to raise --rate-limit)`;
