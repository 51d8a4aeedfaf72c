import * as vscode from 'vscode';
import { Disposable } from '../lifecycle.js';
import type { Accounts } from './accounts.js';
import { COMMANDS } from '../commands/ids.js';

/** Who is signed in, beside the connection's item; hidden when no one is. A click offers Sign Out. */
export class AccountStatusBar extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem('promptRegistry.account', vscode.StatusBarAlignment.Left, 9));

  constructor(private readonly accounts: Accounts) {
    super();
    this.item.name = 'Prompt Registry Account';
    this.item.command = COMMANDS.showConnection;
    this._register(accounts.onDidChange(() => this.update()));
    this.update();
  }

  private update(): void {
    const current = this.accounts.signedIn;
    if (!current) {
      this.item.hide();
      return;
    }
    const { identity, issuer } = current.session;
    this.item.text = `$(account) ${identity.label}`;
    this.item.tooltip = [`Signed in to the Prompt Registry at ${current.url}`, `as ${identity.name ? `${identity.name} (${identity.label})` : identity.label}`, `Identity provider: ${issuer}`, 'Click to sign out or see the connection.'].join('\n');
    this.item.show();
  }
}
