import { basename } from 'node:path';
import * as vscode from 'vscode';
import { RegistryError, RegistryUnreachableError, type EvaluatorSpec } from '../../client/index.js';
import type { DatasetItem, DraftBody, ExperimentResult, ExperimentWithDrafts, RunResult } from '../../client/api.js';
import { sampleValues, versionRequest, type PromptFile } from '../../shared/prompt-files/prompt-file.js';
import type { MatrixView, RunView } from '../../webview/protocol.js';
import type { Connection } from '../connection.js';
import { buildMatrix, type ColumnSpec } from '../core/matrix.js';
import { PROMPT_LANGUAGE, type PromptEditorSupport } from '../editor/prompt-editor.js';
import { Disposable } from '../lifecycle.js';
import type { MatrixPanel } from '../runs/matrix-panel.js';
import type { RunPanel } from '../runs/run-panel.js';
import { pickPrompt } from './pickers.js';
import { command, picked, UserError } from './ui.js';
import { COMMANDS } from './ids.js';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const DATASET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
/** Where the last provider and model chosen are remembered (global state). */
const LAST_TARGET = 'promptRegistry.lastRunTarget';
/** A draft's label in the experiments this starts. */
const DRAFT = 'draft';

/** A provider and model to run on; `model` undefined: the prompt's own model, else the provider's default. */
export interface RunTarget {
  provider: string;
  model?: string;
}

export interface EvaluateOptions {
  dataset?: string;
  evaluators?: EvaluatorSpec[];
  environment?: string;
  target?: RunTarget;
  /** How often to look at the experiment's progress (ms). */
  pollMs?: number;
}

/** The body of a run's (or an experiment's) draft from a .prompt file: what the registry takes, nothing more. */
export function draftOf(file: PromptFile): DraftBody {
  const { type, content, messages, model, temperature, max_tokens, config, input_schema } = versionRequest(file);
  return {
    ...(type ? { type } : {}),
    ...(content !== undefined ? { content } : {}),
    ...(messages ? { messages } : {}),
    ...(model !== undefined ? { model } : {}),
    ...(temperature !== undefined ? { temperature } : {}),
    ...(max_tokens !== undefined ? { max_tokens } : {}),
    ...(config ? { config } : {}),
    ...(input_schema ? { input_schema } : {}),
  } as DraftBody;
}

/** The file's samples as a run's variables and placeholders: a chat placeholder's sample is its messages. */
function runInput(file: PromptFile): { variables: Record<string, unknown>; placeholders: Record<string, unknown[]> } {
  const variables = { ...sampleValues(file) };
  const placeholders: Record<string, unknown[]> = {};
  if (file.structure.kind === 'chat') {
    for (const part of file.structure.parts) {
      if (part.kind !== 'placeholder') continue;
      const sample = variables[part.name];
      placeholders[part.name] = Array.isArray(sample) ? sample : [];
      delete variables[part.name];
    }
  }
  return { variables, placeholders };
}

/** A failed run in words a person can act on: what the provider did, and where it was logged. */
export function runFailure(err: unknown): NonNullable<RunView['error']> {
  if (err instanceof RegistryError) {
    const logged = typeof err.details.execution_id === 'string' ? ` The failed run was logged as execution ${err.details.execution_id}.` : '';
    const status = typeof err.details.provider_status === 'number' ? err.details.provider_status : undefined;
    const what: Record<string, string> = {
      provider_timeout: 'The provider did not answer in time',
      provider_error: 'The provider answered an error',
      provider_unavailable: 'The provider could not be reached',
      provider_bad_answer: 'The provider answered something unreadable',
    };
    // A provider that answered an HTTP error says so, whatever the registry made of it.
    const lead = err.code in what && status !== undefined && err.code !== 'provider_timeout' ? `The provider answered ${status}` : what[err.code];
    return { message: lead ? `${lead}: ${err.message}.${logged}` : err.message, code: err.code, status: err.status };
  }
  if (err instanceof RegistryUnreachableError) return { message: err.message, code: 'not_connected' };
  return { message: `Prompt Registry: ${err instanceof Error ? err.message : String(err)}` };
}

