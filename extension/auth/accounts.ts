import * as vscode from 'vscode';
import {
  OAuthError,
  RegistryApi,
  discover,
  identityOf,
  parseSession,
  pollDeviceToken,
  refreshAt,
  refreshTokens,
  requestDeviceAuthorization,
  resolveOidcConfig,
  revokeToken,
  toSession,
  type BearerTokens,
  type DeviceAuthorization,
  type OidcConfig,
  type ProviderMetadata,
  type StoredSession,
} from '../../client/index.js';
import type { Secrets, Settings } from '../config.js';
import { Disposable } from '../lifecycle.js';

/** Why the sign-in changed: Connection reconnects on all but `loaded` and `refreshed`. */
export type AccountChange = 'loaded' | 'signed-in' | 'signed-out' | 'refreshed' | 'expired';

/** A device flow started: what to show the user, and what finishing it needs. */
export interface PendingSignIn {
  url: string;
  config: OidcConfig;
  meta: ProviderMetadata;
  device: DeviceAuthorization;
}

/** Raised when sign-in can't start; its message is for the user. */
export class SignInUnavailableError extends Error {}

/** Retry a refresh that failed for want of the network after this long. */
const RETRY_MS = 30_000;
/** setTimeout's ceiling (about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * The sign-in to the current registry: tokens kept in SecretStorage under the
 * registry's URL, refreshed on a timer before they expire, when a request
 * finds them due, and when the registry answers 401.
 */
export class Accounts extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<AccountChange>());
  readonly onDidChange = this.changed.event;
  private current: { url: string; session: StoredSession } | undefined;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private refreshing: Promise<string | undefined> | undefined;
  /** The device flow waiting for the user, if any (tests read its code from here). */
  pending: PendingSignIn | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly secrets: Secrets,
  ) {
    super();
    this._register({ dispose: () => clearTimeout(this.timer) });
  }

  /** Who is signed in to which registry, if anyone. */
  get signedIn(): { url: string; session: StoredSession } | undefined {
    return this.current;
  }

  /** Reads the sign-in stored for the registry at `url`; none for the bundled registry (`undefined`). */
  async load(url: string | undefined): Promise<void> {
    const stored = url ? parseSession(await this.secrets.session(url)) : undefined;
    // A reconnect reads back what is already current: keep it, so a refresh in flight still lands.
    if (url && stored && this.current?.url === url && this.current.session.tokens.accessToken === stored.tokens.accessToken) return;
    this.set(url && stored ? { url, session: stored } : undefined, 'loaded');
  }

  /** Tokens for the SDK while signed in: the access token (refreshed first when due), and a refresh for a 401. */
  bearer(): BearerTokens | undefined {
    if (!this.current) return undefined;
    return {
      token: async () => {
        const due = this.current && refreshAt(this.current.session.tokens);
        if (due !== undefined && Date.now() >= due) await this.refresh();
        return this.current?.session.tokens.accessToken;
      },
      refresh: () => this.refresh(),
    };
  }

  /** Settings first, then what the registry advertises; a user-facing error when neither names an identity provider. */
  async config(url: string): Promise<OidcConfig> {
    const fromSettings = this.settings.oidc;
    const advertised = fromSettings.issuer && fromSettings.clientId ? undefined : await new RegistryApi({ url }).authConfig().catch(() => undefined);
    const config = resolveOidcConfig(fromSettings, advertised);
    if (!config) {
      throw new SignInUnavailableError(
        `The Prompt Registry at ${url} names no identity provider to sign in with. Set "promptRegistry.oidc.issuer" and "promptRegistry.oidc.clientId", or use an API key.`,
      );
    }
    return config;
  }

  /** Starts a device flow for the registry at `url`. */
  async start(url: string): Promise<PendingSignIn> {
    const config = await this.config(url);
    const meta = await discover(config.issuer);
    const device = await requestDeviceAuthorization(meta, config);
    this.pending = { url, config, meta, device };
    return this.pending;
  }

  /** Waits for the user to finish at the provider, then keeps the tokens. */
  async finish(pending: PendingSignIn, signal: AbortSignal): Promise<StoredSession> {
    try {
      const tokens = await pollDeviceToken(pending.meta, pending.config.clientId, pending.device, { signal });
      const session = toSession(pending.meta, pending.config.clientId, tokens);
      await this.secrets.setSession(pending.url, JSON.stringify(session));
      this.set({ url: pending.url, session }, 'signed-in');
      return session;
    } finally {
      if (this.pending === pending) this.pending = undefined;
    }
  }

  /** Forgets the tokens (and revokes the refresh token at the provider, if it can); API keys stay. */
  async signOut(): Promise<void> {
    const was = this.current;
    if (!was) return;
    await this.secrets.deleteSession(was.url);
    this.set(undefined, 'signed-out');
    const { revocationEndpoint, clientId, tokens } = was.session;
    const token = tokens.refreshToken ?? tokens.accessToken;
    // Best effort: the local copy is gone whatever the provider says.
    if (revocationEndpoint) await revokeToken(revocationEndpoint, clientId, token, tokens.refreshToken ? 'refresh_token' : 'access_token').catch(() => undefined);
  }

  /** Refreshes now (one refresh at a time); the new access token, or undefined when there is none. */
  refresh(): Promise<string | undefined> {
    return (this.refreshing ??= this.doRefresh().finally(() => (this.refreshing = undefined)));
  }

  private async doRefresh(): Promise<string | undefined> {
    const was = this.current;
    if (!was) return undefined;
    try {
      const tokens = await refreshTokens(was.session.tokenEndpoint, was.session.clientId, was.session.tokens);
      if (this.current !== was) return this.current?.session.tokens.accessToken; // signed out or switched meanwhile
      // The provider may send no new ID token: keep who was signed in.
      const fresh = tokens.idToken && tokens.idToken !== was.session.tokens.idToken;
      const session: StoredSession = { ...was.session, tokens, identity: fresh ? identityOf(tokens.idToken, was.session.identity.subject) : was.session.identity };
      await this.secrets.setSession(was.url, JSON.stringify(session));
      this.set({ url: was.url, session }, 'refreshed');
      return tokens.accessToken;
    } catch (err) {
      if (this.current !== was) return undefined;
      if (err instanceof OAuthError && err.code !== 'unreachable' && err.code !== 'invalid_response') {
        // The provider refused the refresh token (expired, revoked): that sign-in is over.
        await this.secrets.deleteSession(was.url);
        this.set(undefined, 'expired');
        return undefined;
      }
      // The provider is unreachable for now: keep the tokens and try again soon.
      this.schedule(Date.now() + RETRY_MS);
      return undefined;
    }
  }

  private set(next: { url: string; session: StoredSession } | undefined, why: AccountChange): void {
    this.current = next;
    this.schedule(next && refreshAt(next.session.tokens));
    this.changed.fire(why);
  }

  private schedule(at: number | undefined): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    if (at === undefined || !this.current) return;
    this.timer = setTimeout(() => void this.refresh(), Math.min(Math.max(at - Date.now(), 0), MAX_TIMER_MS));
  }
}
