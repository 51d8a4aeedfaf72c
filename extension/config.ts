import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { OidcConfig } from '../client/index.js';

const SECTION = 'promptRegistry';

/** The extension's settings, typed, in one place. */
export class Settings {
  private get config(): vscode.WorkspaceConfiguration {
    return vscode.workspace.getConfiguration(SECTION);
  }

  /** A remote registry; empty means the bundled local one. */
  get serverUrl(): string {
    return (this.config.get<string>('serverUrl') ?? '').trim().replace(/\/+$/, '');
  }

  /** The Node.js that runs the bundled registry; empty means VS Code's own runtime. */
  get nodePath(): string {
    return (this.config.get<string>('nodePath') ?? '').trim();
  }

  /** Where the bundled registry keeps its database; empty means the extension's global storage. */
  get localDataFolder(): string {
    return (this.config.get<string>('localDataFolder') ?? '').trim();
  }

  get protectedEnvironments(): string[] {
    return this.config.get<string[]>('protectedEnvironments') ?? ['production'];
  }

  get inlinePreview(): boolean {
    return this.config.get<boolean>('inlinePreview') ?? true;
  }

  /** The identity provider named in settings; each field set here wins over what the registry advertises. */
  get oidc(): Partial<OidcConfig> {
    const text = (key: string) => (this.config.get<string>(key) ?? '').trim();
    const scopes = (this.config.get<string[]>('oidc.scopes') ?? []).map((s) => s.trim()).filter(Boolean);
    const result: Partial<OidcConfig> = {};
    if (text('oidc.issuer')) result.issuer = text('oidc.issuer').replace(/\/+$/, '');
    if (text('oidc.clientId')) result.clientId = text('oidc.clientId');
    if (text('oidc.audience')) result.audience = text('oidc.audience');
    if (scopes.length) result.scopes = scopes;
    return result;
  }

  /** Seconds between refreshes of the Executions view while it is visible; 0 never. */
  get executionsRefreshSeconds(): number {
    const n = this.config.get<number>('executions.refreshInterval') ?? 10;
    return Number.isFinite(n) && n > 0 ? Math.max(2, n) : 0;
  }

  onDidChange(keys: string[], listener: () => void): vscode.Disposable {
    return vscode.workspace.onDidChangeConfiguration((e) => {
      if (keys.some((k) => e.affectsConfiguration(`${SECTION}.${k}`))) listener();
    });
  }
}

/** API keys and sign-in tokens live in SecretStorage, never in settings. */
export class Secrets {
  constructor(private readonly storage: vscode.SecretStorage) {}

  apiKey(url: string): Thenable<string | undefined> {
    return this.storage.get(`promptRegistry.apiKey:${url}`);
  }

  setApiKey(url: string, key: string): Thenable<void> {
    return this.storage.store(`promptRegistry.apiKey:${url}`, key);
  }

  /** The tokens of a sign-in to the registry at `url` (JSON of a StoredSession). */
  session(url: string): Thenable<string | undefined> {
    return this.storage.get(`promptRegistry.session:${url}`);
  }

  setSession(url: string, json: string): Thenable<void> {
    return this.storage.store(`promptRegistry.session:${url}`, json);
  }

  deleteSession(url: string): Thenable<void> {
    return this.storage.delete(`promptRegistry.session:${url}`);
  }

  /** The bundled registry's admin key: made once, kept in SecretStorage. */
  async localAdminKey(): Promise<string> {
    const existing = await this.storage.get('promptRegistry.localAdminKey');
    if (existing) return existing;
    const key = `pr_local_${randomBytes(24).toString('base64url')}`;
    await this.storage.store('promptRegistry.localAdminKey', key);
    return key;
  }
}
