import * as vscode from 'vscode';
import { RUN_METHODS, type RunMethods, type RunNotice, type RunShown, type RunView } from '../../webview/protocol.js';
import { ReusedRpcPanel, type Handlers } from '../executions/webview-rpc.js';
import { COMMANDS } from '../commands/ids.js';

const BODY = `<header class="toolbar"><h1 id="title">Run</h1><span id="status" class="status"></span>
  <button id="cancel" type="button" class="secondary" hidden>Cancel</button></header>
<div id="message" role="alert" hidden></div>
<main>
  <section><h2>Output</h2><pre id="output" class="text" aria-live="polite"></pre></section>
  <section id="tools-section" hidden><h2>Tool calls</h2><pre id="tools" class="text"></pre></section>
  <section id="facts-section" hidden><h2>Run</h2><dl id="facts" class="facts"></dl>
    <button id="execution" type="button" class="secondary">Open Execution</button></section>
</main>`;

/**
 * The Run panel: one run of a .prompt file at a time, its output streaming in,
 * then usage, latency, cost and tool calls. Cancel aborts the request (the
 * registry stops the provider call). One panel, reused for the next run.
 */
export class RunPanel extends ReusedRpcPanel<RunMethods, RunNotice, RunShown> {
  /** The run in flight, to cancel. */
  private controller: AbortController | undefined;
  private view: RunView | undefined;
  protected readonly handlers: Handlers<RunMethods>;

  constructor(extensionUri: vscode.Uri) {
    super({ extensionUri, viewType: 'promptRegistry.run', title: 'Run', script: 'run', body: BODY, methods: RUN_METHODS });
    this.handlers = {
      cancel: async () => {
        this.cancel();
        return null;
      },
      openExecution: async ({ id }) => {
        await vscode.commands.executeCommand(COMMANDS.openExecution, String(id));
        return null;
      },
    };
  }

  /** Opens (or reuses) the panel for a new run; answers the signal that Cancel aborts. */
  start(view: Omit<RunView, 'status' | 'text' | 'toolCalls' | 'usage' | 'latencyMs' | 'costUsd' | 'executionId' | 'finishReason' | 'error'>): AbortSignal {
    this.controller?.abort();
    this.controller = new AbortController();
    this.view = { ...view, status: 'running', text: '', toolCalls: null, usage: null, latencyMs: null, costUsd: null, executionId: null, finishReason: null, error: null };
    const { panel } = this.panel();
    panel.title = `Run: ${view.prompt}`;
    panel.reveal(vscode.ViewColumn.Beside, true);
    this.post();
    return this.controller.signal;
  }

  update(change: Partial<RunView>): void {
    if (!this.view) return;
    this.view = { ...this.view, ...change };
    this.post();
  }

  append(text: string): void {
    if (this.view) this.update({ text: this.view.text + text });
  }

  cancel(): void {
    if (this.view?.status !== 'running') return;
    this.controller?.abort();
    this.update({ status: 'cancelled' });
  }

  get current(): RunView | undefined {
    return this.view;
  }

  private post(): void {
    if (this.view) this.rpc?.notify({ type: 'run', run: this.view });
  }

  // A page reloaded (hidden, then shown again) gets the run as it stands.
  protected override ready(): void {
    this.post();
  }

  /** Closing the panel (or the extension) cancels the run in flight. */
  protected override closed(): void {
    this.controller?.abort();
  }
}
