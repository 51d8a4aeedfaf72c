import { z } from 'zod';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema } from '../http/schemas.js';
import { environmentParams, policyBody, policySchema } from './schemas.js';
import type { EnvironmentService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function environmentRoutes(environments: EnvironmentService): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/environments',
      summary: 'The environments versions can be deployed to, each with its deploy policy',
      tag: 'environments',
      scope: 'read',
      responses: {
        200: { description: 'The environments', schema: z.object({ items: z.array(policySchema.extend({ name: z.string() })), next_cursor: z.null() }) },
      },
      async handler() {
        return { items: (await environments.list()).map((p) => ({ name: p.environment, ...p })), next_cursor: null };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/environments/:name/policy',
      summary: 'Who may deploy to an environment, and how many approvals a deploy or rollback there needs',
      tag: 'environments',
      scope: 'read',
      params: environmentParams,
      responses: { 200: { description: 'The policy in force', schema: policySchema }, 400: err('Unknown environment') },
      handler: ({ params }) => environments.policy(params.name),
    }),
    defineRoute({
      method: 'put',
      path: '/environments/:name/policy',
      summary: "Set an environment's deploy policy (admin; audited): require_approval (one approval), or required_approvals N; 0 deploys at once",
      tag: 'environments',
      scope: 'admin',
      params: environmentParams,
      body: policyBody,
      responses: { 200: { description: 'The policy now in force', schema: policySchema }, 400: err('Unknown environment, scope, or out-of-range number') },
      handler: ({ params, body }, ctx) => environments.setPolicy(ctx.principal, params.name, body),
    }),
  ];
}
