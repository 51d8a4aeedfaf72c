import * as vscode from 'vscode';
import type { Metric } from '../../client/index.js';
import { EXECUTION_METHODS, type ExecutionMethods, type ExecutionNotice, type ExecutionShown } from '../../webview/protocol.js';
import type { Connection } from '../connection.js';
import { ReusedRpcPanel, type Handlers } from './webview-rpc.js';
import { COMMANDS } from '../commands/ids.js';

const BODY = `<header class="toolbar"><h1 id="title">Execution</h1><span id="when" class="muted"></span>
  <button id="add-to-dataset" type="button" class="secondary" hidden>Add to Dataset</button>
  <button id="stats" type="button" class="secondary" hidden>Statistics</button><button id="reload" type="button" class="secondary">Reload</button></header>
<div id="message" role="status" hidden></div>
<div id="dataset-note" class="message" role="status" hidden></div>
<main id="detail" hidden>
  <section><h2>Summary</h2><dl id="facts" class="facts"></dl></section>
  <section id="error-section" hidden><h2>Error</h2><pre id="error" class="text error"></pre></section>
  <section><h2>Variables</h2><pre id="variables" class="text"></pre></section>
  <section><h2>Rendered prompt</h2><pre id="rendered" class="text"></pre><ol id="rendered-messages" class="conversation" aria-label="Rendered messages" hidden></ol></section>
  <section><h2>Response</h2><pre id="response" class="text"></pre><ol id="response-messages" class="conversation" aria-label="Response messages" hidden></ol></section>
  <section><h2>Metadata</h2><pre id="metadata" class="text"></pre></section>
  <section><h2>Scores</h2>
    <table id="scores"><thead><tr><th>Metric</th><th>Value</th><th>Source</th><th>Comment</th><th>By</th><th>When</th></tr></thead><tbody id="score-rows"></tbody></table>
    <p id="no-scores" class="muted" hidden>No scores yet.</p>
    <form id="score-form" class="score-form">
      <h3>Add Score</h3>
      <label>Metric <select id="metric"></select></label>
      <label>Value <input id="value" autocomplete="off" spellcheck="false"><select id="value-choice" hidden></select></label>
      <label class="grow">Comment <input id="comment" placeholder="optional" autocomplete="off"></label>
      <button id="add" type="submit">Add Score</button>
      <span id="hint" class="muted"></span>
      <div id="score-error" class="error" role="alert" hidden></div>
      <p id="no-metrics" class="muted" hidden>No metrics are defined yet: create one with <code>POST /metrics</code> (docs/api.md, "Custom evaluation metrics").</p>
    </form>
  </section>
</main>`;

/**
 * One execution's detail, in the editor area: everything logged, its scores,
 * and "Add Score". One panel, reused for the next execution opened.
 */
export class ExecutionPanel extends ReusedRpcPanel<ExecutionMethods, ExecutionNotice, ExecutionShown> {
  readonly handlers: Handlers<ExecutionMethods>;

  constructor(
    extensionUri: vscode.Uri,
    private readonly connection: Connection,
  ) {
    super({ extensionUri, viewType: 'promptRegistry.execution', title: 'Execution', script: 'execution', body: BODY, methods: EXECUTION_METHODS });
    this.handlers = {
      detail: ({ id }) => this.connection.api.getExecution(String(id)),
      metrics: async () => {
        const metrics: Metric[] = [];
        let cursor: string | null = null;
        // Every metric, page by page: a score form that hides one would be a puzzle.
        do {
          const page = await this.connection.api.listMetrics({ limit: 100, cursor });
          metrics.push(...page.items);
          cursor = page.next_cursor;
        } while (cursor && metrics.length < 1000);
        return metrics.sort((a, b) => a.name.localeCompare(b.name));
      },
      addScore: ({ id, metric, value, comment }) =>
        this.connection.api.addScore(String(id), { metric, value, source: 'human', ...(comment?.trim() ? { comment: comment.trim() } : {}) }),
      openStats: async ({ prompt }) => {
        await vscode.commands.executeCommand(COMMANDS.showStatistics, { prompt: String(prompt) });
        return null;
      },
      // The command picks (or creates) the dataset and reports failures itself.
      addToDataset: async ({ id }) => (await vscode.commands.executeCommand<{ dataset: string; item: number } | undefined>(COMMANDS.addToDataset, String(id))) ?? null,
    };
  }

  show(id: string): void {
    const { panel, rpc } = this.panel();
    panel.title = `Execution ${id.slice(0, 8)}`;
    rpc.notify({ type: 'show', id });
    panel.reveal(vscode.ViewColumn.Active);
  }
}
