/**
 * The one identity provider for tests: the real oidc-provider package on a
 * loopback port, issuing JWT access tokens for the registry's audience (so a
 * real registry accepts them) to two kinds of callers:
 *
 * - people signing in with the device flow through the public client
 *   `prompt-registry-vscode` (refresh tokens, revocation): any login works,
 *   "ann" is ann@example.com, with the groups `groups[login]` names;
 * - one client_credentials client per person of PEOPLE (`token(person)`),
 *   for server tests that need a token without a user at a page.
 *
 * Plus what server tests need to attack a verifier: its signing key, tokens
 * signed as if it had issued them (`mint`), key rotation and request counts.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import type { OidcConfig } from '../../server/auth/oidc.js';
import { approveDevice, denyDevice } from './idp-user.js';

/** The audience (resource indicator) every access token is for, unless a client_credentials request names another. */
export const AUDIENCE = 'https://registry.test';
export const TEST_CLIENT_ID = 'prompt-registry-vscode';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/** The client_credentials people: their claims go into their tokens (nemo has no email). */
export const PEOPLE: Record<string, { email?: string; groups: string[] }> = {
  alice: { email: 'alice@example.com', groups: ['prompt-admins'] },
  bob: { email: 'bob@example.com', groups: ['ml-eng'] },
  carol: { email: 'carol@example.com', groups: ['release-managers'] },
  dave: { email: 'dave@example.com', groups: ['release-managers', 'ml-eng'] },
  nemo: { groups: ['visitors'] },
};

/** Groups of people signing in through the device flow, by login, unless `groups` says otherwise: others have none. */
export const DEFAULT_LOGIN_GROUPS: Record<string, string[]> = { ann: ['ml-eng'], bob: ['ml-eng'] };

/** The registry's role map in tests: `visitors` is known to the provider but maps to no scope. */
export const ROLE_MAP: Record<string, string[]> = {
  'prompt-admins': ['admin'],
  'ml-eng': ['read', 'write', 'deploy:staging'],
  'release-managers': ['read', 'deploy:production'],
  readers: ['read'],
};

export interface IdpOptions {
  /** The loopback address to listen on (default 127.0.0.1). */
  host?: string;
  /** Access token lifetime in seconds (default 3600). */
  accessTokenTtl?: number;
  /** Device code lifetime in seconds (default 600). */
  deviceCodeTtl?: number;
  /** The `interval` the device authorization answers with (oidc-provider sends none: clients then wait 5 s). */
  interval?: number;
  /** Answers the first device-code poll with `slow_down`, as a provider that rate-limits does. */
  slowDownOnce?: boolean;
  /** Groups per device-flow login (the `groups` claim of its ID and access tokens), over DEFAULT_LOGIN_GROUPS. */
  groups?: Record<string, string[]>;
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  audience: string;
  /** Grant types of every token request so far, in order (`device_code`, `refresh_token`, `client_credentials`). */
  tokenRequests: string[];
  /** Tokens revoked so far. */
  revoked: string[];
  /** As a user: opens the verification page, enters the code, signs in as `login` and consents. */
  approve(verificationUri: string, userCode: string, login?: string): Promise<void>;
  /** As a user: enters the code, then cancels instead of continuing. */
  deny(verificationUri: string, userCode: string): Promise<void>;
  /** A real access token for one of PEOPLE (client_credentials with a resource indicator). */
  token(person: string, resource?: string): Promise<string>;
  /** The signing key now in use (private), for minting tokens the provider never issued. */
  key: JWK & { kid: string };
  /** Signs `claims` with the provider's own key (or `key`), as if the provider had issued them. */
  mint(claims: JWTPayload, opts?: { key?: JWK; kid?: string; alg?: string }): Promise<string>;
  /** Requests the provider has answered, by path. */
  hits(path: string): number;
  /** A new provider on the same issuer with a new signing key (key rotation); grants and sessions survive. */
  rotate(): Promise<void>;
  /** OidcConfig for a registry trusting this provider and advertising its device-flow client. */
  config(overrides?: Partial<OidcConfig>): OidcConfig;
  close(): Promise<void>;
}

export async function newKey(kid: string): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

