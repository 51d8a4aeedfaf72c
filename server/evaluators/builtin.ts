import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { z } from 'zod';
import { invalid } from '../errors.js';

/**
 * The built-in evaluators: pure functions of one run's output (and the item's
 * expected value, latency and cost) to a score from 0 to 1, whether it passed,
 * and why. A spec is compiled once (a bad regex or schema is refused then, as
 * a 400 naming the field) and applied to every item.
 */

const caseSensitive = z.boolean().default(true);
const name = z.string().min(1).max(100).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a name has only letters, digits, '.', '_' and '-'").optional();

export const evaluatorSpec = z.discriminatedUnion(
  'type',
  [
    z.object({ type: z.literal('exact_match'), name, trim: z.boolean().default(true), case_sensitive: caseSensitive }).strict(),
    z.object({ type: z.literal('contains'), name, value: z.string().min(1).max(10_000).optional().describe('Default: the expected value'), case_sensitive: caseSensitive }).strict(),
    z.object({ type: z.literal('regex'), name, pattern: z.string().min(1).max(1_000), flags: z.string().regex(/^[imsu]*$/, 'flags are some of i, m, s, u').max(4).default('') }).strict(),
    z.object({ type: z.literal('json_valid'), name }).strict(),
    z.object({ type: z.literal('json_schema'), name, schema: z.record(z.string(), z.unknown()).optional().describe("Default: the version's response_format JSON Schema") }).strict(),
    z.object({ type: z.literal('numeric_closeness'), name, tolerance: z.number().min(0).default(1e-6).describe('Largest absolute difference that passes'), relative: z.number().min(0).optional().describe('Or: largest difference relative to the expected value') }).strict(),
    z.object({ type: z.literal('latency_ceiling'), name, max_ms: z.number().int().min(0) }).strict(),
    z.object({ type: z.literal('cost_ceiling'), name, max_usd: z.number().min(0) }).strict(),
    z
      .object({
        type: z.literal('llm_judge'),
        name,
        prompt: z.string().min(1).max(255).regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'a prompt name').describe('The rubric: a registry prompt rendered with {{input}}, {{output}} and {{expected}}'),
        version: z.number().int().min(1).max(2_147_483_647).optional(),
        environment: z.string().min(1).max(50).regex(/^[a-z0-9][a-z0-9_-]*$/).optional(),
        provider: z.string().min(1).max(100).optional(),
        model: z.string().min(1).max(255).optional(),
        pass_threshold: z.number().min(0).max(1).default(0.5),
      })
      .strict()
      .refine((j) => !(j.version !== undefined && j.environment !== undefined), 'give version or environment, not both'),
  ],
  { error: 'type is one of exact_match, contains, regex, json_valid, json_schema, numeric_closeness, latency_ceiling, cost_ceiling, llm_judge' },
);
export type EvaluatorSpec = z.output<typeof evaluatorSpec>;

/** What an evaluator sees of one run. */
export interface Observation {
  output: string | null;
  expected?: unknown;
  latency_ms?: number | null;
  cost_usd?: number | null;
  /** The version's response_format JSON Schema, for json_schema without its own. */
  response_schema?: Record<string, unknown> | null;
}

export interface Evaluation {
  score: number;
  passed: boolean;
  reason: string;
}

export interface Evaluator {
  /** The metric its scores are recorded under: the spec's name, else its type. */
  name: string;
  spec: EvaluatorSpec;
  evaluate(o: Observation): Evaluation;
}

const pass = (reason: string): Evaluation => ({ score: 1, passed: true, reason });
const fail = (reason: string): Evaluation => ({ score: 0, passed: false, reason });
const asText = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));
const short = (s: string) => (s.length > 60 ? `${JSON.stringify(s.slice(0, 60))}…` : JSON.stringify(s));

const addFormats = addFormatsModule as unknown as (ajv: Ajv2020) => void;
function newAjv(): Ajv2020 {
  const ajv = new Ajv2020({ strict: false, allErrors: false });
  addFormats(ajv);
  return ajv;
}

const describeAjv = (e: ErrorObject | undefined) => (e ? `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'}` : 'is invalid');

/** Compiles a schema, or answers why it is not one. */
export function compileSchema(schema: unknown): ValidateFunction | string {
  try {
    return newAjv().compile(schema as Record<string, unknown>);
  } catch (err) {
    return (err as Error).message;
  }
}

function parseJson(output: string | null): { ok: true; value: unknown } | { ok: false; why: string } {
  if (output === null) return { ok: false, why: 'there is no output text' };
  try {
    return { ok: true, value: JSON.parse(output) };
  } catch (err) {
    return { ok: false, why: `the output is not JSON (${(err as Error).message})` };
  }
}

