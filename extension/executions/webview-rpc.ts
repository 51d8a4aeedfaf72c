import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import { RegistryError, RegistryUnreachableError } from '../../client/index.js';
import { isNotification, isRequest, type Methods, type Notification, type Ready, type Response } from '../../webview/protocol.js';
import { NotConnectedError } from '../connection.js';
import { Disposable } from '../lifecycle.js';

/** Where the built webviews are (scripts/build-extension.mjs): the only folder they may load from. */
export function webviewRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
}

export function webviewOptions(extensionUri: vscode.Uri): vscode.WebviewOptions {
  return { enableScripts: true, localResourceRoots: [webviewRoot(extensionUri)] };
}

/**
 * The page of one webview: its script and style from dist/webview, a CSP
 * that allows nothing else (scripts only with this page's nonce), and the
 * body's skeleton.
 */
export function webviewHtml(webview: vscode.Webview, extensionUri: vscode.Uri, name: string, title: string, body: string): string {
  const root = webviewRoot(extensionUri);
  const nonce = randomBytes(16).toString('base64');
  const script = webview.asWebviewUri(vscode.Uri.joinPath(root, `${name}.js`));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(root, `${name}.css`));
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${webview.cspSource}; img-src ${webview.cspSource} data:; script-src 'nonce-${nonce}';">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style}"><title>${title}</title></head>
<body>
${body}
<script nonce="${nonce}" src="${script}"></script>
</body></html>`;
}

export type Handlers<M extends Methods> = { [K in keyof M]: (params: M[K]['params']) => Promise<M[K]['result']> };

/** An error's message as the webview shows it: the registry's own words, never a stack. */
function describe(err: unknown): { message: string; code?: string } {
  if (err instanceof RegistryError) return { message: err.message, code: err.code };
  if (err instanceof NotConnectedError || err instanceof RegistryUnreachableError) return { message: err.message, code: 'not_connected' };
  return { message: `Prompt Registry: ${err instanceof Error ? err.message : String(err)}` };
}

/**
 * The host's end of a webview's conversation: answers its requests with the
 * handlers, echoing each request's id, and holds notifications until the
 * webview has said `ready` (again after each reload of a hidden view). The
 * webview reports what it shows after each render (`shown`).
 */
export class WebviewRpc<M extends Methods, N extends { type: string }, S extends { type: 'shown' }> extends Disposable {
  private ready = false;
  /** The latest notification of each type, kept until the webview is ready. */
  private readonly pending = new Map<string, Notification<N>>();
  private readonly readied = this._register(new vscode.EventEmitter<void>());
  /** Fires each time the webview (re)loads and says it is ready. */
  readonly onDidBecomeReady = this.readied.event;
  private readonly shown = this._register(new vscode.EventEmitter<S>());
  /** Fires after each render, with what the webview says it shows. */
  readonly onDidShow = this.shown.event;

  constructor(
    private readonly webview: vscode.Webview,
    methods: readonly (keyof M & string)[],
    readonly handlers: Handlers<M>,
  ) {
    super();
    this._register(
      webview.onDidReceiveMessage(async (message: unknown) => {
        if (isNotification<Ready>(message, ['ready'])) {
          this.ready = true;
          for (const n of this.pending.values()) void this.webview.postMessage(n);
          this.pending.clear();
          this.readied.fire();
          return;
        }
        if (isNotification<S>(message, ['shown'])) {
          this.shown.fire(message);
          return;
        }
        if (!isRequest<M>(message, methods)) return;
        let response: Response;
        try {
          const result = await this.handlers[message.method](message.params);
          response = { kind: 'response', id: message.id, ok: true, result: result ?? null };
        } catch (err) {
          response = { kind: 'response', id: message.id, ok: false, error: describe(err) };
        }
        void this.webview.postMessage(response);
      }),
    );
  }

  /** Posts now if the webview is ready, else when it is (only the latest of each type). */
  notify(notice: N): void {
    const message = { ...notice, kind: 'notify' } as Notification<N>;
    if (this.ready) void this.webview.postMessage(message);
    else this.pending.set(notice.type, message);
  }

  /** The webview's page is gone (a hidden view without retained context): wait for `ready` again. */
  unload(): void {
    this.ready = false;
  }

  get isReady(): boolean {
    return this.ready;
  }
}

/**
 * An editor-area webview panel talking through a WebviewRpc: `onShown` hears
 * each render, `onClosed` runs once the user closes it. A panel hidden behind
 * another tab loses its page (no retainContextWhenHidden) and says `ready`
 * again, so the rpc holds notifications until then.
 */
export function openRpcPanel<M extends Methods, N extends { type: string }, S extends { type: 'shown' }>(options: {
  extensionUri: vscode.Uri;
  viewType: string;
  title: string;
  /** The webview's script and stylesheet name under dist/webview/. */
  script: string;
  body: string;
  methods: readonly (keyof M & string)[];
  handlers: Handlers<M>;
  onShown: (shown: S) => void;
  onClosed: () => void;
}): { panel: vscode.WebviewPanel; rpc: WebviewRpc<M, N, S> } {
  const { extensionUri, title } = options;
  const panel = vscode.window.createWebviewPanel(options.viewType, title, vscode.ViewColumn.Active, { ...webviewOptions(extensionUri), retainContextWhenHidden: false });
  panel.webview.html = webviewHtml(panel.webview, extensionUri, options.script, title, options.body);
  const rpc = new WebviewRpc<M, N, S>(panel.webview, options.methods, options.handlers);
  const shown = rpc.onDidShow(options.onShown);
  const visibility = panel.onDidChangeViewState(() => panel.visible || rpc.unload());
  panel.onDidDispose(() => {
    shown.dispose();
    visibility.dispose();
    rpc.dispose();
    options.onClosed();
  });
  return { panel, rpc };
}

/**
 * One editor panel reused for whatever it shows next (the Run, Evaluation and
 * Execution panels): opened on first use and again after the user closes it;
 * `last` and `onDidShow` hear each render. Subclasses give the handlers, and
 * may redraw on `ready` (a page reloaded) and clean up when it closes.
 */
export abstract class ReusedRpcPanel<M extends Methods, N extends { type: string }, S extends { type: 'shown' }> extends Disposable {
  private open: { panel: vscode.WebviewPanel; rpc: WebviewRpc<M, N, S> } | undefined;
  private readonly shownEmitter = this._register(new vscode.EventEmitter<S>());
  readonly onDidShow = this.shownEmitter.event;
  last: S | undefined;
  protected abstract readonly handlers: Handlers<M>;

  constructor(private readonly page: { extensionUri: vscode.Uri; viewType: string; title: string; script: string; body: string; methods: readonly (keyof M & string)[] }) {
    super();
  }

  /** The panel, opened when none is. */
  protected panel(): { panel: vscode.WebviewPanel; rpc: WebviewRpc<M, N, S> } {
    if (this.open) return this.open;
    const open = openRpcPanel<M, N, S>({
      ...this.page,
      handlers: this.handlers,
      onShown: (s) => {
        this.last = s;
        this.shownEmitter.fire(s);
      },
      onClosed: () => {
        if (this.open !== open) return;
        this.open = undefined;
        this.closed();
      },
    });
    open.rpc.onDidBecomeReady(() => this.ready());
    return (this.open = open);
  }

  /** The open panel's rpc, if one is open. */
  protected get rpc(): WebviewRpc<M, N, S> | undefined {
    return this.open?.rpc;
  }

  /** The page said ready again (reloaded after being hidden). */
  protected ready(): void {}

  /** The user closed the panel (or it was disposed). */
  protected closed(): void {}

  override dispose(): void {
    this.open?.panel.dispose();
    super.dispose();
  }
}