/** Run Prompt, Evaluate Against Dataset, Add to Dataset. */
export class RunCommands extends Disposable {
  constructor(
    private readonly connection: Connection,
    private readonly editors: PromptEditorSupport,
    private readonly runPanel: RunPanel,
    private readonly matrixPanel: MatrixPanel,
    private readonly state: vscode.Memento,
  ) {
    super();
    this._register(command(COMMANDS.runPrompt, (uri?: vscode.Uri, target?: RunTarget) => this.run(uri, target)));
    this._register(command(COMMANDS.cancelRun, () => this.runPanel.cancel()));
    this._register(command(COMMANDS.evaluateDataset, (uri?: vscode.Uri, options?: EvaluateOptions) => this.evaluate(uri, options)));
    this._register(command(COMMANDS.addToDataset, (id?: string, dataset?: string) => this.addToDataset(id, dataset)));
  }

  private async promptFile(uri?: vscode.Uri): Promise<{ document: vscode.TextDocument; file: PromptFile; name: string }> {
    const document = uri ? await vscode.workspace.openTextDocument(uri) : vscode.window.activeTextEditor?.document;
    if (!document || document.languageId !== PROMPT_LANGUAGE) throw new UserError('Open a .prompt file first.');
    const { file, analysis } = this.editors.analyze(document);
    const error = analysis.diagnostics.find((d) => d.severity === 'error');
    if (error) throw new UserError(`${basename(document.fileName)} line ${error.span.line}: ${error.message}`);
    return { document, file, name: file.meta.name ?? basename(document.fileName).replace(/\.prompt$/, '') };
  }

  /** A provider and model from the registry's providers and their price tables; the last choice first. */
  async pickTarget(title: string): Promise<RunTarget> {
    const providers = (await this.connection.api.listProviders({ limit: 100 })).items;
    if (providers.length === 0) throw new UserError('The registry has no model provider yet: an admin adds one with POST /providers (docs/evaluate.md).');
    const last = this.state.get<RunTarget>(LAST_TARGET);
    type Item = vscode.QuickPickItem & { target: RunTarget };
    const items: Item[] = [];
    for (const p of providers) {
      const models = [...new Set([p.default_model, ...Object.keys(p.prices)].filter((m): m is string => Boolean(m)))];
      items.push({ label: p.name, kind: vscode.QuickPickItemKind.Separator, target: { provider: p.name } });
      items.push({ label: '$(file-code) the prompt\'s model', description: p.name, detail: p.default_model ? `else ${p.default_model}` : undefined, target: { provider: p.name } });
      for (const model of models) {
        const price = p.prices[model];
        items.push({ label: model, description: p.name, detail: price ? `$${price.input_per_million} in / $${price.output_per_million} out per million tokens` : undefined, target: { provider: p.name, model } });
      }
    }
    const isLast = (t: RunTarget) => last !== undefined && t.provider === last.provider && t.model === last.model;
    const lastItem = items.find((i) => i.kind !== vscode.QuickPickItemKind.Separator && isLast(i.target));
    const ordered = lastItem ? [{ ...lastItem, description: `${lastItem.description ?? ''}  (last used)` }, ...items.filter((i) => i !== lastItem)] : items;
    const choice = picked(await vscode.window.showQuickPick(ordered, { title, placeHolder: 'Provider and model', matchOnDescription: true }));
    await this.state.update(LAST_TARGET, choice.target);
    return choice.target;
  }

