/**
 * Signing in to a registry's identity provider: OpenID Connect discovery, the
 * OAuth 2.0 device authorization grant (RFC 8628) and refresh tokens. Pure
 * HTTP, no editor: the VS Code extension and scripts share it.
 *
 * The client never validates tokens: the registry is the judge of that. It
 * only decodes the ID token's claims to say who is signed in.
 */
import { decodeBase64Url } from './runtime.js';

/** What a client needs to start a device flow: from settings, else from the registry. */
export interface OidcConfig {
  issuer: string;
  clientId: string;
  scopes: string[];
  /** Sent as `audience` (Auth0, Okta and others use it to pick the API the access token is for). */
  audience?: string;
}

/** The parts of the provider's discovery document this client uses. */
export interface ProviderMetadata {
  issuer: string;
  token_endpoint: string;
  device_authorization_endpoint?: string;
  revocation_endpoint?: string;
}

/** A device authorization in progress: what the user enters, where, and until when. */
export interface DeviceAuthorization {
  deviceCode: string;
  userCode: string;
  verificationUri: string;
  /** The verification URI with the code in it, when the provider gives one. */
  verificationUriComplete?: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  /** How long to wait between polls. */
  intervalMs: number;
}

export interface TokenSet {
  accessToken: string;
  refreshToken?: string;
  idToken?: string;
  /** Epoch milliseconds when the token was obtained, and when it expires (if the provider says). */
  obtainedAt: number;
  expiresAt?: number;
  scope?: string;
}

/** Who is signed in, for display: decoded from the ID token, never verified here. */
export interface Identity {
  subject: string;
  /** The email, else the preferred username, else the subject. */
  label: string;
  email?: string;
  name?: string;
}

/** Everything kept between sessions: enough to refresh without rediscovering. */
export interface StoredSession {
  issuer: string;
  clientId: string;
  tokenEndpoint: string;
  revocationEndpoint?: string;
  tokens: TokenSet;
  identity: Identity;
}

/** An error answer from the provider (RFC 6749 §5.2, RFC 8628 §3.5); `code` is its `error`. */
export class OAuthError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'OAuthError';
  }
}

/** The device flow was cancelled by the caller. */
export class SignInCancelledError extends Error {
  constructor() {
    super('sign-in was cancelled');
    this.name = 'SignInCancelledError';
  }
}

export const DEFAULT_SCOPES = ['openid', 'profile', 'email', 'offline_access'];
const TIMEOUT_MS = 10_000;
/** RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as the default." */
const DEFAULT_INTERVAL_S = 5;
/** RFC 8628 §3.5: on slow_down the interval "MUST be increased by 5 seconds". */
const SLOW_DOWN_S = 5;

/** What `GET /auth/config` advertises (`{"oidc": {issuer, client_id, audience, scopes, ...} | null}`); undefined without an issuer. */
export function readAuthConfig(body: unknown): Partial<OidcConfig> | undefined {
  const o = (body as { oidc?: unknown } | null)?.oidc;
  if (!o || typeof o !== 'object') return undefined;
  const { issuer, client_id: clientId, audience, scopes } = o as Record<string, unknown>;
  const str = (v: unknown) => (typeof v === 'string' && v.trim() ? v.trim() : undefined);
  if (!str(issuer)) return undefined;
  const config: Partial<OidcConfig> = { issuer: str(issuer)! };
  if (str(clientId)) config.clientId = str(clientId)!;
  if (str(audience)) config.audience = str(audience)!;
  const list = Array.isArray(scopes) ? scopes.filter((s): s is string => typeof s === 'string') : [];
  if (list.length) config.scopes = list;
  return config;
}

/**
 * Settings win over what the registry advertises, field by field; but an
 * issuer named in settings drops the registry's client id and audience, which
 * belong to the registry's issuer. Undefined when there is no issuer or client id.
 */
export function resolveOidcConfig(settings: Partial<OidcConfig>, advertised: Partial<OidcConfig> | undefined): OidcConfig | undefined {
  const sameIssuer = !settings.issuer || !advertised?.issuer || trimSlash(settings.issuer) === trimSlash(advertised.issuer);
  const fromServer = sameIssuer ? (advertised ?? {}) : {};
  const issuer = settings.issuer || fromServer.issuer;
  const clientId = settings.clientId || fromServer.clientId;
  if (!issuer || !clientId) return undefined;
  const scopes = settings.scopes?.length ? settings.scopes : fromServer.scopes?.length ? fromServer.scopes : DEFAULT_SCOPES;
  const audience = settings.audience || fromServer.audience;
  return { issuer, clientId, scopes, ...(audience ? { audience } : {}) };
}

const trimSlash = (s: string) => s.replace(/\/+$/, '');

