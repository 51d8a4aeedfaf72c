import * as vscode from 'vscode';
import { RegistryApi, RegistryError } from '../client/index.js';
import type { Accounts } from './auth/accounts.js';
import type { Secrets, Settings } from './config.js';
import { Disposable } from './lifecycle.js';
import { LocalServer, LocalServerError, resolveRuntime } from './local-server.js';

export type ConnectionState =
  | { kind: 'connecting'; mode: 'local' | 'remote' }
  | { kind: 'connected'; mode: 'local' | 'remote'; url: string }
  | { kind: 'needs-key'; mode: 'remote'; url: string }
  /** The registry answered, but turned the credential down (401) or gives it no right to read (403). */
  | { kind: 'refused'; mode: 'local' | 'remote'; url: string; message: string }
  | { kind: 'unreachable'; mode: 'local' | 'remote'; url?: string; message: string };

/** Raised by commands when there is no registry to talk to; its message is for the user. */
export class NotConnectedError extends Error {}

/**
 * The registry the extension talks to: the one at `promptRegistry.serverUrl`
 * with the tokens of a sign-in or else the API key, both from SecretStorage;
 * or, with no URL, the bundled registry started on demand.
 */
export class Connection extends Disposable {
  private readonly changed = this._register(new vscode.EventEmitter<ConnectionState>());
  readonly onDidChange = this.changed.event;
  private current: ConnectionState = { kind: 'connecting', mode: 'local' };
  private client: RegistryApi | undefined;
  private local: LocalServer | undefined;
  private connecting: Promise<void> | undefined;

  constructor(
    private readonly settings: Settings,
    private readonly secrets: Secrets,
    private readonly context: { extensionPath: string; storagePath: string },
    private readonly output: vscode.OutputChannel,
    private readonly accounts: Accounts,
  ) {
    super();
    this._register(settings.onDidChange(['serverUrl', 'nodePath', 'localDataFolder'], () => void this.reconnect()));
    // Signing in or out changes the credential; a refresh doesn't (the SDK asks for the token each time).
    this._register(accounts.onDidChange((why) => why !== 'loaded' && why !== 'refreshed' && void this.reconnect()));
  }

  get state(): ConnectionState {
    return this.current;
  }

  private set(state: ConnectionState): void {
    this.current = state;
    this.changed.fire(state);
  }

  /** The API, once connected; otherwise a NotConnectedError saying why. */
  get api(): RegistryApi {
    if (this.client && this.current.kind === 'connected') return this.client;
    const s = this.current;
    if (s.kind === 'needs-key') throw new NotConnectedError(`Not signed in to ${s.url}, and no API key: run "Prompt Registry: Sign In" or "Prompt Registry: Set API Key".`);
    if (s.kind === 'unreachable' || s.kind === 'refused') throw new NotConnectedError(s.message);
    throw new NotConnectedError('Still connecting to the Prompt Registry; try again in a moment.');
  }

  connect(): Promise<void> {
    return (this.connecting ??= this.doConnect().finally(() => (this.connecting = undefined)));
  }

  async reconnect(): Promise<void> {
    await this.connecting;
    await this.local?.stop();
    this.client = undefined;
    await this.connect();
  }

  private async doConnect(): Promise<void> {
    const url = this.settings.serverUrl;
    if (url) {
      this.set({ kind: 'connecting', mode: 'remote' });
      await this.accounts.load(url);
      const bearer = this.accounts.bearer();
      const key = await this.secrets.apiKey(url);
      if (!bearer && !key) {
        this.set({ kind: 'needs-key', mode: 'remote', url });
        return;
      }
      // The token while signed in; the key (if any) once a sign-in ends.
      await this.check(new RegistryApi({ url, ...(key ? { apiKey: key } : {}), ...(bearer ? { bearer } : {}) }), 'remote');
      return;
    }
    await this.accounts.load(undefined);
    this.set({ kind: 'connecting', mode: 'local' });
    try {
      if (!this.local) {
        // Once: a listener per connect would pile up across reconnects.
        this.local = this._register(new LocalServer(this.context.extensionPath, this.output));
        this._register(
          this.local.onDidExit(() => {
            this.client = undefined;
            this.set({ kind: 'unreachable', mode: 'local', message: 'The bundled registry stopped; its log is in the "Prompt Registry Server" output. Retry to start it again.' });
          }),
        );
      }
      const adminKey = await this.secrets.localAdminKey();
      const localUrl = await this.local.start(resolveRuntime(this.settings.nodePath), this.settings.localDataFolder || this.context.storagePath, adminKey);
      await this.check(new RegistryApi({ url: localUrl, apiKey: adminKey }), 'local');
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      this.set({ kind: 'unreachable', mode: 'local', message });
      this.output.appendLine(`error: ${message}`);
      void this.tell(err);
    }
  }

  /** A local registry that could not start: a notification saying why, with the ways out. */
  private async tell(err: unknown): Promise<void> {
    const fault = err instanceof LocalServerError ? err.fault : 'failed';
    const settingFor = fault === 'runtime' ? 'promptRegistry.nodePath' : 'promptRegistry.localDataFolder';
    const actions = [...(fault === 'newer-schema' || fault === 'runtime' ? [] : ['Retry']), 'Open Settings', 'Show Log'];
    const choice = await vscode.window.showErrorMessage(err instanceof Error ? err.message : String(err), ...actions);
    if (choice === 'Retry') await this.reconnect();
    if (choice === 'Open Settings') await vscode.commands.executeCommand('workbench.action.openSettings', settingFor);
    if (choice === 'Show Log') this.output.show();
  }

  private async check(api: RegistryApi, mode: 'local' | 'remote'): Promise<void> {
    try {
      await api.health();
      await api.environments(); // also proves the key
      this.client = api;
      this.set({ kind: 'connected', mode, url: api.url });
    } catch (err) {
      this.client = undefined;
      if (err instanceof RegistryError && (err.status === 401 || err.status === 403)) {
        // Reachable: a person signed in whose groups grant nothing, or a wrong key. Say so, not "unreachable".
        this.set({ kind: 'refused', mode, url: api.url, message: `The Prompt Registry at ${api.url} turned down the ${this.accounts.signedIn ? `sign-in as ${this.accounts.signedIn.session.identity.label}` : 'API key'}: ${err.message}` });
        return;
      }
      const why = err instanceof Error ? err.message : String(err);
      this.set({ kind: 'unreachable', mode, url: api.url, message: `The Prompt Registry at ${api.url} is unreachable: ${why}` });
    }
  }

  async setApiKey(key: string): Promise<void> {
    const url = this.settings.serverUrl;
    if (!url) throw new NotConnectedError('Set "promptRegistry.serverUrl" first: the bundled local registry needs no key.');
    await this.secrets.setApiKey(url, key);
    await this.reconnect();
  }

  override dispose(): void {
    void this.local?.stop();
    super.dispose();
  }
}
