import { decodeCursor, int4Key, pageOf, textKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import type { RolloutInfo } from '../rollouts/schemas.js';
import type { DeploymentService } from '../deployments/service.js';
import type { PromptService } from './service.js';
import {
  createdVersionSchema,
  createVersionBody,
  createVersionQuery,
  listPromptsQuery,
  listVersionsQuery,
  nameParams,
  promptSchema,
  renderBody,
  renderResultSchema,
  updatePromptBody,
  versionParams,
  versionSchema,
  versionSummarySchema,
} from './schemas.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function promptRoutes(prompts: PromptService, deployments: DeploymentService): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/prompts',
      summary: 'List prompts, by name; filter by a search text, tags, and the environment they are live in',
      tag: 'prompts',
      scope: 'read',
      query: listPromptsQuery,
      responses: { 200: { description: 'A page of prompts', schema: page(promptSchema) } },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, textKey(255));
        if (query.environment) deployments.assertEnvironment(query.environment);
        const rows = await prompts.list({ search: query.search, tags: query.tag, environment: query.environment, after, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (p) => p.name);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name',
      summary: 'A prompt, its latest version number and what is live in each environment',
      tag: 'prompts',
      scope: 'read',
      params: nameParams,
      responses: { 200: { description: 'The prompt', schema: promptSchema }, 404: err('No such prompt') },
      handler: ({ params }) => prompts.get(params.name),
    }),
    defineRoute({
      method: 'patch',
      path: '/prompts/:name',
      summary: "Change a prompt's description or tags",
      tag: 'prompts',
      scope: 'write',
      params: nameParams,
      body: updatePromptBody,
      responses: { 200: { description: 'The changed prompt', schema: promptSchema }, 404: err('No such prompt') },
      handler: ({ params, body }, ctx) => prompts.update(ctx.principal, params.name, body),
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/prompts/:name/versions',
      summary: 'Create the next version (and the prompt, on its first version)',
      tag: 'versions',
      scope: 'write',
      params: nameParams,
      query: createVersionQuery,
      body: createVersionBody,
      responses: {
        201: { description: 'The new version', schema: createdVersionSchema },
        200: { description: 'With ?idempotent=true: the existing identical version', schema: createdVersionSchema },
        400: err('Invalid input'),
        409: err('Identical to an existing version (the message names it)'),
        422: err('The template has a syntax error (with line and column), or is beyond a limit (template_too_large)'),
      },
      async handler({ params, query, body }, ctx) {
        const { version, created } = await prompts.createVersion(ctx.principal, params.name, body, { idempotent: query.idempotent });
        if (!created) ctx.status(200);
        return { ...version, created };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/versions',
      summary: 'List versions, newest first (without their content)',
      tag: 'versions',
      scope: 'read',
      params: nameParams,
      query: listVersionsQuery,
      responses: { 200: { description: 'A page of versions', schema: page(versionSummarySchema) }, 404: err('No such prompt') },
      async handler({ params, query }) {
        const before = decodeCursor(query.cursor, int4Key);
        const rows = await prompts.listVersions(params.name, { before, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (v) => v.version);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/versions/:version',
      summary: 'One version with its content',
      tag: 'versions',
      scope: 'read',
      params: versionParams,
      responses: { 200: { description: 'The version', schema: versionSchema }, 404: err('No such prompt or version') },
      handler: ({ params }) => prompts.getVersion(params.name, params.version),
    }),
    defineRoute({
      method: 'post',
      path: '/prompts/:name/render',
      summary: 'Render the version live in an environment (default production), or a given version, strictly',
      tag: 'versions',
      scope: 'read',
      params: nameParams,
      body: renderBody,
      responses: {
        200: { description: 'The rendered text', schema: renderResultSchema },
        404: err('No such prompt or version, or nothing deployed'),
        422: err('A variable is missing or unusable (the message names it), or the render ran out of its budget (render_too_large)'),
      },
      async handler({ params, body }) {
        let source: { id: string; number: number; content: string; model: string; temperature: number; max_tokens: number };
        let environment: string | null = null;
        let split: { variant?: 'candidate' | 'live'; rollout?: RolloutInfo } = {};
        if (body.version !== undefined) {
          const v = await prompts.getVersion(params.name, body.version);
          source = { id: v.version_id, number: v.version, content: v.content!, model: v.model, temperature: v.temperature, max_tokens: v.max_tokens };
        } else {
          environment = body.environment ?? 'production';
          const r = await deployments.resolve(params.name, environment, body.key);
          if (r.rollout) split = { variant: r.variant, rollout: r.rollout };
          source = { id: r.version_id, number: r.version_number, content: r.content, model: r.model, temperature: r.temperature, max_tokens: r.max_tokens };
        }
        return {
          rendered: await prompts.render(source.id, source.content, body.variables),
          prompt: params.name,
          version: source.number,
          version_id: source.id,
          environment,
          model: source.model,
          temperature: source.temperature,
          max_tokens: source.max_tokens,
          ...split,
        };
      },
    }),
  ];
}

