import * as vscode from 'vscode';
import type { Deployment } from '../../client/index.js';
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
  /** Skip the confirmation of a protected environment. */
  confirmed?: boolean;
}

/** "Deploy Version…" and "Rollback…", from the tree or the palette. */
export class DeployCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly settings: Settings,
    private readonly refresh: () => void,
  ) {
    super();
    this._register(command('promptRegistry.deploy', (arg?: VersionNode | PromptNode | DeployArgs) => this.deploy(arg)));
    this._register(command('promptRegistry.rollback', (arg?: PromptNode | LiveNode | DeployArgs) => this.rollback(arg)));
  }

  private async confirm(environment: string, question: string, action: string, confirmed?: boolean): Promise<void> {
    if (confirmed || !this.settings.protectedEnvironments.includes(environment)) return;
    const answer = await vscode.window.showWarningMessage(question, { modal: true, detail: `${environment} is a protected environment.` }, action);
    picked(answer === action ? answer : undefined);
  }

  async deploy(arg?: VersionNode | PromptNode | DeployArgs): Promise<Deployment> {
    const api = this.connection.api;
    const args: DeployArgs =
      arg instanceof VersionNode ? { prompt: arg.version.prompt, version: arg.version.version } : arg instanceof PromptNode ? { prompt: arg.prompt.name } : (arg ?? {});
    const prompt = args.prompt ? await api.getPrompt(args.prompt) : await pickPrompt(api, 'Deploy a version of…');
    const version = args.version ?? (await pickVersion(api, prompt.name, `Deploy which version of ${prompt.name}?`));
    const environment = args.environment ?? (await pickEnvironment(api, prompt, `Deploy ${prompt.name} v${version} to…`, this.settings.protectedEnvironments));
    const live = prompt.environments[environment]?.version;
    await this.confirm(environment, `Deploy ${prompt.name} v${version} to ${environment}?${live ? ` Live there now: v${live}.` : ''}`, 'Deploy', args.confirmed);
    const deployment = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Deploying ${prompt.name} v${version} to ${environment}…` },
      () => api.deploy(prompt.name, version, environment),
    );
    this.refresh();
    void vscode.window.showInformationMessage(
      live === version ? `${prompt.name} v${version} was already live in ${environment}.` : `${prompt.name} v${version} is live in ${environment}${live ? ` (was v${live})` : ''}.`,
    );
    return deployment;
  }

  async rollback(arg?: PromptNode | LiveNode | DeployArgs): Promise<Deployment> {
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
    const done = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Rolling back ${prompt.name} in ${environment}…` }, () =>
      api.rollback(prompt.name, environment),
    );
    this.refresh();
    void vscode.window.showInformationMessage(`${prompt.name} v${done.version} is live in ${environment} again (rolled back from v${done.previous_version}).`);
    return done;
  }
}
