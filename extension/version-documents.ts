import * as vscode from 'vscode';
import type { Connection } from './connection.js';
import { formatPromptFile, MappingError, type VersionShape } from '../shared/prompt-files/prompt-file.js';
import { UserError } from './commands/ui.js';

export const SCHEME = 'prompt-registry';

/** A version as a `.prompt` file in the Dotprompt form, with an empty sample for each variable; says plainly what the format cannot hold. */
export function pulledFile(v: VersionShape & { variables?: string[] }, prompt: { name: string; description: string | null; tags: string[] }, samples?: Record<string, unknown>): string {
  try {
    return formatPromptFile({ ...v, name: prompt.name, description: prompt.description, tags: prompt.tags, samples: samples ?? Object.fromEntries((v.variables ?? []).map((x) => [x, ''])) });
  } catch (err) {
    if (err instanceof MappingError) throw new UserError(`${prompt.name}: ${err.message}`);
    throw err;
  }
}

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
    return pulledFile(v as VersionShape, prompt, {});
  }
}
