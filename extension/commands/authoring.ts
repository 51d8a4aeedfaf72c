import { mkdirSync, writeFileSync, existsSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import { RegistryError, type NewVersion } from '../../client/index.js';
import type { Connection } from '../connection.js';
import type { CompareUpdate } from '../../webview/protocol.js';
import type { ComparePanel } from '../compare/compare-panel.js';
import { versionSide } from '../core/compare.js';
import { formatPromptFile, versionRequest, type VersionShape } from '../../shared/prompt-files/prompt-file.js';
import { PROMPT_LANGUAGE, type PromptEditorSupport } from '../editor/prompt-editor.js';
import { Disposable } from '../lifecycle.js';
import type { PreviewPanel } from '../preview/preview-panel.js';
import { PromptNode, VersionNode } from '../tree/nodes.js';
import { pulledFile, versionUri } from '../version-documents.js';
import { pickEnvironment, pickPrompt, pickVersion } from './pickers.js';
import { command, picked, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

export interface PublishResult {
  prompt: string;
  version: number;
  created: boolean;
}

/** New Prompt, Publish Version, Pull into Workspace, Open Version, Compare, Preview. */
export class AuthoringCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly editors: PromptEditorSupport,
    private readonly preview: PreviewPanel,
    private readonly comparePanel: ComparePanel,
    private readonly refresh: () => void,
  ) {
    super();
    this._register(command(COMMANDS.newPrompt, (name?: string) => this.newPrompt(name)));
    this._register(command(COMMANDS.publish, (uri?: vscode.Uri, message?: string) => this.publish(uri, message)));
    this._register(command(COMMANDS.pull, (arg?: VersionNode | PromptNode | { prompt: string; version?: number }) => this.pull(arg)));
    this._register(command(COMMANDS.openVersion, (arg?: VersionNode | { prompt: string; version: number }) => this.open(arg)));
    this._register(command(COMMANDS.compareVersions, (arg?: VersionNode | PromptNode | { prompt: string; versions: [number, number] }) => this.compare(arg)));
    this._register(command(COMMANDS.compareWithLive, (uri?: vscode.Uri, environment?: string) => this.compareWithLive(uri, environment)));
    this._register(command(COMMANDS.preview, (uri?: vscode.Uri) => this.showPreview(uri)));
  }

  private async promptDocument(uri?: vscode.Uri): Promise<vscode.TextDocument> {
    const document = uri ? await vscode.workspace.openTextDocument(uri) : vscode.window.activeTextEditor?.document;
    if (!document || document.languageId !== PROMPT_LANGUAGE) throw new UserError('Open a .prompt file first.');
    return document;
  }

  private folder(): string {
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!root) throw new UserError('Open a folder first: prompts are kept as .prompt files in the workspace.');
    return join(root, 'prompts');
  }

  async newPrompt(name?: string): Promise<vscode.Uri> {
    const chosen =
      name ??
      picked(
        await vscode.window.showInputBox({
          title: 'New Prompt',
          prompt: 'A name for the prompt (letters, digits, ".", "_", "-")',
          validateInput: (v) => (NAME.test(v) ? undefined : 'Start with a letter or digit; use letters, digits, ".", "_" and "-".'),
        }),
      );
    const path = join(this.folder(), `${chosen}.prompt`);
    if (existsSync(path)) throw new UserError(`${basename(path)} already exists.`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      formatPromptFile({ name: chosen, description: 'What this prompt is for', tags: [], model: 'gpt-4o', temperature: 0, max_tokens: 1000, samples: { name: 'Ann' }, content: 'Hello {{name}}.\n' }),
    );
    const uri = vscode.Uri.file(path);
    await vscode.window.showTextDocument(uri);
    return uri;
  }

  /** Publishes the file as a new version; says the number, or which version it is identical to. */
  async publish(uri?: vscode.Uri, message?: string): Promise<PublishResult> {
    const document = await this.promptDocument(uri);
    const { file, analysis } = this.editors.analyze(document);
    const error = analysis.diagnostics.find((d) => d.severity === 'error');
    if (error) throw new UserError(`Not published: line ${error.span.line}: ${error.message}`);
    const name = file.meta.name ?? basename(document.fileName).replace(/\.prompt$/, '');
    if (!NAME.test(name)) throw new UserError(`"${name}" is not a valid prompt name: set name: in the front matter.`);
    const api = this.connection.api;
    // A chat file sends the chat contract's shape (type, messages, config, input_schema), which NewVersion does not describe yet.
    const request = versionRequest(file, message) as NewVersion;
    try {
      const v = await vscode.window.withProgress({ location: vscode.ProgressLocation.Window, title: `Publishing ${name}…` }, () => api.createVersion(name, request));
      this.refresh();
      void vscode.window.showInformationMessage(`Published ${name} version ${v.version}.`);
      return { prompt: name, version: v.version, created: true };
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'duplicate_version') {
        const existing = Number(err.details.existing_version);
        void vscode.window.showInformationMessage(`Nothing published: ${name} is identical to version ${existing}.`);
        return { prompt: name, version: existing, created: false };
      }
      throw err;
    }
  }

  /** Writes a version into the workspace as prompts/<name>.prompt, with empty samples to fill in. */
  async pull(arg?: VersionNode | PromptNode | { prompt: string; version?: number }): Promise<vscode.Uri> {
    const api = this.connection.api;
    const name = arg instanceof VersionNode ? arg.version.prompt : arg instanceof PromptNode ? arg.prompt.name : (arg?.prompt ?? (await pickPrompt(api, 'Pull into Workspace')).name);
    const prompt = await api.getPrompt(name);
    const number = arg instanceof VersionNode ? arg.version.version : ((arg as { version?: number } | undefined)?.version ?? prompt.latest_version);
    if (!number) throw new UserError(`${name} has no versions yet.`);
    const v = await api.getVersion(name, number);
    const path = join(this.folder(), `${name}.prompt`);
    if (existsSync(path)) {
      const overwrite = await vscode.window.showWarningMessage(`${basename(path)} exists. Replace it with ${name} v${number}?`, { modal: true }, 'Replace');
      picked(overwrite);
    }
    mkdirSync(dirname(path), { recursive: true });
    const text = pulledFile(v, prompt);
    writeFileSync(path, text);
    const uri = vscode.Uri.file(path);
    await vscode.window.showTextDocument(uri);
    return uri;
  }

  async open(arg?: VersionNode | { prompt: string; version: number }): Promise<vscode.TextDocument> {
    const api = this.connection.api;
    const name = arg instanceof VersionNode ? arg.version.prompt : (arg?.prompt ?? (await pickPrompt(api, 'Open Version of…')).name);
    const version = arg instanceof VersionNode ? arg.version.version : (arg?.version ?? (await pickVersion(api, name, `Open which version of ${name}?`)));
    const document = await vscode.workspace.openTextDocument(versionUri(name, version));
    await vscode.window.showTextDocument(document, { preview: true });
    return document;
  }

  /** Opens the compare panel: message by message, config by config. */
  async compare(arg?: VersionNode | PromptNode | { prompt: string; versions: [number, number] }): Promise<CompareUpdate> {
    const api = this.connection.api;
    const given = arg && 'versions' in arg ? arg : undefined;
    const name = arg instanceof VersionNode ? arg.version.prompt : arg instanceof PromptNode ? arg.prompt.name : (given?.prompt ?? (await pickPrompt(api, 'Compare Versions of…')).name);
    const left = arg instanceof VersionNode ? arg.version.version : (given?.versions[0] ?? (await pickVersion(api, name, `Compare ${name}: first version`)));
    const right = given?.versions[1] ?? (await pickVersion(api, name, `Compare ${name} v${left} with…`, left));
    const [a, b] = left < right ? [left, right] : [right, left];
    const [va, vb] = await Promise.all([api.getVersion(name, a), api.getVersion(name, b)]);
    return this.comparePanel.show(`${name}: v${a} ↔ v${b}`, versionSide(`v${a}`, va as VersionShape), versionSide(`v${b}`, vb as VersionShape));
  }

  async compareWithLive(uri?: vscode.Uri, environment?: string): Promise<void> {
    const document = await this.promptDocument(uri);
    const { file } = this.editors.analyze(document);
    const name = file.meta.name ?? basename(document.fileName).replace(/\.prompt$/, '');
    const api = this.connection.api;
    const prompt = await api.getPrompt(name);
    const env = environment ?? (await pickEnvironment(api, prompt, `Compare ${basename(document.fileName)} with what is live in…`, [], (e) => Boolean(prompt.environments[e])));
    const live = prompt.environments[env];
    if (!live) throw new UserError(`Nothing of ${name} is live in ${env}.`);
    await vscode.commands.executeCommand('vscode.diff', versionUri(name, live.version), document.uri, `${name}: live in ${env} (v${live.version}) ↔ ${basename(document.fileName)}`);
  }

  async showPreview(uri?: vscode.Uri): Promise<void> {
    this.preview.show(await this.promptDocument(uri));
  }
}
