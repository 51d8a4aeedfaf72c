import { z } from 'zod';
import { requireScope, type Principal } from '../auth/principal.js';
import type { DeploymentService } from '../deployments/service.js';
import { AppError } from '../errors.js';
import { decodeCursor, int4Key, pageOf, textKey } from '../http/cursor.js';
import type { Context, Route } from '../http/route.js';
import type { PromptService } from '../prompts/service.js';
import { TemplateError } from '../../shared/templates/index.js';
import type { LiveVersion, McpRegistry, PromptListing, RenderAnswer } from './registry.js';

/** Prompts live in one environment, read a page at a time. */
const LIST_PAGE = 500;

/**
 * The registry in this process, for the server's `/mcp` endpoint: the
 * services, with the caller's credential. Rendering runs the declared
 * `POST /prompts/{name}/render` route itself (its schema, scope and handler),
 * so prompts/get answers exactly what that route answers, chat prompts and
 * partials included, without a request to ourselves.
 */
export function localRegistry(deps: {
  prompts: PromptService;
  deployments: DeploymentService;
  renderRoute: () => Route;
  principal: Principal;
  ctx: Pick<Context, 'req' | 'res'>;
}): McpRegistry {
  const { prompts, deployments, principal } = deps;

  async function listings(environment: string): Promise<Map<string, PromptListing>> {
    const all = new Map<string, PromptListing>();
    let after: string | undefined;
    for (;;) {
      const rows = await prompts.list({ tags: [], environment, after, limit: LIST_PAGE });
      for (const p of rows) all.set(p.name, p);
      if (rows.length < LIST_PAGE) return all;
      after = rows[rows.length - 1]!.name;
    }
  }

  return {
    async live(environment) {
      const [bundle, byName] = await Promise.all([deployments.exportBundle(environment), listings(environment)]);
      return Object.values(bundle.prompts).map((version) => ({ listing: byName.get(version.prompt), version: version as unknown as LiveVersion }));
    },

    async liveVersion(name, environment) {
      // The row itself: what prompts/get needs (type, variables, input_schema) without resolving partials.
      const row = await deployments.resolve(name, environment);
      return { ...row, version: row.version_number } as unknown as LiveVersion;
    },

    async render(name, environment, variables) {
      const route = deps.renderRoute();
      const input = {
        params: route.params ? route.params.parse({ name }) : {},
        query: {},
        body: route.body ? route.body.parse({ variables, environment }) : {},
      } as Parameters<Route['handler']>[0];
      if (typeof route.scope !== 'string' || (route.scope !== 'none' && route.scope !== 'authenticated')) {
        requireScope(principal, typeof route.scope === 'function' ? route.scope(input) : route.scope);
      }
      return (await route.handler(input, { ...deps.ctx, principal, status: () => undefined })) as RenderAnswer;
    },

    async searchPrompts(f) {
      if (f.environment) deployments.assertEnvironment(f.environment);
      const after = decodeCursor(f.cursor, textKey(255));
      const rows = await prompts.list({ search: f.search, tags: f.tags, environment: f.environment, after, limit: f.limit + 1 });
      return pageOf(rows, f.limit, (p) => p.name);
    },

    async getVersion(name, version) {
      return prompts.getVersion(name, version);
    },

    async listVersions(name, f) {
      const before = decodeCursor(f.cursor, int4Key);
      const rows = await prompts.listVersions(name, { before, limit: f.limit + 1 });
      return pageOf(rows, f.limit, (v) => v.version);
    },

    problem(err) {
      if (err instanceof AppError || err instanceof TemplateError) return { code: err.code, message: err.message };
      if (err instanceof z.ZodError) {
        const issue = err.issues[0];
        return { code: 'invalid_request', message: `invalid request: ${issue ? `${issue.path.join('.')}: ${issue.message}` : 'invalid input'}` };
      }
      return undefined;
    },
  };
}
