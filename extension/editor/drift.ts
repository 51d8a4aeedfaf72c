import * as vscode from 'vscode';
import { RegistryError, type VersionInfo } from '../../client/index.js';
import { parsePromptFile, type VersionShape } from '../../shared/prompt-files/prompt-file.js';
import type { Connection } from '../connection.js';
import { driftOf, type Drift } from '../core/drift.js';
import { Disposable } from '../lifecycle.js';
import type { LiveUpdates } from '../live-updates.js';
import { PROMPT_LANGUAGE } from './prompt-editor.js';
import { COMMANDS } from '../commands/ids.js';

/**
 * Drift: whether the `.prompt` file in the active editor differs from its
 * prompt's latest version in the registry, shown in the status bar (a click
 * compares it with what is live). Checked when the editor changes, on save,
 * and when the registry announces a change.
 */
export class DriftMarker extends Disposable {
  private readonly item = this._register(vscode.window.createStatusBarItem('promptRegistry.drift', vscode.StatusBarAlignment.Left, 9));
  private readonly changed = this._register(new vscode.EventEmitter<Drift | undefined>());
  /** After each check of the active file (undefined: not a registry prompt, or not connected). */
  readonly onDidChange = this.changed.event;
  private checking = 0;

  constructor(
    private readonly connection: Connection,
    live: LiveUpdates,
  ) {
    super();
    this.item.name = 'Prompt Registry: drift';
    this._register(vscode.window.onDidChangeActiveTextEditor(() => void this.check()));
    this._register(vscode.workspace.onDidSaveTextDocument((d) => d === vscode.window.activeTextEditor?.document && void this.check()));
    this._register(connection.onDidChange(() => void this.check()));
    this._register(live.onDidChange(() => void this.check()));
    void this.check();
  }

  async check(): Promise<Drift | undefined> {
    const run = ++this.checking;
    const document = vscode.window.activeTextEditor?.document;
    const drift = document?.languageId === PROMPT_LANGUAGE ? await this.driftOfDocument(document).catch(() => undefined) : undefined;
    if (run !== this.checking) return drift; // a newer check is under way
    this.show(drift);
    this.changed.fire(drift);
    return drift;
  }

  private async driftOfDocument(document: vscode.TextDocument): Promise<Drift | undefined> {
    if (this.connection.state.kind !== 'connected') return undefined;
    const file = parsePromptFile(document.getText());
    const name = file.meta.name;
    if (!name || file.problems.length) return undefined;
    const api = this.connection.api;
    let latest: VersionInfo;
    try {
      const prompt = await api.getPrompt(name);
      if (prompt.latest_version === null) return { kind: 'new', name };
      latest = await api.getVersion(name, prompt.latest_version);
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return { kind: 'new', name };
      throw err;
    }
    return driftOf(file, name, latest as VersionShape & { version: number });
  }

  private show(drift: Drift | undefined): void {
    if (!drift) {
      this.item.hide();
      return;
    }
    if (drift.kind === 'new') {
      this.item.text = `$(cloud-upload) ${drift.name}: not published`;
      this.item.tooltip = `The registry has no version of "${drift.name}" yet: Publish Version creates one.`;
      this.item.command = COMMANDS.publish;
      this.item.backgroundColor = undefined;
    } else if (drift.kind === 'same') {
      this.item.text = `$(check) ${drift.name}: same as v${drift.version}`;
      this.item.tooltip = `This file is what the registry holds as ${drift.name} v${drift.version}, its latest version.`;
      this.item.command = undefined;
      this.item.backgroundColor = undefined;
    } else {
      const what = [drift.messages ? `${drift.messages} message${drift.messages === 1 ? '' : 's'}` : '', drift.config ? `${drift.config} setting${drift.config === 1 ? '' : 's'}` : ''].filter(Boolean).join(' and ');
      this.item.text = `$(git-compare) ${drift.name}: differs from v${drift.version}`;
      this.item.tooltip = `This file differs from ${drift.name} v${drift.version}, the registry's latest version: ${what}. Click to compare with what is live; Publish Version makes it a new version.`;
      this.item.command = COMMANDS.compareWithLive;
      this.item.backgroundColor = new vscode.ThemeColor('statusBarItem.warningBackground');
    }
    this.item.show();
  }
}
