/**
 * A real OpenID Connect provider for tests (the oidc-provider package) on
 * 127.0.0.1: device flow, refresh tokens and revocation enabled, accounts
 * made up on the fly (login "ann" is ann@example.com), and the user's side
 * of a device flow driven over HTTP through the provider's own pages.
 */
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import Provider from 'oidc-provider';
import { approveDevice, denyDevice } from './idp-user.js';

export const TEST_CLIENT_ID = 'prompt-registry-vscode';
const DEVICE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

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
}

export interface TestIdp {
  issuer: string;
  clientId: string;
  /** Grant types of every token request so far, in order (e.g. `device_code`, `refresh_token`). */
  tokenRequests: string[];
  /** Tokens revoked so far. */
  revoked: string[];
  /** As a user: opens the verification page, enters the code, signs in as `login` and consents. */
  approve(verificationUri: string, userCode: string, login?: string): Promise<void>;
  /** As a user: enters the code, then cancels instead of continuing. */
  deny(verificationUri: string, userCode: string): Promise<void>;
  close(): Promise<void>;
}

export async function startIdp(options: IdpOptions = {}): Promise<TestIdp> {
  const http = createServer();
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve) => http.listen(0, host, resolve));
  const issuer = `http://${host}:${(http.address() as AddressInfo).port}`;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
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
    ],
    jwks: { keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'test', alg: 'RS256', use: 'sig' } as never] },
    cookies: { keys: ['prompt-registry-test-idp'] },
    features: { deviceFlow: { enabled: true }, revocation: { enabled: true }, devInteractions: { enabled: true } },
    claims: { openid: ['sub'], email: ['email', 'email_verified'], profile: ['name'] },
    // The ID token carries the scopes' claims (as most corporate providers' do), not only the userinfo endpoint.
    conformIdTokenClaims: false,
    ttl: { AccessToken: options.accessTokenTtl ?? 3600, DeviceCode: options.deviceCodeTtl ?? 600, IdToken: 3600, RefreshToken: 86_400, Grant: 86_400, Session: 86_400, Interaction: 600 },
    async findAccount(_ctx, id) {
      return { accountId: id, claims: () => ({ sub: id, email: `${id}@example.com`, email_verified: true, name: id[0]!.toUpperCase() + id.slice(1) }) };
    },
  });

  const tokenRequests: string[] = [];
  const revoked: string[] = [];
  let slowDown = options.slowDownOnce ?? false;
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
  http.on('request', provider.callback() as (req: IncomingMessage, res: ServerResponse) => void);

  return {
    issuer,
    clientId: TEST_CLIENT_ID,
    tokenRequests,
    revoked,
    approve: (uri, code, login = 'ann') => approveDevice(uri, code, login),
    deny: (uri, code) => denyDevice(uri, code),
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
