import { z } from 'zod';
import { decodeCursor, pageOf } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { createBody, listQuery, nameParams, patchBody, providerName, providerSchema } from './schemas.js';
import type { ProviderService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });
const nameKey = providerName;

export function providerRoutes(providers: ProviderService): Route[] {
  return [
    defineRoute({
      method: 'post',
      status: 201,
      path: '/providers',
      summary: 'Configure a model provider (OpenAI-compatible or Anthropic); its API key is stored encrypted and never answered',
      tag: 'providers',
      scope: 'admin',
      body: createBody,
      responses: {
        201: { description: 'The provider (has_api_key, never the key)', schema: providerSchema },
        400: err('A bad field (named)'),
        409: err('A provider of that name exists (provider_exists)'),
      },
      handler: ({ body }, ctx) => providers.create(ctx.principal, body),
    }),
    defineRoute({
      method: 'get',
      path: '/providers',
      summary: 'List the providers, by name (never their keys)',
      tag: 'providers',
      scope: 'admin',
      query: listQuery,
      responses: { 200: { description: 'A page of providers', schema: page(providerSchema) } },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, z.string().pipe(nameKey));
        return pageOf(await providers.list({ after, limit: query.limit + 1 }), query.limit, (p) => p.name);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/providers/:name',
      summary: 'One provider',
      tag: 'providers',
      scope: 'admin',
      params: nameParams,
      responses: { 200: { description: 'The provider', schema: providerSchema }, 404: err('No such provider') },
      handler: ({ params }) => providers.get(params.name),
    }),
    defineRoute({
      method: 'patch',
      path: '/providers/:name',
      summary: 'Change a provider: base_url, api_key (null removes it), default_model, headers, prices',
      tag: 'providers',
      scope: 'admin',
      params: nameParams,
      body: patchBody,
      responses: { 200: { description: 'The provider', schema: providerSchema }, 400: err('A bad field (named)'), 404: err('No such provider') },
      handler: ({ params, body }, ctx) => providers.update(ctx.principal, params.name, body),
    }),
    defineRoute({
      method: 'delete',
      path: '/providers/:name',
      summary: 'Remove a provider and its key',
      tag: 'providers',
      scope: 'admin',
      params: nameParams,
      responses: { 200: { description: 'The removed provider', schema: providerSchema }, 404: err('No such provider') },
      handler: ({ params }, ctx) => providers.remove(ctx.principal, params.name),
    }),
  ];
}
