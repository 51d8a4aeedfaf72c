import { randomBytes } from 'node:crypto';
import { basename } from 'node:path';
import * as vscode from 'vscode';
import { compileTemplate, TemplateError } from '../../server/templates/index.js';
import { estimateTokens, isPreviewToHost, type PreviewUpdate } from '../../webview/protocol.js';
import type { PromptEditorSupport } from '../editor/prompt-editor.js';
import { PROMPT_LANGUAGE } from '../editor/prompt-editor.js';
import { Disposable } from '../lifecycle.js';

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
    const root = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    this.panel = vscode.window.createWebviewPanel('promptRegistry.preview', 'Prompt Preview', { viewColumn: vscode.ViewColumn.Beside, preserveFocus: true }, {
      enableScripts: true,
      localResourceRoots: [root],
      retainContextWhenHidden: false,
    });
    this.ready = false;
    const webview = this.panel.webview;
    const nonce = randomBytes(16).toString('base64');
    const script = webview.asWebviewUri(vscode.Uri.joinPath(root, 'preview.js'));
    const style = webview.asWebviewUri(vscode.Uri.joinPath(root, 'preview.css'));
    webview.html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}"><title>Prompt Preview</title></head>
<body>
<header><span id="file"></span><span id="counts"></span><button id="copy" title="Copy the rendered prompt">Copy</button></header>
<div id="error" role="alert" hidden></div><div id="missing" hidden></div>
<pre id="output" aria-label="Rendered prompt"></pre>
<script nonce="${nonce}" src="${script}"></script>
</body></html>`;
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

  /** What the preview shows for the document now; public so tests can read it. */
  render(document: vscode.TextDocument): PreviewUpdate {
    const { file, analysis } = this.editors.analyze(document);
    const samples = file.frontMatter.samples ?? {};
    const missing = analysis.variables.filter((v) => !(v in samples));
    const base = { type: 'update' as const, fileName: basename(document.fileName), variables: analysis.variables, missing };
    try {
      const rendered = compileTemplate(file.body).render(samples);
      return { ...base, rendered, error: null, chars: rendered.length, tokens: estimateTokens(rendered) };
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      const variable = err instanceof TemplateError && typeof err.details.variable === 'string' ? err.details.variable : undefined;
      // Keep showing the last good rendering, dimmed, under the error.
      return { ...base, rendered: this.last?.rendered ?? null, error: { message, ...(variable ? { variable } : {}) }, chars: this.last?.chars ?? 0, tokens: this.last?.tokens ?? 0 };
    }
  }

  private post(): void {
    if (!this.panel || !this.ready || !this.document) return;
    this.last = this.render(this.document);
    this.panel.title = `Preview: ${this.last.fileName}`;
    void this.panel.webview.postMessage(this.last);
  }

  get current(): PreviewUpdate | undefined {
    return this.last;
  }

  override dispose(): void {
    this.panel?.dispose();
    super.dispose();
  }
}
