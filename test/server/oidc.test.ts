import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { OidcVerifier, rolesOf } from '../../server/auth/oidc.js';
import { oidcConfig } from '../../server/config.js';
import { DIALECTS } from '../support/db.js';
import { AUDIENCE, newKey, startIdp, type TestIdp } from '../support/idp.js';
import { api, startTestServer, type Api, type TestServer } from '../support/server.js';

const bearer = (url: string, token: string): Api => {
  const client = api(url, null);
  const h = { Authorization: `Bearer ${token}` };
  return {
    get: (path, headers) => client.get(path, { ...h, ...headers }),
    post: (path, body, headers) => client.post(path, body, { ...h, ...headers }),
    patch: (path, body, headers) => client.patch(path, body, { ...h, ...headers }),
    delete: (path, headers) => client.delete(path, { ...h, ...headers }),
    raw: (method, path, body, headers) => client.raw(method, path, body, { ...h, ...headers }),
  };
};

const now = () => Math.floor(Date.now() / 1000);

for (const dialect of DIALECTS) {
  describe(`OpenID Connect bearer tokens against a real provider (${dialect})`, () => {
    let idp: TestIdp;
    let s: TestServer;
    const as = async (person: string) => bearer(s.url, await idp.token(person));

    before(async () => {
      idp = await startIdp();
      s = await startTestServer(dialect, { oidc: idp.config() });
      assert.equal((await s.admin.post('/prompts/greet/versions', { content: 'Hi {{name}}' })).status, 201);
    });
    after(async () => {
      await s.close();
      await idp.close();
    });

    it('tells a client how to sign in, with no credential', async () => {
      const r = await api(s.url, null).get('/auth/config');
      assert.equal(r.status, 200);
      assert.equal(r.body.oidc.issuer, idp.issuer);
      assert.equal(r.body.oidc.audience, AUDIENCE);
      assert.equal(r.body.oidc.client_id, 'prompt-registry-vscode');
      assert.equal(r.body.oidc.device_authorization_endpoint, `${idp.issuer}/device/auth`);
      assert.equal(r.body.oidc.token_endpoint, `${idp.issuer}/token`);
      assert.deepEqual(r.body.api_key, { header: 'X-API-Key' });
    });

    it('accepts a token from the provider with the scopes its groups map to, and says who the caller is', async () => {
      const bob = await as('bob');
      const me = await bob.get('/me');
      assert.equal(me.status, 200, JSON.stringify(me.body));
      assert.equal(me.body.name, 'bob@example.com');
      assert.equal(me.body.kind, 'oidc');
      assert.equal(me.body.credential, 'oidc:bob');
      assert.deepEqual(me.body.scopes, ['read', 'write', 'deploy:staging']);
      assert.deepEqual(me.body.oidc.roles, ['ml-eng']);
      assert.equal(me.body.can.write, true);
      assert.equal(me.body.can.admin, false);
      assert.equal(me.body.can.deploy.staging.allowed, true);
      assert.equal(me.body.can.deploy.production.allowed, false);
      assert.ok(Date.parse(me.body.expires_at) > Date.now());

      const unverified = await idp.mint({ iss: idp.issuer, aud: AUDIENCE, sub: 'eve-42', email: 'alice@example.com', email_verified: false, groups: ['ml-eng'], exp: now() + 300 });
      assert.equal((await bearer(s.url, unverified).get('/me')).body.name, 'eve-42', 'an unverified email is not an identity');

      const alice = await (await as('alice')).get('/me');
      assert.deepEqual(alice.body.scopes, ['admin']);
      assert.equal(alice.body.can.deploy.production.allowed, true);
    });

    it('records the person as created_by, deployed_by and the audit actor', async () => {
      const bob = await as('bob');
      const v = await bob.post('/prompts/greet/versions', { content: 'Hello {{name}}' });
      assert.equal(v.status, 201);
      assert.equal(v.body.created_by, 'bob@example.com');
      const d = await bob.post('/prompts/greet/deployments', { version: 2, environment: 'staging' });
      assert.equal(d.status, 201);
      assert.equal(d.body.deployed_by, 'bob@example.com');
      const denied = await bob.post('/prompts/greet/deployments', { version: 2, environment: 'production' });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error.code, 'forbidden');
      assert.equal((await bob.get('/keys')).status, 403);

      const log = await s.admin.get('/audit?actor=bob@example.com');
      assert.deepEqual(log.body.items.map((e: { action: string }) => e.action).sort(), ['deployment.created', 'version.created']);
      assert.ok(log.body.items.every((e: { credential: string }) => e.credential === 'oidc:bob'));
    });

    it('gives a token whose groups map to nothing no scope: /me works, everything else is 403', async () => {
      const nemo = await as('nemo');
      const me = await nemo.get('/me');
      assert.equal(me.status, 200);
      assert.equal(me.body.name, 'nemo', 'no email: the subject');
      assert.deepEqual(me.body.scopes, []);
      assert.equal((await nemo.get('/prompts')).status, 403);
      assert.equal((await nemo.get('/prompts/greet/latest?environment=staging')).status, 403);
    });

    it('serves resolves for a verified token from the fast path, the same as from the route', async () => {
      const bob = await as('bob');
      const viaRoute = await bob.get('/prompts/greet/latest?environment=staging&x=1');
      const fast = await bob.get('/prompts/greet/latest?environment=staging');
      assert.equal(fast.status, 200);
      assert.deepEqual(fast.body, viaRoute.body);
      assert.equal(fast.body.version, 2);
    });

    it('runs approvals between people signed in through the provider', async () => {
      assert.equal((await s.admin.raw('PUT', '/environments/production/policy', JSON.stringify({ required_approvals: 1 }), { 'Content-Type': 'application/json' })).status, 200);
      const carol = await as('carol');
      const dave = await as('dave');
      const asked = await carol.post('/prompts/greet/deployments', { version: 2, environment: 'production' });
      assert.equal(asked.status, 202);
      assert.equal(asked.body.requested_by, 'carol@example.com');
      assert.equal(asked.body.requested_credential, 'oidc:carol');
      assert.equal((await carol.post(`/deployment-requests/${asked.body.id}/approve`, {})).body.error.code, 'self_approval');
      assert.equal((await (await as('bob')).post(`/deployment-requests/${asked.body.id}/approve`, {})).status, 403, 'ml-eng may not deploy to production');
      const done = await dave.post(`/deployment-requests/${asked.body.id}/approve`, {});
      assert.equal(done.body.status, 'applied');
      const deployed = (await s.admin.get('/prompts/greet/deployments?environment=production&limit=1')).body.items[0];
      assert.equal(deployed.deployed_by, 'carol@example.com');
      const approval = (await s.admin.get('/audit?action=deployment_request.approved&limit=1')).body.items[0];
      assert.equal(approval.actor, 'dave@example.com');
      assert.equal(approval.credential, 'oidc:dave');
    });

    it('refuses bad tokens with 401 and the error shape', async () => {
      const good = await idp.token('bob');
      const base = { iss: idp.issuer, aud: AUDIENCE, sub: 'mallory', email: 'mallory@example.com', groups: ['prompt-admins'] };
      const other = await newKey('k1'); // another issuer's key, even claiming the provider's key id
      const [h, p] = good.split('.') as [string, string, string];
      const cases: Array<[string, string, RegExp]> = [
        ['wrong issuer', await idp.mint({ ...base, iss: 'https://login.example.org', exp: now() + 300 }), /not issued by/],
        ['wrong audience', await idp.token('bob', 'https://elsewhere.test'), /audience/],
        ['wrong audience (minted)', await idp.mint({ ...base, aud: 'https://elsewhere.test', exp: now() + 300 }), /audience/],
        ['expired', await idp.mint({ ...base, exp: now() - 120 }), /expired/],
        ['not yet valid', await idp.mint({ ...base, nbf: now() + 600, exp: now() + 900 }), /not valid yet/],
        ['no expiry', await idp.mint({ ...base }), /"exp" claim/],
        ['bad signature', `${h}.${p}.${good.split('.')[2]!.slice(0, -4)}AAAA`, /signature/],
        ['alg none', `${Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url')}.${p}.`, /algorithm/],
        ['HS256 with the public key as secret', await idp.mint({ ...base, exp: now() + 300 }, { key: { kty: 'oct', k: Buffer.from(JSON.stringify(idp.key)).toString('base64url') }, alg: 'HS256' }), /algorithm/],
        ['another issuer\'s key, same kid', await idp.mint({ ...base, exp: now() + 300 }, { key: other }), /signature/],
        ['another issuer\'s key, its own kid', await idp.mint({ ...base, exp: now() + 300 }, { key: other, kid: 'intruder' }), /not signed by a key/],
        ['garbage', 'not-a-jwt', /well-formed/],
      ];
      for (const [what, token, message] of cases) {
        const r = await bearer(s.url, token).get('/me');
        assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
        assert.equal(r.body.error.code, 'unauthorized', what);
        assert.match(r.body.error.message, message, what);
        assert.match(r.headers.get('www-authenticate') ?? '', /^Bearer realm="prompt-registry", error="invalid_token"/, what);
      }
      const wrongScheme = await api(s.url, null).get('/me', { Authorization: 'Basic Ym9iOnB3' });
      assert.equal(wrongScheme.status, 401);
      assert.match(wrongScheme.body.error.message, /Bearer/);
      // API keys still work beside tokens.
      assert.equal((await s.admin.get('/me')).body.kind, 'api_key');
    });
  });
}

