import { randomUUID } from 'node:crypto';
import type { Transaction } from '../db/index.js';
import type { DeploymentService } from '../deployments/service.js';
import { type AppError, badGateway, conflict, gatewayTimeout, invalid } from '../errors.js';
import type { ExecutionInput } from '../executions/schemas.js';
import type { ExecutionService } from '../executions/service.js';
import type { ResolvedPartials, ResolveMode } from '../prompts/partials.js';
import type { PromptService, RenderOutput, RenderSource } from '../prompts/service.js';
import { callModel, ProviderCallError } from '../providers/client.js';
import { costOf, type ProviderService } from '../providers/service.js';
import type { ChatMessage, ModelAnswer, ModelRequest } from '../providers/wire.js';
import type { RunBody, RunResult } from './schemas.js';

/** What is run: a stored version, or a draft (logged against `versionId`, the prompt's latest version). */
interface Source {
  versionId: string;
  versionNumber: number;
  render: RenderSource;
  /** The partials: resolved in the environment run, else each at its pinned or latest version. */
  partials: ResolvedPartials | { mode: ResolveMode };
  settings: Record<string, unknown>;
  environment: string | null;
  /** A draft's content hash. */
  draftHash: string | null;
}

/** What a run looks up before it renders: what runs (a version, what is live in an environment, or a draft) and on which provider. */
export interface RunSetup {
  source: Source;
  provider: Awaited<ReturnType<ProviderService['target']>>;
}

export interface RunHooks {
  /**
   * What `setup(name, body)` answered for this run's name and body (the variables aside), looked
   * up before: an experiment runs many items of one version, and need not look it up for each.
   */
  setup?: RunSetup;
  /**
   * This run's render (`render(setup, body)`), begun before: an experiment renders an item while the
   * item before it waits for its provider. Its failure is the run's, as a render's in the run is.
   */
  rendered?: Promise<RenderOutput>;
  signal?: AbortSignal;
  /** Given: the call streams, and each text delta comes here. */
  onDelta?: (text: string) => void;
  /** Added to the logged execution's metadata (e.g. the experiment and item it ran for). */
  metadata?: Record<string, unknown>;
  /**
   * Takes the execution instead of logging it now: the caller logs it later with `logExecutions`, in a
   * batch (experiments write many runs' executions and results in one commit).
   */
  deferLog?: (execution: ExecutionInput) => void;
}

/**
 * The provider request for a rendered prompt: a text prompt is one user message;
 * a chat prompt (issue 12) sends its rendered messages. The version's config
 * (sampling, tools, tool_choice, response_format, provider keys) is merged with
 * the run's own config, the run's winning.
 */
export function modelRequest(rendered: { text: string } | { messages: ChatMessage[] }, settings: Record<string, unknown>, override: Record<string, unknown> | undefined, model: string): ModelRequest {
  const config: Record<string, unknown> = { ...settings, ...override };
  delete config.model;
  return { model, messages: 'text' in rendered ? [{ role: 'user', content: rendered.text }] : rendered.messages, config };
}

/** The longest response an execution stores (executions' response column limit). */
const MAX_LOGGED_RESPONSE = 1_000_000;

/** Running a prompt on a provider, logged as an execution. */
export class RunService {
  constructor(
    private readonly prompts: PromptService,
    private readonly deployments: DeploymentService,
    private readonly executions: ExecutionService,
    private readonly providers: ProviderService,
  ) {}

  private async source(name: string, body: Pick<RunBody, 'version' | 'environment' | 'draft'>): Promise<Source> {
    const latestPartials = { mode: { latest: true } } as const;
    if (body.draft) {
      const [latest] = await this.prompts.listVersions(name, { limit: 1 });
      if (!latest) {
        throw conflict('no_base_version', `"${name}" has no version yet; a draft run is logged against the prompt's latest version, so publish a first version, then run drafts`, { prompt: name });
      }
      const draft = await this.prompts.draftSource(name, body.draft);
      return { versionId: latest.version_id, versionNumber: latest.version, render: draft.source, partials: latestPartials, settings: draft.config, environment: null, draftHash: draft.hash };
    }
    if (body.version !== undefined) {
      const { source, config } = await this.prompts.renderSource(name, body.version);
      return { versionId: source.version_id, versionNumber: source.version, render: source, partials: latestPartials, settings: config, environment: null, draftHash: null };
    }
    const environment = body.environment ?? 'production';
    const live = await this.deployments.live(name, environment);
    return { versionId: live.source.version_id, versionNumber: live.source.version, render: live.source, partials: live.partials, settings: live.config, environment, draftHash: null };
  }

  /**
   * Logs executions whose runs deferred it (`RunHooks.deferLog`), in one batch (at most 1,000), in a
   * transaction that `more` continues: what goes with them is committed with them.
   */
  async logExecutions<T>(rows: ExecutionInput[], more: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.executions.ingestWith({ rows, invalid: [] }, more);
  }

