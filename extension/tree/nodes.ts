import * as vscode from 'vscode';
import type { PromptSummary, Rollout, UsedBy, VersionInfo } from '../../client/index.js';
import { liveRolloutText, rolloutText, usedByHeading, usedByText } from '../core/rollouts.js';
import { liveText, promptText, versionText } from '../core/tree-model.js';
import { COMMANDS } from '../commands/ids.js';

/** Tree items carry what their commands need; `contextValue` picks their menus. */
export class PromptNode extends vscode.TreeItem {
  constructor(readonly prompt: PromptSummary) {
    const t = promptText(prompt);
    super(t.label, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `prompt:${prompt.name}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.contextValue = 'prompt';
    this.iconPath = new vscode.ThemeIcon('symbol-string');
  }
}

export class VersionNode extends vscode.TreeItem {
  constructor(readonly version: VersionInfo) {
    const t = versionText(version);
    super(t.label, vscode.TreeItemCollapsibleState.None);
    this.id = `version:${version.prompt}:${version.version}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.contextValue = version.environments.length ? 'version.live' : 'version';
    this.iconPath = new vscode.ThemeIcon(version.environments.length ? 'pass-filled' : 'git-commit');
    this.command = { command: COMMANDS.openVersion, title: 'Open Version', arguments: [this] };
  }
}

export class EnvironmentNode extends vscode.TreeItem {
  constructor(readonly environment: string, isProtected: boolean) {
    super(environment, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `env:${environment}`;
    this.description = isProtected ? 'protected' : '';
    this.contextValue = 'environment';
    this.iconPath = new vscode.ThemeIcon(isProtected ? 'lock' : 'server-environment');
  }
}

/** A prompt live in an environment (the Live view); during a rollout, both versions and their weights. */
export class LiveNode extends vscode.TreeItem {
  readonly version: number;
  constructor(
    readonly prompt: PromptSummary,
    readonly environment: string,
    readonly rollout?: Rollout,
  ) {
    const t = rollout ? liveRolloutText(prompt.name, environment, rollout) : liveText(prompt, environment);
    super(t.label, vscode.TreeItemCollapsibleState.None);
    this.id = `live:${environment}:${prompt.name}`;
    this.version = prompt.environments[environment]?.version ?? 0;
    this.description = t.description;
    this.tooltip = t.tooltip;
    // live.rollout: Change Weight, Promote, Abort; live: Start Rollout.
    this.contextValue = rollout ? 'live.rollout' : 'live';
    this.iconPath = new vscode.ThemeIcon(rollout ? 'split-horizontal' : 'rocket');
  }
}

/** A rollout under its prompt (the Prompts view): `production  v3 90% · v4 10% (rollout)`. */
export class RolloutNode extends vscode.TreeItem {
  constructor(
    readonly prompt: PromptSummary,
    readonly environment: string,
    readonly rollout: Rollout,
  ) {
    const t = rolloutText(prompt.name, environment, rollout);
    super(t.label, vscode.TreeItemCollapsibleState.None);
    this.id = `rollout:${prompt.name}:${environment}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.contextValue = 'rollout';
    this.iconPath = new vscode.ThemeIcon('split-horizontal');
  }
}

/** "Used by": the versions of other prompts that include this one as a partial. */
export class UsedByNode extends vscode.TreeItem {
  constructor(
    readonly prompt: PromptSummary,
    readonly usedBy: UsedBy[],
  ) {
    const t = usedByHeading(usedBy);
    super(t.label, vscode.TreeItemCollapsibleState.Collapsed);
    this.id = `used-by:${prompt.name}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.contextValue = 'usedBy';
    this.iconPath = new vscode.ThemeIcon('references');
  }
}

/** One including version; opens it. */
export class UsedByEntryNode extends vscode.TreeItem {
  constructor(
    readonly partial: string,
    readonly entry: UsedBy,
  ) {
    const t = usedByText(entry, partial);
    super(t.label, vscode.TreeItemCollapsibleState.None);
    this.id = `used-by:${partial}:${entry.prompt}:${entry.version}`;
    this.description = t.description;
    this.tooltip = t.tooltip;
    this.contextValue = 'usedBy.version';
    this.iconPath = new vscode.ThemeIcon(entry.live_in.length ? 'pass-filled' : 'git-commit');
    this.command = { command: COMMANDS.openVersion, title: 'Open Version', arguments: [{ prompt: entry.prompt, version: entry.version }] };
  }
}

/** "Load more…": the next page, fetched only when asked for. */
export class LoadMoreNode extends vscode.TreeItem {
  constructor(
    readonly parent: EnvironmentNode | PromptNode | undefined,
    readonly cursor: string,
  ) {
    super('Load more…', vscode.TreeItemCollapsibleState.None);
    this.id = `more:${parent?.id ?? 'root'}:${cursor}`;
    this.contextValue = 'loadMore';
    this.iconPath = new vscode.ThemeIcon('ellipsis');
    this.command = { command: COMMANDS.loadMore, title: 'Load More', arguments: [this] };
  }
}

export class MessageNode extends vscode.TreeItem {
  constructor(message: string, icon = 'info') {
    super(message, vscode.TreeItemCollapsibleState.None);
    this.contextValue = 'message';
    this.iconPath = new vscode.ThemeIcon(icon);
  }
}

export type RegistryNode = PromptNode | VersionNode | EnvironmentNode | LiveNode | RolloutNode | UsedByNode | UsedByEntryNode | LoadMoreNode | MessageNode;
