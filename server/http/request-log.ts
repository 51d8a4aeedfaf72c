import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';

/**
 * One log line per request, when it finishes. Written by hand rather than
 * with pino-http: pino-http builds a child logger per request, which cost
 * about a third of the resolve route's CPU in bench/resolve.
 */
export function requestLog(logger: Logger): (req: IncomingMessage, res: ServerResponse, requestId: string) => void {
  return (req, res, requestId) => {
    const started = performance.now();
    // 'close' follows 'finish' on every response, and also comes alone when the client goes away.
    res.once('close', () => {
      const line = {
        request_id: requestId,
        method: req.method,
        // Express sets originalUrl (before its routing rewrites url); answers sent before Express have only url.
        url: (req as { originalUrl?: string }).originalUrl ?? req.url,
        status: res.writableFinished ? res.statusCode : 499, // 499: the client went away first
        ms: Math.round((performance.now() - started) * 100) / 100,
      };
      if (line.status >= 500) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    });
  };
}

/** Counts resolve answers served from the cache, and logs how many once a minute. */
export class HitCounter {
  private n = 0;

  constructor(logger: Logger, everyMs = 60_000) {
    setInterval(() => {
      if (this.n === 0) return;
      logger.info({ resolve_cache_hits: this.n, window_s: everyMs / 1000 }, 'resolve answers served from the cache');
      this.n = 0;
    }, everyMs).unref();
  }

  count(): void {
    this.n++;
  }
}
