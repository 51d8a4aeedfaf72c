import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { isPreviewToHost, type CompareUpdate } from '../../webview/protocol.js';
import { compareVersions, type CompareSide } from '../core/compare.js';
import { Disposable } from '../lifecycle.js';

/**
 * "Compare Versions": two versions of a prompt (or two `.prompt` files) side
 * by side, message by message and config by config, in one reused webview.
 */
export class ComparePanel extends Disposable {
  private panel: vscode.WebviewPanel | undefined;
  private ready = false;
  /** What the panel shows now; tests read it. */
  current: CompareUpdate | undefined;

  constructor(private readonly extensionUri: vscode.Uri) {
    super();
  }

  show(title: string, left: CompareSide, right: CompareSide): CompareUpdate {
    this.current = { type: 'compare', title, comparison: compareVersions(left, right) };
    if (!this.panel) this.create();
    this.panel!.title = title;
    this.panel!.reveal(vscode.ViewColumn.Active);
    this.post();
    return this.current;
  }

  private create(): void {
    const root = vscode.Uri.joinPath(this.extensionUri, 'dist', 'webview');
    const panel = vscode.window.createWebviewPanel('promptRegistry.compare', 'Compare', vscode.ViewColumn.Active, { enableScripts: true, localResourceRoots: [root] });
    this.panel = panel;
    this.ready = false;
    const webview = panel.webview;
    const nonce = randomBytes(16).toString('base64');
    webview.html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${webview.asWebviewUri(vscode.Uri.joinPath(root, 'compare.css'))}"><title>Compare</title></head>
<body>
<header><h1 id="title"></h1><span id="summary"></span></header>
<section><h2>Messages</h2><div class="columns head"><span id="left-label"></span><span id="right-label"></span></div><ol id="messages" aria-label="Messages"></ol></section>
<section><h2>Configuration</h2><table id="config" aria-label="Configuration"><thead><tr><th>Key</th><th id="left-head"></th><th id="right-head"></th></tr></thead><tbody></tbody></table></section>
<script nonce="${nonce}" src="${webview.asWebviewUri(vscode.Uri.joinPath(root, 'compare.js'))}"></script>
</body></html>`;
    const listener = webview.onDidReceiveMessage((message: unknown) => {
      if (isPreviewToHost(message) && message.type === 'ready') {
        this.ready = true;
        this.post();
      }
    });
    panel.onDidDispose(() => {
      listener.dispose();
      if (this.panel === panel) this.panel = undefined;
    });
  }

  private post(): void {
    if (this.panel && this.ready && this.current) void this.panel.webview.postMessage(this.current);
  }

  override dispose(): void {
    this.panel?.dispose();
    super.dispose();
  }
}
