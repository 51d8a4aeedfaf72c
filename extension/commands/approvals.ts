import * as vscode from 'vscode';
import type { DeploymentRequest } from '../../client/index.js';
import type { Approvals } from '../approvals/approvals.js';
import { changeLabel, decisionMessage, describeChange, roleOf, shortId, type RequestRole } from '../approvals/model.js';
import { RequestNode } from '../approvals/tree.js';
import type { Connection } from '../connection.js';
import { Disposable } from '../lifecycle.js';
import { command, picked, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

/** Arguments for scripted use (tests, keybindings): a comment given (even empty) is not asked for. */
export interface DecisionArgs {
  id: string;
  comment?: string;
  /** Skip the confirmation of a rejection or withdrawal. */
  confirmed?: boolean;
}

type Decision = 'approve' | 'reject' | 'withdraw';

const WHO: Record<Decision, RequestRole[]> = { approve: ['decide'], reject: ['decide', 'decided'], withdraw: ['own'] };

/** "Approve", "Reject" and "Withdraw" on deployment requests, from the Approvals view or the palette. */
export class ApprovalCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly approvals: Approvals,
    private readonly refresh: () => void,
  ) {
    super();
    this._register(command(COMMANDS.approveRequest, (arg?: RequestNode | DecisionArgs) => this.decide('approve', arg)));
    this._register(command(COMMANDS.rejectRequest, (arg?: RequestNode | DecisionArgs) => this.decide('reject', arg)));
    this._register(command(COMMANDS.withdrawRequest, (arg?: RequestNode | DecisionArgs) => this.decide('withdraw', arg)));
  }

  private async pick(decision: Decision): Promise<DeploymentRequest> {
    await this.approvals.reload();
    const candidates = this.approvals.pending.filter((r) => WHO[decision].includes(roleOf(r, this.approvals.me)));
    if (!candidates.length) throw new UserError(decision === 'withdraw' ? 'You have no pending deployment requests.' : 'No deployment requests await your decision.');
    const items = candidates.map((r) => ({ label: changeLabel(r), description: `${r.action} · ${r.requested_by}`, detail: r.comment ?? undefined, r }));
    const title = { approve: 'Approve which request?', reject: 'Reject which request?', withdraw: 'Withdraw which request?' }[decision];
    return picked(await vscode.window.showQuickPick(items, { title }))!.r;
  }

  async decide(decision: Decision, arg?: RequestNode | DecisionArgs): Promise<DeploymentRequest> {
    const api = this.connection.api;
    const args: Partial<DecisionArgs> = arg instanceof RequestNode ? { id: arg.request.id } : (arg ?? {});
    const request = args.id ? await api.deploymentRequest(args.id) : await this.pick(decision);
    if (request.status !== 'pending') throw new UserError(`Request ${shortId(request.id)} is already ${request.status}.`);
    const change = describeChange(request);
    const comment =
      args.comment ??
      picked(
        await vscode.window.showInputBox({
          title: `${decision === 'approve' ? 'Approve' : decision === 'reject' ? 'Reject' : 'Withdraw'} the ${change}`,
          prompt: `Requested by ${request.requested_by}${request.comment ? `: “${request.comment}”` : ''}. A comment is optional; Enter to go on, Escape to cancel.`,
          placeHolder: decision === 'approve' ? 'Comment (optional)' : 'Why? (optional, shown to the requester)',
        }),
      );
    if (decision !== 'approve' && !args.confirmed) {
      const action = decision === 'reject' ? 'Reject' : 'Withdraw';
      const question = decision === 'reject' ? `Reject the ${change} requested by ${request.requested_by}?` : `Withdraw your ${change}?`;
      const answer = await vscode.window.showWarningMessage(question, { modal: true, detail: 'A rejected request cannot be reopened; it has to be asked for again.' }, action);
      picked(answer === action ? answer : undefined);
    }
    // Settled here: the user needs no notification about it.
    this.approvals.forget(request.id);
    const decided = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `${decision === 'approve' ? 'Approving' : 'Rejecting'} the ${change}…` }, () =>
      decision === 'approve' ? api.approve(request.id, comment || undefined) : api.reject(request.id, comment || undefined),
    );
    await this.approvals.reload();
    if (decided.status === 'applied') this.refresh();
    void vscode.window.showInformationMessage(decisionMessage(decided, decision));
    return decided;
  }
}