  /** Runs the file as a draft with its sample values, streaming into the Run panel. */
  async run(uri?: vscode.Uri, target?: RunTarget): Promise<RunView> {
    const { document, file, name } = await this.promptFile(uri);
    const chosen = target ?? (await this.pickTarget(`Run ${basename(document.fileName)} on…`));
    if (target) await this.state.update(LAST_TARGET, target);
    const model = chosen.model ?? file.meta.config.model;
    const signal = this.runPanel.start({
      title: `${basename(document.fileName)} · ${chosen.provider}${model ? ` / ${model}` : ''}`,
      prompt: name,
      provider: chosen.provider,
      model: typeof model === 'string' ? model : '',
    });
    const { variables, placeholders } = runInput(file);
    try {
      const result: RunResult = await this.connection.api.runStream(
        name,
        { draft: draftOf(file), variables, provider: chosen.provider, ...(chosen.model ? { model: chosen.model } : {}), ...(Object.keys(placeholders).length ? { placeholders } : {}) } as Parameters<typeof this.connection.api.runStream>[1],
        { signal, onDelta: (text) => this.runPanel.append(text) },
      );
      const message = result.output.message as { tool_calls?: unknown[] };
      this.runPanel.update({
        status: 'done',
        text: result.output.text ?? '',
        model: result.model,
        toolCalls: message.tool_calls?.length ? JSON.stringify(message.tool_calls, null, 2) : null,
        usage: result.usage,
        latencyMs: result.latency_ms,
        costUsd: result.cost_usd,
        executionId: result.execution_id,
        finishReason: typeof result.finish_reason === 'string' ? result.finish_reason : null,
      });
    } catch (err) {
      if (signal.aborted) this.runPanel.update({ status: 'cancelled' });
      else this.runPanel.update({ status: 'error', error: runFailure(err) });
    }
    return this.runPanel.current!;
  }

  private async pickDataset(title: string, allowNew: boolean): Promise<string> {
    const api = this.connection.api;
    const datasets = (await api.listDatasets({ limit: 100 })).items;
    type Item = vscode.QuickPickItem & { dataset?: string };
    const items: Item[] = datasets.map((d) => ({ label: d.name, description: `${d.item_count} items · v${d.version}`, detail: d.description ?? undefined, dataset: d.name }));
    if (allowNew) items.push({ label: '$(add) New Dataset…' });
    if (items.length === 0) throw new UserError('The registry has no dataset yet: import one with POST /datasets/{name}/import, or use "Add to Dataset" in an execution.');
    const choice = picked(await vscode.window.showQuickPick(items, { title, placeHolder: 'Dataset' }));
    if (choice.dataset) return choice.dataset;
    const name = picked(
      await vscode.window.showInputBox({
        title: 'New Dataset',
        prompt: 'A name for the dataset (letters, digits, ".", "_", "-")',
        validateInput: (v) => (DATASET_NAME.test(v) ? undefined : 'Start with a letter or digit; use letters, digits, ".", "_" and "-".'),
      }),
    );
    await api.createDataset(name);
    return name;
  }

  private async pickEvaluators(): Promise<EvaluatorSpec[]> {
    type Item = vscode.QuickPickItem & { spec?: EvaluatorSpec };
    const items: Item[] = [
      { label: 'exact_match', description: 'the output is the expected value', picked: true, spec: { type: 'exact_match' } },
      { label: 'contains', description: 'the output contains the expected value', spec: { type: 'contains' } },
      { label: 'json_valid', description: 'the output is JSON', spec: { type: 'json_valid' } },
      { label: 'json_schema', description: "the output conforms to the version's response_format schema", spec: { type: 'json_schema' } },
      { label: 'llm_judge', description: 'a rubric prompt of the registry scores each output (pick it next)' },
    ];
    const chosen = picked(await vscode.window.showQuickPick(items, { title: 'Evaluators', canPickMany: true, placeHolder: 'Score each output with…' }));
    if (chosen.length === 0) throw new UserError('Pick at least one evaluator.');
    const specs = chosen.filter((c) => c.spec).map((c) => c.spec!);
    if (chosen.some((c) => !c.spec)) specs.push({ type: 'llm_judge', name: 'judge', prompt: (await pickPrompt(this.connection.api, 'The judge: a rubric prompt ({{input}}, {{output}}, {{expected}})')).name });
    return specs;
  }

