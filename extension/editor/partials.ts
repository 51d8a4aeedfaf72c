import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { RegistryError } from '../../client/index.js';
import type { PartialReference } from '../../shared/prompt-files/chat-template.js';
import { parsePromptFile } from '../../shared/prompt-files/prompt-file.js';
import type { Connection } from '../connection.js';
import { Disposable } from '../lifecycle.js';
import { versionUri } from '../version-documents.js';

/** Where a `{{> ref}}` leads: a workspace file with that registry name, else a version in the registry. */
export type PartialTarget = { kind: 'file'; uri: vscode.Uri } | { kind: 'version'; prompt: string; version: number } | { kind: 'missing'; reason: string };

/** A `.prompt` file's registry name: its front matter's `name`, else its file name. */
export function registryName(uri: vscode.Uri, text: string): string {
  return parsePromptFile(text).meta.name ?? basename(uri.fsPath).replace(/\.prompt$/, '');
}

/**
 * The workspace's `.prompt` files by registry name, kept current by a file
 * watcher, and what a partial reference resolves to (for go to definition,
 * the preview and diagnostics).
 */
export class PromptIndex extends Disposable {
  private readonly byName = new Map<string, vscode.Uri>();
  private readonly ready: Promise<void>;
  private readonly changed = this._register(new vscode.EventEmitter<void>());
  readonly onDidChange = this.changed.event;

  constructor(private readonly connection: Connection) {
    super();
    const watcher = this._register(vscode.workspace.createFileSystemWatcher('**/*.prompt'));
    this._register(watcher.onDidCreate((u) => this.add(u)));
    this._register(watcher.onDidChange((u) => this.add(u)));
    this._register(watcher.onDidDelete((u) => this.remove(u)));
    this.ready = Promise.resolve(vscode.workspace.findFiles('**/*.prompt', '**/node_modules/**', 2000)).then((uris) => {
      for (const u of uris) this.add(u, false);
      this.changed.fire();
    });
  }

  private add(uri: vscode.Uri, fire = true): void {
    this.remove(uri, false);
    try {
      this.byName.set(registryName(uri, readFileSync(uri.fsPath, 'utf8')), uri);
    } catch {
      // Unreadable (deleted meanwhile): not a target.
    }
    if (fire) this.changed.fire();
  }

  private remove(uri: vscode.Uri, fire = true): void {
    for (const [name, u] of this.byName) if (u.toString() === uri.toString()) this.byName.delete(name);
    if (fire) this.changed.fire();
  }

  async names(): Promise<string[]> {
    await this.ready;
    return [...this.byName.keys()].sort();
  }

  /** A workspace file wins for an unpinned reference; a pinned one (`@3`, `@production`) is the registry's. */
  async resolve(ref: Pick<PartialReference, 'prompt' | 'version' | 'environment'>): Promise<PartialTarget> {
    await this.ready;
    const local = this.byName.get(ref.prompt);
    if (local && ref.version === null && ref.environment === null) return { kind: 'file', uri: local };
    if (this.connection.state.kind !== 'connected') {
      return local ? { kind: 'file', uri: local } : { kind: 'missing', reason: `no .prompt file named ${ref.prompt} in the workspace, and the registry is not connected` };
    }
    try {
      const prompt = await this.connection.api.getPrompt(ref.prompt);
      const version = ref.version ?? (ref.environment ? prompt.environments[ref.environment]?.version : prompt.latest_version);
      if (!version) {
        const reason = ref.environment ? `nothing of ${ref.prompt} is live in ${ref.environment}` : `${ref.prompt} has no versions yet`;
        return local ? { kind: 'file', uri: local } : { kind: 'missing', reason };
      }
      if (ref.version !== null && prompt.latest_version !== null && ref.version > prompt.latest_version) return { kind: 'missing', reason: `${ref.prompt} has no version ${ref.version}` };
      return { kind: 'version', prompt: ref.prompt, version };
    } catch (err) {
      if (err instanceof RegistryError && err.status === 404) return local ? { kind: 'file', uri: local } : { kind: 'missing', reason: `no prompt named ${ref.prompt} in the registry or the workspace` };
      throw err;
    }
  }

  /** The document a target opens as. */
  uriOf(target: PartialTarget): vscode.Uri | undefined {
    if (target.kind === 'file') return target.uri;
    if (target.kind === 'version') return versionUri(target.prompt, target.version);
    return undefined;
  }

  /** The text a partial includes: the body of the file, or the version's content. */
  async text(target: PartialTarget): Promise<string | undefined> {
    if (target.kind === 'file') {
      const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === target.uri.toString());
      return parsePromptFile(open ? open.getText() : readFileSync(target.uri.fsPath, 'utf8')).body;
    }
    if (target.kind === 'version') {
      const v = await this.connection.api.getVersion(target.prompt, target.version);
      return typeof v.content === 'string' ? v.content : undefined;
    }
    return undefined;
  }
}
