import * as vscode from 'vscode';
import { isPreviewToHost, type CompareUpdate } from '../../webview/protocol.js';
import { compareVersions, type CompareSide } from '../core/compare.js';
import { webviewHtml, webviewOptions } from '../executions/webview-rpc.js';
import { Disposable } from '../lifecycle.js';

const BODY = `<header><h1 id="title"></h1><span id="summary"></span></header>
<section><h2>Messages</h2><div class="columns head"><span id="left-label"></span><span id="right-label"></span></div><ol id="messages" aria-label="Messages"></ol></section>
<section><h2>Configuration</h2><table id="config" aria-label="Configuration"><thead><tr><th>Key</th><th id="left-head"></th><th id="right-head"></th></tr></thead><tbody></tbody></table></section>`;

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
    const panel = vscode.window.createWebviewPanel('promptRegistry.compare', 'Compare', vscode.ViewColumn.Active, webviewOptions(this.extensionUri));
    this.panel = panel;
    this.ready = false;
    const webview = panel.webview;
    webview.html = webviewHtml(webview, this.extensionUri, 'compare', 'Compare', BODY);
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
