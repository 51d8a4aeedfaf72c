import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import * as addFormatsModule from 'ajv-formats';
import { invalid } from '../errors.js';
import { LruCache } from '../lru.js';

// ajv-formats is CommonJS with `exports.default`: reach the plugin whichever way the loader wraps it.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const formatsModule = addFormatsModule as unknown as { default: FormatsPlugin | { default: FormatsPlugin } };
const addFormats: FormatsPlugin = typeof formatsModule.default === 'function' ? formatsModule.default : formatsModule.default.default;

function newAjv(useDefaults: boolean): Ajv {
  // strict off: schemas written for providers carry keywords ajv does not know (e.g. OpenAI's "strict" hints);
  // addUsedSchema off: a schema's $id must not collide with another version's.
  const ajv = new Ajv({ strict: false, allErrors: false, useDefaults, addUsedSchema: false, validateFormats: true });
  addFormats(ajv);
  return ajv;
}

const checker = newAjv(false);
const validator = newAjv(true);

/** `/properties/age/type` under `config.response_format.json_schema.schema` as one dotted path. */
function joinPath(base: string, pointer: string): string {
  if (!pointer) return base;
  const parts = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  return parts.reduce((path, p) => (/^\d+$/.test(p) ? `${path}[${p}]` : `${path}.${p}`), base);
}

function firstError(errors: ErrorObject[] | null | undefined): ErrorObject | undefined {
  return errors?.[0];
}

/**
 * Refuses a JSON Schema that is not one (checked against the meta-schema, then compiled): 400
 * `invalid_schema` naming the JSON path of the fault, e.g. `config.response_format.json_schema.schema.properties.age.type`.
 */
export function checkJsonSchema(schema: unknown, path: string): void {
  if (!checker.validateSchema(schema as object)) {
    const e = firstError(checker.errors);
    const at = joinPath(path, e?.instancePath ?? '');
    throw invalid('invalid_schema', `${at}: not a valid JSON Schema: ${e?.message ?? 'invalid'}`, { path: at });
  }
  try {
    checker.compile(schema as object);
  } catch (err) {
    throw invalid('invalid_schema', `${path}: not a usable JSON Schema: ${(err as Error).message}`, { path });
  }
}

const validators = new LruCache<string, ValidateFunction>(1_000);

/**
 * Validates render variables against a version's input schema, filling in its defaults (in place):
 * 400 `invalid_variables` naming the field (`variables.age: must be integer`). Compiled schemas are
 * cached by version id: a version never changes.
 */
export function validateVariables(versionId: string, schema: Record<string, unknown>, variables: Record<string, unknown>): void {
  let validate = validators.get(versionId);
  if (!validate) {
    validate = validator.compile(schema);
    validators.set(versionId, validate);
  }
  if (validate(variables)) return;
  const e = firstError(validate.errors)!;
  let at = joinPath('variables', e.instancePath);
  if (e.keyword === 'required') at = `${at}.${String((e.params as { missingProperty: string }).missingProperty)}`;
  else if (e.keyword === 'additionalProperties') at = `${at}.${String((e.params as { additionalProperty: string }).additionalProperty)}`;
  const message = e.keyword === 'required' ? 'is required' : e.keyword === 'additionalProperties' ? 'is not in the input schema' : (e.message ?? 'is invalid');
  throw invalid('invalid_variables', `${at}: ${message}`, { field: at });
}
