import * as vscode from 'vscode';
import type { Connection, ConnectionState } from './connection.js';
import { Disposable } from './lifecycle.js';
import { COMMANDS } from './commands/ids.js';

function text(s: ConnectionState): { text: string; tooltip: string; warning: boolean } {
  const where = s.mode === 'local' ? 'local' : 'remote';
  switch (s.kind) {
    case 'connecting':
      return { text: `$(sync~spin) Prompts: ${where}`, tooltip: 'Connecting to the Prompt Registry…', warning: false };
    case 'connected':
      return { text: `$(database) Prompts: ${where}`, tooltip: `Connected to the Prompt Registry at ${s.url}`, warning: false };
    case 'needs-key':
      return { text: '$(key) Prompts: sign in', tooltip: `Sign in or set an API key for ${s.url}`, warning: true };
    case 'refused':
      return { text: `$(circle-slash) Prompts: ${where}, no access`, tooltip: `${s.message}\nClick to sign in as someone else, set an API key or retry.`, warning: true };
    case 'unreachable':
      return { text: `$(warning) Prompts: ${where}, unreachable`, tooltip: `${s.message}\nClick to retry.`, warning: true };
  }
}

/** Shows local or remote, connected or not; a click offers what can be done. */
export class StatusBar extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem('promptRegistry.connection', vscode.StatusBarAlignment.Left, 10));

  constructor(connection: Connection) {
    super();
    this.item.name = 'Prompt Registry';
    this.item.command = COMMANDS.showConnection;
    this.update(connection.state);
    this._register(connection.onDidChange((s) => this.update(s)));
    this.item.show();
  }

  private update(s: ConnectionState): void {
    const t = text(s);
    this.item.text = t.text;
    this.item.tooltip = t.tooltip;
    this.item.backgroundColor = t.warning ? new vscode.ThemeColor('statusBarItem.warningBackground') : undefined;
  }
}
