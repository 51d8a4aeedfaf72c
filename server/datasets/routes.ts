import { decodeCursor, int4Key, pageOf } from '../http/cursor.js';
import { readTextBody } from '../http/raw-body.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import {
  addedSchema,
  addItemsBody,
  createBody,
  datasetName,
  datasetSchema,
  executionParams,
  exportQuery,
  fromExecutionBody,
  importQuery,
  itemSchema,
  itemsQuery,
  listQuery,
  nameParams,
} from './schemas.js';
import type { DatasetService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

/** What an import body may be: CSV, or JSON Lines under any of its usual names. */
const IMPORT_TYPES = ['text/csv', 'application/x-ndjson', 'application/jsonl', 'application/x-jsonlines', 'text/plain'] as const;

export function datasetRoutes(datasets: DatasetService, options: { importBodyLimitBytes: number }): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/datasets',
      summary: 'Create a dataset (empty, version 0)',
      tag: 'datasets',
      scope: 'write',
      body: createBody,
      responses: { 201: { description: 'The dataset', schema: datasetSchema }, 400: err('A bad field (named)'), 409: err('A dataset of that name exists (dataset_exists)') },
      handler: ({ body }, ctx) => datasets.create(ctx.principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/datasets',
      summary: 'List datasets, by name',
      tag: 'datasets',
      scope: 'read',
      query: listQuery,
      responses: { 200: { description: 'A page of datasets', schema: page(datasetSchema) } },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, datasetName);
        return pageOf(await datasets.list({ after, limit: query.limit + 1 }), query.limit, (d) => d.name);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/datasets/:name',
      summary: 'One dataset: its version and item count',
      tag: 'datasets',
      scope: 'read',
      params: nameParams,
      responses: { 200: { description: 'The dataset', schema: datasetSchema }, 404: err('No such dataset') },
      handler: ({ params }) => datasets.get(params.name),
    }),
    defineRoute({
      method: 'delete',
      path: '/datasets/:name',
      summary: 'Delete a dataset and its items',
      tag: 'datasets',
      scope: 'admin',
      params: nameParams,
      responses: { 200: { description: 'The deleted dataset', schema: datasetSchema }, 404: err('No such dataset') },
      handler: ({ params }, ctx) => datasets.remove(ctx.principal, params.name),
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/datasets/:name/items',
      summary: 'Add up to 1,000 items as the next version of the dataset (all or none)',
      tag: 'datasets',
      scope: 'write',
      params: nameParams,
      body: addItemsBody,
      responses: { 201: { description: 'The new version', schema: addedSchema }, 400: err('A bad item (named by its index)'), 404: err('No such dataset') },
      handler: ({ params, body }, ctx) => datasets.add(ctx.principal, params.name, body.items, 'items'),
    }),
    defineRoute({
      method: 'get',
      path: '/datasets/:name/items',
      summary: 'The items of a version (default: the latest), by position',
      tag: 'datasets',
      scope: 'read',
      params: nameParams,
      query: itemsQuery,
      responses: { 200: { description: 'A page of items', schema: page(itemSchema) }, 404: err('No such dataset or version') },
      async handler({ params, query }) {
        const afterSeq = decodeCursor(query.cursor, int4Key);
        return pageOf(await datasets.items(params.name, { version: query.version, afterSeq, limit: query.limit + 1 }), query.limit, (i) => i.seq);
      },
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/datasets/:name/import',
      summary:
        'Import a file as the next version: JSON Lines (one {input, expected?, metadata?} per line; Content-Type application/x-ndjson, application/jsonl or text/plain) or CSV with a header row (text/csv: an "expected" column, "metadata.<key>" columns, every other column an input variable). A bad row refuses the file naming its line; nothing is stored',
      tag: 'datasets',
      scope: 'write',
      params: nameParams,
      query: importQuery,
      responses: {
        201: { description: 'The new version', schema: addedSchema },
        400: err('invalid_dataset_row: the message and `line` name the bad row; nothing was stored'),
        404: err('No such dataset'),
        413: err('The file is larger than the limit'),
        415: err('A Content-Type that is not CSV or JSON Lines'),
      },
      async handler({ params, query }, ctx) {
        const text = await readTextBody(ctx.req, options.importBodyLimitBytes, IMPORT_TYPES);
        const type = String(ctx.req.headers['content-type'] ?? '').toLowerCase();
        const format = query.format ?? (type.startsWith('text/csv') ? 'csv' : 'jsonl');
        return datasets.import(ctx.principal, params.name, format, text);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/datasets/:name/export',
      summary: 'The items of a version (default: the latest) as a file: JSON Lines (application/x-ndjson) or CSV (text/csv), in the forms import reads',
      tag: 'datasets',
      scope: 'read',
      params: nameParams,
      query: exportQuery,
      responses: { 200: { description: 'The file' }, 404: err('No such dataset or version') },
      async handler({ params, query }, { res }) {
        const body = await datasets.export(params.name, query.format, query.version);
        res.status(200).type(query.format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson; charset=utf-8');
        res.setHeader('Content-Disposition', `attachment; filename="${params.name}.${query.format}"`);
        res.end(body);
        return undefined;
      },
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/datasets/:name/items/from-execution/:id',
      summary:
        "Add to dataset: a logged execution's variables become an item's input and its response the expected output (unless `expected` is given), as the next version. Needs write and executions:read",
      tag: 'datasets',
      scope: 'write',
      params: executionParams,
      body: fromExecutionBody,
      responses: {
        201: { description: 'The new version and the item', schema: addedSchema.extend({ item: itemSchema }) },
        400: err('The execution had its payload removed by retention (execution_redacted)'),
        403: err('The credential lacks executions:read'),
        404: err('No such dataset or execution'),
      },
      handler: ({ params, body }, ctx) => datasets.addFromExecution(ctx.principal, params.name, params.id, body),
    }),
  ];
}

