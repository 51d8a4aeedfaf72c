import type { LiveVersion, McpRegistry, Page, PromptListing, RenderAnswer } from './registry.js';

/**
 * The parts of the TypeScript client (client/) `prompt-registry mcp` uses,
 * as shapes: client/ is built after server/ (it imports the template engine
 * from here), so server/ cannot import its types. test/server/mcp.test.ts
 * checks that the client's classes fit these shapes.
 */
export interface RegistryClient {
  listPrompts(f: { search?: string; tags?: string[]; environment?: string; limit?: number; cursor?: string | null }): Promise<Page<PromptListing>>;
  getVersion(name: string, version: number): Promise<object>;
  listVersions(name: string, f: { limit?: number; cursor?: string | null }): Promise<Page<object>>;
  events(handlers: {
    onEvent(event: { type: string; environment?: string }): void;
    onResync(): void;
    onError(error: Error): void;
  }): { close(): void };
}

/** The client's JSON-over-HTTP layer, for the routes RegistryApi has no method for (render, resolve, export). */
export interface RegistryHttp {
  request(method: string, path: string, opts?: { body?: unknown }): Promise<{ status: number; body: unknown }>;
}

export interface ClientModule {
  RegistryApi: new (options: { url: string; apiKey?: string; timeoutMs?: number }) => RegistryClient;
  Http: new (baseUrl: string, apiKey: string | undefined, timeoutMs: number) => RegistryHttp;
  RegistryError: abstract new (...args: never[]) => Error & { status: number; code: string };
  RegistryUnreachableError: abstract new (...args: never[]) => Error;
}

/** The client modules, loaded at run time from beside this build (client/ under tsx, dist/client once built). */
export async function loadClient(): Promise<ClientModule> {
  const api = (await import(new URL('../../client/index.js', import.meta.url).href)) as Omit<ClientModule, 'Http'>;
  const http = (await import(new URL('../../client/http.js', import.meta.url).href)) as Pick<ClientModule, 'Http'>;
  return { ...api, Http: http.Http };
}

const p = (name: string) => `/prompts/${encodeURIComponent(name)}`;

/** The registry over HTTP, with the TypeScript client and its credential (`prompt-registry mcp`). */
export function remoteRegistry(client: ClientModule, api: RegistryClient, http: RegistryHttp): McpRegistry {
  const get = async <T>(path: string) => (await http.request('GET', path)).body as T;

  async function listings(environment: string): Promise<Map<string, PromptListing>> {
    const all = new Map<string, PromptListing>();
    let cursor: string | null = null;
    do {
      const page: Page<PromptListing> = await api.listPrompts({ environment, limit: 100, cursor });
      for (const listing of page.items) all.set(listing.name, listing);
      cursor = page.next_cursor;
    } while (cursor);
    return all;
  }

  return {
    async live(environment) {
      const [bundle, byName] = await Promise.all([
        get<{ prompts: Record<string, LiveVersion> }>(`/export?environment=${encodeURIComponent(environment)}`),
        listings(environment),
      ]);
      return Object.values(bundle.prompts).map((version) => ({ listing: byName.get(version.prompt), version }));
    },

    liveVersion: (name, environment) => get<LiveVersion>(`${p(name)}/latest?environment=${encodeURIComponent(environment)}`),

    async render(name, environment, variables) {
      return (await http.request('POST', `${p(name)}/render`, { body: { variables, environment } })).body as RenderAnswer;
    },

    searchPrompts: (f) =>
      api.listPrompts({ ...(f.search ? { search: f.search } : {}), tags: f.tags, ...(f.environment ? { environment: f.environment } : {}), limit: f.limit, cursor: f.cursor ?? null }),

    getVersion: async (name, version) => (await api.getVersion(name, version)) as Record<string, unknown>,

    listVersions: async (name, f) => (await api.listVersions(name, { limit: f.limit, cursor: f.cursor ?? null })) as Page<Record<string, unknown>>,

    problem(err) {
      if (err instanceof client.RegistryError) return { code: err.code, message: err.message };
      if (err instanceof client.RegistryUnreachableError) return { code: 'registry_unreachable', message: err.message };
      return undefined;
    },
  };
}