/** Fetches and checks the provider's discovery document (its `issuer` must be the one asked for). */
export async function discover(issuer: string): Promise<ProviderMetadata> {
  const url = `${trimSlash(issuer)}/.well-known/openid-configuration`;
  const body = await getJson(url);
  const meta = body as Partial<ProviderMetadata>;
  if (typeof meta.issuer !== 'string' || typeof meta.token_endpoint !== 'string') {
    throw new OAuthError('invalid_discovery', `${url} is not an OpenID Connect discovery document`);
  }
  if (trimSlash(meta.issuer) !== trimSlash(issuer)) {
    throw new OAuthError('invalid_discovery', `the identity provider at ${issuer} says its issuer is ${meta.issuer}`);
  }
  return meta as ProviderMetadata;
}

/** Starts a device flow (RFC 8628 §3.1): the user then enters `userCode` at `verificationUri`. */
export async function requestDeviceAuthorization(meta: ProviderMetadata, config: OidcConfig, now = Date.now()): Promise<DeviceAuthorization> {
  if (!meta.device_authorization_endpoint) {
    throw new OAuthError('unsupported_grant_type', `the identity provider ${meta.issuer} does not offer the device authorization flow`);
  }
  const form: Record<string, string> = { client_id: config.clientId, scope: config.scopes.join(' ') };
  if (config.audience) form.audience = config.audience;
  const body = (await postForm(meta.device_authorization_endpoint, form)) as Record<string, unknown>;
  const { device_code, user_code, verification_uri, verification_uri_complete, expires_in, interval } = body;
  if (typeof device_code !== 'string' || typeof user_code !== 'string' || typeof verification_uri !== 'string' || typeof expires_in !== 'number') {
    throw new OAuthError('invalid_response', 'the identity provider answered the device authorization request without a code');
  }
  return {
    deviceCode: device_code,
    userCode: user_code,
    verificationUri: verification_uri,
    ...(typeof verification_uri_complete === 'string' ? { verificationUriComplete: verification_uri_complete } : {}),
    expiresAt: now + expires_in * 1000,
    intervalMs: (typeof interval === 'number' && interval > 0 ? interval : DEFAULT_INTERVAL_S) * 1000,
  };
}

export interface PollOptions {
  signal?: AbortSignal;
  /** Waits between polls; tests pass one that records the delays. */
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  now?: () => number;
}

/**
 * Polls the token endpoint until the user has approved (RFC 8628 §3.4–3.5):
 * waits `interval` between polls, five seconds more after each `slow_down`,
 * and gives up on `access_denied`, `expired_token` or the code's expiry.
 */
export async function pollDeviceToken(meta: ProviderMetadata, clientId: string, device: DeviceAuthorization, opts: PollOptions = {}): Promise<TokenSet> {
  const sleep = opts.sleep ?? delay;
  const now = opts.now ?? Date.now;
  let interval = device.intervalMs;
  for (;;) {
    await sleep(interval, opts.signal);
    if (opts.signal?.aborted) throw new SignInCancelledError();
    if (now() >= device.expiresAt) throw new OAuthError('expired_token', 'the sign-in code expired before it was entered; sign in again');
    try {
      return await tokenRequest(meta.token_endpoint, { grant_type: 'urn:ietf:params:oauth:grant-type:device_code', device_code: device.deviceCode, client_id: clientId }, now, opts.signal);
    } catch (err) {
      if (opts.signal?.aborted) throw new SignInCancelledError();
      if (!(err instanceof OAuthError)) throw err;
      if (err.code === 'authorization_pending') continue;
      if (err.code === 'slow_down') {
        interval += SLOW_DOWN_S * 1000;
        continue;
      }
      if (err.code === 'access_denied') throw new OAuthError('access_denied', 'sign-in was denied at the identity provider');
      if (err.code === 'expired_token') throw new OAuthError('expired_token', 'the sign-in code expired before it was entered; sign in again');
      throw err;
    }
  }
}

/**
 * Exchanges a refresh token for fresh tokens. The provider may rotate the
 * refresh token or omit the ID token: what it leaves out is kept.
 */
export async function refreshTokens(tokenEndpoint: string, clientId: string, previous: TokenSet, now = Date.now): Promise<TokenSet> {
  if (!previous.refreshToken) throw new OAuthError('invalid_grant', 'no refresh token: sign in again');
  const next = await tokenRequest(tokenEndpoint, { grant_type: 'refresh_token', refresh_token: previous.refreshToken, client_id: clientId }, now);
  return {
    ...next,
    ...(next.refreshToken ?? previous.refreshToken ? { refreshToken: next.refreshToken ?? previous.refreshToken } : {}),
    ...(next.idToken ?? previous.idToken ? { idToken: next.idToken ?? previous.idToken } : {}),
  };
}

/** Revokes a token at sign-out (RFC 7009); the caller ignores failures, as the local copy is gone anyway. */
export async function revokeToken(revocationEndpoint: string, clientId: string, token: string, hint: 'refresh_token' | 'access_token'): Promise<void> {
  const res = await send(revocationEndpoint, { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token, token_type_hint: hint, client_id: clientId }).toString() });
  if (!res.ok) await answer(revocationEndpoint, res);
}

