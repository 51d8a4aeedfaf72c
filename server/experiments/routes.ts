import { z } from 'zod';
import { decodeCursor, int4Key, pageOf } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { compareQuery, comparisonSchema, createBody, experimentSchema, idParams, resultSchema, resultsQuery } from './schemas.js';
import type { ExperimentService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });
// (item, column): a version, or a draft as -1 ... -10.
const resultKey = z.tuple([int4Key, z.number().int().min(-10).max(2_147_483_647)]);

export function experimentRoutes(experiments: ExperimentService): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/experiments',
      summary: 'Start an experiment: every item of the dataset (its current version) against every listed version and draft, scored by the evaluators, in the background',
      tag: 'experiments',
      scope: 'run',
      body: createBody,
      responses: {
        201: { description: 'The experiment, queued', schema: experimentSchema },
        400: err('A bad field, evaluator (a regex or schema that does not compile) or draft (drafts[i]...), naming it; an unknown provider; an empty dataset'),
        404: err('No such prompt, version or dataset'),
        409: err('Drafts for a prompt with no version yet (no_base_version): draft runs are logged against its latest version'),
      },
      handler: ({ body }, ctx) => experiments.create(ctx.principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/experiments/:id',
      summary: 'An experiment: status, progress, and per-version aggregates (pass rate, mean score per evaluator, latency p50/p95, tokens, cost)',
      tag: 'experiments',
      scope: 'read',
      params: idParams,
      responses: { 200: { description: 'The experiment', schema: experimentSchema }, 404: err('No such experiment') },
      handler: ({ params }) => experiments.get(params.id),
    }),
    defineRoute({
      method: 'get',
      path: '/experiments/:id/results',
      summary: "An experiment's per-item results (output, scores, error), by item, then column; ?version=N or ?draft=LABEL for one column; needs executions:read (outputs are payloads)",
      tag: 'experiments',
      scope: 'executions:read',
      params: idParams,
      query: resultsQuery,
      responses: { 200: { description: 'A page of results', schema: page(resultSchema) }, 404: err('No such experiment') },
      async handler({ params, query }) {
        const after = decodeCursor(query.cursor, resultKey);
        const rows = await experiments.results(params.id, { version: query.version, draft: query.draft, after, limit: query.limit + 1 });
        const page = pageOf(rows, query.limit, (r) => [r.item_seq, r.key]);
        return { ...page, items: page.items.map(({ key: _k, ...r }) => r) };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/experiments/:id/compare',
      summary: 'Compare two of its versions (a and b: a version number, or draft:LABEL) item by item: the items b did worse on (failed where a passed, errored where a ran, an evaluator scored lower), and better',
      tag: 'experiments',
      scope: 'read',
      params: idParams,
      query: compareQuery,
      responses: { 200: { description: 'The comparison', schema: comparisonSchema }, 400: err('a or b is not a version the experiment ran'), 404: err('No such experiment') },
      handler: ({ params, query }) => experiments.compare(params.id, query.a, query.b),
    }),
    defineRoute({
      method: 'post',
      path: '/experiments/:id/cancel',
      summary: 'Cancel a queued or running experiment: runs in flight are stopped, results so far are kept',
      tag: 'experiments',
      scope: 'run',
      params: idParams,
      responses: { 200: { description: 'The experiment, cancelled', schema: experimentSchema }, 400: err('It has finished already (experiment_finished)'), 404: err('No such experiment') },
      handler: ({ params }, ctx) => experiments.cancel(ctx.principal, params.id),
    }),
  ];
}
