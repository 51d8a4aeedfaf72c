import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { InvalidInputError } from './errors.js';
import type { JsonSchema } from './types.js';

// As the registry validates render variables: ajv with defaults, the first problem only. Formats are
// not checked here (the registry checks them with ajv-formats; the Python client cannot): a value
// with a bad format is refused by the registry's render and passes a local one.
const ajv = new Ajv({ strict: false, allErrors: false, useDefaults: true, addUsedSchema: false, validateFormats: false, logger: false });
const compiled = new WeakMap<JsonSchema, ValidateFunction>();

/** `/tags/1/name` under `variables` as `variables.tags[1].name`. */
function fieldOf(pointer: string): string {
  if (!pointer) return 'variables';
  return pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((path, p) => (/^\d+$/.test(p) ? `${path}[${p}]` : `${path}.${p}`), 'variables');
}

/** The registry's wording: ajv's message, but for a missing or unexpected property, named as the field. */
export function describeError(e: ErrorObject): { field: string; message: string } {
  let field = fieldOf(e.instancePath);
  if (e.keyword === 'required') field = `${field}.${String((e.params as { missingProperty: string }).missingProperty)}`;
  else if (e.keyword === 'additionalProperties') field = `${field}.${String((e.params as { additionalProperty: string }).additionalProperty)}`;
  const message = e.keyword === 'required' ? 'is required' : e.keyword === 'additionalProperties' ? 'is not in the input schema' : (e.message ?? 'is invalid');
  return { field, message: `${field}: ${message}` };
}

function copy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(copy);
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, copy(v)]));
  }
  return value;
}

/**
 * Checks variables against a prompt's input schema and answers them with its defaults filled in
 * (a copy: the caller's object is left as it was); InvalidInputError `invalid_variables` naming the field.
 */
export function applyInputSchema(schema: JsonSchema, variables: Record<string, unknown>): Record<string, unknown> {
  let validate = compiled.get(schema);
  if (!validate) {
    validate = ajv.compile(schema);
    compiled.set(schema, validate);
  }
  const data = copy(variables) as Record<string, unknown>;
  if (validate(data)) return data;
  const { field, message } = describeError(validate.errors![0]!);
  throw new InvalidInputError('invalid_variables', field, message);
}
