import * as vscode from 'vscode';
import type { DeploymentRequest } from '../../client/index.js';
import type { Approvals } from '../approvals/approvals.js';
import { pendingMessage } from '../approvals/model.js';
import type { Settings } from '../config.js';
import { picked } from './ui.js';

/**
 * The steps every deploy action shares (deploy, rollback, and the rollout
 * actions): a confirmation where the environment is protected or live prompts
 * would change with it, a note for the approvers where it needs approval, and
 * the message naming the pending request when the registry answers 202.
 */
export class DeployFlow {
  constructor(
    private readonly settings: Settings,
    private readonly approvals: Approvals,
  ) {}

  get protectedEnvironments(): string[] {
    return this.settings.protectedEnvironments;
  }

  isProtected(environment: string): boolean {
    return this.protectedEnvironments.includes(environment);
  }

  /**
   * A modal confirmation when the environment is protected or `detail` says
   * what else changes (prompts that include this one as a partial); nothing
   * to confirm otherwise, or when `confirmed`. Cancelling ends the command.
   */
  async confirm(environment: string, question: string, action: string, opts: { confirmed?: boolean; detail?: string } = {}): Promise<void> {
    if (opts.confirmed || !(this.isProtected(environment) || opts.detail)) return;
    const needs = this.approvals.me?.can.deploy[environment];
    const approval = needs?.needs_approval ? ` It needs ${needs.required_approvals} approval${needs.required_approvals === 1 ? '' : 's'}: this asks for them, and it goes live once given.` : '';
    const protection = this.isProtected(environment) ? `${environment} is a protected environment.${approval}` : approval.trim();
    const detail = [opts.detail, protection].filter(Boolean).join('\n\n');
    const answer = await vscode.window.showWarningMessage(question, { modal: true, detail }, action);
    picked(answer === action ? answer : undefined);
  }

  /** Where the environment needs approval, a note for the approvers (asked unless given or confirmed). */
  async comment(environment: string, args: { comment?: string; confirmed?: boolean }): Promise<string | undefined> {
    const needs = this.approvals.me?.can.deploy[environment];
    if (args.comment !== undefined || args.confirmed || !needs?.needs_approval) return args.comment || undefined;
    const text = await vscode.window.showInputBox({
      title: `${environment} needs ${needs.required_approvals} approval${needs.required_approvals === 1 ? '' : 's'}`,
      prompt: 'A note for the approvers (optional). Enter to send the request, Escape to cancel.',
      placeHolder: 'Why this change?',
    });
    return picked(text) || undefined;
  }

  /** The registry answered 202: says which request waits, and the user hears when it is settled. */
  pending(request: DeploymentRequest): void {
    this.approvals.track(request);
    void vscode.window.showInformationMessage(pendingMessage(request), 'Show Approvals').then((choice) => {
      if (choice) void vscode.commands.executeCommand('promptRegistry.approvals.focus');
    });
  }
}
