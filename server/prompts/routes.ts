import { decodeCursor, int4Key, pageOf, textKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import type { DeploymentService } from '../deployments/service.js';
import type { PromptService, RenderOutput, RenderSource } from './service.js';
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
  usedByQuery,
  usedBySchema,
  versionParams,
  versionSchema,
  versionSummarySchema,
} from './schemas.js';

const err = (description: string) => ({ description, schema: errorSchema });

function renderAnswer(source: RenderSource, config: Record<string, unknown>, environment: string | null, out: RenderOutput) {
  return {
    type: source.type,
    rendered: out.rendered,
    messages: out.messages,
    prompt: source.prompt,
    version: source.version,
    version_id: source.version_id,
    environment,
    model: config.model as string,
    temperature: config.temperature as number,
    max_tokens: config.max_tokens as number,
    config,
    partials_used: out.partials_used,
  };
}

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
        400: err(
          'Invalid input, naming the field: an invalid JSON Schema (invalid_schema, with its path), a partial reference to a missing prompt or version (invalid_reference), a cycle of partials (reference_cycle) or partials nested too deep (reference_too_deep)',
        ),
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
        400: err('Invalid input: variables not matching the input schema (invalid_variables, naming the field), a bad placeholder message'),
        404: err('No such prompt or version, or nothing deployed'),
        422: err(
          'A variable is missing or unusable (the message names it), the render ran out of its budget (render_too_large), or a partial cannot be resolved (partial_unavailable)',
        ),
      },
      async handler({ params, body }) {
        if (body.version !== undefined) {
          const { source, config } = await prompts.renderSource(params.name, body.version);
          const out = await prompts.renderVersion(source, body, { mode: { latest: true } });
          return renderAnswer(source, config, null, out);
        }
        const environment = body.environment ?? 'production';
        const live = await deployments.live(params.name, environment);
        const out = await prompts.renderVersion(live.source, body, live.partials);
        return renderAnswer(live.source, live.config, environment, out);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/used-by',
      summary: 'The versions that include this prompt as a partial, and where each is live (with environment: only those live there)',
      tag: 'versions',
      scope: 'read',
      params: nameParams,
      query: usedByQuery,
      responses: { 200: { description: 'The including versions', schema: usedBySchema }, 404: err('No such prompt') },
      async handler({ params, query }) {
        if (query.environment) deployments.assertEnvironment(query.environment);
        return { data: await prompts.usedBy(params.name, query.environment) };
      },
    }),
  ];
}

