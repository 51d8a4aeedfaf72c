import { z } from 'zod';
import { defineRoute, type Route } from '../http/route.js';
import { errorSchema } from '../http/schemas.js';
import { compileEvaluator } from './builtin.js';

const err = (description: string) => ({ description, schema: errorSchema });

const testBody = z
  .object({
    evaluator: z.unknown().describe('A built-in evaluator spec: {type: exact_match | contains | regex | json_valid | json_schema | numeric_closeness | latency_ceiling | cost_ceiling, ...}'),
    output: z.string().max(1_000_000).nullable(),
    expected: z.unknown().optional(),
    latency_ms: z.number().int().min(0).nullable().optional(),
    cost_usd: z.number().min(0).nullable().optional(),
    response_schema: z.record(z.string(), z.unknown()).nullable().optional(),
  })
  .strict();

const evaluationSchema = z.object({ evaluator: z.string(), score: z.number(), passed: z.boolean(), reason: z.string() });

export function evaluatorRoutes(): Route[] {
  return [
    defineRoute({
      method: 'post',
      path: '/evaluators/test',
      summary: 'Check a built-in evaluator spec and apply it to one output: the score (0 to 1), whether it passed, and why',
      tag: 'evaluators',
      scope: 'read',
      body: testBody,
      responses: {
        200: { description: 'The evaluation', schema: evaluationSchema },
        400: err('A bad spec, a regex that does not compile (invalid_evaluator) or a schema that does not (invalid_schema), naming the field'),
      },
      handler({ body }) {
        const evaluator = compileEvaluator(body.evaluator);
        return { evaluator: evaluator.name, ...evaluator.evaluate(body) };
      },
    }),
  ];
}
