/**
 * Sign-in with the device authorization flow (client/oauth.ts) against a real
 * OpenID Connect provider (oidc-provider on 127.0.0.1), and the SDK sending
 * the tokens it gets.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import {
  DEFAULT_SCOPES,
  OAuthError,
  RegistryApi,
  RegistryError,
  SignInCancelledError,
  discover,
  identityOf,
  pollDeviceToken,
  refreshTokens,
  requestDeviceAuthorization,
  revokeToken,
  toSession,
  type DeviceAuthorization,
  type OidcConfig,
  type ProviderMetadata,
} from '../../client/index.js';
import { startIdp, type IdpOptions, type TestIdp } from '../support/idp.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** A poll's waits, recorded; `onWait` runs at the nth wait (1-based), as the user acting meanwhile. */
function recordingSleep(onWait: (n: number) => Promise<void> | void = () => undefined) {
  const waits: number[] = [];
  return {
    waits,
    sleep: async (ms: number) => {
      waits.push(ms);
      await onWait(waits.length);
    },
  };
}

async function withIdp(options: IdpOptions, run: (idp: TestIdp, meta: ProviderMetadata, config: OidcConfig) => Promise<void>): Promise<void> {
  const idp = await startIdp(options);
  try {
    const meta = await discover(idp.issuer);
    await run(idp, meta, { issuer: idp.issuer, clientId: idp.clientId, scopes: DEFAULT_SCOPES });
  } finally {
    await idp.close();
  }
}

const codeIn = (error: string) => (err: unknown) => err instanceof OAuthError && err.code === error;

