import type { RequestHandler } from 'express';
import type { Logger } from 'pino';

/**
 * One log line per request, when it finishes. Written by hand rather than
 * with pino-http: pino-http builds a child logger per request, which cost
 * about a third of the resolve route's CPU in bench/resolve.
 */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    // 'close' follows 'finish' on every response, and also comes alone when the client goes away.
    res.once('close', () => {
      const line = {
        request_id: res.getHeader('x-request-id'),
        method: req.method,
        url: req.originalUrl,
        status: res.writableFinished ? res.statusCode : 499, // 499: the client went away first
        ms: Math.round((performance.now() - started) * 100) / 100,
      };
      if (line.status >= 500) logger.error(line, 'request failed');
      else logger.info(line, 'request');
    });
    next();
  };
}
