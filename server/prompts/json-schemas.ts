import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as addFormatsModule from 'ajv-formats';
import { invalid } from '../errors.js';
import { LruCache } from '../lru.js';

// ajv-formats is CommonJS with `exports.default`: reach the plugin whichever way the loader wraps it.
type FormatsPlugin = (ajv: Ajv) => Ajv;
const formatsModule = addFormatsModule as unknown as { default: FormatsPlugin | { default: FormatsPlugin } };
const addFormats: FormatsPlugin = typeof formatsModule.default === 'function' ? formatsModule.default : formatsModule.default.default;

type AnyAjv = Ajv | Ajv2019 | Ajv2020;
type Draft = 'draft-07' | '2019-09' | '2020-12';

function newAjv(draft: Draft, useDefaults: boolean): AnyAjv {
  // strict off: schemas written for providers carry keywords ajv does not know (e.g. OpenAI's "strict" hints);
  // addUsedSchema off: a schema's $id must not collide with another version's; logger off: an unknown format is not logged.
  const options = { strict: false, allErrors: false, useDefaults, addUsedSchema: false, validateFormats: true, logger: false as const };
  const ajv = draft === '2020-12' ? new Ajv2020(options) : draft === '2019-09' ? new Ajv2019(options) : new Ajv(options);
  addFormats(ajv as Ajv);
  return ajv;
}

const instances = new Map<string, AnyAjv>();
function ajvFor(draft: Draft, useDefaults: boolean): AnyAjv {
  const key = `${draft}:${useDefaults}`;
  let ajv = instances.get(key);
  if (!ajv) instances.set(key, (ajv = newAjv(draft, useDefaults)));
  return ajv;
}

/** The draft a schema's `$schema` names (none: draft-07, ajv's default); 400 for one ajv does not implement. */
function draftOf(schema: unknown, path: string): Draft {
  const declared = (schema as { $schema?: unknown } | null)?.$schema;
  if (declared === undefined) return 'draft-07';
  const uri = typeof declared === 'string' ? declared.replace(/#$/, '').replace(/^https:/, 'http:') : '';
  if (uri === 'http://json-schema.org/draft-07/schema') return 'draft-07';
  if (uri === 'http://json-schema.org/draft/2019-09/schema') return '2019-09';
  if (uri === 'http://json-schema.org/draft/2020-12/schema') return '2020-12';
  throw invalid('invalid_schema', `${path}.$schema: unsupported JSON Schema version ${JSON.stringify(declared)}; use draft-07, 2019-09 or 2020-12`, {
    path: `${path}.$schema`,
  });
}

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
  const checker = ajvFor(draftOf(schema, path), false);
  let valid: boolean;
  try {
    valid = checker.validateSchema(schema as object) as boolean;
  } catch (err) {
    throw invalid('invalid_schema', `${path}: not a usable JSON Schema: ${(err as Error).message}`, { path });
  }
  if (!valid) {
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
    validate = ajvFor(draftOf(schema, 'input_schema'), true).compile(schema);
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
