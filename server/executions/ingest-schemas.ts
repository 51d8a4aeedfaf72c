import { z } from 'zod';
import { environmentName, isoTime, promptName, text, uuid } from '../http/schemas.js';

/** The most executions one POST /executions accepts. */
export const MAX_BATCH = 1_000;

const INT_MAX = 2_147_483_647;

/** An ISO-8601 time from 1970 on (so a window computed back from it stays a valid timestamp on both databases). */
export const time = isoTime.refine((s) => s >= '1970-01-01T00:00:00.000Z', 'must be 1970 or later');

const count = (what: string) => z.number({ error: `${what} is a number` }).int(`${what} is a whole number`).min(0, `${what} is at least 0`).max(INT_MAX, `${what} is too large`);

/**
 * A JSON object, answered as its JSON text (what is stored): serialised once,
 * and checked for NUL (which Postgres can't store) in the same pass.
 */
const jsonObjectText = z.record(z.string(), z.unknown()).transform((value, ctx) => {
  const json = JSON.stringify(value);
  if (json.includes('\\u0000')) {
    ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
    return z.NEVER;
  }
  return json;
});

/**
 * A JSON list of up to `items` entries, answered as its JSON text (what is stored), at most
 * `maxChars` characters of it, like the other payload fields.
 */
const jsonListText = <T extends z.ZodType>(item: T, items: number, maxChars: number) =>
  z
    .array(item)
    .max(items, `at most ${items} entries`)
    .transform((value, ctx) => {
      const json = JSON.stringify(value);
      if (json.includes('\\u0000')) {
        ctx.addIssue({ code: 'custom', message: 'must not contain NUL characters' });
        return z.NEVER;
      }
      if (json.length > maxChars) {
        ctx.addIssue({ code: 'custom', message: `is ${json.length} characters as JSON; the limit is ${maxChars}` });
        return z.NEVER;
      }
      return json;
    });

/** A chat message as logged: a role, its content (text, parts, or null beside tool calls), other keys kept. */
const loggedMessage = z.looseObject({
  role: z.string({ error: 'role is a string' }).min(1).max(50),
  content: z.union([z.string(), z.array(z.unknown()), z.null()], { error: 'content is a string, a list of parts, or null' }).optional(),
  tool_calls: z.array(z.record(z.string(), z.unknown())).max(1000).optional(),
});
const loggedPartial = z.object({
  prompt: promptName,
  version: z.number().int().min(1).max(INT_MAX),
  version_id: uuid.optional(),
});

/** One execution as an application logs it. Unknown fields are refused, as on versions. */
export const executionInput = z
  .object({
    id: uuid.optional(),
    prompt_version_id: uuid.optional(),
    prompt: promptName.optional(),
    version: z.number({ error: 'version is a version number, e.g. 3' }).int().min(1).max(INT_MAX).optional(),
    environment: environmentName.optional(),
    executed_at: time.optional(),
    input_variables: jsonObjectText.nullable().optional(),
    rendered_prompt: text(1_000_000).nullable().optional(),
    response: text(1_000_000).nullable().optional(),
    /** Chat: the rendered input messages. */
    messages: jsonListText(loggedMessage, 10_000, 1_000_000).nullable().optional(),
    /** Chat: the response message(s), with their tool calls. */
    response_messages: jsonListText(loggedMessage, 1_000, 1_000_000).nullable().optional(),
    /** The tool calls the model made. */
    tool_calls: jsonListText(z.record(z.string(), z.unknown()), 1_000, 1_000_000).nullable().optional(),
    /** The partial versions the render included (the render answer's partials_used). */
    partials_used: jsonListText(loggedPartial, 100, 100_000).nullable().optional(),
    input_tokens: count('input_tokens').nullable().optional(),
    output_tokens: count('output_tokens').nullable().optional(),
    latency_ms: count('latency_ms').nullable().optional(),
    cost_usd: z.number().min(0, 'cost_usd is at least 0').max(1e9, 'cost_usd is at most 1e9').nullable().optional(),
    quality_score: z.number().min(-1e9, 'quality_score is at least -1e9').max(1e9, 'quality_score is at most 1e9').nullable().optional(),
    status: z.enum(['ok', 'error']).optional(),
    error: text(10_000).nullable().optional(),
    metadata: jsonObjectText.optional(),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.prompt_version_id === undefined && e.prompt === undefined) {
      ctx.addIssue({ code: 'custom', path: [], message: 'name the version: prompt_version_id, or prompt with version or environment' });
    }
    if (e.prompt !== undefined && e.prompt_version_id === undefined && e.version === undefined && e.environment === undefined) {
      ctx.addIssue({ code: 'custom', path: ['prompt'], message: 'with prompt, give version, or environment (the version live there at executed_at)' });
    }
    if (e.version !== undefined && e.prompt === undefined) {
      ctx.addIssue({ code: 'custom', path: ['version'], message: 'version needs prompt' });
    }
    if (e.status === 'ok' && e.error) {
      ctx.addIssue({ code: 'custom', path: ['error'], message: 'an execution with status "ok" has no error' });
    }
  });
export type ExecutionInput = z.output<typeof executionInput>;

