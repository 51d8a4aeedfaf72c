import { decodeCursor, pageOf, timeIdKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { decisionBody, listQuery, requestParams, requestSchema } from './schemas.js';
import type { ApprovalService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function approvalRoutes(approvals: ApprovalService): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/deployment-requests',
      summary: 'Deploy and rollback requests waiting for (or past) approval, newest first; ?status=pending for what needs a decision',
      tag: 'approvals',
      scope: 'read',
      query: listQuery,
      responses: { 200: { description: 'A page of requests', schema: page(requestSchema) } },
      async handler({ query }) {
        const before = decodeCursor(query.cursor, timeIdKey);
        const rows = await approvals.list({
          status: query.status,
          prompt: query.prompt,
          environment: query.environment,
          requestedBy: query.requested_by,
          before,
          limit: query.limit + 1,
        });
        return pageOf(rows, query.limit, (r) => [r.requested_at, r.id]);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/deployment-requests/:id',
      summary: 'One deployment request, with every decision on it, and whether it is outdated (something else went live since it was asked for)',
      tag: 'approvals',
      scope: 'read',
      params: requestParams,
      responses: { 200: { description: 'The request', schema: requestSchema }, 404: err('No such request') },
      handler: ({ params }) => approvals.get(params.id),
    }),
    defineRoute({
      method: 'post',
      path: '/deployment-requests/:id/approve',
      summary: "Approve a request (needs the right to deploy to its environment; not the requester's own). The last approval needed applies it",
      tag: 'approvals',
      scope: 'authenticated',
      params: requestParams,
      body: decisionBody,
      responses: {
        200: { description: 'The request: still pending, or applied with its deployment_id', schema: requestSchema },
        403: err('Your own request, or no right to deploy there'),
        404: err('No such request'),
        409: err('Already decided, no longer pending, expired, or outdated (request_outdated: something else went live since it was asked for), or the environment\'s policy requires a passing experiment the version lacks (evaluation_required)'),
      },
      handler: ({ params, body }, ctx) => approvals.approve(ctx.principal, params.id, body.comment),
    }),
    defineRoute({
      method: 'post',
      path: '/deployment-requests/:id/reject',
      summary: 'Reject a request (anyone who may deploy there), or withdraw your own',
      tag: 'approvals',
      scope: 'authenticated',
      params: requestParams,
      body: decisionBody,
      responses: {
        200: { description: 'The request, rejected', schema: requestSchema },
        403: err('No right to deploy there'),
        404: err('No such request'),
        409: err('Already decided, no longer pending, or expired'),
      },
      handler: ({ params, body }, ctx) => approvals.reject(ctx.principal, params.id, body.comment),
    }),
  ];
}
