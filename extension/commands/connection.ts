import * as vscode from 'vscode';
import type { Accounts } from '../auth/accounts.js';
import type { Connection } from '../connection.js';
import type { Settings } from '../config.js';
import { Disposable } from '../lifecycle.js';
import { command, picked } from './ui.js';
import { COMMANDS } from './ids.js';

/** Set API Key, Retry, and the status bar's menu (which offers Sign In or Sign Out too). */
export class ConnectionCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly settings: Settings,
    private readonly output: vscode.OutputChannel,
    private readonly accounts: Accounts,
  ) {
    super();
    this._register(command(COMMANDS.setApiKey, (key?: string) => this.setApiKey(key)));
    this._register(command(COMMANDS.retry, () => this.connection.reconnect()));
    this._register(command(COMMANDS.showConnection, () => this.show()));
  }

  async setApiKey(key?: string): Promise<void> {
    const url = this.settings.serverUrl;
    if (!url) {
      void vscode.window.showInformationMessage('The bundled local registry needs no API key. To use a shared registry, set "promptRegistry.serverUrl" first.', 'Open Settings').then((c) => {
        if (c) void vscode.commands.executeCommand('workbench.action.openSettings', 'promptRegistry.serverUrl');
      });
      return;
    }
    const value =
      key ??
      picked(
        await vscode.window.showInputBox({ title: `API key for ${url}`, prompt: 'Stored in VS Code\'s secret storage, never in settings', password: true, ignoreFocusOut: true, validateInput: (v) => (v.trim() ? undefined : 'Enter the key') }),
      );
    await this.connection.setApiKey(value.trim());
  }

  private async show(): Promise<void> {
    const s = this.connection.state;
    const items: Array<vscode.QuickPickItem & { run: () => unknown }> = [
      { label: '$(refresh) Retry', description: 'Connect again', run: () => this.connection.reconnect() },
      { label: '$(key) Set API Key', description: this.settings.serverUrl || '(for a remote registry)', run: () => this.setApiKey() },
      this.accounts.signedIn
        ? { label: '$(sign-out) Sign Out', description: this.accounts.signedIn.session.identity.label, run: () => vscode.commands.executeCommand(COMMANDS.signOut) }
        : { label: '$(account) Sign In', description: 'with your identity provider', run: () => vscode.commands.executeCommand(COMMANDS.signIn) },
      { label: '$(gear) Settings', run: () => vscode.commands.executeCommand('workbench.action.openSettings', 'promptRegistry') },
      { label: '$(output) Show Server Log', run: () => this.output.show() },
    ];
    const who = this.accounts.signedIn ? ` as ${this.accounts.signedIn.session.identity.label}` : '';
    const detail = s.kind === 'connected' ? `Connected to ${s.url}${who}` : s.kind === 'unreachable' || s.kind === 'refused' ? s.message : s.kind === 'needs-key' ? `Not signed in to ${s.url}, and no API key` : 'Connecting…';
    const choice = await vscode.window.showQuickPick(items, { title: `Prompt Registry (${s.mode}): ${detail}` });
    await choice?.run();
  }
}
