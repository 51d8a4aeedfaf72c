import { RegistryError } from './errors.js';
import { Http, type BearerTokens } from './http.js';
import { readAuthConfig, type OidcConfig } from './oauth.js';

/** The registry's answers, as the API documents them (docs/api.md). */
export interface PromptSummary {
  id: string;
  name: string;
  description: string | null;
  tags: string[];
  created_at: string;
  created_by: string;
  updated_at: string;
  latest_version: number | null;
  environments: Record<string, { version: number; deployed_at: string; deployed_by: string }>;
}

export interface VersionInfo {
  version_id: string;
  version: number;
  prompt: string;
  content?: string;
  content_hash: string;
  model: string;
  temperature: number;
  max_tokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
  message: string | null;
  created_at: string;
  created_by: string;
  environments: string[];
}

export interface Deployment {
  id: string;
  prompt: string;
  environment: string;
  version: number;
  version_id: string;
  action: 'deploy' | 'rollback';
  previous_version: number | null;
  deployed_at: string;
  deployed_by: string;
  is_active: boolean;
  rollback_of: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

export interface NewVersion {
  content: string;
  model?: string;
  temperature?: number;
  max_tokens?: number;
  metadata?: Record<string, unknown>;
  description?: string | null;
  tags?: string[];
  message?: string;
}

function query(params: Record<string, string | number | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const p = (name: string) => `/prompts/${encodeURIComponent(name)}`;

/**
 * Typed calls for authoring tools (the VS Code extension, scripts, CI): list,
 * publish, deploy, roll back. Errors are the client's typed errors.
 */
export class RegistryApi {
  private readonly http: Http;

  /** Credentials: an API key, or tokens from a sign-in (which win when both are given); none for `authConfig()`. */
  constructor(options: { url: string; apiKey?: string; bearer?: BearerTokens; timeoutMs?: number }) {
    this.http = new Http(options.url.replace(/\/+$/, ''), options.apiKey, options.timeoutMs ?? 10_000, options.bearer);
  }

  get url(): string {
    return this.http.baseUrl;
  }

  private async body<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.http.request(method, path, body === undefined ? {} : { body })).body as T;
  }

  health(): Promise<{ status: string; version: string; database: string }> {
    return this.body('GET', '/healthz');
  }

  /** What the registry advertises for sign-in (needs no credential); undefined when it has no identity provider. */
  async authConfig(): Promise<Partial<OidcConfig> | undefined> {
    try {
      return readAuthConfig(await this.body('GET', '/auth/config'));
    } catch (err) {
      // A registry without sign-in (or older than it) has no such route.
      if (err instanceof RegistryError && err.status === 404) return undefined;
      throw err;
    }
  }

  environments(): Promise<string[]> {
    return this.body<Page<{ name: string }>>('GET', '/environments').then((page) => page.items.map((e) => e.name));
  }

  listPrompts(f: { search?: string; tags?: string[]; environment?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<PromptSummary>> {
    return this.body('GET', `/prompts${query({ search: f.search, tag: f.tags, environment: f.environment, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  getPrompt(name: string): Promise<PromptSummary> {
    return this.body('GET', p(name));
  }

  listVersions(name: string, f: { limit?: number; cursor?: string | null } = {}): Promise<Page<VersionInfo>> {
    return this.body('GET', `${p(name)}/versions${query({ limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  getVersion(name: string, version: number): Promise<VersionInfo & { content: string }> {
    return this.body('GET', `${p(name)}/versions/${version}`);
  }

  /** Publishes a version; with `idempotent`, an identical one is answered instead of refused. */
  async createVersion(name: string, version: NewVersion, opts: { idempotent?: boolean } = {}): Promise<VersionInfo & { content: string; created: boolean }> {
    return this.body('POST', `${p(name)}/versions${opts.idempotent ? '?idempotent=true' : ''}`, version);
  }

  deploy(name: string, version: number, environment: string): Promise<Deployment> {
    return this.body('POST', `${p(name)}/deployments`, { version, environment });
  }

  /** With `dryRun`, answers what the rollback would restore without doing it. */
  rollback(name: string, environment: string, opts: { version?: number; dryRun?: boolean } = {}): Promise<Deployment> {
    const body = opts.version === undefined ? { environment } : { environment, version: opts.version };
    return this.body('POST', `${p(name)}/rollback${opts.dryRun ? '?dry_run=true' : ''}`, body);
  }

  history(name: string, f: { environment?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<Deployment>> {
    return this.body('GET', `${p(name)}/deployments${query({ environment: f.environment, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  /** The live version in an environment, or undefined when nothing is deployed there. */
  async live(name: string, environment: string): Promise<(VersionInfo & { content: string }) | undefined> {
    const prompt = await this.getPrompt(name);
    const live = prompt.environments[environment];
    return live ? this.getVersion(name, live.version) : undefined;
  }
}
