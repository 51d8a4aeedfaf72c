import { basename } from 'node:path';
import * as vscode from 'vscode';
import { TemplateError } from '../../shared/templates/index.js';
import { estimateTokens, isPreviewToHost, type PreviewMessage, type PreviewUpdate } from '../../webview/protocol.js';
import { messagesOf, renderMessages, type Role } from '../../shared/prompt-files/chat-template.js';
import { renderWithEngine } from '../core/render-preview.js';
import { sampleValues } from '../../shared/prompt-files/prompt-file.js';
import type { PromptIndex } from '../editor/partials.js';
import type { PromptEditorSupport } from '../editor/prompt-editor.js';
import { PROMPT_LANGUAGE } from '../editor/prompt-editor.js';
import { webviewHtml, webviewOptions } from '../executions/webview-rpc.js';
import { Disposable } from '../lifecycle.js';

const PREVIEW_BODY = `<header><span id="file"></span><span id="counts"></span><button id="copy" title="Copy the rendered prompt">Copy</button></header>
<div id="error" role="alert" hidden></div><div id="missing" hidden></div>
<pre id="output" aria-label="Rendered prompt"></pre>
<ol id="conversation" aria-label="Conversation" hidden></ol>`;


/** A chat's conversation as plain text, for Copy and the counts. */
export function conversationText(messages: readonly PreviewMessage[]): string {
  return messages.map((m) => `${m.role}:\n${m.content}`).join('\n\n');
}

/** A placeholder's sample: a list of {role, content} under the placeholder's name in the samples. */
function placeholderSample(value: unknown): Array<{ role: Role; content: string }> {
  if (!Array.isArray(value)) return [];
  return value
    .filter((m): m is { role: Role; content: unknown } => typeof m === 'object' && m !== null && ['system', 'user', 'assistant', 'tool'].includes((m as { role?: string }).role ?? ''))
    .map((m) => ({ role: m.role, content: typeof m.content === 'string' ? m.content : JSON.stringify(m.content) }));
}

/**
 * "Preview Rendered Prompt": a webview beside the editor that renders the
 * template with its samples, with the registry's own engine, as you type.
 */
export class PreviewPanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private document: vscode.TextDocument | undefined;
  private ready = false;
  private last: PreviewUpdate | undefined;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly editors: PromptEditorSupport,
    private readonly index: PromptIndex,
  ) {
    super();
    this._register(vscode.workspace.onDidChangeTextDocument((e) => e.document === this.document && this.post()));
    this._register(
      vscode.window.onDidChangeActiveTextEditor((editor) => {
        if (this.panel && editor?.document.languageId === PROMPT_LANGUAGE) {
          this.document = editor.document;
          this.post();
        }
      }),
    );
  }

  show(document: vscode.TextDocument): void {
    this.document = document;
    if (this.panel) {
      this.panel.reveal(vscode.ViewColumn.Beside, true);
      this.post();
      return;
    }
    this.panel = vscode.window.createWebviewPanel('promptRegistry.preview', 'Prompt Preview', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, webviewOptions(this.extensionUri));
    this.ready = false;
    const webview = this.panel.webview;
    webview.html = webviewHtml(webview, this.extensionUri, 'preview', 'Prompt Preview', PREVIEW_BODY);
    this._register(
      webview.onDidReceiveMessage((message: unknown) => {
        if (!isPreviewToHost(message)) return;
        if (message.type === 'ready') {
          this.ready = true;
          this.post();
        } else if (message.type === 'copy' && this.last?.rendered) {
          void vscode.env.clipboard.writeText(this.last.rendered);
        }
      }),
    );
    this.panel.onDidDispose(() => {
      this.panel = undefined;
      this.ready = false;
    });
  }

  /** The text of each partial the file includes, by its ref as written; a missing one shows as a marker. */
  private async partials(refs: ReadonlyArray<{ ref: string; prompt: string; version: number | null; environment: string | null }>): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const ref of refs) {
      if (ref.ref in out) continue;
      const target = await this.index.resolve(ref).catch(() => undefined);
      const text = target && target.kind !== 'missing' ? await this.index.text(target).catch(() => undefined) : undefined;
      out[ref.ref] = text ?? `[partial ${ref.ref}: ${target?.kind === 'missing' ? target.reason : 'not found'}]`;
    }
    return out;
  }

  /** What the preview shows for the document now; public so tests can read it. */
  async render(document: vscode.TextDocument): Promise<PreviewUpdate> {
    const { file, analysis } = this.editors.analyze(document);
    const samples = sampleValues(file);
    const missing = analysis.variables.filter((v) => !(v in samples));
    const base = { type: 'update' as const, fileName: basename(document.fileName), variables: analysis.variables, missing, messages: null };
    if (file.structure.kind === 'chat') {
      try {
        // Each message rendered alone, as the registry renders a chat; placeholders from the samples (history: [{role, content}]).
        const items = messagesOf(file.structure);
        const placeholders = Object.fromEntries(items.flatMap((m) => ('type' in m ? [[m.name, placeholderSample(samples[m.name])]] : [])));
        const partials = await this.partials(file.structure.partials);
        const messages = items.flatMap((m): PreviewMessage[] =>
          'type' in m ? renderMessages([m], samples, { placeholders }) : [{ role: m.role, content: renderWithEngine(m.content, samples, partials) }],
        );
        const rendered = conversationText(messages);
        return { ...base, messages, rendered, error: null, chars: rendered.length, tokens: estimateTokens(rendered) };
      } catch (err) {
        return { ...base, messages: this.last?.messages ?? null, rendered: this.last?.rendered ?? null, error: { message: err instanceof Error ? err.message : String(err) }, chars: this.last?.chars ?? 0, tokens: this.last?.tokens ?? 0 };
      }
    }
    try {
      const rendered = renderWithEngine(file.body, samples, await this.partials(file.structure.partials));
      return { ...base, rendered, error: null, chars: rendered.length, tokens: estimateTokens(rendered) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const variable = err instanceof TemplateError && typeof err.details.variable === 'string' ? err.details.variable : undefined;
      // Keep showing the last good rendering, dimmed, under the error.
      return { ...base, rendered: this.last?.rendered ?? null, error: { message, ...(variable ? { variable } : {}) }, chars: this.last?.chars ?? 0, tokens: this.last?.tokens ?? 0 };
    }
  }

  private posting = Promise.resolve();

  /** Renders and posts, one at a time, in the order of the edits. */
  private post(): void {
    this.posting = this.posting.then(async () => {
      if (!this.panel || !this.ready || !this.document) return;
      this.last = await this.render(this.document);
      if (!this.panel) return;
      this.panel.title = `Preview: ${this.last.fileName}`;
      void this.panel.webview.postMessage(this.last);
    });
  }

  get current(): PreviewUpdate | undefined {
    return this.last;
  }

  override dispose(): void {
    this.panel?.dispose();
    super.dispose();
  }
}
