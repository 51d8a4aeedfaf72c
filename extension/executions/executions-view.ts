import * as vscode from 'vscode';
import { EXECUTIONS_METHODS, type ExecutionsFilter, type ExecutionsMethods, type ExecutionsNotice, type ExecutionsShown } from '../../webview/protocol.js';
import type { Settings } from '../config.js';
import type { Connection } from '../connection.js';
import { executionQuery, normalizeFilter } from '../core/executions.js';
import { Disposable } from '../lifecycle.js';
import { webviewHtml, webviewOptions, WebviewRpc, type Handlers } from './webview-rpc.js';
import { COMMANDS } from '../commands/ids.js';

/** Executions a page: the API's largest. */
const PAGE_SIZE = 100;

const BODY = `<form id="filters" class="toolbar" role="search">
  <label>Prompt <input id="prompt" list="prompt-names" placeholder="all prompts" autocomplete="off" spellcheck="false"></label>
  <datalist id="prompt-names"></datalist>
  <label>Version <select id="version" disabled><option value="">all</option></select></label>
  <label>Environment <select id="environment"><option value="">all</option></select></label>
  <label>Status <select id="status"><option value="">all</option><option value="ok">ok</option><option value="error">error</option></select></label>
  <label>Time <select id="range"></select></label>
  <button id="refresh" type="button" title="Load the newest executions">Refresh</button>
  <button id="stats" type="button" class="secondary" title="Statistics of the prompt" disabled>Statistics</button>
  <button id="clear" type="button" class="secondary" title="Clear the filters">Clear</button>
  <span id="summary" class="muted" aria-live="polite"></span>
</form>
<div id="message" role="status" hidden></div>
<table id="table" hidden><thead><tr id="head"></tr></thead><tbody id="rows"></tbody></table>
<div class="more"><button id="more" type="button" class="secondary" hidden>Load more</button></div>`;

/**
 * The "Executions" view in the panel: recent executions with filters, loaded
 * through the registry API as the webview asks. While visible it refreshes on
 * a timer (`promptRegistry.executions.refreshInterval`); hidden, it doesn't.
 */
export class ExecutionsView extends Disposable implements vscode.WebviewViewProvider {
  static readonly viewId = 'promptRegistry.executions';
  private view: vscode.WebviewView | undefined;
  private rpc: WebviewRpc<ExecutionsMethods, ExecutionsNotice, ExecutionsShown> | undefined;
  private viewDisposables: vscode.Disposable[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** A filter asked for before the view existed ("Show Executions" resolves the view). */
  private pendingFilter: ExecutionsFilter | undefined;
  private readonly shownEmitter = this._register(new vscode.EventEmitter<ExecutionsShown>());
  /** What the webview last said it shows; tests wait on it. */
  readonly onDidShow = this.shownEmitter.event;
  last: ExecutionsShown | undefined;
  readonly handlers: Handlers<ExecutionsMethods>;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly connection: Connection,
    private readonly settings: Settings,
  ) {
    super();
    this.handlers = {
      list: ({ filter, cursor }) => this.connection.api.listExecutions({ ...executionQuery(normalizeFilter(filter), new Date()), limit: PAGE_SIZE, cursor }),
      prompts: async ({ search }) => (await this.connection.api.listPrompts({ search: String(search ?? '').trim(), limit: 50 })).items.map((p) => p.name),
      versions: async ({ prompt }) => (await this.connection.api.listVersions(String(prompt), { limit: 100 })).items.map((v) => v.version),
      environments: () => this.connection.api.environments(),
      openExecution: async ({ id }) => {
        await vscode.commands.executeCommand(COMMANDS.openExecution, String(id));
        return null;
      },
      openStats: async ({ prompt }) => {
        await vscode.commands.executeCommand(COMMANDS.showStatistics, { prompt: String(prompt) });
        return null;
      },
    };
    this._register(vscode.window.registerWebviewViewProvider(ExecutionsView.viewId, this));
    this._register(connection.onDidChange((s) => s.kind === 'connected' && this.refresh()));
    this._register(settings.onDidChange(['executions.refreshInterval'], () => this.schedule()));
    this._register({ dispose: () => this.dropView() });
  }

  resolveWebviewView(view: vscode.WebviewView): void {
    this.dropView();
    this.view = view;
    view.webview.options = webviewOptions(this.extensionUri);
    view.webview.html = webviewHtml(view.webview, this.extensionUri, 'executions', 'Executions', BODY);
    const rpc = new WebviewRpc<ExecutionsMethods, ExecutionsNotice, ExecutionsShown>(view.webview, EXECUTIONS_METHODS, this.handlers);
    this.rpc = rpc;
    if (this.pendingFilter) rpc.notify({ type: 'filter', filter: this.pendingFilter });
    this.pendingFilter = undefined;
    this.viewDisposables.push(
      rpc,
      rpc.onDidShow((shown) => {
        this.last = shown;
        view.description = describe(shown.filter);
        this.shownEmitter.fire(shown);
      }),
      view.onDidChangeVisibility(() => {
        // A hidden view's page is discarded; it says `ready` again when shown.
        if (!view.visible) rpc.unload();
        this.schedule();
      }),
      view.onDidDispose(() => {
        if (this.view === view) this.dropView();
      }),
    );
    this.schedule();
  }

  /** Opens the view filtered to this ("Show Executions"). */
  async show(filter: Partial<ExecutionsFilter>): Promise<void> {
    const normalized = normalizeFilter({ range: 'all', ...filter });
    if (this.rpc) this.rpc.notify({ type: 'filter', filter: normalized });
    else this.pendingFilter = normalized;
    await vscode.commands.executeCommand(`${ExecutionsView.viewId}.focus`);
  }

  /** Loads the newest executions again, from the first page. */
  refresh(): void {
    this.rpc?.notify({ type: 'refresh', merge: false });
  }

  /** The timer runs only while the view is visible. */
  private schedule(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    const seconds = this.settings.executionsRefreshSeconds;
    if (!this.view?.visible || seconds <= 0) return;
    this.timer = setInterval(() => {
      if (this.rpc?.isReady) this.rpc.notify({ type: 'refresh', merge: true });
    }, seconds * 1000);
  }

  /** Whether the refresh timer is running (it runs only while the view is visible). */
  get refreshing(): boolean {
    return this.timer !== undefined;
  }

  private dropView(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    for (const d of this.viewDisposables.splice(0)) d.dispose();
    this.view = undefined;
    this.rpc = undefined;
  }
}

/** The view's description: what it is filtered to. */
function describe(f: ExecutionsFilter): string {
  return [f.prompt ? `${f.prompt}${f.version ? ` v${f.version}` : ''}` : undefined, f.environment, f.status].filter(Boolean).join(' · ');
}
