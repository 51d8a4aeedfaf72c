import { z } from 'zod';
import { decodeCursor, pageOf, uuidKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { cursorParam, errorSchema, flag, isoTime, limit, page } from '../http/schemas.js';
import type { KeyService } from './service.js';

const keySchema = z.object({
  id: z.string(),
  name: z.string(),
  owner: z.string().nullable().describe('The person the key belongs to; approvals compare it (else the key name)'),
  key_prefix: z.string().nullable().describe('The first characters of a generated key; null for a key given in PROMPT_REGISTRY_ADMIN_KEY'),
  scopes: z.array(z.string()),
  created_at: z.string(),
  created_by: z.string(),
  revoked_at: z.string().nullable(),
  expires_at: z.string().nullable(),
  last_used_at: z.string().nullable(),
});

export function keyRoutes(keys: KeyService): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/keys',
      summary: 'Create an API key; the answer holds the key, shown this once',
      tag: 'keys',
      scope: 'admin',
      body: z
        .object({
          name: z.string().min(1).max(255),
          owner: z.string().min(1).max(255).nullable().optional(),
          scopes: z.array(z.string()).min(1).max(20),
          expires_at: isoTime.nullable().optional(),
          expires_in_days: z.number().int().min(1).max(3650).optional(),
        })
        .strict()
        .refine((b) => b.expires_at == null || b.expires_in_days === undefined, 'give expires_at or expires_in_days, not both'),
      responses: {
        201: { description: 'The key', schema: keySchema.extend({ key: z.string() }) },
        400: { description: 'Invalid name, scope or expiry', schema: errorSchema },
        409: { description: 'Name taken', schema: errorSchema },
      },
      handler: ({ body }, ctx) =>
        keys.create(ctx.principal, body.name, body.scopes, {
          owner: body.owner,
          expiresAt: body.expires_in_days ? new Date(Date.now() + body.expires_in_days * 86_400_000).toISOString() : (body.expires_at ?? null),
        }),
    }),
    defineRoute({
      method: 'get',
      path: '/keys',
      summary: 'List API keys (never the keys themselves)',
      tag: 'keys',
      scope: 'admin',
      query: z.object({ include_revoked: flag, limit, cursor: cursorParam }),
      responses: { 200: { description: 'A page of keys', schema: page(keySchema) } },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, uuidKey);
        const rows = await keys.list({ includeRevoked: query.include_revoked, after, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (k) => k.id);
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/keys/:id',
      summary: 'Revoke an API key (by id or name); the last admin key cannot be revoked',
      tag: 'keys',
      scope: 'admin',
      params: z.object({ id: z.string().min(1).max(255) }),
      responses: { 200: { description: 'The revoked key', schema: keySchema }, 404: { description: 'No such key', schema: errorSchema } },
      handler: ({ params }, ctx) => keys.revoke(ctx.principal, params.id),
    }),
  ];
}
