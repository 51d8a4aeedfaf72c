import { z } from 'zod';
import { cursorParam, limit, text, uuid } from '../http/schemas.js';
import { WEBHOOK_EVENTS } from './events.js';

const eventName = z.enum([...WEBHOOK_EVENTS, '*'], { error: `an event is one of ${[...WEBHOOK_EVENTS, '*'].join(', ')}` });
const events = z.array(eventName).min(1, 'give at least one event, or "*" for all').max(20);
const url = text(2048).min(1, 'a webhook needs a url');
const secret = text(200).describe('Standard Webhooks secret: whsec_ then base64 of 24 to 64 bytes');
const description = text(1000).nullable();

export const createBody = z
  .object({ url, events, secret: secret.optional(), description: description.optional(), enabled: z.boolean().optional() })
  .strict();

export const patchBody = z
  .object({ url: url.optional(), events: events.optional(), secret: secret.optional(), description: description.optional(), enabled: z.boolean().optional() })
  .strict();

export type CreateWebhookInput = z.infer<typeof createBody>;
export type PatchWebhookInput = z.infer<typeof patchBody>;

export const idParams = z.object({ id: uuid });
export const deliveryParams = z.object({ id: uuid, delivery: z.string().regex(/^msg_[0-9a-f]{32}$/, 'a delivery id is msg_ and 32 hex digits') });

export const listQuery = z.object({ limit, cursor: cursorParam });
export const deliveriesQuery = z.object({ status: z.enum(['pending', 'succeeded', 'failed']).optional(), limit, cursor: cursorParam });

export const webhookSchema = z.object({
  id: z.string(),
  url: z.string(),
  events: z.array(eventName),
  description: z.string().nullable(),
  enabled: z.boolean(),
  disabled_reason: z.string().nullable().describe('Set when the server turned the webhook off (the receiver answered 410 Gone)'),
  created_at: z.string(),
  created_by: z.string(),
  updated_at: z.string(),
}).meta({ id: 'Webhook' });

export const createdSchema = webhookSchema.extend({ secret: z.string().describe('The signing secret, shown this once') });

export const attemptSchema = z.object({
  attempt: z.number().int(),
  attempted_at: z.string(),
  status_code: z.number().int().nullable().describe('null: no answer (refused, timed out, connection failed)'),
  duration_ms: z.number().int(),
  error: z.string().nullable(),
  next_attempt_at: z.string().nullable().describe('The retry this attempt scheduled; null when it succeeded or was the last'),
}).meta({ id: 'WebhookAttempt' });

export const deliverySchema = z.object({
  id: z.string().describe('The webhook-id header, the same on every attempt'),
  event: z.enum(WEBHOOK_EVENTS),
  status: z.enum(['pending', 'succeeded', 'failed']),
  created_at: z.string(),
  attempt_count: z.number().int(),
  next_attempt_at: z.string().nullable().describe('Pending: when the next attempt is due (while one is in flight, when it is retried if this one never finishes)'),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  delivered_at: z.string().nullable(),
  attempts: z.array(attemptSchema),
  payload: z.unknown().describe('The body sent: {type, timestamp, data}'),
}).meta({ id: 'WebhookDelivery' });