  /**
   * Runs the dataset against the file (as a draft) and the version live in an
   * environment, as one experiment; shows progress (cancellable: the registry
   * cancels the experiment), then the matrix.
   */
  async evaluate(uri?: vscode.Uri, options: EvaluateOptions = {}): Promise<MatrixView> {
    const { document, file, name } = await this.promptFile(uri);
    const api = this.connection.api;
    const prompt = await api.getPrompt(name).catch((err: unknown) => {
      if (err instanceof RegistryError && err.status === 404) throw new UserError(`${name} is not in the registry yet: publish a first version, then evaluate drafts against it.`);
      throw err;
    });
    const dataset = options.dataset ?? (await this.pickDataset(`Evaluate ${basename(document.fileName)} against…`, false));
    const evaluators = options.evaluators ?? (await this.pickEvaluators());
    const live = Object.entries(prompt.environments);
    let environment = options.environment;
    if (!environment && live.length > 0) {
      const items = live.map(([env, d]) => ({ label: env, description: `live: v${d.version}`, env }));
      environment = picked(await vscode.window.showQuickPick(items, { title: 'Compare the draft with what is live in…', placeHolder: 'Environment' })).env;
    }
    const version = environment ? prompt.environments[environment]?.version : prompt.latest_version;
    if (!version) throw new UserError(environment ? `Nothing of ${name} is live in ${environment}.` : `${name} has no version yet.`);
    const target = options.target ?? (await this.pickTarget('Run the experiment on…'));
    const columns: ColumnSpec[] = [
      { label: `draft (${basename(document.fileName)})`, version: null, draft: DRAFT },
      { label: environment ? `v${version} (${environment})` : `v${version} (latest)`, version, draft: null },
    ];
    let x = await api.startExperiment({ prompt: name, versions: [version], drafts: [{ label: DRAFT, ...draftOf(file) }], dataset, evaluators, provider: target.provider, ...(target.model ? { model: target.model } : {}) });
    x = await vscode.window.withProgress(
      { location: vscode.ProgressLocation.Notification, title: `Evaluating ${name} on ${dataset}`, cancellable: true },
      async (progress, token) => {
        let shown = 0;
        let current = x;
        const cancelled = new Promise<void>((resolve) => token.onCancellationRequested(() => resolve()));
        while (current.status === 'queued' || current.status === 'running') {
          if (token.isCancellationRequested) return api.cancelExperiment(current.id) as Promise<ExperimentWithDrafts>;
          const { done, total } = current.progress;
          progress.report({ message: `${done}/${total} runs`, increment: total ? ((done - shown) / total) * 100 : 0 });
          shown = done;
          await Promise.race([new Promise((r) => setTimeout(r, options.pollMs ?? 500)), cancelled]);
          if (token.isCancellationRequested) return api.cancelExperiment(current.id) as Promise<ExperimentWithDrafts>;
          current = await api.experiment(current.id);
        }
        return current;
      },
    );
    if (x.status === 'cancelled') void vscode.window.showInformationMessage(`Evaluation cancelled: ${x.progress.done} of ${x.progress.total} runs done; the matrix shows them.`);
    if (x.status === 'failed') void vscode.window.showErrorMessage(`The evaluation failed: ${x.error ?? 'see the registry log'}.`);
    const [items, results] = await Promise.all([this.allItems(dataset, x.dataset_version), this.allResults(x.id)]);
    const view = buildMatrix(`Evaluation: ${name} on ${dataset}`, await api.experiment(x.id), columns, items, results);
    this.matrixPanel.show(view);
    return view;
  }

  private async allItems(dataset: string, version: number): Promise<DatasetItem[]> {
    const items: DatasetItem[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.connection.api.datasetItems(dataset, { version, limit: 100, cursor });
      items.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && items.length < 5_000);
    return items;
  }

  private async allResults(id: string): Promise<ExperimentResult[]> {
    const results: ExperimentResult[] = [];
    let cursor: string | null = null;
    do {
      const page = await this.connection.api.experimentResults(id, { limit: 100, cursor });
      results.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor && results.length < 10_000);
    return results;
  }

  /** "Add to Dataset": a logged execution as a dataset item (its variables in, its response expected). */
  async addToDataset(id?: string, dataset?: string): Promise<{ dataset: string; item: number; version: number }> {
    const value =
      id ??
      picked(await vscode.window.showInputBox({ title: 'Add to Dataset', prompt: 'The execution id (a UUID)', validateInput: (v) => (UUID.test(v.trim()) ? undefined : 'An execution id is a UUID') }));
    if (!UUID.test(value.trim())) throw new UserError(`"${value}" is not an execution id (a UUID).`);
    const name = dataset ?? (await this.pickDataset('Add the execution to…', true));
    const added = await this.connection.api.addDatasetItemFromExecution(name, value.trim().toLowerCase());
    void vscode.window.showInformationMessage(`Added to ${name} as item ${added.item.seq} (dataset version ${added.version}).`);
    return { dataset: name, item: added.item.seq, version: added.version };
  }
}
