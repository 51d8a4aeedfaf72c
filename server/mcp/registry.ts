/**
 * What the MCP server needs from a registry, in the REST API's own JSON
 * shapes (docs/api.md). Two implementations: in-process over the services
 * (the server's `/mcp` endpoint, local.ts) and over HTTP with the TypeScript
 * client (`prompt-registry mcp`, remote.ts). Chat fields (`type`, `messages`,
 * `input_schema`, `config`) are read when the registry has them: a registry
 * without chat prompts answers text versions only.
 */

/** A JSON Schema object, as `input_schema` holds it. */
export interface JsonSchema {
  type?: string | string[];
  description?: string;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  [key: string]: unknown;
}

/** The version live in an environment: `GET /prompts/{name}/latest`, or one prompt of the export bundle. */
export interface LiveVersion {
  prompt: string;
  version: number;
  version_id: string;
  type?: 'text' | 'chat';
  content: string | null;
  messages?: unknown[] | null;
  variables: string[];
  input_schema?: JsonSchema | null;
  [key: string]: unknown;
}

/** One prompt as `GET /prompts` lists it. */
export interface PromptListing {
  name: string;
  description: string | null;
  tags: string[];
  latest_version: number | null;
  environments: Record<string, { version: number; deployed_at: string; deployed_by: string }>;
}

/** `POST /prompts/{name}/render`: text in `rendered`, or (chat) `messages` in order. */
export interface RenderAnswer {
  type?: 'text' | 'chat';
  rendered: string | null;
  messages?: Array<{ role: string; content: string }> | null;
  prompt: string;
  version: number;
  environment: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface PromptSearch {
  search?: string | undefined;
  tags: string[];
  environment?: string | undefined;
  limit: number;
  cursor?: string | undefined;
}

/** A registry error as its API answers it: a stable code and a message that names what is wrong. */
export interface Problem {
  code: string;
  message: string;
}

export interface McpRegistry {
  /** Every prompt live in `environment`, with its listing (description) and the live version. */
  live(environment: string): Promise<Array<{ listing: PromptListing | undefined; version: LiveVersion }>>;
  /** The version of `name` live in `environment`; throws (`not_deployed`, `prompt_not_found`) when none. */
  liveVersion(name: string, environment: string): Promise<LiveVersion>;
  /** Renders what is live in `environment`, as POST /prompts/{name}/render does. */
  render(name: string, environment: string, variables: Record<string, unknown>): Promise<RenderAnswer>;
  searchPrompts(f: PromptSearch): Promise<Page<PromptListing>>;
  /** One version with its content and settings, as GET /prompts/{name}/versions/{version} answers it. */
  getVersion(name: string, version: number): Promise<Record<string, unknown>>;
  listVersions(name: string, f: { limit: number; cursor?: string | undefined }): Promise<Page<Record<string, unknown>>>;
  /** The registry's code and message for an error it answered; undefined for anything else (a fault, logged). */
  problem(err: unknown): Problem | undefined;
}