const NUMBER = /[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?/;

/**
 * A spec, checked and compiled. `field` is where the spec sits in the request
 * (e.g. `evaluators[2]`), for the 400's message.
 */
export function compileEvaluator(input: unknown, field = 'evaluator'): Evaluator {
  const parsed = evaluatorSpec.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const path = [field, ...issue.path.map(String)].join('.');
    throw invalid('invalid_evaluator', `${path}: ${issue.message}`, { field: path });
  }
  const spec = parsed.data;
  const evaluatorName = spec.name ?? spec.type;
  const make = (evaluate: (o: Observation) => Evaluation): Evaluator => ({ name: evaluatorName, spec, evaluate });
  switch (spec.type) {
    case 'exact_match':
      return make((o) => {
        if (o.expected === undefined || o.expected === null) return fail('the item has no expected value');
        let [got, want] = [o.output ?? '', asText(o.expected)];
        if (spec.trim) [got, want] = [got.trim(), want.trim()];
        if (!spec.case_sensitive) [got, want] = [got.toLowerCase(), want.toLowerCase()];
        return got === want ? pass('the output equals the expected value') : fail(`the output ${short(got)} differs from the expected ${short(want)}`);
      });
    case 'contains':
      return make((o) => {
        const wanted = spec.value ?? (o.expected === undefined || o.expected === null ? undefined : asText(o.expected));
        if (wanted === undefined) return fail('nothing to look for: no value and no expected value');
        const [hay, needle] = spec.case_sensitive ? [o.output ?? '', wanted] : [(o.output ?? '').toLowerCase(), wanted.toLowerCase()];
        return hay.includes(needle) ? pass(`the output contains ${short(wanted)}`) : fail(`the output does not contain ${short(wanted)}`);
      });
    case 'regex': {
      let re: RegExp;
      try {
        re = new RegExp(spec.pattern, spec.flags);
      } catch (err) {
        throw invalid('invalid_evaluator', `${field}.pattern: not a valid regular expression: ${(err as Error).message}`, { field: `${field}.pattern` });
      }
      return make((o) => (re.test(o.output ?? '') ? pass(`the output matches /${spec.pattern}/`) : fail(`the output does not match /${spec.pattern}/`)));
    }
    case 'json_valid':
      return make((o) => {
        const r = parseJson(o.output);
        return r.ok ? pass('the output is valid JSON') : fail(r.why);
      });
    case 'json_schema': {
      let fixed: ValidateFunction | undefined;
      if (spec.schema) {
        const compiled = compileSchema(spec.schema);
        if (typeof compiled === 'string') throw invalid('invalid_schema', `${field}.schema: not a valid JSON Schema: ${compiled}`, { field: `${field}.schema` });
        fixed = compiled;
      }
      const cache = new WeakMap<object, ValidateFunction | string>();
      return make((o) => {
        let validate: ValidateFunction | string | undefined = fixed;
        if (!validate && o.response_schema) {
          validate = cache.get(o.response_schema) ?? compileSchema(o.response_schema);
          cache.set(o.response_schema, validate);
        }
        if (!validate) return fail('no schema: give one, or run a version whose response_format has a JSON Schema');
        if (typeof validate === 'string') return fail(`the version's response schema does not compile: ${validate}`);
        const r = parseJson(o.output);
        if (!r.ok) return fail(r.why);
        return validate(r.value) ? pass('the output conforms to the schema') : fail(`the output does not conform: ${describeAjv(validate.errors?.[0])}`);
      });
    }
    case 'numeric_closeness':
      return make((o) => {
        const want = typeof o.expected === 'number' ? o.expected : typeof o.expected === 'string' ? Number(o.expected.trim()) : NaN;
        if (!Number.isFinite(want)) return fail('the expected value is not a number');
        const match = (o.output ?? '').match(NUMBER);
        if (!match) return fail('the output has no number');
        const got = Number(match[0]);
        const diff = Math.abs(got - want);
        const allowed = Math.max(spec.tolerance, spec.relative !== undefined ? spec.relative * Math.abs(want) : 0);
        return diff <= allowed ? pass(`${got} is within ${allowed} of ${want}`) : fail(`${got} is ${diff} from ${want}, more than ${allowed}`);
      });
    case 'latency_ceiling':
      return make((o) => {
        if (o.latency_ms === undefined || o.latency_ms === null) return fail('the run has no latency');
        return o.latency_ms <= spec.max_ms ? pass(`${o.latency_ms} ms ≤ ${spec.max_ms} ms`) : fail(`${o.latency_ms} ms > ${spec.max_ms} ms`);
      });
    case 'cost_ceiling':
      return make((o) => {
        if (o.cost_usd === undefined || o.cost_usd === null) return fail('the run has no cost (no price for its model)');
        return o.cost_usd <= spec.max_usd ? pass(`$${o.cost_usd} ≤ $${spec.max_usd}`) : fail(`$${o.cost_usd} > $${spec.max_usd}`);
      });
    case 'llm_judge':
      // A judge calls a model: experiments run it (judgeVerdict reads its answer); alone it cannot score.
      return make(() => fail('an LLM judge scores only within an experiment'));
  }
}

/**
 * What an LLM judge answered: JSON `{"score": 0..1, "reason": "..."}` (a fenced code block
 * around it is allowed), passing at `threshold`; anything else fails, saying what came back.
 */
export function judgeVerdict(text: string | null, threshold: number): Evaluation {
  const body = (text ?? '').trim().replace(/^```(?:json)?\s*|\s*```$/g, '');
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return fail(`the judge did not answer JSON {"score", "reason"}: ${short(text ?? '')}`);
  }
  const v = parsed as { score?: unknown; reason?: unknown };
  if (typeof v !== 'object' || v === null || typeof v.score !== 'number' || !Number.isFinite(v.score) || v.score < 0 || v.score > 1) {
    return fail(`the judge's score is not a number from 0 to 1: ${short(body)}`);
  }
  const reason = typeof v.reason === 'string' && v.reason ? v.reason : 'the judge gave no reason';
  return { score: v.score, passed: v.score >= threshold, reason };
}
