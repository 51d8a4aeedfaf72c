import type { Response } from 'express';
import { z } from 'zod';
import { environmentName, promptName } from '../http/schemas.js';
import { defineRoute, type Route } from '../http/route.js';
import type { ChangeEvent, ChangeFeed } from '../events.js';

/** The changes clients may hear about; key revocations stay inside the servers. */
const PUBLIC_EVENTS = new Set<ChangeEvent['type']>([
  'version.created',
  'deployment.created',
  'deployment.rolled_back',
  'prompt.updated',
  'deployment_request.created',
  'deployment_request.decided',
]);

const eventsQuery = z.object({
  prompt: z.union([promptName, z.array(promptName).max(100)]).optional().transform((p) => (p === undefined ? [] : Array.isArray(p) ? p : [p])),
  environment: environmentName.optional(),
});

function send(res: Response, id: number, event: ChangeEvent): void {
  res.write(`id: ${id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
}

/**
 * `GET /events`: Server-Sent Events of committed changes, so clients refresh
 * their caches within moments of a deploy instead of waiting for a TTL.
 */
export function changeRoutes(feed: ChangeFeed, heartbeatMs: number): Route[] {
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
            'text/event-stream: each event has `event: <type>` (version.created, deployment.created, deployment.rolled_back, prompt.updated, deployment_request.created, deployment_request.decided) and `data: {"type", "prompt", "environment", "version", "at"}`; a comment line every 15 s keeps it open',
        },
      },
      handler({ query }, { req, res }) {
        const prompts = new Set(query.prompt);
        res.writeHead(200, {
          'Content-Type': 'text/event-stream; charset=utf-8',
          'Cache-Control': 'no-cache, no-transform',
          Connection: 'keep-alive',
          'X-Accel-Buffering': 'no', // nginx: don't buffer the stream
        });
        res.write('retry: 1000\n: connected\n\n');
        let id = 0;
        const unsubscribe = feed.subscribe((event) => {
          if (!PUBLIC_EVENTS.has(event.type)) return;
          if (prompts.size && (!event.prompt || !prompts.has(event.prompt))) return;
          if (query.environment && event.environment && event.environment !== query.environment) return;
          send(res, ++id, event);
        });
        const heartbeat = setInterval(() => res.write(': ping\n\n'), heartbeatMs);
        return new Promise<void>((resolve) => {
          const end = () => {
            clearInterval(heartbeat);
            unsubscribe();
            stopOnShutdown();
            if (!res.writableEnded) res.end();
            resolve();
          };
          const stopOnShutdown = feed.onShutdown(end);
          req.on('close', end);
        });
      },
    }),
  ];
}
