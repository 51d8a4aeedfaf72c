import { McpServer, ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  ErrorCode,
  GetPromptRequestSchema,
  ListPromptsRequestSchema,
  McpError,
  type GetPromptResult,
  type Prompt,
  type PromptArgument,
  type PromptMessage,
} from '@modelcontextprotocol/sdk/types.js';
import type { Logger } from 'pino';
import { z } from 'zod';
import { environmentName, promptName, tag } from '../http/schemas.js';
import { VERSION } from '../version.js';
import type { JsonSchema, LiveVersion, McpRegistry, PromptListing, RenderAnswer } from './registry.js';

/** Where an MCP message's original chat role is kept when MCP has no such role (system, tool). */
export const ROLE_META_KEY = 'prompt-registry/role';

/**
 * The arguments of a live version: the properties of its `input_schema`
 * (with their descriptions; required unless optional or defaulted), else the
 * template's variables, every one required (rendering is strict).
 */
export function promptArguments(version: LiveVersion): PromptArgument[] {
  const schema = version.input_schema;
  if (schema?.properties) {
    const required = new Set(schema.required ?? []);
    return Object.entries(schema.properties).map(([name, property]) => ({
      name,
      ...(describe(property) ? { description: describe(property) } : {}),
      required: required.has(name) && property.default === undefined,
    }));
  }
  return version.variables.map((name) => ({ name, required: true }));
}

function describe(property: JsonSchema): string | undefined {
  const type = Array.isArray(property.type) ? property.type.join(' or ') : property.type;
  const hint = type && type !== 'string' ? ` (${type}${type === 'object' || type === 'array' ? ', as JSON' : ''})` : '';
  return property.description ? `${property.description}${hint}` : hint ? hint.slice(2, -1) : undefined;
}

/**
 * MCP arguments are strings. Where `input_schema` says a property is a number,
 * integer, boolean, object or array, the string is read as one (JSON for
 * objects and arrays); what does not read is passed as given, so the
 * registry's validation names it.
 */
export function argumentValues(version: LiveVersion, args: Record<string, string>): Record<string, unknown> {
  const properties = version.input_schema?.properties ?? {};
  const values: Record<string, unknown> = {};
  for (const [name, raw] of Object.entries(args)) values[name] = coerce(properties[name], raw);
  return values;
}

function coerce(property: JsonSchema | undefined, raw: string): unknown {
  const types = property?.type === undefined ? [] : Array.isArray(property.type) ? property.type : [property.type];
  if (types.length === 0 || types.includes('string')) return raw;
  try {
    const value: unknown = JSON.parse(raw);
    if (types.includes('integer') && Number.isInteger(value)) return value;
    if (types.includes('number') && typeof value === 'number') return value;
    if (types.includes('boolean') && typeof value === 'boolean') return value;
    if (types.includes('array') && Array.isArray(value)) return value;
    if (types.includes('object') && value !== null && typeof value === 'object' && !Array.isArray(value)) return value;
    if (types.includes('null') && value === null) return value;
  } catch {
    // not JSON: the registry's validation names the argument
  }
  return raw;
}

/**
 * A rendered version as MCP messages. Text: one user message. Chat: each
 * message in order; MCP has only user and assistant roles, so system (and
 * tool) messages are sent as user messages carrying their original role in
 * `_meta["prompt-registry/role"]` (a system prompt first, as the user turn
 * that opens the conversation).
 */
export function promptMessages(answer: RenderAnswer): PromptMessage[] {
  if (answer.type === 'chat' || (answer.rendered === null && answer.messages)) {
    return (answer.messages ?? []).map((m) =>
      m.role === 'user' || m.role === 'assistant'
        ? { role: m.role, content: { type: 'text', text: m.content } }
        : { role: 'user', content: { type: 'text', text: m.content, _meta: { [ROLE_META_KEY]: m.role } } },
    );
  }
  return [{ role: 'user', content: { type: 'text', text: answer.rendered ?? '' } }];
}

function listingView(p: PromptListing) {
  return {
    name: p.name,
    description: p.description,
    tags: p.tags,
    latest_version: p.latest_version,
    live: Object.fromEntries(Object.entries(p.environments).map(([env, d]) => [env, d.version])),
  };
}

/** A tool's answer: the JSON as text (for every client) and as structured content. */
function json(value: Record<string, unknown>) {
  return { content: [{ type: 'text' as const, text: JSON.stringify(value, null, 2) }], structuredContent: value };
}

