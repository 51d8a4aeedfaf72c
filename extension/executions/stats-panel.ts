import * as vscode from 'vscode';
import { STATS_METHODS, type StatsMethods, type StatsNotice, type StatsShown } from '../../webview/protocol.js';
import type { Connection } from '../connection.js';
import type { Rollout } from '../../client/index.js';
import { DEFAULT_STATS_RANGE, isStatsRange, sinceWindow, statsWindow } from '../core/executions.js';
import { Disposable } from '../lifecycle.js';
import { openRpcPanel, type Handlers, type WebviewRpc } from './webview-rpc.js';
import { COMMANDS } from '../commands/ids.js';

const BODY = `<header class="toolbar"><h1 id="title">Statistics</h1>
  <label>Time <select id="range"></select></label>
  <label>Environment <select id="environment"><option value="">all</option></select></label>
  <button id="reload" type="button">Refresh</button>
  <button id="executions" type="button" class="secondary">Show Executions</button>
  <span id="window" class="muted"></span>
</header>
<div id="message" role="status" hidden></div>
<main id="content" hidden>
  <section><h2>Versions</h2><div class="scroll"><table id="versions"><thead><tr id="versions-head"></tr></thead><tbody id="versions-rows"></tbody></table></div></section>
  <section><h2>Over time</h2><div id="charts" class="charts"></div></section>
  <section id="compare-section"><h2 id="compare-title">Compare two versions</h2>
    <div id="rollout" class="rollout-banner" role="note" hidden></div>
    <form id="compare-form" class="toolbar"><label>A <select id="compare-a"></select></label><label>B <select id="compare-b"></select></label><button id="compare" type="submit" class="secondary">Compare</button></form>
    <table id="comparison" hidden><thead><tr><th>Measure</th><th id="head-a">A</th><th id="head-b">B</th><th>B − A</th></tr></thead><tbody id="comparison-rows"></tbody></table>
  </section>
</main>`;

/**
 * A prompt's statistics, in the editor area: the per-version table, charts of
 * latency p95, cost, quality and volume over time per version, and a
 * comparison of two versions. One panel per prompt.
 */
export class StatsPanel extends Disposable {
  private readonly panels = new Map<string, { panel: vscode.WebviewPanel; rpc: WebviewRpc<StatsMethods, StatsNotice, StatsShown> }>();
  private readonly shownEmitter = this._register(new vscode.EventEmitter<StatsShown>());
  readonly onDidShow = this.shownEmitter.event;
  last: StatsShown | undefined;
  readonly handlers: Handlers<StatsMethods>;

  constructor(
    private readonly extensionUri: vscode.Uri,
    private readonly connection: Connection,
  ) {
    super();
    const window = (range: unknown, environment: unknown, since: unknown) => ({
      ...(sinceWindow(since, new Date()) ?? statsWindow(isStatsRange(range) ? range : DEFAULT_STATS_RANGE, new Date())),
      ...(typeof environment === 'string' && environment ? { environment } : {}),
    });
    this.handlers = {
      stats: ({ prompt, range, environment, since }) => this.connection.api.stats(String(prompt), window(range, environment, since)),
      environments: () => this.connection.api.environments(),
      compare: ({ prompt, a, b, range, environment, since }) => {
        const { from, to, environment: env } = window(range, environment, since);
        return this.connection.api.compare(String(prompt), Number(a), Number(b), { from, to, ...(env ? { environment: env } : {}) });
      },
      showExecutions: async (filter) => {
        await vscode.commands.executeCommand(COMMANDS.showExecutions, filter);
        return null;
      },
    };
  }

  show(prompt: string): void {
    const open = this.panels.get(prompt) ?? this.create(prompt);
    open.rpc.notify({ type: 'show', prompt });
    open.panel.reveal(vscode.ViewColumn.Active);
  }

  /** A rollout's two variants side by side (the comparison, live as A and candidate as B), in its environment, since it started. */
  showRollout(prompt: string, rollout: Pick<Rollout, 'environment' | 'live' | 'candidate' | 'weight' | 'started_at'>): void {
    const open = this.panels.get(prompt) ?? this.create(prompt);
    open.rpc.notify({ type: 'show', prompt, rollout: { environment: rollout.environment, live: rollout.live, candidate: rollout.candidate, weight: rollout.weight, since: rollout.started_at } });
    open.panel.reveal(vscode.ViewColumn.Active);
  }

  private create(prompt: string) {
    const open = openRpcPanel<StatsMethods, StatsNotice, StatsShown>({
      extensionUri: this.extensionUri,
      viewType: 'promptRegistry.statistics',
      title: `Statistics: ${prompt}`,
      script: 'stats',
      body: BODY,
      methods: STATS_METHODS,
      handlers: this.handlers,
      onShown: (s) => {
        this.last = s;
        this.shownEmitter.fire(s);
      },
      onClosed: () => this.panels.delete(prompt),
    });
    this.panels.set(prompt, open);
    return open;
  }

  override dispose(): void {
    for (const { panel } of [...this.panels.values()]) panel.dispose();
    super.dispose();
  }
}
