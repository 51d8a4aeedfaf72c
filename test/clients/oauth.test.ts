/**
 * Sign-in with the device authorization flow (client/oauth.ts) against a real
 * OpenID Connect provider (oidc-provider on 127.0.0.1), and the SDK sending
 * the tokens it gets.
 */
import assert from 'node:assert/strict';
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
  resolveOidcConfig,
  revokeToken,
  toSession,
  type DeviceAuthorization,
  type OidcConfig,
  type ProviderMetadata,
} from '../../client/index.js';
import { DIALECTS } from '../support/db.js';
import { AUDIENCE, startIdp, type IdpOptions, type TestIdp } from '../support/idp.js';
import { ADMIN_KEY, startTestServer, type TestServer } from '../support/server.js';
import { eventually } from '../support/wait.js';

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

/** Signs `login` in through the device flow, as the extension does: the registry's advertised client and audience. */
async function signIn(idp: TestIdp, registryUrl: string, login: string) {
  const config = resolveOidcConfig({}, await new RegistryApi({ url: registryUrl }).authConfig())!;
  const meta = await discover(config.issuer);
  const device = await requestDeviceAuthorization(meta, config);
  await idp.approve(device.verificationUri, device.userCode, login);
  return { meta, config, tokens: await pollDeviceToken(meta, config.clientId, device, recordingSleep()) };
}

for (const dialect of DIALECTS) {
  describe(`RegistryApi with tokens from a sign-in, against a registry trusting the provider (${dialect})`, () => {
    let idp: TestIdp;
    let registry: TestServer;
    before(async () => {
      idp = await startIdp({ interval: 1, groups: { vic: ['readers'] } });
      registry = await startTestServer(dialect, { oidc: idp.config() });
    });
    after(async () => {
      await registry.close();
      await idp.close();
    });

    it('learns the provider from the registry, and the device-flow token is accepted as the person', async () => {
      const { config, tokens } = await signIn(idp, registry.url, 'ann');
      assert.deepEqual(config, { issuer: idp.issuer, clientId: idp.clientId, audience: idp.audience, scopes: DEFAULT_SCOPES });
      // A wrong API key beside the token: the token is what is sent.
      const api = new RegistryApi({ url: registry.url, apiKey: 'pr_wrong', bearer: { token: async () => tokens.accessToken, refresh: async () => undefined } });
      const me = await api.me();
      assert.deepEqual([me.name, me.kind, me.credential, me.oidc?.roles], ['ann@example.com', 'oidc', 'oidc:ann', ['ml-eng']]);
      const v = await api.createVersion('welcome', { content: 'Hi {{name}}' });
      assert.equal(v.created_by, 'ann@example.com');
      // Not signed in (no token right now): the API key, as before.
      const keyed = new RegistryApi({ url: registry.url, apiKey: ADMIN_KEY, bearer: { token: async () => undefined, refresh: async () => undefined } });
      assert.equal((await keyed.me()).kind, 'api_key');
    });

    it('refreshes once on a 401 and retries with the new token; a second 401 is the answer', async () => {
      const { meta, config, tokens } = await signIn(idp, registry.url, 'ann');
      let current = 'not-a-jwt';
      let refreshes = 0;
      const bearer = {
        token: async () => current,
        refresh: async () => {
          refreshes++;
          current = (await refreshTokens(meta.token_endpoint, config.clientId, tokens)).accessToken;
          return current;
        },
      };
      const api = new RegistryApi({ url: registry.url, bearer });
      assert.equal((await api.me()).name, 'ann@example.com');
      assert.equal(refreshes, 1);

      let refused = 0;
      const never = new RegistryApi({ url: registry.url, bearer: { token: async () => 'not-a-jwt', refresh: async () => (refused++, 'still-not-a-jwt') } });
      await assert.rejects(never.environments(), (err: unknown) => err instanceof RegistryError && err.status === 401 && /well-formed/.test(err.message));
      assert.equal(refused, 1);
    });

    it('refuses a person without the write scope with a 403 that names what is missing', async () => {
      const { tokens } = await signIn(idp, registry.url, 'vic');
      const api = new RegistryApi({ url: registry.url, bearer: { token: async () => tokens.accessToken, refresh: async () => undefined } });
      assert.deepEqual((await api.listPrompts()).items.map((p) => p.name), ['welcome'], 'reading is allowed');
      await assert.rejects(api.createVersion('welcome', { content: 'Bye {{name}}' }), (err: unknown) => {
        assert.ok(err instanceof RegistryError);
        assert.equal(err.status, 403);
        assert.equal(err.message, 'the credential "vic@example.com" lacks the scope "write" (it has: read)');
        return true;
      });
    });

    it('streams events with the token, and refreshes it when the stream answers 401', async () => {
      const { meta, config, tokens } = await signIn(idp, registry.url, 'ann');
      let current = 'not-a-jwt';
      const api = new RegistryApi({
        url: registry.url,
        bearer: { token: async () => current, refresh: async () => (current = (await refreshTokens(meta.token_endpoint, config.clientId, tokens)).accessToken) },
      });
      const errors: string[] = [];
      const events: string[] = [];
      const sub = api.events({ onEvent: (e) => events.push(`${e.type} ${e.prompt}`), onResync: () => undefined, onError: (e) => errors.push(e.message) });
      try {
        // The first connect is refused; the retry refreshes the token and is let in. Publish until the stream carries it.
        for (let n = 1; !events.length && n <= 100; n++) {
          assert.equal((await registry.admin.post('/prompts/streamed/versions', { content: `v${n} {{x}}` })).status, 201);
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(events[0], 'version.created streamed');
        assert.notEqual(current, 'not-a-jwt', 'refreshed after the 401');
        assert.match(errors[0] ?? '', /answered 401/);
      } finally {
        sub.close();
      }
    });

    it("reconnects with a refreshed token when the registry ends the stream at the token's expiry", async () => {
      const mint = (seconds: number) =>
        idp.mint({ iss: idp.issuer, aud: AUDIENCE, sub: 'ann-stream', email: 'ann@example.com', groups: ['ml-eng'], exp: Math.floor(Date.now() / 1000) + seconds });
      let current = await mint(3);
      let refreshes = 0;
      const api = new RegistryApi({ url: registry.url, bearer: { token: async () => current, refresh: async () => (refreshes++, (current = await mint(300))) } });
      const errors: string[] = [];
      const events: string[] = [];
      let resyncs = 0;
      const sub = api.events({ onEvent: (e) => events.push(`${e.type} ${e.prompt}`), onResync: () => resyncs++, onError: (e) => errors.push(e.message) });
      try {
        await eventually(() => errors.some((e) => /ended its event stream: the bearer token expired/.test(e)), 'the registry ends the stream at exp', 20_000);
        await eventually(() => resyncs === 1, 'the client connects again', 20_000);
        assert.equal(refreshes, 1, 'with a refreshed token, not the expired one');
        assert.deepEqual(events, [], 'the ending is not passed on as a change');
        for (let n = 1; !events.length && n <= 100; n++) {
          assert.equal((await registry.admin.post('/prompts/restreamed/versions', { content: `v${n}` })).status, 201);
          await new Promise((r) => setTimeout(r, 100));
        }
        assert.equal(events[0], 'version.created restreamed');
      } finally {
        sub.close();
      }
    });
  });
}
