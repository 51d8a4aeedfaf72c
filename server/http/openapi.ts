import { z } from 'zod';
import type { Route } from './route.js';

type JsonSchema = Record<string, unknown>;

/**
 * A zod schema as JSON Schema. Schemas named with `.meta({ id })` come back in `$defs`: an answer's are
 * moved to `components.schemas` (so generated clients get a named type), a request's are written in
 * place, as request bodies have always been documented.
 */
function jsonSchema(schema: z.ZodType, io: 'input' | 'output', components?: Record<string, JsonSchema>): JsonSchema {
  const { $schema: _, $defs, ...s } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonSchema;
  const defs = ($defs ?? {}) as Record<string, JsonSchema>;
  if (!components) return inlineRefs(s, defs) as JsonSchema;
  for (const [name, def] of Object.entries(defs)) {
    const named = renameRefs(def) as JsonSchema;
    const known = components[name];
    if (known && JSON.stringify(known) !== JSON.stringify(named)) throw new Error(`two different answer schemas are named ${name} (.meta({ id }))`);
    components[name] = named;
  }
  return renameRefs(s) as JsonSchema;
}

const DEF_REF = /^#\/\$defs\/(.+)$/;

function inlineRefs(node: unknown, defs: Record<string, JsonSchema>): unknown {
  if (Array.isArray(node)) return node.map((n) => inlineRefs(n, defs));
  if (!node || typeof node !== 'object') return node;
  const { $ref, ...rest } = node as JsonSchema;
  const name = typeof $ref === 'string' ? DEF_REF.exec($ref)?.[1] : undefined;
  const own = Object.fromEntries(Object.entries(rest).map(([k, v]) => [k, inlineRefs(v, defs)]));
  if (name) return { ...(inlineRefs(defs[name], defs) as JsonSchema), ...own };
  return $ref === undefined ? own : { $ref, ...own };
}

function renameRefs(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(renameRefs);
  if (!node || typeof node !== 'object') return node;
  return Object.fromEntries(
    Object.entries(node).map(([k, v]) => [k, k === '$ref' && typeof v === 'string' ? v.replace(DEF_REF, '#/components/schemas/$1') : renameRefs(v)]),
  );
}

function parameters(schema: z.ZodType | undefined, where: 'path' | 'query'): JsonSchema[] {
  if (!schema) return [];
  const s = jsonSchema(schema, 'input');
  const props = (s.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((s.required as string[] | undefined) ?? []);
  return Object.entries(props).map(([name, schema]) => ({ name, in: where, required: where === 'path' || required.has(name), schema }));
}

/** `/prompts/:name/versions` → `/prompts/{name}/versions` */
export function openApiPath(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, '{$1}');
}

/** The OpenAPI 3.1 document of every route, built from the same declarations as the router. */
export function openApiDocument(routes: Route[], info: { version: string }): JsonSchema {
  const paths: Record<string, Record<string, JsonSchema>> = {};
  const schemas: Record<string, JsonSchema> = {};
  for (const route of routes) {
    const path = openApiPath(route.path);
    const operation: JsonSchema = {
      summary: route.summary,
      tags: [route.tag],
      operationId: `${route.method}${path.replace(/[{}]/g, '').replace(/(^|\/)(\w)/g, (_, __, c: string) => c.toUpperCase()).replace(/\W/g, '')}`,
      parameters: [...parameters(route.params, 'path'), ...parameters(route.query, 'query')],
      responses: Object.fromEntries(
        Object.entries(route.responses).map(([status, r]) => [
          status,
          { description: r.description, ...(r.schema ? { content: { 'application/json': { schema: jsonSchema(r.schema, 'output', schemas) } } } : {}) },
        ]),
      ),
    };
    if (route.scope === 'none') operation.security = [];
    else if (route.scope !== 'authenticated') operation['x-required-scope'] = typeof route.scope === 'string' ? route.scope : 'deploy:{environment}';
    if (route.body) operation.requestBody = { required: true, content: { 'application/json': { schema: jsonSchema(route.body, 'input') } } };
    (paths[path] ??= {})[route.method] = operation;
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Prompt Registry API',
      version: info.version,
      description: 'Versions, deployments, rollback and rendering of LLM prompts. Errors answer {"error": {"code", "message", ...}}.',
    },
    components: {
      schemas: Object.fromEntries(Object.entries(schemas).sort(([a], [b]) => a.localeCompare(b))),
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An OpenID Connect access token, when the registry has an issuer configured (GET /auth/config)' },
      },
    },
    security: [{ apiKey: [] }, { bearer: [] }],
    paths,
  };
}