describe('OpenID Connect verification: key rotation, configuration', () => {
  let idp: TestIdp;
  before(async () => {
    idp = await startIdp();
  });
  after(() => idp.close());

  it('follows a key rotation: an unknown key id refetches the JWKS', async () => {
    const verifier = new OidcVerifier(idp.config({ jwksCooldownMs: 0 }));
    assert.equal((await verifier.verify(await idp.token('carol'))).name, 'carol@example.com');
    const fetched = idp.hits('/jwks');
    await idp.rotate();
    const rotated = await verifier.verify(await idp.token('dave'));
    assert.equal(rotated.name, 'dave@example.com');
    assert.deepEqual(rotated.scopes, ['read', 'deploy:production', 'write', 'deploy:staging']);
    assert.equal(idp.hits('/jwks'), fetched + 1);
  });

  it('refetches the JWKS at most once per cooldown, however many unknown key ids arrive', async () => {
    const verifier = new OidcVerifier(idp.config({ jwksCooldownMs: 600_000 }));
    await verifier.verify(await idp.token('carol'));
    const fetched = idp.hits('/jwks');
    const stranger = await newKey('unknown');
    for (let i = 0; i < 5; i++) {
      const token = await idp.mint({ iss: idp.issuer, aud: AUDIENCE, sub: `x${i}`, exp: now() + 300 }, { key: stranger, kid: `unknown-${i}` });
      await assert.rejects(verifier.verify(token), (err: { code?: string; kind?: string }) => err.kind === 'unauthorized');
    }
    assert.ok(idp.hits('/jwks') <= fetched, `no refetch inside the cooldown (${idp.hits('/jwks') - fetched} extra)`);
  });

  it('answers 503 when the provider cannot be reached, and 401 is kept for bad tokens', async () => {
    const verifier = new OidcVerifier({ ...idp.config(), issuer: 'http://127.0.0.1:9' });
    await assert.rejects(verifier.verify('a.b.c'), (err: { kind?: string; code?: string }) => err.kind === 'unavailable' && err.code === 'identity_provider_unavailable');
  });

  it('reads roles from a claim by name or by dotted path, as an array or a string', () => {
    assert.deepEqual(rolesOf({ groups: ['a', 'b'] }, 'groups'), ['a', 'b']);
    assert.deepEqual(rolesOf({ realm_access: { roles: ['admin'] } }, 'realm_access.roles'), ['admin']);
    assert.deepEqual(rolesOf({ 'https://example.com/roles': ['x'] }, 'https://example.com/roles'), ['x']);
    assert.deepEqual(rolesOf({ roles: 'a b,c' }, 'roles'), ['a', 'b', 'c']);
    assert.deepEqual(rolesOf({ roles: 3 }, 'roles'), []);
  });

  it('takes its configuration from the environment, and refuses what would be unsafe or unclear', () => {
    const env = {
      PROMPT_REGISTRY_OIDC_ISSUER: 'https://login.example.com/realms/main',
      PROMPT_REGISTRY_OIDC_AUDIENCE: 'prompt-registry',
      PROMPT_REGISTRY_OIDC_ROLE_MAP: '{"prompt-admins":["admin"],"ml-eng":["read","write","deploy:staging"]}',
    };
    const c = oidcConfig({}, env)!;
    assert.equal(c.rolesClaim, 'groups');
    assert.deepEqual(c.roleMap['ml-eng'], ['read', 'write', 'deploy:staging']);
    assert.equal(oidcConfig({ oidcRolesClaim: 'roles' }, env)!.rolesClaim, 'roles', 'a flag wins over the environment');
    assert.equal(oidcConfig({}, {}), undefined);
    assert.throws(() => oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_ISSUER: 'http://idp.example.com' }), /http:\/\/ on a non-loopback/);
    assert.ok(oidcConfig({ oidcAllowInsecureHttp: true }, { ...env, PROMPT_REGISTRY_OIDC_ISSUER: 'http://idp.example.com' }));
    assert.ok(oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_ISSUER: 'http://127.0.0.1:8080' }));
    assert.throws(() => oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_AUDIENCE: '' }), /AUDIENCE/);
    assert.throws(() => oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_ROLE_MAP: '{"x":["root"]}' }), /unknown scope "root"/);
    assert.throws(() => oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_ROLE_MAP: 'nope' }), /not JSON/);
    assert.deepEqual(oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_SCOPES: 'openid email' })!.scopes, ['openid', 'email']);
    assert.throws(() => oidcConfig({}, { ...env, PROMPT_REGISTRY_OIDC_SCOPES: 'email offline_access' }), /must include "openid"/);
  });
});

describe('bearer tokens on a registry without OpenID Connect', () => {
  let s: TestServer;
  before(async () => {
    s = await startTestServer('sqlite');
  });
  after(() => s.close());

  it('refuses them with a 401 that says to use an API key, and /auth/config says so', async () => {
    const r = await bearer(s.url, 'eyJhbGciOiJSUzI1NiJ9.e30.sig').get('/me');
    assert.equal(r.status, 401);
    assert.match(r.body.error.message, /no OpenID Connect issuer/);
    assert.deepEqual((await api(s.url, null).get('/auth/config')).body, { api_key: { header: 'X-API-Key' }, oidc: null });
  });
});
