import * as vscode from 'vscode';
import type { DeploymentRequest } from '../../client/index.js';
import { Disposable } from '../lifecycle.js';
import { MessageNode } from '../tree/nodes.js';
import type { Approvals } from './approvals.js';
import { awaitingDecision, requestDetails, requestText, roleOf, type DetailText } from './model.js';
import { COMMANDS } from '../commands/ids.js';

/** A pending request; `contextValue` `request.own|decide|decided|view` picks Approve / Reject or Withdraw. */
export class RequestNode extends vscode.TreeItem {
  constructor(
    readonly request: DeploymentRequest,
    approvals: Approvals,
  ) {
    const t = requestText(request, approvals.me, Date.now());
    super(t.label, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `request:${request.id}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.contextValue = `request.${roleOf(request, approvals.me)}`;
    this.iconPath = new vscode.ThemeIcon({ deploy: 'rocket', rollback: 'history', rollout_start: 'split-horizontal', rollout_abort: 'debug-stop' }[request.action]);
  }
}

/** A row under a request; the last one opens what the request would change. */
export class RequestDetailNode extends vscode.TreeItem {
  constructor(parent: RequestNode, index: number, d: DetailText) {
    super(d.label, vscode.TreeItemCollapsibleState.None);
    this.id = `${parent.id}:${index}`;
    this.description = d.description;
    this.tooltip = d.description ? `${d.label}\n${d.description}` : d.label;
    this.contextValue = 'requestDetail';
    this.iconPath = new vscode.ThemeIcon(d.icon);
    const c = d.compare;
    if (c) {
      this.command = c.from
        ? { command: COMMANDS.compareVersions, title: 'Compare', arguments: [{ prompt: c.prompt, versions: [c.from, c.to] }] }
        : { command: COMMANDS.openVersion, title: 'Open Version', arguments: [{ prompt: c.prompt, version: c.to }] };
    }
  }
}

export type ApprovalNode = RequestNode | RequestDetailNode | MessageNode;

/** The "Approvals" view: pending requests, newest first, with a badge counting those awaiting the user. */
export class ApprovalsTree extends Disposable implements vscode.TreeDataProvider<ApprovalNode> {
  private readonly changed = this._register(new vscode.EventEmitter<ApprovalNode | undefined>());
  readonly onDidChangeTreeData = this.changed.event;
  readonly view: vscode.TreeView<ApprovalNode>;

  constructor(private readonly approvals: Approvals) {
    super();
    this.view = this._register(vscode.window.createTreeView('promptRegistry.approvals', { treeDataProvider: this }));
    this._register(
      approvals.onDidChange(() => {
        const n = awaitingDecision(approvals.pending, approvals.me);
        this.view.badge = n ? { value: n, tooltip: `${n} deployment request${n === 1 ? '' : 's'} awaiting your decision` } : undefined;
        this.changed.fire(undefined);
      }),
    );
  }

  refresh(): Promise<void> {
    return this.approvals.reload();
  }

  getTreeItem(node: ApprovalNode): vscode.TreeItem {
    return node;
  }

  async getChildren(parent?: ApprovalNode): Promise<ApprovalNode[]> {
    if (parent instanceof RequestNode) return requestDetails(parent.request, this.approvals.me, Date.now()).map((d, i) => new RequestDetailNode(parent, i, d));
    if (parent) return [];
    await this.approvals.ready();
    const a = this.approvals;
    if (a.error) return [new MessageNode(`Could not load deployment requests: ${a.error}`, 'warning')];
    const nodes: ApprovalNode[] = a.pending.map((r) => new RequestNode(r, a));
    if (a.more) nodes.push(new MessageNode(`Showing the newest ${a.pending.length} pending requests`));
    return nodes;
  }
}
