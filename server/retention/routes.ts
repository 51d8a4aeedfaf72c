import { defineRoute, type Route } from '../http/route.js';
import { errorSchema } from '../http/schemas.js';
import { putRetentionBody, retentionSchema, runQuery, runResultSchema } from './schemas.js';
import type { RetentionService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function retentionRoutes(retention: RetentionService): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/retention',
      summary: 'The retention policies, most specific first, and how often the server applies them',
      tag: 'retention',
      scope: 'read',
      responses: { 200: { description: 'The policies', schema: retentionSchema } },
      handler: () => retention.get(),
    }),
    defineRoute({
      method: 'put',
      path: '/retention',
      summary:
        'Replace every retention policy: delete executions older than N days, or redact their variables, rendered prompt and response. A policy naming neither prompt nor environment is the default; the most specific one applies',
      tag: 'retention',
      scope: 'admin',
      body: putRetentionBody,
      responses: {
        200: { description: 'The policies now', schema: retentionSchema },
        400: err('Invalid policies, an unknown environment, or two policies for one scope'),
        404: err('No such prompt'),
      },
      handler: ({ body }, ctx) => retention.put(ctx.principal, body.policies),
    }),
    defineRoute({
      method: 'post',
      path: '/retention/run',
      summary: 'Apply the retention policies now (in batches), or with dry_run=true count what they would delete and redact',
      tag: 'retention',
      scope: 'admin',
      query: runQuery,
      responses: { 200: { description: 'What was (or would be) deleted and redacted, per policy', schema: runResultSchema } },
      handler: ({ query }, ctx) => retention.run(ctx.principal, { dryRun: query.dry_run }),
    }),
  ];
}