  /** What a run of `body` looks up: its source (version, environment or draft), then its provider. */
  async setup(name: string, body: Pick<RunBody, 'version' | 'environment' | 'draft' | 'provider'>): Promise<RunSetup> {
    const source = await this.source(name, body);
    return { source, provider: await this.providers.target(body.provider) };
  }

  /** Renders what `setup` runs with the body's variables and placeholders, as a run does. */
  render(setup: RunSetup, body: Pick<RunBody, 'variables' | 'placeholders'>): Promise<RenderOutput> {
    return this.prompts.renderVersion(setup.source.render, { variables: body.variables, placeholders: body.placeholders }, setup.source.partials);
  }

  /**
   * Renders, calls the provider, logs the execution (also when the call failed: status
   * "error" with the reason), and answers the output. A provider failure is a 502 (down,
   * an error answer, garbage) or a 504 (timeout) naming the execution it was logged as.
   */
  async run(name: string, body: RunBody, hooks: RunHooks = {}): Promise<RunResult> {
    const setup = hooks.setup ?? (await this.setup(name, body));
    const {
      source,
      provider: { target, defaultModel, prices },
    } = setup;
    const model = body.model ?? (typeof body.config?.model === 'string' ? body.config.model : undefined) ?? (typeof source.settings.model === 'string' && source.settings.model ? source.settings.model : undefined) ?? defaultModel;
    if (!model) throw invalid('no_model', `model: name a model; neither the version nor provider "${target.name}" gives one`, { field: 'model' });
    const out = await (hooks.rendered ?? this.render(setup, body));
    const messages = out.messages as ChatMessage[] | null;
    const request = modelRequest(messages ? { messages } : { text: out.rendered ?? '' }, source.settings, body.config, model);

    const executionId = randomUUID();
    const started = Date.now();
    const log = async ({ metadata: extra, ...e }: Partial<ExecutionInput>) => {
      const row = {
        id: executionId,
        prompt_version_id: source.versionId,
        ...(source.environment ? { environment: source.environment } : {}),
        input_variables: JSON.stringify(body.variables),
        rendered_prompt: out.rendered,
        ...(messages ? { messages: JSON.stringify(messages) } : {}),
        ...(out.partials_used.length ? { partials_used: JSON.stringify(out.partials_used) } : {}),
        latency_ms: Date.now() - started,
        ...e,
        metadata: JSON.stringify({
          run: true,
          provider: target.name,
          model,
          stream: body.stream,
          ...(source.draftHash ? { draft: true, draft_hash: source.draftHash, base_version: source.versionNumber } : {}),
          ...hooks.metadata,
          ...(extra ? (JSON.parse(extra) as Record<string, unknown>) : {}),
        }),
      } as ExecutionInput;
      if (hooks.deferLog) hooks.deferLog(row);
      else await this.executions.ingest({ rows: [row], invalid: [] });
    };

    let answer: ModelAnswer;
    try {
      answer = await callModel(target, request, this.providers.callOptions, hooks.signal, hooks.onDelta);
    } catch (err) {
      if (!(err instanceof ProviderCallError)) throw err;
      await log({ status: 'error', error: err.message, metadata: JSON.stringify({ attempts: err.attempts }) });
      throw providerFailure(err, executionId);
    }
    const latency = Date.now() - started;
    const cost = costOf(prices, model, answer.usage);
    const full = answer.text ?? (answer.message.tool_calls ? JSON.stringify(answer.message.tool_calls) : '');
    // The log keeps at most what an execution holds; the caller gets it all.
    const response = full.length > MAX_LOGGED_RESPONSE ? full.slice(0, MAX_LOGGED_RESPONSE).replace(/[\uD800-\uDBFF]$/, '') : full;
    await log({
      response,
      latency_ms: latency,
      input_tokens: answer.usage.input_tokens,
      output_tokens: answer.usage.output_tokens,
      cost_usd: cost,
      status: 'ok',
      ...(messages ? { response_messages: JSON.stringify([answer.message]) } : {}),
      ...(answer.message.tool_calls ? { tool_calls: JSON.stringify(answer.message.tool_calls) } : {}),
      metadata: JSON.stringify({ finish_reason: answer.finish_reason, ...(response !== full ? { response_truncated: true } : {}) }),
    });
    return {
      output: { text: answer.text, message: answer.message },
      usage: answer.usage,
      latency_ms: latency,
      cost_usd: cost,
      execution_id: executionId,
      prompt: name,
      version: source.versionNumber,
      draft: source.draftHash !== null,
      environment: source.environment,
      provider: target.name,
      model,
      finish_reason: answer.finish_reason,
    };
  }
}

export function providerFailure(err: ProviderCallError, executionId: string): AppError {
  const details = { execution_id: executionId, ...(err.status !== null ? { provider_status: err.status } : {}) };
  if (err.reason === 'timeout') return gatewayTimeout('provider_timeout', err.message, details);
  if (err.reason === 'malformed') return badGateway('provider_bad_answer', err.message, details);
  if (err.reason === 'cancelled') return badGateway('run_cancelled', err.message, details);
  return badGateway(err.reason === 'status' ? 'provider_error' : 'provider_unavailable', err.message, details);
}