// The quick path below: the same rules as executionInput, written out by hand for the rows
// well-formed applications send (canonical lower-case UUIDs, times as toISOString() writes
// them). Zod costs about twice JSON.parse on a batch; this, a small fraction of it. A row it
// doesn't accept isn't refused: executionInput parses it, and names any problem.
const QUICK_UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[1-8][0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const QUICK_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const PROMPT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;
const ENVIRONMENT_NAME = /^[a-z0-9][a-z0-9_-]*$/;
const isCount = (v: unknown) => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= INT_MAX;
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length <= max && !v.includes('\u0000');
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Whether a time of QUICK_TIME's shape is a real one (no 24:00, no 31 April), as zod's pattern checks; arithmetic, not a Date. */
function isRealTime(s: string): boolean {
  const digits = (at: number) => (s.charCodeAt(at) - 48) * 10 + (s.charCodeAt(at + 1) - 48);
  const year = digits(0) * 100 + digits(2);
  const [month, day] = [digits(5), digits(8)];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (month < 1 || month > 12 || day < 1 || day > DAYS_IN_MONTH[month - 1]! + (month === 2 && leap ? 1 : 0)) return false;
  return digits(11) <= 23 && digits(14) <= 59 && digits(17) <= 59;
}

/** A JSON object's text, or undefined when zod should look at it (NUL, or an own `__proto__` key, which zod's copy drops). */
function quickJson(v: unknown): string | undefined {
  if (!isObject(v) || Object.hasOwn(v, '__proto__')) return undefined;
  const json = JSON.stringify(v);
  return json.includes('\\u0000') ? undefined : json;
}

/**
 * What executionInput.parse answers for a well-formed row, or undefined when
 * this can't tell (then executionInput decides: valid or not, with its
 * messages). It never accepts a row executionInput refuses.
 */
export function quickParseExecution(row: unknown): ExecutionInput | undefined {
  if (!isObject(row)) return undefined;
  const out: ExecutionInput = {};
  for (const key in row) {
    const v = row[key];
    switch (key) {
      case 'id':
      case 'prompt_version_id':
        if (typeof v !== 'string' || !QUICK_UUID.test(v)) return undefined;
        out[key] = v;
        break;
      case 'prompt':
        if (typeof v !== 'string' || v.length > 255 || !PROMPT_NAME.test(v)) return undefined;
        out.prompt = v;
        break;
      case 'version':
        if (!isCount(v) || (v as number) < 1) return undefined;
        out.version = v as number;
        break;
      case 'environment':
        if (typeof v !== 'string' || v.length > 50 || !ENVIRONMENT_NAME.test(v)) return undefined;
        out.environment = v;
        break;
      case 'executed_at':
        if (typeof v !== 'string' || !QUICK_TIME.test(v) || v < '1970-01-01T00:00:00.000Z' || !isRealTime(v)) return undefined;
        out.executed_at = v;
        break;
      case 'input_variables': {
        if (v === null) out.input_variables = null;
        else if ((out.input_variables = quickJson(v)) === undefined) return undefined;
        break;
      }
      case 'metadata':
        if ((out.metadata = quickJson(v)) === undefined) return undefined;
        break;
      case 'rendered_prompt':
      case 'response':
        if (v !== null && !isText(v, 1_000_000)) return undefined;
        out[key] = v;
        break;
      case 'error':
        if (v !== null && !isText(v, 10_000)) return undefined;
        out.error = v;
        break;
      case 'input_tokens':
      case 'output_tokens':
      case 'latency_ms':
        if (v !== null && !isCount(v)) return undefined;
        out[key] = v as number | null;
        break;
      case 'cost_usd':
        if (v !== null && (typeof v !== 'number' || !(v >= 0 && v <= 1e9))) return undefined;
        out.cost_usd = v;
        break;
      case 'quality_score':
        if (v !== null && (typeof v !== 'number' || !(v >= -1e9 && v <= 1e9))) return undefined;
        out.quality_score = v;
        break;
      case 'status':
        if (v !== 'ok' && v !== 'error') return undefined;
        out.status = v;
        break;
      default:
        return undefined;
    }
  }
  // The refinements of executionInput: any of them failing is zod's to report.
  if (out.prompt_version_id === undefined && out.prompt === undefined) return undefined;
  if (out.prompt !== undefined && out.prompt_version_id === undefined && out.version === undefined && out.environment === undefined) return undefined;
  if (out.version !== undefined && out.prompt === undefined) return undefined;
  if (out.status === 'ok' && out.error) return undefined;
  return out;
}

const documentedBody = z.union([executionInput, z.array(executionInput).min(1).max(MAX_BATCH)]);
const { $schema: _schema, ...documentedBodyJson } = z.toJSONSchema(documentedBody, { io: 'input', unrepresentable: 'any' }) as Record<string, unknown>;

/**
 * One execution or an array of up to 1,000. Only the outer shape is checked
 * here; the service checks each row, so a refusal can name every bad row by
 * its index. The OpenAPI document shows the full row schema.
 */
export const ingestBody = z
  .union([z.array(z.unknown()), z.record(z.string(), z.unknown())], { error: 'the body is one execution (an object) or an array of them' })
  .meta(documentedBodyJson);

export const ingestResultSchema = z.object({
  accepted: z.number().int().describe('executions in the request'),
  inserted: z.number().int().describe('executions stored by this request'),
  duplicates: z.number().int().describe('executions whose id was already stored (retries): stored once'),
  ids: z.array(z.string()).describe('the id of each execution, in request order'),
}).meta({ id: 'IngestResult' });
