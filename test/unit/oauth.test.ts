import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SCOPES, identityOf, parseSession, readAuthConfig, refreshAt, resolveOidcConfig, type StoredSession } from '../../client/oauth.js';

const jwt = (claims: Record<string, unknown>) => `e30.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.sig`;

describe('when to refresh an access token', () => {
  const at = (lifetimeS: number) => refreshAt({ accessToken: 'a', obtainedAt: 1_000_000, expiresAt: 1_000_000 + lifetimeS * 1000 })! - 1_000_000;

  it('at 80 % of its lifetime or 60 s before expiry, whichever is first', () => {
    assert.equal(at(3600), 2_880_000, 'an hour: at 48 min (80 %)');
    assert.equal(at(600), 480_000, 'ten minutes: at 8 min (80 %)');
    assert.equal(at(200), 140_000, 'a bit over 3 min: 60 s before');
  });

  it('never before half its lifetime, and not at all without one', () => {
    assert.equal(at(100), 50_000);
    assert.equal(at(6), 3_000);
    assert.equal(refreshAt({ accessToken: 'a', obtainedAt: 1 }), undefined);
  });
});

describe('what the registry advertises for sign-in', () => {
  it("reads the server's GET /auth/config answer", () => {
    const expected = { issuer: 'https://idp', clientId: 'vscode', audience: 'prompts', scopes: ['openid', 'email'] };
    const answer = { api_key: { header: 'X-API-Key' }, oidc: { issuer: 'https://idp', client_id: 'vscode', audience: 'prompts', scopes: ['openid', 'email'], token_endpoint: 'https://idp/token' } };
    assert.deepEqual(readAuthConfig(answer), expected);
    assert.deepEqual(readAuthConfig({ oidc: { issuer: 'https://idp', client_id: null, scopes: [] } }), { issuer: 'https://idp' });
    assert.deepEqual(readAuthConfig({ oidc: { issuer: 'https://idp' } }), { issuer: 'https://idp' });
  });

  it('is nothing without an issuer', () => {
    assert.equal(readAuthConfig({ oidc: null }), undefined);
    assert.equal(readAuthConfig({ oidc: { client_id: 'x' } }), undefined);
    assert.equal(readAuthConfig('nope'), undefined);
  });

  it('settings win field by field; a different issuer in settings drops the registry client id and audience', () => {
    const server = { issuer: 'https://idp/', clientId: 'vscode', audience: 'prompts', scopes: ['openid'] };
    assert.deepEqual(resolveOidcConfig({}, server), server);
    assert.deepEqual(resolveOidcConfig({ clientId: 'mine', scopes: ['openid', 'offline_access'] }, server), { ...server, clientId: 'mine', scopes: ['openid', 'offline_access'] });
    assert.deepEqual(resolveOidcConfig({ issuer: 'https://idp' }, server), { ...server, issuer: 'https://idp' }, 'the same issuer, without the slash');
    assert.equal(resolveOidcConfig({ issuer: 'https://other' }, server), undefined, 'no client id for the other issuer');
    assert.deepEqual(resolveOidcConfig({ issuer: 'https://other', clientId: 'c' }, server), { issuer: 'https://other', clientId: 'c', scopes: DEFAULT_SCOPES });
    assert.equal(resolveOidcConfig({}, undefined), undefined);
  });
});

describe('who is signed in', () => {
  it('is the email, else the preferred username, else the subject of the ID token', () => {
    assert.equal(identityOf(jwt({ sub: 's1', email: 'ann@example.com', preferred_username: 'ann' })).label, 'ann@example.com');
    assert.equal(identityOf(jwt({ sub: 's1', preferred_username: 'ann' })).label, 'ann');
    assert.deepEqual(identityOf(jwt({ sub: 's1' })), { subject: 's1', label: 's1' });
    assert.equal(identityOf(undefined).label, 'unknown user');
    assert.equal(identityOf('not.a-jwt').label, 'unknown user');
  });

  it('reads stored sessions back, and nothing from damaged ones', () => {
    const s: StoredSession = { issuer: 'i', clientId: 'c', tokenEndpoint: 't', tokens: { accessToken: 'a', obtainedAt: 1 }, identity: { subject: 's', label: 's' } };
    assert.deepEqual(parseSession(JSON.stringify(s)), s);
    assert.equal(parseSession('{"issuer":"i"}'), undefined);
    assert.equal(parseSession('{'), undefined);
    assert.equal(parseSession(undefined), undefined);
  });
});
