import * as vscode from 'vscode';
import { Approvals } from './approvals/approvals.js';
import { ApprovalsTree } from './approvals/tree.js';
import { AccountStatusBar } from './auth/account-status.js';
import { Accounts } from './auth/accounts.js';
import { ApprovalCommands } from './commands/approvals.js';
import { AuthoringCommands } from './commands/authoring.js';
import { PromptFileCommands } from './commands/prompt-files.js';
import { RunCommands } from './commands/runs.js';
import { ComparePanel } from './compare/compare-panel.js';
import { ConnectionCommands } from './commands/connection.js';
import { DeployCommands } from './commands/deploy.js';
import { DeployFlow } from './commands/deploy-flow.js';
import { RolloutCommands } from './commands/rollouts.js';
import { ExecutionCommands } from './commands/executions.js';
import { SignInCommands } from './commands/sign-in.js';
import { command } from './commands/ui.js';
import { Secrets, Settings } from './config.js';
import { Connection } from './connection.js';
import { parseFilter } from './core/tree-model.js';
import { LiveUpdates } from './live-updates.js';
import { DriftMarker } from './editor/drift.js';
import { PromptIndex } from './editor/partials.js';
import { PromptEditorSupport } from './editor/prompt-editor.js';
import { ExecutionPanel } from './executions/execution-panel.js';
import { ExecutionsView } from './executions/executions-view.js';
import { StatsPanel } from './executions/stats-panel.js';
import { PreviewPanel } from './preview/preview-panel.js';
import { MatrixPanel } from './runs/matrix-panel.js';
import { RunPanel } from './runs/run-panel.js';
import { StatusBar } from './status-bar.js';
import type { LoadMoreNode } from './tree/nodes.js';
import { RegistryTree } from './tree/provider.js';
import { RolloutIndex } from './tree/rollout-index.js';
import { SCHEME, VersionDocuments } from './version-documents.js';
import { COMMANDS } from './commands/ids.js';

/** What activate() hands to tests, so they can observe the extension's state. */
export interface ExtensionApi {
  connection: Connection;
  accounts: Accounts;
  prompts: RegistryTree;
  live: RegistryTree;
  /** The rollout running for each prompt and environment the trees show. */
  rollouts: RolloutIndex;
  /** Follows the registry's event stream and refreshes the trees. */
  liveUpdates: LiveUpdates;
  /** Whether the active .prompt file differs from its latest version in the registry. */
  drift: DriftMarker;
  editors: PromptEditorSupport;
  preview: PreviewPanel;
  /** Two versions (or files) message by message and config by config. */
  compare: ComparePanel;
  /** The workspace's .prompt files by registry name; what partial references resolve to. */
  index: PromptIndex;
  /** Pending deployment requests and who the user is; the Approvals view. */
  approvals: Approvals;
  approvalsView: ApprovalsTree;
  /** The execution log: the panel's view, one execution's detail, a prompt's statistics. */
  executions: ExecutionsView;
  execution: ExecutionPanel;
  statistics: StatsPanel;
  /** A run of a .prompt file, streaming; an evaluation's matrix (issue 13). */
  run: RunPanel;
  matrix: MatrixPanel;
  /** Milliseconds activate() took, and until the connection settled. */
  timings: { activateMs: number; connectedMs?: number };
}

/** The composition root: builds every service by hand and registers every disposable. */
export function activate(context: vscode.ExtensionContext): ExtensionApi {
  const started = performance.now();
  const settings = new Settings();
  const secrets = new Secrets(context.secrets);
  const output = vscode.window.createOutputChannel('Prompt Registry Server');
  const accounts = new Accounts(settings, secrets);
  const connection = new Connection(settings, secrets, { extensionPath: context.extensionPath, storagePath: context.globalStorageUri.fsPath }, output, accounts);
  const refresh = () => {
    prompts.refresh();
    live.refresh();
  };
  // A colleague's publish, deploy, rollback or rollout change shows without a refresh.
  const liveUpdates = new LiveUpdates(connection, refresh);
  const rollouts = new RolloutIndex(connection, liveUpdates);
  const prompts = new RegistryTree('prompts', connection, settings, rollouts);
  const live = new RegistryTree('live', connection, settings, rollouts);
  const drift = new DriftMarker(connection, liveUpdates);
  const approvals = new Approvals(connection);
  const approvalsView = new ApprovalsTree(approvals);
  const index = new PromptIndex(connection);
  const editors = new PromptEditorSupport(settings, index);
  const preview = new PreviewPanel(context.extensionUri, editors, index);
  const compare = new ComparePanel(context.extensionUri);
  const executions = new ExecutionsView(context.extensionUri, connection, settings);
  const execution = new ExecutionPanel(context.extensionUri, connection);
  const statistics = new StatsPanel(context.extensionUri, connection);
  const deployFlow = new DeployFlow(settings, approvals);
  const run = new RunPanel(context.extensionUri);
  const matrix = new MatrixPanel(context.extensionUri);

  const updateContext = () => {
    void vscode.commands.executeCommand('setContext', 'promptRegistry.state', connection.state.kind);
    void vscode.commands.executeCommand('setContext', 'promptRegistry.mode', connection.state.mode);
    void vscode.commands.executeCommand('setContext', 'promptRegistry.signedIn', accounts.signedIn !== undefined);
  };
  context.subscriptions.push(
    output,
    accounts,
    connection,
    prompts,
    live,
    liveUpdates,
    rollouts,
    drift,
    index,
    editors,
    preview,
    compare,
    executions,
    execution,
    statistics,
    new StatusBar(connection),
    new AccountStatusBar(accounts),
    new ConnectionCommands(connection, settings, output, accounts),
    new SignInCommands(accounts, settings),
    new AuthoringCommands(connection, editors, preview, compare, refresh),
    new PromptFileCommands(compare),
    approvals,
    approvalsView,
    approvals.onDidApply(refresh),
    new DeployCommands(connection, settings, refresh, deployFlow),
    new RolloutCommands(connection, deployFlow, rollouts, statistics, refresh),
    new ApprovalCommands(connection, approvals, refresh),
    new ExecutionCommands(connection, executions, execution, statistics),
    run,
    matrix,
    new RunCommands(connection, editors, run, matrix, context.globalState),
    vscode.workspace.registerTextDocumentContentProvider(SCHEME, new VersionDocuments(connection)),
    connection.onDidChange(updateContext),
    accounts.onDidChange(updateContext),
    command(COMMANDS.refresh, () => {
      rollouts.clear();
      refresh();
      void approvals.reload();
    }),
    command(COMMANDS.loadMore, (node: LoadMoreNode) => (node.parent && 'environment' in node.parent ? live : prompts).loadMore(node)),
    command(COMMANDS.filter, async (text?: string) => {
      const value = text ?? (await vscode.window.showInputBox({ title: 'Filter Prompts', prompt: 'Words match names and descriptions; tag:NAME requires a tag', value: '' }));
      if (value !== undefined) prompts.setFilter(parseFilter(value));
    }),
    command(COMMANDS.clearFilter, () => prompts.setFilter({ tags: [] })),
  );
  updateContext();

  const timings: ExtensionApi['timings'] = { activateMs: 0 };
  // Connect in the background: activation never waits for the server.
  void connection.connect().then(() => (timings.connectedMs = performance.now() - started));
  timings.activateMs = performance.now() - started;
  return { connection, accounts, prompts, live, rollouts, liveUpdates, drift, editors, preview, compare, index, approvals, approvalsView, executions, execution, statistics, run, matrix, timings };
}

export function deactivate(): void {
  // Disposing context.subscriptions stops the bundled server.
}