/**
 * When to refresh: at 80 % of the access token's lifetime or 60 s before it
 * expires, whichever comes first; but never before half its lifetime, so a
 * very short-lived token isn't refreshed in a loop. Undefined when the
 * provider gave no lifetime.
 */
export function refreshAt(tokens: TokenSet): number | undefined {
  if (tokens.expiresAt === undefined) return undefined;
  const lifetime = tokens.expiresAt - tokens.obtainedAt;
  const delayMs = Math.max(Math.min(lifetime * 0.8, lifetime - 60_000), lifetime / 2);
  return tokens.obtainedAt + delayMs;
}

/** Who the ID token names: its claims decoded, not verified. Falls back to `fallbackSubject` without one. */
export function identityOf(idToken: string | undefined, fallbackSubject = 'unknown user'): Identity {
  const claims = idToken ? decodeJwtClaims(idToken) : {};
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const subject = str(claims.sub) ?? fallbackSubject;
  const email = str(claims.email);
  const name = str(claims.name);
  const label = email ?? str(claims.preferred_username) ?? subject;
  return { subject, label, ...(email ? { email } : {}), ...(name ? { name } : {}) };
}

function decodeJwtClaims(jwt: string): Record<string, unknown> {
  const payload = jwt.split('.')[1];
  if (!payload) return {};
  try {
    const claims: unknown = JSON.parse(decodeBase64Url(payload));
    return claims && typeof claims === 'object' ? (claims as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Completes a sign-in: the stored form of the tokens, with who they are for. */
export function toSession(meta: ProviderMetadata, clientId: string, tokens: TokenSet): StoredSession {
  return {
    issuer: meta.issuer,
    clientId,
    tokenEndpoint: meta.token_endpoint,
    ...(meta.revocation_endpoint ? { revocationEndpoint: meta.revocation_endpoint } : {}),
    tokens,
    identity: identityOf(tokens.idToken),
  };
}

/** Reads a stored session back; undefined for anything that isn't one (an old or damaged entry). */
export function parseSession(text: string | undefined): StoredSession | undefined {
  if (!text) return undefined;
  try {
    const s = JSON.parse(text) as StoredSession;
    return typeof s?.issuer === 'string' && typeof s.clientId === 'string' && typeof s.tokenEndpoint === 'string' && typeof s.tokens?.accessToken === 'string' && typeof s.identity?.label === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

async function tokenRequest(endpoint: string, form: Record<string, string>, now: () => number, signal?: AbortSignal): Promise<TokenSet> {
  const obtainedAt = now();
  const body = (await postForm(endpoint, form, signal)) as Record<string, unknown>;
  const { access_token, refresh_token, id_token, expires_in, scope } = body;
  if (typeof access_token !== 'string') throw new OAuthError('invalid_response', 'the identity provider answered without an access token');
  return {
    accessToken: access_token,
    obtainedAt,
    ...(typeof refresh_token === 'string' ? { refreshToken: refresh_token } : {}),
    ...(typeof id_token === 'string' ? { idToken: id_token } : {}),
    ...(typeof expires_in === 'number' ? { expiresAt: obtainedAt + expires_in * 1000 } : {}),
    ...(typeof scope === 'string' ? { scope } : {}),
  };
}

async function getJson(url: string): Promise<unknown> {
  return answer(url, await send(url, { headers: { Accept: 'application/json' } }));
}

async function postForm(url: string, form: Record<string, string>, signal?: AbortSignal): Promise<unknown> {
  const init: RequestInit = { method: 'POST', headers: { 'Content-Type': 'application/x-www-form-urlencoded', Accept: 'application/json' }, body: new URLSearchParams(form).toString() };
  return answer(url, await send(url, init, signal));
}

async function send(url: string, init: RequestInit, signal?: AbortSignal): Promise<Response> {
  const timeout = AbortSignal.timeout(TIMEOUT_MS);
  try {
    return await fetch(url, { ...init, signal: signal ? AbortSignal.any([signal, timeout]) : timeout });
  } catch (err) {
    if (signal?.aborted) throw new SignInCancelledError();
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new OAuthError('unreachable', `the identity provider at ${new URL(url).origin} is unreachable: ${cause ?? (err instanceof Error ? err.message : String(err))}`);
  }
}

async function answer(url: string, res: Response): Promise<unknown> {
  const text = await res.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = undefined;
  }
  if (res.ok && body !== undefined) return body;
  const e = body as { error?: unknown; error_description?: unknown } | undefined;
  if (typeof e?.error === 'string') {
    throw new OAuthError(e.error, typeof e.error_description === 'string' ? `${e.error}: ${e.error_description}` : e.error);
  }
  throw new OAuthError('invalid_response', `${url} answered ${res.status} without a JSON body`);
}

function delay(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
