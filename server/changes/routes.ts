import type { Response } from 'express';
import { z } from 'zod';
import { REGISTRY_EVENTS } from '../../shared/contract/events.js';
import { environmentName, promptName } from '../http/schemas.js';
import { defineRoute, type Route } from '../http/route.js';
import type { ChangeEvent, ChangeFeed } from '../events.js';
import { watchCredential, type CredentialEnd, type KeyLiveness } from './credentials.js';

/** The changes clients may hear about; key revocations stay inside the servers. */
const PUBLIC_EVENTS = new Set<ChangeEvent['type']>(REGISTRY_EVENTS);

const eventsQuery = z.object({
  prompt: z.union([promptName, z.array(promptName).max(100)]).optional().transform((p) => (p === undefined ? [] : Array.isArray(p) ? p : [p])),
  environment: environmentName.optional(),
});

/** How long (ms) a client should wait before reconnecting: the stream's first line, and again on its last event. */
const RETRY_MS = 1000;

function send(res: Response, id: number, event: ChangeEvent): void {
  res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/** The last event of a stream whose credential stopped working: why, in our error shape, so the client reconnects with a fresh one. */
function sendEnd(res: Response, why: CredentialEnd): void {
  const requestId = res.getHeader('X-Request-Id');
  const error = { code: why.code, message: why.message, ...(typeof requestId === 'string' ? { request_id: requestId } : {}) };
  res.write(`event: ${why.code}\nretry: ${RETRY_MS}\ndata: ${JSON.stringify({ error })}\n\n`);
}

/**
 * `GET /events`: Server-Sent Events of committed changes, so clients refresh
 * their caches within moments of a deploy instead of waiting for a TTL.
 * A stream lives only as long as its credential: revoking the key, or the
 * key's or token's expiry, ends it with a last event saying why.
 */
export function changeRoutes(feed: ChangeFeed, keys: KeyLiveness, heartbeatMs: number): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/events',
      summary: 'A Server-Sent Events stream of deploys, rollbacks, new versions and prompt changes (filter by prompt and environment)',
      tag: 'events',
      scope: 'read',
      query: eventsQuery,
      responses: {
        200: {
          description:
            'text/event-stream: each event has `event: <type>` (version.created, deployment.created, deployment.rolled_back, prompt.updated, deployment_request.created, deployment_request.decided, rollout.changed) and `data: {"type", "prompt", "environment", "version", "at"}`; a comment line every 15 s keeps it open. ' +
            'When the credential stops working (its key revoked, or the key or bearer token expired) a last event `credential_revoked` or `credential_expired` with `data: {"error": {"code", "message"}}` ends the stream: reconnect with a fresh credential',
        },
      },
      handler({ query }, { req, res, principal }) {
        const prompts = new Set(query.prompt);
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          Connection: 'keep-alive',
          'X-Accel-Buffering': 'no', // nginx: don't buffer the stream
        });
        res.write(`retry: ${RETRY_MS}\n: connected\n\n`);
        let id = 0;
        const unsubscribe = feed.subscribe((event) => {
          if (!PUBLIC_EVENTS.has(event.type)) return;
          if (prompts.size && (!event.prompt || !prompts.has(event.prompt))) return;
          if (query.environment && event.environment && event.environment !== query.environment) return;
          send(res, ++id, event);
        });
        const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
        return new Promise<void>((resolve) => {
          let ended = false;
          const end = (why?: CredentialEnd) => {
            if (ended) return;
            ended = true;
            clearInterval(heartbeat);
            unsubscribe();
            stopOnShutdown();
            stopWatching();
            if (!res.writableEnded) {
              if (why) sendEnd(res, why);
              res.end();
            }
            resolve();
          };
          // The server is going away: say when to reconnect (to another replica, or this one restarted).
          const stopOnShutdown = feed.onShutdown(() => {
            if (!res.writableEnded) res.write(`retry: ${RETRY_MS}\n: server shutting down; reconnect\n\n`);
            end();
          });
          req.on('close', () => end());
          // A token already past its exp (within the verifier's clock tolerance) ends the stream at the next turn.
          const stopWatching = watchCredential(principal, feed, keys, end);
        });
      },
    }),
  ];
}
