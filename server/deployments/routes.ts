import { decodeCursor, int4Key, pageOf } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { nameParams } from '../prompts/schemas.js';
import { bundleSchema, deployBody, deploymentSchema, exportQuery, historyQuery, latestQuery, resolvedSchema, rollbackBody, rollbackQuery } from './schemas.js';
import { sendResolved } from './resolve-fast-path.js';
import { requestSchema } from '../approvals/schemas.js';
import type { DeploymentService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function deploymentRoutes(deployments: DeploymentService): Route[] {
  return [
    defineRoute({
      method: 'get',
      path: '/prompts/:name/latest',
      summary: 'The version live in an environment (default production), with its model settings',
      tag: 'deployments',
      scope: 'read',
      params: nameParams,
      query: latestQuery,
      responses: {
        200: { description: 'The live version (during a rollout, the variant `key` is assigned, with `variant` and `rollout`); ETag set, If-None-Match answers 304', schema: resolvedSchema },
        304: { description: 'Not modified since the ETag given' },
        404: err('No such prompt, or nothing deployed in the environment'),
      },
      async handler({ params, query }, { req, res }) {
        sendResolved(await deployments.resolveAnswer(params.name, query.environment, query.key), req, res);
      },
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/prompts/:name/deployments',
      summary:
        'Deploy a version to an environment (deploying what is already live answers 200 and changes nothing); where the environment needs approval, 202 and a pending deployment request',
      tag: 'deployments',
      scope: ({ body }) => `deploy:${body.environment}`,
      params: nameParams,
      body: deployBody,
      responses: {
        201: { description: 'The new deployment', schema: deploymentSchema },
        200: { description: 'The version was already live: the current deployment', schema: deploymentSchema },
        202: { description: 'The environment needs approval: the deployment request, pending', schema: requestSchema },
        400: err('Unknown environment or invalid input'),
        403: err("The credential may not deploy there (scope, or the environment's policy)"),
        404: err('No such prompt or version'),
        409: err("The environment's policy requires a passing experiment the version lacks (evaluation_required); with approvals, the version is already live (already_live)"),
      },
      async handler({ params, body }, ctx) {
        const outcome = await deployments.deploy(ctx.principal, params.name, body.version, body.environment, body.comment);
        if (outcome.request) {
          ctx.status(202);
          return outcome.request;
        }
        if (!outcome.created) ctx.status(200);
        return outcome.deployment;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/deployments',
      summary: 'Deployment history, newest first, rollbacks included',
      tag: 'deployments',
      scope: 'read',
      params: nameParams,
      query: historyQuery,
      responses: { 200: { description: 'A page of deployments', schema: page(deploymentSchema) }, 404: err('No such prompt') },
      async handler({ params, query }) {
        const beforeSeq = decodeCursor(query.cursor, int4Key);
        const rows = await deployments.history(params.name, { environment: query.environment, beforeSeq, limit: query.limit + 1 });
        const result = pageOf(rows, query.limit, (d) => d.seq);
        return { ...result, items: result.items.map(({ seq: _seq, ...d }) => d) };
      },
    }),
    defineRoute({
      method: 'post',
      status: 201,
      path: '/prompts/:name/rollback',
      summary: 'Restore the version live before the current one (or an earlier one given by version)',
      tag: 'deployments',
      scope: ({ body }) => `deploy:${body.environment}`,
      params: nameParams,
      body: rollbackBody,
      query: rollbackQuery,
      responses: {
        201: { description: 'The rollback, recorded as a deployment with rollback_of', schema: deploymentSchema },
        200: { description: 'With ?dry_run=true: the deployment a rollback would make (id empty), changing nothing', schema: deploymentSchema },
        202: { description: 'The environment needs approval: the rollback request, pending', schema: requestSchema },
        403: err("The credential may not roll back there (scope, or the environment's policy)"),
        404: err('No such prompt'),
        409: err('Nothing earlier to roll back to'),
      },
      async handler({ params, body, query }, ctx) {
        const outcome = await deployments.rollback(ctx.principal, params.name, body.environment, body.version, { dryRun: query.dry_run, comment: body.comment });
        if (outcome.request) {
          ctx.status(202);
          return outcome.request;
        }
        if (query.dry_run) ctx.status(200);
        return outcome.deployment;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/export',
      summary: 'Every prompt live in an environment, as a bundle file clients can start from when the registry is unreachable',
      tag: 'deployments',
      scope: 'read',
      query: exportQuery,
      responses: { 200: { description: 'The bundle', schema: bundleSchema }, 400: err('Unknown environment') },
      handler: ({ query }) => deployments.exportBundle(query.environment),
    }),
  ];
}
