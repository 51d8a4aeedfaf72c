import * as vscode from 'vscode';
import { MATRIX_METHODS, type MatrixMethods, type MatrixNotice, type MatrixShown, type MatrixView } from '../../webview/protocol.js';
import { ReusedRpcPanel, type Handlers } from '../executions/webview-rpc.js';
import { COMMANDS } from '../commands/ids.js';

const BODY = `<header class="toolbar"><h1 id="title">Evaluation</h1><span id="summary" class="muted"></span></header>
<div id="message" role="alert" hidden></div>
<main id="matrix-main" hidden>
  <table id="matrix" class="matrix">
    <thead id="matrix-head"></thead>
    <tbody id="matrix-rows"></tbody>
    <tfoot id="matrix-foot"></tfoot>
  </table>
  <section id="item" hidden>
    <header class="toolbar"><h2 id="item-title">Item</h2><button id="item-close" type="button" class="secondary">Close</button></header>
    <dl id="item-facts" class="facts"></dl>
    <div id="item-outputs" class="outputs"></div>
    <h3>Diff</h3>
    <pre id="item-diff" class="diff"></pre>
  </section>
</main>`;

/**
 * The matrix of an experiment: dataset items down, versions (the draft, the
 * live version) across, each cell coloured by its score; the aggregates of each
 * column at the foot; an item clicked shows both outputs and their diff.
 */
export class MatrixPanel extends ReusedRpcPanel<MatrixMethods, MatrixNotice, MatrixShown> {
  private view: MatrixView | undefined;
  protected readonly handlers: Handlers<MatrixMethods>;

  constructor(extensionUri: vscode.Uri) {
    super({ extensionUri, viewType: 'promptRegistry.matrix', title: 'Evaluation', script: 'matrix', body: BODY, methods: MATRIX_METHODS });
    this.handlers = {
      openExecution: async ({ id }) => {
        await vscode.commands.executeCommand(COMMANDS.openExecution, String(id));
        return null;
      },
    };
  }

  show(view: MatrixView): void {
    this.view = view;
    const { panel, rpc } = this.panel();
    panel.title = view.title;
    rpc.notify({ type: 'matrix', view });
    panel.reveal(vscode.ViewColumn.Active);
  }

  /** Opens an item's outputs and diff (what a click on its row does). */
  select(seq: number): void {
    this.rpc?.notify({ type: 'select', seq });
  }

  get current(): MatrixView | undefined {
    return this.view;
  }

  protected override ready(): void {
    if (this.view) this.rpc?.notify({ type: 'matrix', view: this.view });
  }
}
