import { z } from 'zod';
import type { Database } from '../db/index.js';
import { decodeCursor, int8Key, pageOf } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { cursorParam, environmentName, isoTime, limit, page, promptName, text } from '../http/schemas.js';
import { listAudit } from './repository.js';

const entrySchema = z.object({
  id: z.number().int(),
  occurred_at: z.string(),
  actor: z.string(),
  credential: z.string().nullable(),
  action: z.string(),
  prompt: z.string().nullable(),
  environment: z.string().nullable(),
  target_id: z.string().nullable(),
  details: z.record(z.string(), z.unknown()),
});

export function auditRoutes(db: Database): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/audit',
      summary:
        'The audit log, newest first: every change, with who, when and which credential. Filters combine; action takes a family too (deployment_request.*). Append-only: no route changes it',
      tag: 'audit',
      scope: 'admin',
      query: z.object({
        actor: text(255).optional(),
        action: text(64).optional(),
        credential: text(255).optional(),
        prompt: promptName.optional(),
        environment: environmentName.optional(),
        from: isoTime.optional(),
        to: isoTime.optional(),
        limit,
        cursor: cursorParam,
      }),
      responses: { 200: { description: 'A page of audit entries', schema: page(entrySchema) } },
      async handler({ query }) {
        const before = decodeCursor(query.cursor, int8Key);
        const rows = await listAudit(db, { ...query, before, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (e) => e.id);
      },
    }),
  ];
}
