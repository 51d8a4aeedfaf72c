/**
 * Picoschema, Dotprompt's compact schema notation, to JSON Schema. A schema
 * that already looks like JSON Schema (a `type` of a JSON Schema type, or
 * `properties`) is taken as it is. Pure, no `vscode` import.
 *
 *   name: string, the customer's name      required string with a description
 *   age?: integer                          optional: ["integer", "null"], not required
 *   tags(array): string                    an array of strings
 *   address(object, where they live):      a nested object
 *     city: string
 *   tone(enum): [formal, friendly]         an enum
 *   (*): string                            additionalProperties
 */
export type JsonSchema = Record<string, unknown>;

const SCALARS = ['string', 'number', 'integer', 'boolean', 'null', 'any'];
const JSON_SCHEMA_TYPES = [...SCALARS, 'object', 'array'];

export class PicoschemaError extends Error {
  constructor(
    message: string,
    /** Where in the schema, as keys: ["address", "city"]. */
    readonly path: string[],
  ) {
    super(message);
  }
}

/** "string, the name" -> ["string", "the name"]. */
function typeAndDescription(text: string): [string, string | undefined] {
  const comma = text.indexOf(',');
  if (comma < 0) return [text.trim(), undefined];
  return [text.slice(0, comma).trim(), text.slice(comma + 1).trim() || undefined];
}

function scalar(text: string, path: string[]): JsonSchema {
  const [type, description] = typeAndDescription(text);
  if (!SCALARS.includes(type)) {
    throw new PicoschemaError(`"${type}" is not a Picoschema type (${SCALARS.join(', ')}); named schemas are not supported`, path);
  }
  const out: JsonSchema = type === 'any' ? {} : { type };
  if (description) out.description = description;
  return out;
}

function isJsonSchema(value: Record<string, unknown>): boolean {
  return (typeof value.type === 'string' && JSON_SCHEMA_TYPES.includes(value.type)) || (typeof value.properties === 'object' && value.properties !== null);
}

function nullable(schema: JsonSchema): JsonSchema {
  return typeof schema.type === 'string' ? { ...schema, type: [schema.type, 'null'] } : schema;
}

function object(value: unknown, path: string[]): JsonSchema {
  if (typeof value === 'string') return scalar(value, path);
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PicoschemaError(`expected a type name or fields, got ${JSON.stringify(value)}`, path);
  }
  const properties: Record<string, JsonSchema> = {};
  const required: string[] = [];
  let additional: JsonSchema | false = false;
  for (const [key, field] of Object.entries(value as Record<string, unknown>)) {
    const at = [...path, key];
    if (key === '(*)') {
      additional = object(field, at);
      continue;
    }
    const m = /^([^?(]+)(\?)?(?:\((.*)\))?$/.exec(key.trim());
    if (!m) throw new PicoschemaError(`cannot read the field "${key}"`, at);
    const name = m[1]!.trim();
    const optional = m[2] === '?';
    if (!optional) required.push(name);
    if (m[3] === undefined) {
      const prop = object(field, at);
      properties[name] = optional ? nullable(prop) : prop;
      continue;
    }
    const [kind, description] = typeAndDescription(m[3]);
    let prop: JsonSchema;
    if (kind === 'array') {
      prop = { type: optional ? ['array', 'null'] : 'array', items: object(field, at) };
    } else if (kind === 'object') {
      prop = object(field, at);
      if (optional) prop = { ...prop, type: [prop.type, 'null'] };
    } else if (kind === 'enum') {
      if (!Array.isArray(field)) throw new PicoschemaError('an enum lists its values: [a, b]', at);
      prop = { enum: optional && !field.includes(null) ? [...field, null] : [...field] };
    } else {
      throw new PicoschemaError(`"(${kind})" must be (array), (object) or (enum)`, at);
    }
    if (description) prop.description = description;
    properties[name] = prop;
  }
  return { type: 'object', properties, ...(required.length ? { required } : {}), additionalProperties: additional };
}

/** JSON Schema for a Picoschema (or JSON Schema) value; undefined for none. Throws PicoschemaError. */
export function toJsonSchema(schema: unknown): JsonSchema | undefined {
  if (schema === undefined || schema === null || schema === '') return undefined;
  if (typeof schema === 'string') return scalar(schema, []);
  if (typeof schema === 'object' && !Array.isArray(schema) && isJsonSchema(schema as Record<string, unknown>)) {
    const s = schema as JsonSchema;
    return typeof s.type === 'string' ? s : { ...s, type: 'object' };
  }
  return object(schema, []);
}
