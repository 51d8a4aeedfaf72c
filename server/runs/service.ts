import { randomUUID } from 'node:crypto';
import type { DeploymentService } from '../deployments/service.js';
import { type AppError, badGateway, conflict, gatewayTimeout, invalid } from '../errors.js';
import type { ExecutionInput } from '../executions/schemas.js';
import type { ExecutionService } from '../executions/service.js';
import { sha256, type PromptService } from '../prompts/service.js';
import { callModel, ProviderCallError } from '../providers/client.js';
import { costOf, type ProviderService } from '../providers/service.js';
import type { ChatMessage, ModelAnswer, ModelRequest } from '../providers/wire.js';
import type { RunBody, RunResult } from './schemas.js';

/** What is run: a stored version, or a draft (logged against `versionId`, the prompt's latest version). */
interface Source {
  versionId: string;
  versionNumber: number;
  /** The template pool's cache key: the version id, or the draft's content hash. */
  templateKey: string;
  content: string;
  settings: Record<string, unknown>;
  environment: string | null;
  draft: boolean;
}

export interface RunHooks {
  signal?: AbortSignal;
  /** Given: the call streams, and each text delta comes here. */
  onDelta?: (text: string) => void;
  /** Added to the logged execution's metadata (e.g. the experiment and item it ran for). */
  metadata?: Record<string, unknown>;
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

  private async source(name: string, body: RunBody): Promise<Source> {
    if (body.draft) {
      const d = body.draft;
      if (d.type === 'chat' || d.messages !== undefined) {
        throw invalid('chat_not_supported', 'draft: chat drafts (messages) need chat prompts; run a text draft with "content"', { field: 'draft.messages' });
      }
      if (d.content === undefined) throw invalid('invalid_request', 'draft.content: a text draft needs its template', { field: 'draft.content' });
      const [latest] = await this.prompts.listVersions(name, { limit: 1 });
      if (!latest) {
        throw conflict('no_base_version', `"${name}" has no version yet; a draft run is logged against the prompt's latest version, so publish a first version, then run drafts`, { prompt: name });
      }
      const settings = { ...d.config, ...(d.model !== undefined ? { model: d.model } : {}), ...(d.temperature !== undefined ? { temperature: d.temperature } : {}), ...(d.max_tokens !== undefined ? { max_tokens: d.max_tokens } : {}) };
      return { versionId: latest.version_id, versionNumber: latest.version, templateKey: `draft:${sha256(d.content)}`, content: d.content, settings, environment: null, draft: true };
    }
    if (body.version !== undefined) {
      const v = await this.prompts.getVersion(name, body.version);
      return { versionId: v.version_id, versionNumber: v.version, templateKey: v.version_id, content: v.content!, settings: { model: v.model, temperature: v.temperature, max_tokens: v.max_tokens }, environment: null, draft: false };
    }
    const environment = body.environment ?? 'production';
    const r = await this.deployments.resolve(name, environment);
    return { versionId: r.version_id, versionNumber: r.version_number, templateKey: r.version_id, content: r.content, settings: { model: r.model, temperature: r.temperature, max_tokens: r.max_tokens }, environment, draft: false };
  }

  /**
   * Renders, calls the provider, logs the execution (also when the call failed: status
   * "error" with the reason), and answers the output. A provider failure is a 502 (down,
   * an error answer, garbage) or a 504 (timeout) naming the execution it was logged as.
   */
  async run(name: string, body: RunBody, hooks: RunHooks = {}): Promise<RunResult> {
    const source = await this.source(name, body);
    const { target, defaultModel, prices } = await this.providers.target(body.provider);
    const model = body.model ?? (typeof body.config?.model === 'string' ? body.config.model : undefined) ?? (typeof source.settings.model === 'string' && source.settings.model ? source.settings.model : undefined) ?? defaultModel;
    if (!model) throw invalid('no_model', `model: name a model; neither the version nor provider "${target.name}" gives one`, { field: 'model' });
    const text = await this.prompts.render(source.templateKey, source.content, body.variables);
    const request = modelRequest({ text }, source.settings, body.config, model);

    const executionId = randomUUID();
    const started = Date.now();
    const log = ({ metadata: extra, ...e }: Partial<ExecutionInput>) =>
      this.executions.ingest({
        rows: [
          {
            id: executionId,
            prompt_version_id: source.versionId,
            ...(source.environment ? { environment: source.environment } : {}),
            input_variables: JSON.stringify(body.variables),
            rendered_prompt: text,
            latency_ms: Date.now() - started,
            ...e,
            metadata: JSON.stringify({
              run: true,
              provider: target.name,
              model,
              stream: body.stream,
              ...(source.draft ? { draft: true, draft_hash: sha256(source.content), base_version: source.versionNumber } : {}),
              ...hooks.metadata,
              ...(extra ? (JSON.parse(extra) as Record<string, unknown>) : {}),
            }),
          } as ExecutionInput,
        ],
        invalid: [],
      });

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
      metadata: JSON.stringify({ finish_reason: answer.finish_reason, ...(response !== full ? { response_truncated: true } : {}), ...(answer.message.tool_calls ? { tool_calls: answer.message.tool_calls } : {}) }),
    });
    return {
      output: { text: answer.text, message: answer.message },
      usage: answer.usage,
      latency_ms: latency,
      cost_usd: cost,
      execution_id: executionId,
      prompt: name,
      version: source.versionNumber,
      draft: source.draft,
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
