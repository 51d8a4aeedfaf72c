import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import * as vscode from 'vscode';
import type { CompareUpdate } from '../../webview/protocol.js';
import type { ComparePanel } from '../compare/compare-panel.js';
import { fileSide } from '../core/compare.js';
import { convertLegacyFile, MappingError, parsePromptFile } from '../../shared/prompt-files/prompt-file.js';
import { importPrompty } from '../core/prompty.js';
import { PROMPT_LANGUAGE } from '../editor/prompt-editor.js';
import { Disposable } from '../lifecycle.js';
import { command, picked, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

export interface ConvertResult {
  converted: string[];
  unchanged: number;
  failed: string[];
}

/** Working with `.prompt` files themselves: convert the old format, import Prompty, compare two files. */
export class PromptFileCommands extends Disposable {
  constructor(private readonly comparePanel: ComparePanel) {
    super();
    this._register(command(COMMANDS.convertFiles, (uri?: vscode.Uri) => this.convert(uri)));
    this._register(command(COMMANDS.importPrompty, (uri?: vscode.Uri) => this.importPrompty(uri)));
    this._register(command(COMMANDS.compareFiles, (left?: vscode.Uri, right?: vscode.Uri) => this.compareFiles(left, right)));
  }

  /** Rewrites one file (the given or active one in the old format), else every old-format file of the workspace, in the Dotprompt form. */
  async convert(uri?: vscode.Uri): Promise<ConvertResult> {
    const active = vscode.window.activeTextEditor?.document;
    const one = uri ?? (active?.languageId === PROMPT_LANGUAGE && parsePromptFile(active.getText()).format === 'legacy' ? active.uri : undefined);
    const uris = one ? [one] : await vscode.workspace.findFiles('**/*.prompt', '**/node_modules/**', 5000);
    const result: ConvertResult = { converted: [], unchanged: 0, failed: [] };
    const edit = new vscode.WorkspaceEdit();
    const todo: Array<{ uri: vscode.Uri; text: string }> = [];
    for (const u of uris) {
      const document = await vscode.workspace.openTextDocument(u);
      const text = document.getText();
      try {
        const converted = convertLegacyFile(text, basename(u.fsPath).replace(/\.prompt$/, ''));
        if (converted === text) result.unchanged++;
        else todo.push({ uri: u, text: converted });
      } catch (err) {
        if (!(err instanceof MappingError)) throw err;
        result.failed.push(`${vscode.workspace.asRelativePath(u)}: ${err.problems[0]}`);
      }
    }
    if (!one && todo.length > 1) {
      const ok = await vscode.window.showWarningMessage(`Convert ${todo.length} .prompt files to the Dotprompt form?`, { modal: true, detail: todo.map((t) => vscode.workspace.asRelativePath(t.uri)).join('\n') }, 'Convert');
      picked(ok);
    }
    for (const t of todo) {
      const document = await vscode.workspace.openTextDocument(t.uri);
      edit.replace(t.uri, new vscode.Range(0, 0, document.lineCount, 0), t.text);
      result.converted.push(vscode.workspace.asRelativePath(t.uri));
    }
    if (todo.length) {
      await vscode.workspace.applyEdit(edit);
      for (const t of todo) await vscode.workspace.textDocuments.find((d) => d.uri.toString() === t.uri.toString())?.save();
    }
    const parts = [`Converted ${result.converted.length} file${result.converted.length === 1 ? '' : 's'} to the Dotprompt form`];
    if (result.unchanged) parts.push(`${result.unchanged} already in it`);
    if (result.failed.length) {
      void vscode.window.showErrorMessage(`Not converted: ${result.failed.join('; ')}`);
    }
    void vscode.window.showInformationMessage(`${parts.join('; ')}.`);
    return result;
  }

  /** Writes prompts/<name>.prompt from a `.prompty` file and opens it. */
  async importPrompty(uri?: vscode.Uri): Promise<vscode.Uri> {
    const source =
      uri ??
      picked(await vscode.window.showOpenDialog({ title: 'Import Prompty File', canSelectMany: false, filters: { Prompty: ['prompty'] }, defaultUri: vscode.workspace.workspaceFolders?.[0]?.uri }))[0];
    if (!source) throw new vscode.CancellationError();
    const root = vscode.workspace.workspaceFolders?.[0]?.uri.fsPath;
    if (!root) throw new UserError('Open a folder first: the imported prompt is written into it.');
    const imported = importPrompty(readFileSync(source.fsPath, 'utf8'), basename(source.fsPath));
    const path = join(root, 'prompts', `${imported.name}.prompt`);
    if (existsSync(path)) {
      picked(await vscode.window.showWarningMessage(`${basename(path)} exists. Replace it with the import of ${basename(source.fsPath)}?`, { modal: true }, 'Replace'));
    }
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, imported.text);
    const target = vscode.Uri.file(path);
    await vscode.window.showTextDocument(target);
    if (imported.warnings.length) {
      void vscode.window.showWarningMessage(`Imported ${basename(source.fsPath)} as ${imported.name}, with ${imported.warnings.length} thing(s) to check: ${imported.warnings.join('; ')}`);
    } else {
      void vscode.window.showInformationMessage(`Imported ${basename(source.fsPath)} as ${imported.name}.`);
    }
    return target;
  }

  /** Compares two `.prompt` files message by message: the active one with another picked from the workspace. */
  async compareFiles(left?: vscode.Uri, right?: vscode.Uri): Promise<CompareUpdate> {
    const first = left ?? vscode.window.activeTextEditor?.document.uri;
    if (!first || !first.fsPath.endsWith('.prompt')) throw new UserError('Open a .prompt file first.');
    let second = right;
    if (!second) {
      const others = (await vscode.workspace.findFiles('**/*.prompt', '**/node_modules/**', 2000)).filter((u) => u.toString() !== first.toString());
      if (!others.length) throw new UserError('There is no other .prompt file in the workspace to compare with.');
      const choice = picked(await vscode.window.showQuickPick(others.map((u) => ({ label: vscode.workspace.asRelativePath(u), uri: u })), { title: `Compare ${basename(first.fsPath)} with…` }));
      second = choice.uri;
    }
    const read = async (u: vscode.Uri) => parsePromptFile((await vscode.workspace.openTextDocument(u)).getText());
    const [a, b] = await Promise.all([read(first), read(second)]);
    return this.comparePanel.show(`${basename(first.fsPath)} ↔ ${basename(second.fsPath)}`, fileSide(basename(first.fsPath), a), fileSide(basename(second.fsPath), b));
  }
}
