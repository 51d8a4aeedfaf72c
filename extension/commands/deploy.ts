import * as vscode from 'vscode';
import type { DeployResult, RegistryApi } from '../../client/index.js';
import type { Connection } from '../connection.js';
import type { Settings } from '../config.js';
import { affectedDependents, dependentsDetail } from '../core/rollouts.js';
import { Disposable } from '../lifecycle.js';
import { LiveNode, PromptNode, VersionNode } from '../tree/nodes.js';
import { usedByOrNone } from '../tree/used-by.js';
import type { DeployFlow } from './deploy-flow.js';
import { pickEnvironment, pickPrompt, pickVersion } from './pickers.js';
import { command, picked } from './ui.js';
import { COMMANDS } from './ids.js';

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

/**
 * What the confirmation says of live prompts that include `prompt` as a partial and would change
 * with what is live in `environment`; undefined when none would.
 */
export async function dependentsNote(api: RegistryApi, prompt: string, environment: string): Promise<string | undefined> {
  const dependents = affectedDependents(await usedByOrNone(api, prompt), prompt, environment);
  return dependents.length ? dependentsDetail(dependents, prompt, environment) : undefined;
}

/** "Deploy Version…" and "Rollback…", from the tree or the palette. */
export class DeployCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly settings: Settings,
    private readonly refresh: () => void,
    private readonly flow: DeployFlow,
  ) {
    super();
    this._register(command(COMMANDS.deploy, (arg?: VersionNode | PromptNode | DeployArgs) => this.deploy(arg)));
    this._register(command(COMMANDS.rollback, (arg?: PromptNode | LiveNode | DeployArgs) => this.rollback(arg)));
  }

  async deploy(arg?: VersionNode | PromptNode | DeployArgs): Promise<DeployResult> {
    const api = this.connection.api;
    const args: DeployArgs =
      arg instanceof VersionNode ? { prompt: arg.version.prompt, version: arg.version.version } : arg instanceof PromptNode ? { prompt: arg.prompt.name } : (arg ?? {});
    const prompt = args.prompt ? await api.getPrompt(args.prompt) : await pickPrompt(api, 'Deploy a version of…');
    const version = args.version ?? (await pickVersion(api, prompt.name, `Deploy which version of ${prompt.name}?`));
    const environment = args.environment ?? (await pickEnvironment(api, prompt, `Deploy ${prompt.name} v${version} to…`, this.settings.protectedEnvironments));
    const live = prompt.environments[environment]?.version;
    const detail = args.confirmed ? undefined : await dependentsNote(api, prompt.name, environment);
    await this.flow.confirm(environment, `Deploy ${prompt.name} v${version} to ${environment}?${live ? ` Live there now: v${live}.` : ''}`, 'Deploy', { confirmed: args.confirmed, detail });
    const comment = await this.flow.comment(environment, args);
    const result = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Deploying ${prompt.name} v${version} to ${environment}…` },
      () => api.deploy(prompt.name, version, environment, comment ? { comment } : {}),
    );
    if (result.kind === 'pending') {
      this.flow.pending(result.request);
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
      const detail = await dependentsNote(api, prompt.name, environment);
      if (this.flow.isProtected(environment) || detail) await this.flow.confirm(environment, question, 'Roll Back', { detail });
      else picked(await vscode.window.showQuickPick([{ label: `Roll back to v${plan.version}`, description: `live now: v${plan.previous_version}` }], { title: question }));
    }
    const comment = await this.flow.comment(environment, args);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Rolling back ${prompt.name} in ${environment}…` }, () =>
      api.rollback(prompt.name, environment, comment ? { comment } : {}),
    );
    if (result.kind === 'pending') {
      this.flow.pending(result.request);
      return result;
    }
    const done = result.deployment;
    this.refresh();
    void vscode.window.showInformationMessage(`${prompt.name} v${done.version} is live in ${environment} again (rolled back from v${done.previous_version}).`);
    return result;
  }
}