describe('device authorization flow against a real identity provider', () => {
  it('discovers the provider and refuses a document naming another issuer', async () => {
    await withIdp({}, async (idp, meta) => {
      assert.equal(meta.issuer, idp.issuer);
      assert.match(meta.device_authorization_endpoint ?? '', /^http:\/\/127\.0\.0\.1:\d+\//);
      assert.ok(meta.revocation_endpoint);
      // The same server under another name: its document names 127.0.0.1, not localhost.
      await assert.rejects(discover(idp.issuer.replace('127.0.0.1', 'localhost')), (err: unknown) => codeIn('invalid_discovery')(err) && /says its issuer is/.test((err as Error).message));
    });
  });

  it('signs in: the user enters the code and consents, the client gets tokens and who signed in', async () => {
    await withIdp({ interval: 1 }, async (idp, meta, config) => {
      const device = await requestDeviceAuthorization(meta, config);
      assert.match(device.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
      assert.equal(device.intervalMs, 1000);
      assert.ok(device.expiresAt > Date.now());
      // The user approves while the client waits for its second poll: the first one is still pending.
      const { waits, sleep } = recordingSleep((n) => (n === 2 ? idp.approve(device.verificationUri, device.userCode, 'ann') : undefined));
      const tokens = await pollDeviceToken(meta, idp.clientId, device, { sleep });
      assert.deepEqual(waits, [1000, 1000]);
      assert.deepEqual(idp.tokenRequests, ['device_code', 'device_code'], 'one authorization_pending, then the tokens');
      assert.ok(tokens.accessToken && tokens.refreshToken && tokens.idToken);
      assert.ok(tokens.expiresAt! > tokens.obtainedAt);
      assert.deepEqual(identityOf(tokens.idToken), { subject: 'ann', label: 'ann@example.com', email: 'ann@example.com', name: 'Ann' });
      const session = toSession(meta, idp.clientId, tokens);
      assert.equal(session.tokenEndpoint, meta.token_endpoint);
      assert.equal(session.identity.label, 'ann@example.com');
    });
  });

  it('waits five seconds longer after slow_down, and uses 5 s when the provider names no interval', async () => {
    await withIdp({ slowDownOnce: true }, async (idp, meta, config) => {
      const device = await requestDeviceAuthorization(meta, config);
      assert.equal(device.intervalMs, 5000, 'RFC 8628 default');
      const { waits, sleep } = recordingSleep((n) => (n === 2 ? idp.approve(device.verificationUriComplete!, device.userCode) : undefined));
      const tokens = await pollDeviceToken(meta, idp.clientId, device, { sleep });
      assert.deepEqual(waits, [5000, 10_000]);
      assert.ok(tokens.accessToken);
    });
  });

  it('stops when the user denies, when the code expires, and when cancelled', async () => {
    await withIdp({ interval: 1, deviceCodeTtl: 1 }, async (idp, meta, config) => {
      const denied = await requestDeviceAuthorization(meta, config);
      await idp.deny(denied.verificationUri, denied.userCode);
      await assert.rejects(pollDeviceToken(meta, idp.clientId, denied, recordingSleep()), codeIn('access_denied'));

      // The provider says expired_token (the local clock is told the code is still valid, so it asks).
      const expired: DeviceAuthorization = await requestDeviceAuthorization(meta, config);
      await new Promise((r) => setTimeout(r, 1_100));
      await assert.rejects(pollDeviceToken(meta, idp.clientId, expired, { ...recordingSleep(), now: () => expired.expiresAt - 1 }), codeIn('expired_token'));
      // Past the code's expiry the client gives up without asking.
      const before = idp.tokenRequests.length;
      await assert.rejects(pollDeviceToken(meta, idp.clientId, expired, recordingSleep()), codeIn('expired_token'));
      assert.equal(idp.tokenRequests.length, before);

      const pending = await requestDeviceAuthorization(meta, config);
      const abort = new AbortController();
      const { sleep } = recordingSleep((n) => (n === 2 ? abort.abort() : undefined));
      await assert.rejects(pollDeviceToken(meta, idp.clientId, pending, { sleep, signal: abort.signal }), SignInCancelledError);
    });
  });

  it('refreshes (the provider rotates the refresh token), and revoked tokens refresh no more', async () => {
    await withIdp({ interval: 1, accessTokenTtl: 30 }, async (idp, meta, config) => {
      const device = await requestDeviceAuthorization(meta, config);
      await idp.approve(device.verificationUri, device.userCode, 'bob');
      const first = await pollDeviceToken(meta, idp.clientId, device, recordingSleep());
      const second = await refreshTokens(meta.token_endpoint, idp.clientId, first);
      assert.notEqual(second.accessToken, first.accessToken);
      assert.notEqual(second.refreshToken, first.refreshToken, 'rotated for a public client');
      assert.equal(identityOf(second.idToken).label, 'bob@example.com');
      assert.equal(second.expiresAt! - second.obtainedAt, 30_000);
      await assert.rejects(refreshTokens(meta.token_endpoint, idp.clientId, first), codeIn('invalid_grant'), 'a used refresh token is refused');

      // The rotation above revoked the whole grant (reuse detection): sign in afresh to test revocation.
      const again = await requestDeviceAuthorization(meta, config);
      await idp.approve(again.verificationUri, again.userCode, 'bob');
      const third = await pollDeviceToken(meta, idp.clientId, again, recordingSleep());
      await revokeToken(meta.revocation_endpoint!, idp.clientId, third.refreshToken!, 'refresh_token');
      assert.deepEqual(idp.revoked, [third.refreshToken]);
      await assert.rejects(refreshTokens(meta.token_endpoint, idp.clientId, third), codeIn('invalid_grant'));
    });
  });
});

describe('RegistryApi with tokens from a sign-in', () => {
  let seen: IncomingHttpHeaders[] = [];
  let reject = new Set<string>();
  const echo = createServer((req, res) => {
    seen.push(req.headers);
    const auth = req.headers.authorization ?? '';
    res.setHeader('Content-Type', 'application/json');
    if (reject.has(auth)) {
      res.statusCode = 401;
      res.end(JSON.stringify({ error: { code: 'unauthorized', message: 'token expired' } }));
    } else if (req.url === '/auth/config') {
      res.end(JSON.stringify({ oidc: { issuer: 'https://idp.example.com', client_id: 'vscode', audience: 'prompts', scopes: ['openid', 'email'] } }));
    } else {
      res.end(JSON.stringify({ items: [{ name: 'dev' }], next_cursor: null }));
    }
  });
  let url = '';
  let registry: TestServer;
  before(async () => {
    await new Promise<void>((r) => echo.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(echo.address() as AddressInfo).port}`;
    registry = await startTestServer('sqlite');
  });
  after(async () => {
    echo.close();
    await registry.close();
  });

  it('sends the token as Authorization: Bearer instead of the API key', async () => {
    seen = [];
    const api = new RegistryApi({ url, apiKey: 'pr_key', bearer: { token: async () => 'tok-1', refresh: async () => 'tok-2' } });
    assert.deepEqual(await api.environments(), ['dev']);
    assert.equal(seen[0]!.authorization, 'Bearer tok-1');
    assert.equal(seen[0]!['x-api-key'], undefined);
    // Not signed in (no token right now): the API key, as before.
    await new RegistryApi({ url, apiKey: 'pr_key', bearer: { token: async () => undefined, refresh: async () => undefined } }).environments();
    assert.equal(seen[1]!['x-api-key'], 'pr_key');
    assert.equal(seen[1]!.authorization, undefined);
  });

  it('refreshes once on a 401 and retries with the new token; a second 401 is the answer', async () => {
    seen = [];
    reject = new Set(['Bearer old']);
    let refreshes = 0;
    const api = new RegistryApi({ url, bearer: { token: async () => 'old', refresh: async () => (refreshes++, 'new') } });
    assert.deepEqual(await api.environments(), ['dev']);
    assert.deepEqual(seen.map((h) => h.authorization), ['Bearer old', 'Bearer new']);
    assert.equal(refreshes, 1);

    reject = new Set(['Bearer old', 'Bearer new']);
    await assert.rejects(api.environments(), (err: unknown) => err instanceof RegistryError && err.status === 401);
    assert.equal(refreshes, 2);
    reject = new Set();
  });

  it('reads what a registry advertises for sign-in, and nothing from one without it', async () => {
    assert.deepEqual(await new RegistryApi({ url }).authConfig(), { issuer: 'https://idp.example.com', clientId: 'vscode', audience: 'prompts', scopes: ['openid', 'email'] });
    // This branch's registry has no /auth/config route yet: a 404, read as "no sign-in".
    assert.equal(await new RegistryApi({ url: registry.url }).authConfig(), undefined);
  });

  it('a real registry refuses a token it does not know, after one refresh', async () => {
    let refreshes = 0;
    const api = new RegistryApi({ url: registry.url, bearer: { token: async () => 'not-a-jwt', refresh: async () => (refreshes++, 'still-not-a-jwt') } });
    await assert.rejects(api.environments(), (err: unknown) => err instanceof RegistryError && err.status === 401);
    assert.equal(refreshes, 1);
  });
});
