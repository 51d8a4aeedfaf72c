import { decodeCursor, pageOf, textKey } from '../http/cursor.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema, page } from '../http/schemas.js';
import { abortBody, listRolloutsQuery, promoteBody, rolloutBody, rolloutParams, rolloutSchema } from './schemas.js';
import { requestSchema } from '../approvals/schemas.js';
import type { RolloutService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

export function rolloutRoutes(rollouts: RolloutService): Route[] {
  const deployScope = ({ params }: { params: { environment: string } }) => `deploy:${params.environment}`;
  return [
    defineRoute({
      method: 'get',
      path: '/rollouts',
      summary:
        'The rollouts running in an environment, by prompt name (with `prompt`, only that prompt\'s: an empty page when none runs); each as `GET /prompts/{name}/rollouts/{environment}` answers it',
      tag: 'rollouts',
      scope: 'read',
      query: listRolloutsQuery,
      responses: {
        200: { description: 'A page of running rollouts', schema: page(rolloutSchema) },
        400: err('No environment given, an unknown environment (unknown_environment), or an invalid cursor'),
      },
      async handler({ query }) {
        const after = decodeCursor(query.cursor, textKey(255));
        const rows = await rollouts.list({ environment: query.environment, prompt: query.prompt, after, limit: query.limit + 1 });
        return pageOf(rows, query.limit, (r) => r.prompt);
      },
    }),
    defineRoute({
      method: 'put',
      status: 201,
      path: '/prompts/:name/rollouts/:environment',
      summary:
        'Start a rollout: serve the candidate version to `weight` percent of caller keys beside the live version; for the rollout running with the same candidate, change its weight and guard (200); where the environment needs approval, 202 and a pending deployment request (rollout_start)',
      tag: 'rollouts',
      scope: deployScope,
      params: rolloutParams,
      body: rolloutBody,
      responses: {
        201: { description: 'The rollout, started', schema: rolloutSchema },
        200: { description: 'The running rollout of that candidate, with its new weight and guard', schema: rolloutSchema },
        202: { description: 'The environment needs approval: the rollout_start request, pending', schema: requestSchema },
        400: err('Invalid input: weight outside 1..99, an unknown guard metric, an unknown environment'),
        403: err('The credential may not deploy there'),
        404: err('No such prompt, or the candidate is not one of its versions'),
        409: err('Nothing live in the environment, the candidate is the live version, or another rollout is running (rollout_exists), or the environment\'s policy requires a passing experiment the candidate lacks (evaluation_required)'),
      },
      async handler({ params, body }, ctx) {
        const outcome = await rollouts.start(ctx.principal, params.name, params.environment, body);
        if (outcome.request) {
          ctx.status(202);
          return outcome.request;
        }
        if (!outcome.created) ctx.status(200);
        return outcome.rollout;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/prompts/:name/rollouts/:environment',
      summary: 'The rollout running in an environment',
      tag: 'rollouts',
      scope: 'read',
      params: rolloutParams,
      responses: { 200: { description: 'The running rollout', schema: rolloutSchema }, 400: err('Unknown environment'), 404: err('No such prompt, or no rollout running there') },
      handler: ({ params }) => rollouts.get(params.name, params.environment),
    }),
    defineRoute({
      method: 'post',
      path: '/prompts/:name/rollouts/:environment/promote',
      summary:
        'Promote the candidate: it is deployed (live for every key) and the rollout ends; where the environment needs approval, 202 and a pending deployment request for the candidate (the rollout ends as promoted when it is applied)',
      tag: 'rollouts',
      scope: deployScope,
      params: rolloutParams,
      body: promoteBody,
      responses: {
        200: { description: 'The rollout, ended with status promoted', schema: rolloutSchema },
        202: { description: 'The environment needs approval: the deployment request for the candidate, pending', schema: requestSchema },
        403: err('The credential may not deploy there'),
        404: err('No such prompt, or no rollout running there'),
        409: err("The environment's policy requires a passing experiment the candidate lacks (evaluation_required)"),
      },
      async handler({ params, body }, ctx) {
        const outcome = await rollouts.promote(ctx.principal, params.name, params.environment, body.comment);
        if (outcome.request) {
          ctx.status(202);
          return outcome.request;
        }
        return outcome.rollout;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/prompts/:name/rollouts/:environment/abort',
      summary:
        'Abort the rollout: every key gets the live version again; the reason is recorded; where the environment needs approval, 202 and a pending deployment request (rollout_abort)',
      tag: 'rollouts',
      scope: deployScope,
      params: rolloutParams,
      body: abortBody,
      responses: {
        200: { description: 'The rollout, ended with status aborted', schema: rolloutSchema },
        202: { description: 'The environment needs approval: the rollout_abort request, pending', schema: requestSchema },
        403: err('The credential may not deploy there'),
        404: err('No such prompt, or no rollout running there'),
      },
      async handler({ params, body }, ctx) {
        const outcome = await rollouts.abort(ctx.principal, params.name, params.environment, body.reason);
        if (outcome.request) {
          ctx.status(202);
          return outcome.request;
        }
        return outcome.rollout;
      },
    }),
  ];
}
