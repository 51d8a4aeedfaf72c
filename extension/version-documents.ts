import * as vscode from 'vscode';
import type { Connection } from './connection.js';
import { formatPromptFile } from './core/prompt-file.js';

export const SCHEME = 'prompt-registry';

/** `prompt-registry:/support-reply/v3.prompt`: a version as a read-only `.prompt` document. */
export function versionUri(name: string, version: number): vscode.Uri {
  return vscode.Uri.from({ scheme: SCHEME, path: `/${name}/v${version}.prompt` });
}

export class VersionDocuments implements vscode.TextDocumentContentProvider {
  constructor(private readonly connection: Connection) {}

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const m = /^\/([^/]+)\/v(\d+)\.prompt$/.exec(uri.path);
    if (!m) throw new Error(`not a prompt version: ${uri.toString()}`);
    const api = this.connection.api;
    const [prompt, v] = await Promise.all([api.getPrompt(m[1]!), api.getVersion(m[1]!, Number(m[2]))]);
    return formatPromptFile({
      name: prompt.name,
      description: prompt.description,
      tags: prompt.tags,
      model: v.model,
      temperature: v.temperature,
      max_tokens: v.max_tokens,
      metadata: v.metadata,
      samples: {},
      content: v.content,
    });
  }
}
