import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT, type JWK, type JWTPayload } from 'jose';
import Provider from 'oidc-provider';
import type { OidcConfig } from '../../server/auth/oidc.js';

/** The audience (resource indicator) the test provider issues registry tokens for. */
export const AUDIENCE = 'https://registry.test';

/** The people of the test provider: one client_credentials client each, their claims added to every token. */
export const PEOPLE: Record<string, Record<string, unknown>> = {
  alice: { email: 'alice@example.com', groups: ['prompt-admins'] },
  bob: { email: 'bob@example.com', groups: ['ml-eng'] },
  carol: { email: 'carol@example.com', groups: ['release-managers'] },
  dave: { email: 'dave@example.com', groups: ['release-managers', 'ml-eng'] },
  nemo: { groups: ['visitors'] },
};

export const ROLE_MAP: Record<string, string[]> = {
  'prompt-admins': ['admin'],
  'ml-eng': ['read', 'write', 'deploy:staging'],
  'release-managers': ['read', 'deploy:production'],
};

export interface TestIdp {
  issuer: string;
  /** The signing key now in use (private), for minting tokens the provider never issued. */
  key: JWK & { kid: string };
  /** A real access token from the provider (client_credentials with a resource indicator). */
  token(person: string, resource?: string): Promise<string>;
  /** Signs `claims` with the provider's own key (or `key`), as if the provider had issued them. */
  mint(claims: JWTPayload, opts?: { key?: JWK; kid?: string; alg?: string }): Promise<string>;
  /** Requests the provider has answered, by path. */
  hits(path: string): number;
  /** A new provider on the same issuer with a new signing key (key rotation). */
  rotate(): Promise<void>;
  /** OidcConfig for a registry trusting this provider. */
  config(overrides?: Partial<OidcConfig>): OidcConfig;
  close(): Promise<void>;
}

export async function newKey(kid: string): Promise<JWK & { kid: string }> {
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  return { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
}

function provider(issuer: string, key: JWK): Provider {
  const p = new Provider(issuer, {
    clients: Object.keys(PEOPLE).map((id) => ({
      client_id: id,
      client_secret: `secret-${id}`,
      grant_types: ['client_credentials', 'urn:ietf:params:oauth:grant-type:device_code'],
      redirect_uris: [],
      response_types: [],
      token_endpoint_auth_method: 'client_secret_post',
      scope: 'openid registry',
    })),
    jwks: { keys: [key] },
    scopes: ['openid', 'registry'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      deviceFlow: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => AUDIENCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx, resource) => ({
          scope: 'registry',
          audience: resource,
          accessTokenTTL: 300,
          accessTokenFormat: 'jwt',
          jwt: { sign: { alg: 'RS256' } },
        }),
      },
    },
    ttl: { ClientCredentials: 300, DeviceCode: 600, AccessToken: 300 },
    extraTokenClaims: (_ctx, token) => PEOPLE[(token as { clientId?: string }).clientId ?? ''],
  });
  return p;
}

/** A real OpenID Connect provider (the oidc-provider package) on a random loopback port. */
export async function startTestIdp(): Promise<TestIdp> {
  const counts = new Map<string, number>();
  let current: ((req: IncomingMessage, res: ServerResponse) => void) | undefined;
  const server: Server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    counts.set(path, (counts.get(path) ?? 0) + 1);
    current!(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  let key = await newKey('k1');
  let generation = 1;
  current = provider(issuer, key).callback();

  return {
    issuer,
    get key() {
      return key;
    },
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
    async mint(claims, opts = {}) {
      const signer = opts.key ?? key;
      const { importJWK } = await import('jose');
      const alg = opts.alg ?? 'RS256';
      return new SignJWT(claims).setProtectedHeader({ alg, kid: opts.kid ?? (signer as { kid?: string }).kid ?? 'k1', typ: 'at+jwt' }).sign(await importJWK(signer, alg));
    },
    hits: (path) => counts.get(path) ?? 0,
    async rotate() {
      key = await newKey(`k${++generation}`);
      current = provider(issuer, key).callback();
    },
    config: (overrides = {}) => ({
      issuer,
      audience: AUDIENCE,
      rolesClaim: 'groups',
      roleMap: ROLE_MAP,
      clientId: 'prompt-registry-vscode',
      scopes: ['openid', 'registry', 'offline_access'],
      allowInsecureHttp: false,
      clockToleranceSeconds: 30,
      jwksCooldownMs: 30_000,
      ...overrides,
    }),
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
