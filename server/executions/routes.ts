import { grants } from '../auth/principal.js';
import { decodeCursor, pageOf, timeIdKey } from '../http/cursor.js';
import { validationIssues } from '../http/error-handler.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { nameParams } from '../prompts/schemas.js';
import {
  comparisonSchema,
  compareQuery,
  executionInput,
  executionParams,
  executionSchema,
  executionSummarySchema,
  ingestBody,
  ingestResultSchema,
  listExecutionsQuery,
  MAX_BATCH,
  quickParseExecution,
  statsQuery,
  statsSchema,
} from './schemas.js';
import { batchTooLarge, emptyBatch, type Batch } from './ingest.js';
import type { ExecutionService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

/**
 * Checks every row of a batch against the schema. Bad rows are kept with
 * their problems, so the service can refuse the batch naming every bad row,
 * these and the ones whose references it can't resolve, at once.
 */
export function parseBatch(body: unknown[] | Record<string, unknown>): Batch {
  const rows = Array.isArray(body) ? body : [body];
  if (rows.length > MAX_BATCH) throw batchTooLarge(rows.length);
  if (rows.length === 0) throw emptyBatch();
  const batch: Batch = { rows: [], invalid: [] };
  rows.forEach((row, index) => {
    const quick = quickParseExecution(row);
    if (quick) return void batch.rows.push(quick);
    const result = executionInput.safeParse(row);
    batch.rows.push(result.success ? result.data : undefined);
    if (!result.success) {
      batch.invalid.push({ index, issues: validationIssues(result.error).map((i) => ({ ...i, path: i.path === '(body)' ? '(row)' : i.path })) });
    }
  });
  return batch;
}

export function executionRoutes(executions: ExecutionService, options: { ingestBodyLimit: string }): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/executions',
      summary:
        'Log one execution or a batch of up to 1,000, stored with one statement. A 2xx means committed; a batch with a bad row is refused whole, naming each bad row; an id already stored is not stored again (200 when nothing was new)',
      tag: 'executions',
      scope: 'executions:write',
      body: ingestBody,
      bodyLimit: options.ingestBodyLimit,
      responses: {
        201: { description: 'Stored', schema: ingestResultSchema },
        200: { description: 'Every execution was stored already (a retry): nothing new', schema: ingestResultSchema },
        400: err('invalid_executions: rows lists each bad row (index and issues); nothing was stored'),
        413: err('More than 1,000 executions (batch_too_large), or a body over the limit (payload_too_large)'),
      },
      async handler({ body }, ctx) {
        const result = await executions.ingest(parseBatch(body));
        if (result.inserted === 0) ctx.status(200);
        return result;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/executions',
      summary: 'Executions, newest first, without their variables, rendered prompt and response; filter by prompt, version, environment, time, status, quality and metric',
      tag: 'executions',
      scope: 'read',
      query: listExecutionsQuery,
      responses: { 200: { description: 'A page of executions', schema: page(executionSummarySchema) }, 404: err('No such prompt, version or metric') },
      async handler({ query }) {
        const before = decodeCursor(query.cursor, timeIdKey);
        const rows = await executions.list(query, before, query.limit + 1);
        return pageOf(rows, query.limit, (e) => [e.executed_at, e.id]);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/executions/:id',
      summary:
        'One execution with everything logged and its scores; its variables, rendered prompt and response only for executions:read (else null, with payload_withheld true)',
      tag: 'executions',
      scope: 'read',
      params: executionParams,
      responses: { 200: { description: 'The execution', schema: executionSchema }, 404: err('No such execution') },
      async handler({ params }, ctx) {
        const execution = await executions.get(params.id);
        // Logged payloads may hold personal data: read shows statistics and metadata, executions:read the payloads too.
        if (grants(ctx.principal.scopes, 'executions:read')) return { ...execution, payload_withheld: false };
        return {
          ...execution,
          input_variables: null,
          rendered_prompt: null,
          response: null,
          messages: null,
          response_messages: null,
          tool_calls: null,
          payload_withheld: true,
        };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/stats',
      summary:
        'Per-version statistics over a window (default the last 7 days): count, error rate, latency p50/p95/p99 (nearest rank) and mean, tokens, cost, quality, custom metrics; and a series per hour or day',
      tag: 'executions',
      scope: 'read',
      params: nameParams,
      query: statsQuery,
      responses: { 200: { description: 'The statistics', schema: statsSchema }, 400: err('Invalid window'), 404: err('No such prompt') },
      handler: ({ params, query }) => executions.stats(params.name, query),
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/compare',
      summary: 'Two versions side by side on every built-in measure and custom metric: means, counts and the difference (b − a); over all time unless from or to',
      tag: 'executions',
      scope: 'read',
      params: nameParams,
      query: compareQuery,
      responses: { 200: { description: 'The comparison', schema: comparisonSchema }, 404: err('No such prompt or version') },
      handler: ({ params, query }) => executions.compare(params.name, query),
    }),
  ];
}
