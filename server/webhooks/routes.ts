import { z } from 'zod';
import { decodeCursor, pageOf, timeKey, uuidKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import {
  createBody,
  createdSchema,
  deliveriesQuery,
  deliveryParams,
  deliverySchema,
  idParams,
  listQuery,
  patchBody,
  webhookSchema,
} from './schemas.js';
import type { WebhookService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });
/** Deliveries page by (created_at, id), newest first. */
const deliveryKey = z.tuple([timeKey, z.string().regex(/^msg_[0-9a-f]{32}$/)]);

export function webhookRoutes(webhooks: WebhookService): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/webhooks',
      summary: 'Register a webhook; the answer holds its signing secret, shown this once',
      tag: 'webhooks',
      scope: 'admin',
      body: createBody,
      responses: {
        201: { description: 'The webhook, with its secret', schema: createdSchema },
        400: err('A URL that is not http(s) or points to a loopback, private or link-local address; an unknown event; a malformed secret'),
      },
      handler: ({ body }, ctx) => webhooks.create(ctx.principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks',
      summary: 'List webhooks (never their secrets)',
      tag: 'webhooks',
      scope: 'admin',
      query: listQuery,
      responses: { 200: { description: 'A page of webhooks', schema: page(webhookSchema) } },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, uuidKey);
        return pageOf(await webhooks.list({ after, limit: query.limit + 1 }), query.limit, (w) => w.id);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id',
      summary: 'One webhook',
      tag: 'webhooks',
      scope: 'admin',
      params: idParams,
      responses: { 200: { description: 'The webhook', schema: webhookSchema }, 404: err('No such webhook') },
      handler: ({ params }) => webhooks.get(params.id),
    }),
    defineRoute({
      method: 'patch',
      path: '/webhooks/:id',
      summary: 'Change a webhook: url, events, description, enabled, or a new secret',
      tag: 'webhooks',
      scope: 'admin',
      params: idParams,
      body: patchBody,
      responses: { 200: { description: 'The webhook', schema: webhookSchema }, 400: err('As for registering'), 404: err('No such webhook') },
      handler: ({ params, body }, ctx) => webhooks.update(ctx.principal, params.id, body),
    }),
    defineRoute({
      method: 'delete',
      path: '/webhooks/:id',
      summary: 'Delete a webhook and its delivery log',
      tag: 'webhooks',
      scope: 'admin',
      params: idParams,
      responses: { 200: { description: 'The deleted webhook', schema: webhookSchema }, 404: err('No such webhook') },
      handler: ({ params }, ctx) => webhooks.remove(ctx.principal, params.id),
    }),
    defineRoute({
      method: 'get',
      path: '/webhooks/:id/deliveries',
      summary: "A webhook's delivery log, newest first: each delivery with its attempts (status code, duration, error, next attempt)",
      tag: 'webhooks',
      scope: 'admin',
      params: idParams,
      query: deliveriesQuery,
      responses: { 200: { description: 'A page of deliveries', schema: page(deliverySchema) }, 404: err('No such webhook') },
      async handler({ params, query }) {
        const before = decodeCursor(query.cursor, deliveryKey);
        const rows = await webhooks.deliveries(params.id, { status: query.status, before, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (d) => [d.created_at, d.id]);
      },
    }),
    defineRoute({
      method: 'post',
      path: '/webhooks/:id/deliveries/:delivery/redeliver',
      summary: 'Send a delivery again now, with the same webhook-id',
      tag: 'webhooks',
      scope: 'admin',
      params: deliveryParams,
      responses: { 200: { description: 'The delivery, pending', schema: deliverySchema }, 404: err('No such webhook or delivery') },
      handler: ({ params }, ctx) => webhooks.redeliver(ctx.principal, params.id, params.delivery),
    }),
  ];
}
