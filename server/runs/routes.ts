import type { Response } from 'express';
import { AppError } from '../errors.js';
import { errorBody } from '../http/error-handler.js';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema } from '../http/schemas.js';
import { nameParams } from '../prompts/schemas.js';
import { runBody, runResultSchema } from './schemas.js';
import type { RunService } from './service.js';

const err = (description: string) => ({ description, schema: errorSchema });

const sse = (res: Response, event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

export function runRoutes(runs: RunService): Route[] {
  return [
    defineRoute({
      method: 'post',
      path: '/prompts/:name/run',
      summary:
        'Render a version (by number, the one live in an environment, default production, or an unpublished draft), call a model provider, answer the output with usage, latency and cost, and log it as an execution',
      tag: 'runs',
      scope: 'run',
      params: nameParams,
      body: runBody,
      responses: {
        200: {
          description:
            'The output. With "stream": true, text/event-stream: `event: delta` with `data: {"text"}` per token chunk, then `event: done` with this same object, ' +
            'or `event: error` with `data: {"error": {code, message, execution_id}}` when the provider fails after streaming began (before that, the error statuses below)',
          schema: runResultSchema,
        },
        400: err('A bad field (named); an unknown provider (unknown_provider); no provider configured (no_provider); no model (no_model)'),
        404: err('No such prompt or version, or nothing deployed in the environment'),
        409: err('A draft run for a prompt with no version yet (no_base_version)'),
        422: err('A variable is missing or unusable (the message names it)'),
        502: err('The provider is down, answered an error, or answered something unreadable; the failed run is logged (execution_id)'),
        504: err('The provider did not answer in time; the failed run is logged (execution_id)'),
      },
      async handler({ params, body }, { res }) {
        // The caller going away cancels the provider call.
        const controller = new AbortController();
        res.on('close', () => {
          if (!res.writableFinished) controller.abort();
        });
        if (!body.stream) return runs.run(params.name, body, { signal: controller.signal });
        // The stream opens with the first token: until then a failure is an ordinary error answer (502, 504, ...).
        let open = false;
        const openStream = () => {
          if (open) return;
          open = true;
          res.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' });
        };
        const onDelta = (text: string) => {
          openStream();
          sse(res, 'delta', { text });
        };
        try {
          const result = await runs.run(params.name, body, { signal: controller.signal, onDelta });
          openStream();
          sse(res, 'done', result);
          res.end();
        } catch (e) {
          if (!open || !(e instanceof AppError)) throw e;
          const requestId = res.getHeader('x-request-id') as string | undefined;
          sse(res, 'error', errorBody(e.code, e.message, e.details, requestId));
          res.end();
        }
        return undefined;
      },
    }),
  ];
}
