import { PROMPT_NOT_FOUND_CODES } from '../shared/contract/errors.js';
import { PromptNotFoundError, RegistryError, RegistryUnreachableError } from './errors.js';

export interface HttpAnswer {
  status: number;
  body: unknown;
  etag: string | null;
}

/**
 * Access tokens from a sign-in (OpenID Connect): sent as `Authorization: Bearer`.
 * `refresh()` is asked once when the registry answers 401 to a token.
 */
export interface BearerTokens {
  token(): Promise<string | undefined>;
  refresh(): Promise<string | undefined>;
}

/** The registry's HTTP API: JSON in and out, its error shape turned into typed errors. */
export class Http {
  constructor(
    readonly baseUrl: string,
    private readonly apiKey: string | undefined,
    private readonly timeoutMs: number,
    private readonly bearer?: BearerTokens,
  ) {}

  async request(method: string, path: string, opts: { body?: unknown; etag?: string | null } = {}): Promise<HttpAnswer> {
    const token = await this.bearer?.token();
    try {
      return await this.send(method, path, opts, token);
    } catch (err) {
      // An expired or revoked token: refresh once and try again; a second 401 is the answer.
      if (!(token && this.bearer && err instanceof RegistryError && err.status === 401)) throw err;
      const fresh = await this.bearer.refresh();
      if (!fresh || fresh === token) throw err;
      return this.send(method, path, opts, fresh);
    }
  }

  /**
   * The headers of the credential in use: a bearer token when signed in, else the API key.
   * `afterUnauthorized`: the registry refused the last one, so refresh the token first (as `request` does on a 401).
   */
  async authHeaders(afterUnauthorized = false): Promise<Record<string, string>> {
    const token = afterUnauthorized && this.bearer ? await this.bearer.refresh() : await this.bearer?.token();
    if (token) return { Authorization: `Bearer ${token}` };
    return this.apiKey ? { 'X-API-Key': this.apiKey } : {};
  }

  private async send(method: string, path: string, opts: { body?: unknown; etag?: string | null }, token: string | undefined): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Accept: 'application/json' };
    // Signed in: the token speaks for the user; otherwise the API key, as before.
    if (token) headers.Authorization = `Bearer ${token}`;
    else if (this.apiKey) headers['X-API-Key'] = this.apiKey;
    if (opts.body !== undefined) headers['Content-Type'] = 'application/json';
    if (opts.etag) headers['If-None-Match'] = opts.etag;
    let res: Response;
    try {
      res = await fetch(this.baseUrl + path, {
        method,
        headers,
        ...(opts.body !== undefined ? { body: JSON.stringify(opts.body) } : {}),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const why = err instanceof Error && err.name === 'TimeoutError' ? `no answer within ${this.timeoutMs} ms` : describe(err);
      throw new RegistryUnreachableError(`the prompt registry at ${this.baseUrl} is unreachable: ${why}`, err);
    }
    if (res.status === 304) return { status: 304, body: undefined, etag: res.headers.get('etag') };
    const text = await res.text().catch(() => '');
    let body: unknown = undefined;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = text;
    }
    if (res.status >= 500) {
      throw new RegistryUnreachableError(`the prompt registry at ${this.baseUrl} answered ${res.status}`, body);
    }
    if (res.status >= 400) throw toError(res.status, body);
    return { status: res.status, body, etag: res.headers.get('etag') };
  }
}

function describe(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } })?.cause;
  return cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
}

function toError(status: number, body: unknown): RegistryError {
  const e = (body as { error?: { code?: string; message?: string } })?.error;
  const code = e?.code ?? 'http_error';
  const message = e?.message ?? `the registry answered ${status}`;
  const { code: _c, message: _m, ...details } = (e ?? {}) as Record<string, unknown>;
  if (status === 404 && (PROMPT_NOT_FOUND_CODES as readonly string[]).includes(code)) {
    return new PromptNotFoundError(status, code, message, details);
  }
  return new RegistryError(status, code, message, details);
}
