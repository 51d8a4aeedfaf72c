import * as vscode from 'vscode';
import type { ExecutionsFilter } from '../../webview/protocol.js';
import type { Connection } from '../connection.js';
import type { ExecutionPanel } from '../executions/execution-panel.js';
import type { ExecutionsView } from '../executions/executions-view.js';
import type { StatsPanel } from '../executions/stats-panel.js';
import { Disposable } from '../lifecycle.js';
import { LiveNode, PromptNode, VersionNode } from '../tree/nodes.js';
import { pickPrompt } from './pickers.js';
import { command, picked, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

type Target = PromptNode | VersionNode | LiveNode | Partial<ExecutionsFilter>;

/** A tree item (or arguments from a script) as the filter it stands for. */
function filterOf(arg: Target | undefined): Partial<ExecutionsFilter> {
  if (arg instanceof VersionNode) return { prompt: arg.version.prompt, version: arg.version.version };
  if (arg instanceof LiveNode) return { prompt: arg.prompt.name, environment: arg.environment };
  if (arg instanceof PromptNode) return { prompt: arg.prompt.name };
  return arg ?? {};
}

/** Show Executions, Show Statistics, Open Execution, and the panel's Refresh. */
export class ExecutionCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly view: ExecutionsView,
    private readonly detail: ExecutionPanel,
    private readonly stats: StatsPanel,
  ) {
    super();
    this._register(command(COMMANDS.showExecutions, (arg?: Target) => this.view.show(filterOf(arg))));
    this._register(command(COMMANDS.showStatistics, (arg?: Target) => this.showStatistics(arg)));
    this._register(command(COMMANDS.openExecution, (id?: string) => this.openExecution(id)));
    this._register(command(COMMANDS.refreshExecutions, () => this.view.refresh()));
  }

  async showStatistics(arg?: Target): Promise<string> {
    const name = filterOf(arg).prompt ?? (await pickPrompt(this.connection.api, 'Statistics of…')).name;
    this.stats.show(name);
    return name;
  }

  async openExecution(id?: string): Promise<string> {
    const value =
      id ??
      picked(
        await vscode.window.showInputBox({
          title: 'Open Execution',
          prompt: 'The execution id (a UUID), as logged or as shown in the Executions view',
          validateInput: (v) => (UUID.test(v.trim()) ? undefined : 'An execution id is a UUID'),
        }),
      );
    if (!UUID.test(value.trim())) throw new UserError(`"${value}" is not an execution id (a UUID).`);
    this.detail.show(value.trim().toLowerCase());
    return value.trim().toLowerCase();
  }
}
