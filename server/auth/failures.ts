/**
 * Counts failed authentications per client address in fixed windows. Only
 * failures count: once an address has failed `limit` times in a window, its
 * further failures answer 429 until the window ends, while its requests with a
 * valid credential go on working (someone behind the same NAT is not locked out).
 */
export class FailedAuthLimiter {
  private readonly windows = new Map<string, { count: number; resetAt: number }>();

  constructor(
    readonly limit: number,
    readonly windowMs: number,
  ) {}

  /**
   * Records a failure; answers the seconds to wait when the address is over
   * the limit, else undefined. `onLimited` runs once per address and window,
   * when it first goes over (to log it).
   */
  fail(address: string, now = Date.now(), onLimited?: (address: string, failures: number) => void): number | undefined {
    if (this.limit <= 0) return undefined;
    let w = this.windows.get(address);
    if (!w || w.resetAt <= now) {
      // Bounded memory: an address flood only ever evicts expired windows, or all of them.
      if (this.windows.size >= 100_000) this.sweep(now);
      w = { count: 0, resetAt: now + this.windowMs };
      this.windows.set(address, w);
    }
    w.count++;
    if (w.count === this.limit + 1) onLimited?.(address, w.count);
    return w.count > this.limit ? Math.max(1, Math.ceil((w.resetAt - now) / 1000)) : undefined;
  }

  private sweep(now: number): void {
    for (const [address, w] of this.windows) if (w.resetAt <= now) this.windows.delete(address);
    if (this.windows.size >= 100_000) this.windows.clear();
  }
}