export interface McpServerOptions {
  registry: McpRegistry;
  /** The environment whose live prompts are the MCP prompts. */
  environment: string;
  logger: Logger;
}

/**
 * An MCP server over a registry: the prompts live in one environment as MCP
 * prompts, and tools to search prompts and read versions. It only reads.
 * Prompt list changes are announced by whoever owns the connection
 * (`server.server.sendPromptListChanged()`), since only it hears of deploys.
 */
export function createMcpServer({ registry, environment, logger }: McpServerOptions): McpServer {
  const mcp = new McpServer(
    { name: 'prompt-registry', title: 'Prompt Registry', version: VERSION },
    {
      capabilities: { prompts: { listChanged: true } },
      instructions: `Prompts live in the "${environment}" environment of a Prompt Registry, as MCP prompts. Tools search the registry's prompts and read any version.`,
    },
  );

  /** An error for the client: the registry's own message for what it refused; a fault is logged and answered generically. */
  const failure = (err: unknown, what: string): McpError => {
    if (err instanceof McpError) return err;
    const problem = registry.problem(err);
    if (problem) return new McpError(ErrorCode.InvalidParams, problem.message, { code: problem.code });
    logger.error({ err }, `MCP ${what} failed`);
    return new McpError(ErrorCode.InternalError, `${what} failed: internal error; the registry's log has the details`);
  };

  mcp.server.setRequestHandler(ListPromptsRequestSchema, async () => {
    try {
      const live = await registry.live(environment);
      const prompts: Prompt[] = live.map(({ listing, version }) => ({
        name: version.prompt,
        ...(listing?.description ? { description: listing.description } : {}),
        arguments: promptArguments(version),
        _meta: { 'prompt-registry/version': version.version, 'prompt-registry/type': version.type ?? 'text' },
      }));
      return { prompts };
    } catch (err) {
      throw failure(err, 'listing prompts');
    }
  });

  mcp.server.setRequestHandler(GetPromptRequestSchema, async (request): Promise<GetPromptResult> => {
    const { name } = request.params;
    const args = request.params.arguments ?? {};
    let version: LiveVersion;
    try {
      version = await registry.liveVersion(name, environment);
    } catch (err) {
      const problem = registry.problem(err);
      if (problem && (problem.code === 'not_deployed' || problem.code === 'prompt_not_found')) {
        const why = problem.code === 'not_deployed' ? 'it exists, but no version of it is deployed there' : 'there is no prompt by that name';
        throw new McpError(ErrorCode.InvalidParams, `prompt "${name}" is not live in ${environment}: ${why}`, { code: problem.code, prompt: name, environment });
      }
      throw failure(err, `getting prompt "${name}"`);
    }
    const missing = promptArguments(version).filter((a) => a.required && args[a.name] === undefined);
    if (missing.length > 0) {
      const names = missing.map((a) => `"${a.name}"`).join(', ');
      throw new McpError(
        ErrorCode.InvalidParams,
        `prompt "${name}" (version ${version.version}, live in ${environment}) needs the argument${missing.length > 1 ? 's' : ''} ${names}`,
        { code: 'missing_argument', prompt: name, arguments: missing.map((a) => a.name) },
      );
    }
    try {
      const answer = await registry.render(name, environment, argumentValues(version, args));
      return {
        description: `${name}, version ${answer.version} (live in ${environment})`,
        messages: promptMessages(answer),
        _meta: { 'prompt-registry/version': answer.version },
      };
    } catch (err) {
      throw failure(err, `rendering prompt "${name}"`);
    }
  });

  const call = async <T extends Record<string, unknown>>(what: string, run: () => Promise<T>) => {
    try {
      return json(await run());
    } catch (err) {
      // McpServer answers a thrown error as a tool result with isError and this message.
      throw new Error(failure(err, what).message.replace(/^MCP error -?\d+: /, ''));
    }
  };

  mcp.registerTool(
    'search_prompts',
    {
      title: 'Search prompts',
      description: 'Search the registry\'s prompts by text (in the name or description), tags, and the environment they are live in. Answers names, descriptions, tags, the latest version and the version live in each environment.',
      inputSchema: {
        query: z.string().max(255).optional().describe('text to find in the name or description'),
        tags: z.array(tag).max(20).optional().describe('only prompts with all these tags'),
        live_in: environmentName.optional().describe('only prompts with a version live in this environment'),
        limit: z.number().int().min(1).max(100).default(20).describe('at most this many (1 to 100)'),
        cursor: z.string().max(1000).optional().describe('next_cursor of the previous page'),
      },
      annotations: { readOnlyHint: true },
    },
    ({ query, tags, live_in, limit, cursor }) =>
      call('search_prompts', async () => {
        const page = await registry.searchPrompts({ search: query, tags: tags ?? [], environment: live_in, limit, cursor });
        return { prompts: page.items.map(listingView), next_cursor: page.next_cursor };
      }),
  );

  mcp.registerTool(
    'get_prompt_version',
    {
      title: 'Get a prompt version',
      description: `A version of a prompt with its content (or chat messages), model settings and config. Without a version: the one live in "${environment}" (or in the environment given).`,
      inputSchema: {
        name: promptName.describe('the prompt'),
        version: z.number().int().min(1).max(2_147_483_647).optional().describe('the version number'),
        environment: environmentName.optional().describe(`without a version, the version live here (default ${environment})`),
      },
      annotations: { readOnlyHint: true },
    },
    ({ name, version, environment: env }) =>
      call('get_prompt_version', async () => {
        if (version !== undefined && env !== undefined) throw new McpError(ErrorCode.InvalidParams, 'give version or environment, not both');
        const number = version ?? (await registry.liveVersion(name, env ?? environment)).version;
        return registry.getVersion(name, number);
      }),
  );

  mcp.registerTool(
    'list_versions',
    {
      title: 'List versions',
      description: 'The versions of a prompt, newest first, with the environments each is live in (without their content: get_prompt_version reads one).',
      inputSchema: {
        name: promptName.describe('the prompt'),
        limit: z.number().int().min(1).max(100).default(20).describe('at most this many (1 to 100)'),
        cursor: z.string().max(1000).optional().describe('next_cursor of the previous page'),
      },
      annotations: { readOnlyHint: true },
    },
    ({ name, limit, cursor }) =>
      call('list_versions', async () => {
        const page = await registry.listVersions(name, { limit, cursor });
        return { versions: page.items, next_cursor: page.next_cursor };
      }),
  );

  // Versions as resources: any version by URI; the listed ones are those live in the environment.
  mcp.registerResource(
    'prompt-version',
    new ResourceTemplate(`${VERSION_URI}{name}/versions/{version}`, {
      list: async () => {
        try {
          const live = await registry.live(environment);
          return {
            resources: live.map(({ listing, version }) => ({
              uri: versionUri(version.prompt, version.version),
              name: `${version.prompt}@${version.version}`,
              ...(listing?.description ? { description: listing.description } : {}),
              mimeType: 'application/json',
            })),
          };
        } catch (err) {
          throw failure(err, 'listing resources');
        }
      },
    }),
    {
      title: 'Prompt version',
      description: 'A version of a prompt (content or messages, model settings, config), as JSON. Listed: the versions live in the environment.',
      mimeType: 'application/json',
    },
    async (uri, { name, version }) => {
      const number = Number(version);
      if (typeof name !== 'string' || !Number.isInteger(number) || number < 1) {
        throw new McpError(ErrorCode.InvalidParams, `not a prompt version: ${uri.href} (${VERSION_URI}NAME/versions/N)`);
      }
      try {
        const found = await registry.getVersion(decodeURIComponent(name), number);
        return { contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify(found, null, 2) }] };
      } catch (err) {
        throw failure(err, `reading ${uri.href}`);
      }
    },
  );

  return mcp;
}

const VERSION_URI = 'prompt-registry://prompts/';

/** The resource URI of a version: `prompt-registry://prompts/NAME/versions/N`. */
export function versionUri(name: string, version: number): string {
  return `${VERSION_URI}${encodeURIComponent(name)}/versions/${version}`;
}

/** Tells the client its prompts (and the live versions listed as resources) may have changed. */
export async function announceLiveChange(mcp: McpServer): Promise<void> {
  await Promise.all([mcp.server.sendPromptListChanged(), mcp.server.sendResourceListChanged()]);
}

/** Whether a change (a registry event) may change the prompts live in `environment`, or their descriptions. */
export function changesLivePrompts(event: { type: string; environment?: string | undefined }, environment: string): boolean {
  if (event.type === 'deployment.created' || event.type === 'deployment.rolled_back') return event.environment === environment;
  return event.type === 'prompt.updated';
}
