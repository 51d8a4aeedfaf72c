import * as vscode from 'vscode';
import type { PromptSummary, Rollout, RolloutGuard, RolloutResult } from '../../client/index.js';
import type { Connection } from '../connection.js';
import { GUARD_PRESETS, guardText, parseThreshold, parseWeight, parseWindow, splitText } from '../core/rollouts.js';
import type { StatsPanel } from '../executions/stats-panel.js';
import { Disposable } from '../lifecycle.js';
import { LiveNode, RolloutNode, VersionNode } from '../tree/nodes.js';
import type { RolloutIndex } from '../tree/rollout-index.js';
import { dependentsNote } from './deploy.js';
import type { DeployFlow } from './deploy-flow.js';
import { pickEnvironment, pickPrompt, pickVersion } from './pickers.js';
import { command, picked, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

/** Arguments for scripted use (tests, keybindings): anything missing is asked for. */
export interface RolloutArgs {
  prompt?: string;
  environment?: string;
  /** Start Rollout: the version to roll out. */
  candidate?: number;
  /** Start Rollout and Change Weight: the candidate's percent, 1 to 99. */
  weight?: number;
  /** Start Rollout: null for none. */
  guard?: RolloutGuard | null;
  /** Abort: why (recorded in the audit log; the request's comment where it needs approval). */
  reason?: string;
  /** Skip the confirmations (and, where the environment needs approval, the question for a note). */
  confirmed?: boolean;
  /** A note for the approvers, where the environment needs approval. */
  comment?: string;
}

type Target = LiveNode | RolloutNode | VersionNode | RolloutArgs | undefined;

/** A tree item (or arguments from a script) as the rollout arguments it stands for. */
function argsOf(arg: Target): RolloutArgs {
  if (arg instanceof LiveNode || arg instanceof RolloutNode) return { prompt: arg.prompt.name, environment: arg.environment };
  if (arg instanceof VersionNode) return { prompt: arg.version.prompt, candidate: arg.version.version };
  return arg ?? {};
}

/**
 * Start Rollout, Change Rollout Weight, Promote Rollout, Abort Rollout and
 * Compare Rollout Variants, from the Live view, the Prompts view or the
 * palette. Each is a deploy action: confirmed where the environment is
 * protected, and a pending request where it needs approval.
 */
export class RolloutCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly flow: DeployFlow,
    private readonly rollouts: RolloutIndex,
    private readonly stats: StatsPanel,
    private readonly refresh: () => void,
  ) {
    super();
    this._register(command(COMMANDS.startRollout, (arg?: Target) => this.start(argsOf(arg))));
    this._register(command(COMMANDS.changeRolloutWeight, (arg?: Target) => this.changeWeight(argsOf(arg))));
    this._register(command(COMMANDS.promoteRollout, (arg?: Target) => this.promote(argsOf(arg))));
    this._register(command(COMMANDS.abortRollout, (arg?: Target) => this.abort(argsOf(arg))));
    this._register(command(COMMANDS.compareRollout, (arg?: Target) => this.compare(argsOf(arg))));
  }

  async start(args: RolloutArgs): Promise<RolloutResult> {
    const api = this.connection.api;
    const prompt = args.prompt ? await api.getPrompt(args.prompt) : await pickPrompt(api, 'Start a rollout of…');
    const environment =
      args.environment ??
      (await pickEnvironment(api, prompt, `Roll out ${prompt.name}${args.candidate ? ` v${args.candidate}` : ''} in… (beside what is live there)`, this.flow.protectedEnvironments, (e) =>
        Boolean(prompt.environments[e] && prompt.environments[e].version !== args.candidate),
      ));
    const live = prompt.environments[environment]?.version;
    if (!live) throw new UserError(`Nothing of ${prompt.name} is live in ${environment}: deploy a version first, then roll a candidate out beside it.`);
    const candidate = args.candidate ?? (await pickVersion(api, prompt.name, `Roll out which version of ${prompt.name} beside v${live} in ${environment}?`, live));
    const weight = args.weight ?? (await askWeight(`Share of ${environment}'s keys for ${prompt.name} v${candidate}`, 10, `v${live} serves the rest.`));
    const guard = args.guard !== undefined ? args.guard : await this.askGuard();
    const split = splitText({ live, candidate, weight });
    await this.flow.confirm(environment, `Start a rollout of ${prompt.name} in ${environment}: ${split}?`, 'Start Rollout', {
      confirmed: args.confirmed,
      detail: guard ? `Guard: aborts when ${guardText(guard)}.` : undefined,
    });
    const comment = await this.flow.comment(environment, args);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Starting a rollout of ${prompt.name} v${candidate} in ${environment}…` }, () =>
      api.rolloutStart(prompt.name, environment, { candidate, weight, ...(guard ? { guard } : {}), ...(comment ? { comment } : {}) }),
    );
    return this.settled(result, (r) => `${prompt.name} in ${environment}: ${splitText(r)} (rollout started).`);
  }

  async changeWeight(args: RolloutArgs): Promise<RolloutResult> {
    const { prompt, environment, rollout } = await this.running(args, 'Change the weight of a rollout of…');
    const weight = args.weight ?? (await askWeight(`Share of ${environment}'s keys for ${prompt} v${rollout.candidate} (now ${rollout.weight}%)`, rollout.weight, `v${rollout.live} serves the rest.`));
    await this.flow.confirm(environment, `Change the rollout of ${prompt} in ${environment} to ${splitText({ ...rollout, weight })}?`, 'Change Weight', { confirmed: args.confirmed });
    const comment = await this.flow.comment(environment, args);
    // The same candidate with the guard it has: a PUT without one would remove it.
    const result = await this.connection.api.rolloutStart(prompt, environment, { candidate: rollout.candidate, weight, guard: rollout.guard, ...(comment ? { comment } : {}) });
    return this.settled(result, (r) => `${prompt} in ${environment}: ${splitText(r)} (rollout).`);
  }

  async promote(args: RolloutArgs): Promise<RolloutResult> {
    const { prompt, environment, rollout } = await this.running(args, 'Promote a rollout of…');
    // Promoting deploys the candidate: prompts that include this one as a partial change with it.
    const detail = args.confirmed ? undefined : await dependentsNote(this.connection.api, prompt, environment);
    await this.flow.confirm(environment, `Promote ${prompt} v${rollout.candidate} in ${environment}? It serves every key; v${rollout.live} serves none.`, 'Promote', { confirmed: args.confirmed, detail });
    const comment = await this.flow.comment(environment, args);
    const result = await vscode.window.withProgress({ location: vscode.ProgressLocation.Notification, title: `Promoting ${prompt} v${rollout.candidate} in ${environment}…` }, () =>
      this.connection.api.rolloutPromote(prompt, environment, comment),
    );
    return this.settled(result, (r) => `${prompt} v${r.candidate} is live in ${environment} for every key (promoted; was v${r.live}).`);
  }

  async abort(args: RolloutArgs): Promise<RolloutResult> {
    const { prompt, environment, rollout } = await this.running(args, 'Abort a rollout of…');
    // The reason is the confirmation: Escape cancels.
    const reason =
      args.reason ??
      (args.confirmed
        ? undefined
        : picked(
            await vscode.window.showInputBox({
              title: `Abort the rollout of ${prompt} v${rollout.candidate} in ${environment}`,
              prompt: `v${rollout.live} serves every key again. Why? (optional, recorded in the audit log). Enter to abort, Escape to cancel.`,
              placeHolder: 'e.g. more errors than the live version',
            }),
          ));
    const result = await this.connection.api.rolloutAbort(prompt, environment, reason || undefined);
    return this.settled(result, (r) => `The rollout of ${prompt} v${r.candidate} in ${environment} is aborted: v${r.live} serves every key again.`);
  }

  /** The statistics panel comparing the two variants since the rollout started. */
  async compare(args: RolloutArgs): Promise<Rollout> {
    const { prompt, rollout } = await this.running(args, 'Compare the variants of a rollout of…');
    this.stats.showRollout(prompt, rollout);
    return rollout;
  }

  /** The rollout the arguments name, asked from the registry (never a stale copy: the action must see what runs). */
  private async running(args: RolloutArgs, title: string): Promise<{ prompt: string; environment: string; rollout: Rollout }> {
    const api = this.connection.api;
    const prompt: PromptSummary = args.prompt ? await api.getPrompt(args.prompt) : await pickPrompt(api, title);
    const environment = args.environment ?? (await pickEnvironment(api, prompt, `${title.replace(/…$/, '')} ${prompt.name} in…`, this.flow.protectedEnvironments, (e) => Boolean(prompt.environments[e])));
    const rollout = await api.rolloutIfAny(prompt.name, environment);
    if (!rollout) {
      this.rollouts.forget(prompt.name, environment);
      this.refresh();
      throw new UserError(`No rollout of ${prompt.name} is running in ${environment}.`);
    }
    return { prompt: prompt.name, environment, rollout };
  }

  /** Applied: the trees show it and the user is told; pending: the message naming the request. */
  private settled(result: RolloutResult, said: (r: Rollout) => string): RolloutResult {
    if (result.kind === 'pending') {
      this.flow.pending(result.request);
      return result;
    }
    this.rollouts.remember(result.rollout);
    this.refresh();
    void vscode.window.showInformationMessage(said(result.rollout));
    return result;
  }

  /** No guard, a built-in measure or a numeric metric; then its window and threshold. */
  private async askGuard(): Promise<RolloutGuard | null> {
    const metrics = await this.connection.api
      .listMetrics({ limit: 100 })
      .then((p) => p.items.filter((m) => m.type === 'numeric'))
      .catch(() => []);
    type Item = vscode.QuickPickItem & { guard?: { metric: string; comparison: NonNullable<RolloutGuard['comparison']>; threshold: number; unit: string } };
    const items: Item[] = [
      { label: 'No guard', description: 'runs until promoted or aborted by hand' },
      ...GUARD_PRESETS.map((g) => ({ label: g.label, description: `abort when the candidate's is ${g.comparison === 'above_live' ? 'above' : 'below'} the live version's by more than a threshold`, guard: g })),
      ...metrics.map((m) => ({ label: m.name, description: `numeric metric: abort when its mean drops below the live version's by more than a threshold`, guard: { metric: m.name, comparison: 'below_live' as const, threshold: 0.1, unit: 'score points' } })),
    ];
    const choice = picked(await vscode.window.showQuickPick(items, { title: 'Guard: abort the rollout by itself when the candidate does worse?', placeHolder: 'A guard (docs/rollouts.md, "Guard")' }));
    if (!choice.guard) return null;
    const g = choice.guard;
    const window = picked(
      await vscode.window.showInputBox({
        title: `Guard on ${g.metric}: over how many of the candidate's latest executions?`,
        value: '200',
        validateInput: (v) => ('error' in parseWindow(v) ? (parseWindow(v) as { error: string }).error : undefined),
      }),
    );
    const threshold = picked(
      await vscode.window.showInputBox({
        title: `Guard on ${g.metric}: abort when the candidate is ${g.comparison === 'above_live' ? 'above' : 'below'} the live version by more than… (${g.unit})`,
        value: String(g.threshold),
        validateInput: (v) => ('error' in parseThreshold(v) ? (parseThreshold(v) as { error: string }).error : undefined),
      }),
    );
    return { metric: g.metric, window: (parseWindow(window) as { window: number }).window, threshold: (parseThreshold(threshold) as { threshold: number }).threshold, comparison: g.comparison };
  }
}

async function askWeight(title: string, value: number, rest: string): Promise<number> {
  const text = picked(
    await vscode.window.showInputBox({
      title,
      prompt: `A whole percent from 1 to 99. ${rest}`,
      value: String(value),
      validateInput: (v) => {
        const w = parseWeight(v);
        return 'error' in w ? w.error : undefined;
      },
    }),
  );
  const w = parseWeight(text);
  if ('error' in w) throw new UserError(w.error);
  return w.weight;
}
