// Runs inside VS Code: Sign In against a real identity provider (PR_SIGNIN_IDP), for the real
// registry (PR_SIGNIN_REGISTRY) trusting it, which advertises it at GET /auth/config. No oidc
// settings: the extension learns the provider from the registry. PR_SIGNIN_ADMIN_KEY checks what it recorded.
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { ExtensionApi } from '../../../extension/extension.js';
import { revokeToken } from '../../../client/index.js';
import { approveDevice } from '../../support/idp-user.js';
import { until as untilWithin } from './support.js';

const until = <T>(what: string, get: () => T | undefined | false | Promise<T | undefined | false>, ms = 60_000) => untilWithin(what, get, ms);

declare const describe: (name: string, fn: () => void) => void;
declare const it: (name: string, fn: () => Promise<void> | void) => void;

const registry = process.env.PR_SIGNIN_REGISTRY!;
const adminKey = process.env.PR_SIGNIN_ADMIN_KEY!;
/** The registry's API as its admin, to check what the extension did. */
const asAdmin = async (path: string) => (await (await fetch(`${registry}${path}`, { headers: { 'X-API-Key': adminKey } })).json()) as Record<string, unknown>;

describe('Sign In with the identity provider', () => {
  it('signs in with the device flow, keeps the tokens in secret storage, refreshes them, and signs out', async () => {
    const api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    await vscode.workspace.getConfiguration('promptRegistry').update('serverUrl', registry, vscode.ConfigurationTarget.Global);
    await until('asks to sign in (no API key)', () => api.connection.state.kind === 'needs-key');

    const signingIn = vscode.commands.executeCommand<string | undefined>('promptRegistry.signIn');
    const pending = await until('a device code', () => api.accounts.pending);
    assert.equal(pending.config.issuer, process.env.PR_SIGNIN_IDP, 'the provider the registry advertises');
    assert.match(pending.device.userCode, /^[A-Z]{4}-[A-Z]{4}$/);
    // The user's part, at the provider's own pages, while the extension polls.
    await approveDevice(pending.device.verificationUri, pending.device.userCode, 'ann');
    assert.equal(await signingIn, 'ann@example.com');
    assert.equal(api.accounts.pending, undefined);

    const first = api.accounts.signedIn!;
    assert.equal(first.url, registry);
    assert.equal(first.session.identity.label, 'ann@example.com');
    assert.ok(first.session.tokens.refreshToken);
    // Read back from secret storage, as the next window would.
    await api.accounts.load(registry);
    assert.deepEqual(api.accounts.signedIn?.session, first.session);

    // The registry accepts the token: it knows the person, the tree loads, a publish is theirs.
    await until('connected with the token', () => api.connection.state.kind === 'connected');
    const me = await api.connection.api.me();
    assert.deepEqual([me.name, me.kind, me.credential], ['ann@example.com', 'oidc', 'oidc:ann']);
    assert.deepEqual((await api.prompts.getChildren()).map((n) => String(n.label)), ['seeded']);
    const file = join(vscode.workspace.workspaceFolders![0]!.uri.fsPath, 'signed.prompt');
    writeFileSync(file, '---\nname: signed\nsamples:\n  name: Ann\n---\nHi {{name}}, from a signed-in publish.\n');
    const published = await vscode.commands.executeCommand<{ version: number } | undefined>('promptRegistry.publish', vscode.Uri.file(file));
    assert.equal(published?.version, 1);
    assert.equal((await asAdmin('/prompts/signed/versions/1')).created_by, 'ann@example.com');

    // The provider's access tokens live a few seconds: the timer refreshes before expiry.
    const refreshed = await until('a refreshed access token', () => {
      const now = api.accounts.signedIn?.session.tokens;
      return now && now.accessToken !== first.session.tokens.accessToken && now;
    });
    assert.notEqual(refreshed.refreshToken, first.session.tokens.refreshToken, 'the rotated refresh token is kept');
    await api.accounts.load(registry);
    assert.equal(api.accounts.signedIn?.session.tokens.accessToken, refreshed.accessToken, 'and stored');
    assert.equal(api.accounts.signedIn?.session.identity.label, 'ann@example.com');

    // The registry refuses the token in hand (as it would a mangled or revoked one): one refresh, and the request goes through.
    // Right after a timer refresh, so the next one is seconds away and this is the 401's doing.
    await new Promise<void>((resolve) => {
      const sub = api.accounts.onDidChange((why) => why === 'refreshed' && (sub.dispose(), resolve()));
    });
    api.accounts.signedIn!.session.tokens.accessToken = 'not-a-jwt';
    assert.equal((await api.connection.api.me()).name, 'ann@example.com');
    assert.notEqual(api.accounts.signedIn!.session.tokens.accessToken, 'not-a-jwt', 'refreshed after the 401');

    await vscode.commands.executeCommand('promptRegistry.signOut');
    assert.equal(api.accounts.signedIn, undefined);
    await api.accounts.load(registry);
    assert.equal(api.accounts.signedIn, undefined, 'gone from secret storage');
    await until('back to asking for a sign-in or key', () => api.connection.state.kind === 'needs-key');

    // API keys remain an option.
    await vscode.commands.executeCommand('promptRegistry.setApiKey', adminKey);
    await until('connected with the key', () => api.connection.state.kind === 'connected');
    assert.equal((await api.connection.api.me()).kind, 'api_key');
  });

  it('ends a sign-in the provider no longer honours, and falls back to the API key', async () => {
    const api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    const signingIn = vscode.commands.executeCommand<string | undefined>('promptRegistry.signIn');
    const pending = await until('a device code', () => api.accounts.pending);
    await approveDevice(pending.device.verificationUri, pending.device.userCode, 'bob');
    assert.equal(await signingIn, 'bob@example.com');
    await until('connected with the token', () => api.connection.state.kind === 'connected' && api.accounts.signedIn);
    const { session } = api.accounts.signedIn!;

    // Revoked elsewhere (an admin, another sign-out): the next refresh is refused.
    await revokeToken(session.revocationEndpoint!, session.clientId, session.tokens.refreshToken!, 'refresh_token');
    assert.equal(await api.accounts.refresh(), undefined);
    assert.equal(api.accounts.signedIn, undefined);
    await api.accounts.load(registry);
    assert.equal(api.accounts.signedIn, undefined, 'gone from secret storage');
    await until('reconnected with the key', async () => api.connection.state.kind === 'connected' && (await api.connection.api.me()).kind === 'api_key');
  });

  it('says a signed-in person whose groups grant nothing is turned down, not that the registry is unreachable', async () => {
    const api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    const signingIn = vscode.commands.executeCommand<string | undefined>('promptRegistry.signIn');
    const pending = await until('a device code', () => api.accounts.pending);
    await approveDevice(pending.device.verificationUri, pending.device.userCode, 'nemo'); // in no group
    assert.equal(await signingIn, 'nemo@example.com');
    const state = await until('turned down', () => api.connection.state.kind === 'refused' && api.connection.state);
    assert.equal(state.message, `The Prompt Registry at ${registry} turned down the sign-in as nemo@example.com: the credential "nemo@example.com" lacks the scope "read" (it has: none)`);
    assert.deepEqual(await api.prompts.getChildren(), [], 'the welcome view explains it');
    await vscode.commands.executeCommand('promptRegistry.signOut');
    await until('connected with the key again', () => api.connection.state.kind === 'connected');
  });

  it('takes the provider from settings over what the registry advertises, field by field', async () => {
    const api = await vscode.extensions.getExtension<ExtensionApi>('prompt-registry.prompt-registry')!.activate();
    const settings = vscode.workspace.getConfiguration('promptRegistry');
    const set = (key: string, value: unknown) => settings.update(key, value, vscode.ConfigurationTarget.Global);
    try {
      await set('oidc.scopes', ['openid', 'offline_access']);
      assert.deepEqual(await api.accounts.config(registry), { issuer: process.env.PR_SIGNIN_IDP, clientId: 'prompt-registry-vscode', audience: 'https://registry.test', scopes: ['openid', 'offline_access'] });
      // Another issuer: the registry's client id is not for it.
      await set('oidc.issuer', 'https://login.example.com/');
      await assert.rejects(api.accounts.config(registry), /names no identity provider/);
      await set('oidc.clientId', 'editor');
      assert.deepEqual(await api.accounts.config(registry), { issuer: 'https://login.example.com', clientId: 'editor', scopes: ['openid', 'offline_access'] });
    } finally {
      for (const key of ['oidc.scopes', 'oidc.issuer', 'oidc.clientId']) await set(key, undefined);
    }
  });
});
