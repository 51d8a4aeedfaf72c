import * as vscode from 'vscode';
import type { DeployResult, DeploymentRequest } from '../../client/index.js';
import type { Approvals } from '../approvals/approvals.js';
import { pendingMessage } from '../approvals/model.js';
import type { Connection } from '../connection.js';
import type { Settings } from '../config.js';
import { Disposable } from '../lifecycle.js';
import { LiveNode, PromptNode, VersionNode } from '../tree/nodes.js';
import { pickEnvironment, pickPrompt, pickVersion } from './pickers.js';
import { command, picked } from './ui.js';

/** Arguments for scripted use (tests, keybindings): anything missing is asked for. */
export interface DeployArgs {
  prompt?: string;
  version?: number;
  environment?: string;
  /** Skip the confirmation of a protected environment (and, where it needs approval, the question for a comment). */
  confirmed?: boolean;
  /** A note for the approvers, where the environment needs approval. */
  comment?: string;
}

/** "Deploy Version…" and "Rollback…", from the tree or the palette. */
export class DeployCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly settings: Settings,
    private readonly refresh: () => void,
    private readonly approvals: Approvals,
  ) {
    super();
    this._register(command('promptRegistry.deploy', (arg?: VersionNode | PromptNode | DeployArgs) => this.deploy(arg)));
    this._register(command('promptRegistry.rollback', (arg?: PromptNode | LiveNode | DeployArgs) => this.rollback(arg)));
  }

  private async confirm(environment: string, question: string, action: string, confirmed?: boolean): Promise<void> {
    if (confirmed || !this.settings.protectedEnvironments.includes(environment)) return;
    const needs = this.approvals.me?.can.deploy[environment];
    const approval = needs?.needs_approval ? ` It needs ${needs.required_approvals} approval${needs.required_approvals === 1 ? '' : 's'}: this asks for them, and it goes live once given.` : '';
    const answer = await vscode.window.showWarningMessage(question, { modal: true, detail: `${environment} is a protected environment.${approval}` }, action);
    picked(answer === action ? answer : undefined);
  }

  /** Where the environment needs approval, a note for the approvers (asked unless given or confirmed). */
  private async comment(environment: string, args: DeployArgs): Promise<string | undefined> {
    const needs = this.approvals.me?.can.deploy[environment];
    if (args.comment !== undefined || args.confirmed || !needs?.needs_approval) return args.comment || undefined;
    const text = await vscode.window.showInputBox({
      title: `${environment} needs ${needs.required_approvals} approval${needs.required_approvals === 1 ? '' : 's'}`,
      prompt: 'A note for the approvers (optional). Enter to send the request, Escape to cancel.',
      placeHolder: 'Why this change?',
    });
    return picked(text) || undefined;
  }

  /** Says what happened: live now, or waiting for approval (and then the user hears when it is settled). */
  private pending(request: DeploymentRequest): void {
    this.approvals.track(request);
    void vscode.window.showInformationMessage(pendingMessage(request), 'Show Approvals').then((choice) => {
      if (choice) void vscode.commands.executeCommand('promptRegistry.approvals.focus');
    });
  }

  async deploy(arg?: VersionNode | PromptNode | DeployArgs): Promise<DeployResult> {
    const api = this.connection.api;
    const args: DeployArgs =
      arg instanceof VersionNode ? { prompt: arg.version.prompt, version: arg.version.version } : arg instanceof PromptNode ? { prompt: arg.prompt.name } : (arg ?? {});
    const prompt = args.prompt ? await api.getPrompt(args.prompt) : await pickPrompt(api, 'Deploy a version of…');
    const version = args.version ?? (await pickVersion(api, prompt.name, `Deploy which version of ${prompt.name}?`));
    const environment = args.environment ?? (await pickEnvironment(api, prompt, `Deploy ${prompt.name} v${version} to…`, this.settings.protectedEnvironments));
    const live = prompt.environments[environment]?.version;
    await this.confirm(environment, `Deploy ${prompt.name} v${version} to ${environment}?${live ? ` Live there now: v${live}.` : ''}`, 'Deploy', args.confirmed);
    const comment = await this.comment(environment, args);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Deploying ${prompt.name} v${version} to ${environment}…` },
      () => api.deploy(prompt.name, version, environment, comment ? { comment } : {}),
    );
    if (result.kind === 'pending') {
      this.pending(result.request);
      return result;
    }
    this.refresh();
    void vscode.window.showInformationMessage(
      !result.created ? `${prompt.name} v${version} was already live in ${environment}.` : `${prompt.name} v${version} is live in ${environment}${live ? ` (was v${live})` : ''}.`,
    );
    return result;
  }

  async rollback(arg?: PromptNode | LiveNode | DeployArgs): Promise<DeployResult> {
    const api = this.connection.api;
    const args: DeployArgs =
      arg instanceof LiveNode ? { prompt: arg.prompt.name, environment: arg.environment } : arg instanceof PromptNode ? { prompt: arg.prompt.name } : (arg ?? {});
    const prompt = args.prompt ? await api.getPrompt(args.prompt) : await pickPrompt(api, 'Roll back…');
    const environment =
      args.environment ?? (await pickEnvironment(api, prompt, `Roll back ${prompt.name} in…`, this.settings.protectedEnvironments, (e) => Boolean(prompt.environments[e])));
    // Ask the registry what the rollback would restore before doing it.
    const plan = await api.rollback(prompt.name, environment, { dryRun: true });
    const question = `Roll back ${prompt.name} in ${environment} from v${plan.previous_version} to v${plan.version}?`;
    if (!args.confirmed) {
      if (this.settings.protectedEnvironments.includes(environment)) await this.confirm(environment, question, 'Roll Back');
      else picked(await vscode.window.showQuickPick([{ label: `Roll back to v${plan.version}`, description: `live now: v${plan.previous_version}` }], { title: question }));
    }
    const comment = await this.comment(environment, args);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Rolling back ${prompt.name} in ${environment}…` }, () =>
      api.rollback(prompt.name, environment, comment ? { comment } : {}),
    );
    if (result.kind === 'pending') {
      this.pending(result.request);
      return result;
    }
    const done = result.deployment;
    this.refresh();
    void vscode.window.showInformationMessage(`${prompt.name} v${done.version} is live in ${environment} again (rolled back from v${done.previous_version}).`);
    return result;
  }
}
