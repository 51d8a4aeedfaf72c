import { decodeCursor, pageOf, textKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { executionParams, scoreSchema } from '../executions/schemas.js';
import { createMetricBody, listMetricsQuery, metricSchema, scoreBody } from './schemas.js';
import type { MetricService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function metricRoutes(metrics: MetricService): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/metrics',
      summary: 'Define a custom evaluation metric: numeric (with optional min and max), boolean or categorical',
      tag: 'metrics',
      scope: 'write',
      body: createMetricBody,
      responses: { 201: { description: 'The metric', schema: metricSchema }, 400: err('Invalid definition'), 409: err('A metric of that name exists') },
      handler: ({ body }, ctx) => metrics.create(ctx.principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/metrics',
      summary: 'List the custom evaluation metrics, by name',
      tag: 'metrics',
      scope: 'read',
      query: listMetricsQuery,
      responses: { 200: { description: 'A page of metrics', schema: page(metricSchema) } },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, textKey(100));
        const rows = await metrics.list({ after, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (m) => m.name);
      },
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/executions/:id/scores',
      summary: 'Score an execution by a custom metric; the same source scoring the same metric again replaces its score (200)',
      tag: 'metrics',
      scope: 'write',
      params: executionParams,
      body: scoreBody,
      responses: {
        201: { description: 'The score', schema: scoreSchema },
        200: { description: 'The score, replacing the one the same source gave before', schema: scoreSchema },
        400: err('The value does not fit the metric (out of range, wrong type, unknown category)'),
        404: err('No such execution or metric'),
      },
      async handler({ params, body }, ctx) {
        const { score, created } = await metrics.score(ctx.principal, params.id, body);
        if (!created) ctx.status(200);
        return score;
      },
    }),
  ];
}