/** A real OpenID Connect provider (the oidc-provider package) on a random loopback port. */
export async function startIdp(options: IdpOptions = {}): Promise<TestIdp> {
  const counts = new Map<string, number>();
  let handle: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const http: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    handle!(req, res);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => http.listen(0, host, resolve));
  const issuer = `http://${host}:${(http.address() as AddressInfo).port}`;
  const groupsOf = (login: string) => options.groups?.[login] ?? DEFAULT_LOGIN_GROUPS[login] ?? [];
  const tokenRequests: string[] = [];
  const revoked: string[] = [];
  let slowDown = options.slowDownOnce ?? false;
  let key = await newKey('k1');
  let generation = 1;

  const build = (signingKey: JWK): Provider => {
    const provider = new Provider(issuer, {
      clients: [
        {
          client_id: TEST_CLIENT_ID,
          client_name: 'Prompt Registry for VS Code',
          token_endpoint_auth_method: 'none',
          application_type: 'native',
          grant_types: [DEVICE_GRANT, 'refresh_token'],
          response_types: [],
          redirect_uris: [],
        },
        ...Object.keys(PEOPLE).map((id) => ({
          client_id: id,
          client_secret: `secret-${id}`,
          grant_types: ['client_credentials'],
          redirect_uris: [],
          response_types: [],
          token_endpoint_auth_method: 'client_secret_post' as const,
          scope: 'registry',
        })),
      ],
      jwks: { keys: [signingKey as never] },
      cookies: { keys: ['prompt-registry-test-idp'] },
      scopes: ['openid', 'offline_access', 'registry'],
      claims: { openid: ['sub', 'groups'], email: ['email', 'email_verified'], profile: ['name'] },
      // The ID token carries the scopes' claims (as most corporate providers' do), not only the userinfo endpoint.
      conformIdTokenClaims: false,
      features: {
        devInteractions: { enabled: true },
        deviceFlow: { enabled: true },
        revocation: { enabled: true },
        clientCredentials: { enabled: true },
        // Every access token is a JWT for the registry (as an "API" / "audience" is set up at Keycloak, Entra ID, Okta),
        // whether or not the client names it: the extension's device flow doesn't.
        resourceIndicators: {
          enabled: true,
          defaultResource: () => AUDIENCE,
          useGrantedResource: () => true,
          getResourceServerInfo: (_ctx, resource) => ({
            scope: 'registry',
            audience: resource,
            accessTokenTTL: options.accessTokenTtl ?? 3600,
            accessTokenFormat: 'jwt',
            jwt: { sign: { alg: 'RS256' } },
          }),
        },
      },
      ttl: { AccessToken: options.accessTokenTtl ?? 3600, ClientCredentials: 300, DeviceCode: options.deviceCodeTtl ?? 600, IdToken: 3600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
      async findAccount(_ctx, id) {
        return { accountId: id, claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: true, name: id[0]!.toUpperCase() + id.slice(1), groups: groupsOf(id) }) };
      },
      // The registry reads who and which groups from the access token: a person's, or a client_credentials client's.
      extraTokenClaims(_ctx, token) {
        const t = token as { kind?: string; clientId?: string; accountId?: string };
        if (t.kind === 'ClientCredentials') return PEOPLE[t.clientId ?? ''];
        if (t.accountId) return { email: `${t.accountId}@example.com`, email_verified: true, groups: groupsOf(t.accountId) };
        return undefined;
      },
    });

    provider.on('device_authorization.success', (_ctx, body: Record<string, unknown>) => {
      if (options.interval !== undefined) body.interval = options.interval;
    });
    const grantType = (ctx: { oidc?: { params?: unknown } }) => {
      const grant = (ctx.oidc?.params as { grant_type?: string } | undefined)?.grant_type ?? '';
      return grant === DEVICE_GRANT ? 'device_code' : grant;
    };
    provider.on('grant.success', (ctx) => tokenRequests.push(grantType(ctx)));
    provider.on('grant.error', (ctx) => tokenRequests.push(grantType(ctx)));
    provider.use(async (ctx, next) => {
      // Only while a slow_down is due: reading the body here makes the provider warn about it.
      if (slowDown && ctx.method === 'POST' && ctx.path === '/token') {
        const body = await readForm(ctx.req);
        (ctx.req as IncomingMessage & { body?: Record<string, string> }).body = Object.fromEntries(body);
        if (body.get('grant_type') === DEVICE_GRANT) {
          slowDown = false;
          tokenRequests.push('device_code');
          ctx.status = 400;
          ctx.body = { error: 'slow_down', error_description: 'poll less often' };
          return;
        }
      }
      await next();
      if (ctx.method === 'POST' && ctx.path === '/token/revocation' && ctx.status === 200) {
        const token = (ctx.oidc?.body as { token?: unknown } | undefined)?.token;
        if (typeof token === 'string') revoked.push(token);
      }
    });
    return provider;
  };
  handle = build(key).callback() as typeof handle;

  const config = (overrides: Partial<OidcConfig> = {}): OidcConfig => ({
    issuer,
    audience: AUDIENCE,
    rolesClaim: 'groups',
    roleMap: ROLE_MAP,
    clientId: TEST_CLIENT_ID,
    scopes: ['openid', 'profile', 'email', 'offline_access'],
    allowInsecureHttp: false,
    clockToleranceSeconds: 30,
    jwksCooldownMs: 30_000,
    ...overrides,
  });

  return {
    issuer,
    clientId: TEST_CLIENT_ID,
    audience: AUDIENCE,
    tokenRequests,
    revoked,
    approve: (uri, code, login = 'ann') => approveDevice(uri, code, login),
    deny: (uri, code) => denyDevice(uri, code),
    async token(person, resource = AUDIENCE) {
      const res = await fetch(`${issuer}/token`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: person, client_secret: `secret-${person}`, scope: 'registry', resource }),
      });
      const body = (await res.json()) as { access_token?: string; error?: string; error_description?: string };
      if (!body.access_token) throw new Error(`the test provider refused a token for ${person}: ${body.error} ${body.error_description}`);
      return body.access_token;
    },
    get key() {
      return key;
    },
    async mint(claims, opts = {}) {
      const signer = opts.key ?? key;
      const alg = opts.alg ?? 'RS256';
      return new SignJWT(claims).setProtectedHeader({ alg, kid: opts.kid ?? (signer as { kid?: string }).kid ?? 'k1', typ: 'at+jwt' }).sign(await importJWK(signer, alg));
    },
    hits: (path) => counts.get(path) ?? 0,
    async rotate() {
      key = await newKey(`k${++generation}`);
      handle = build(key).callback() as typeof handle;
    },
    config,
    close: () =>
      new Promise<void>((resolve) => {
        http.closeAllConnections();
        http.close(() => resolve());
      }),
  };
}

function readForm(req: IncomingMessage): Promise<URLSearchParams> {
  return new Promise((resolve, reject) => {
    let text = '';
    req.setEncoding('utf8');
    req.on('data', (c: string) => (text += c));
    req.on('end', () => resolve(new URLSearchParams(text)));
    req.on('error', reject);
  });
}
