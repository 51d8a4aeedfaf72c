import { LIVE_CHANGE_EVENTS, type RegistryEventType } from '../shared/contract/events.js';
import { templateLimits, type TemplateLimits } from '../shared/templates/index.js';
import { fromFallback, fromResolved, readBundle, type BundleEntry } from './bundle.js';
import { compilePrompt, renderCompiled, type CompiledPrompt } from './chat.js';
import { PromptNotFoundError, RegistryUnreachableError } from './errors.js';
import { EventSubscription, type RegistryEvent } from './events.js';
import { ExecutionLogger, type LoggerStats } from './executions.js';
import { Http } from './http.js';
import { assignVariant } from '../shared/rollouts/assign.js';
import type { ClientOptions, ExecutionInput, ExecutionResult, FallbackPrompt, GetOptions, Placeholders, Prompt, RenderOptions, RenderResult } from './types.js';

/** Events after which a cached resolve answer is stale. */
const LIVE_CHANGES: ReadonlySet<RegistryEventType> = new Set(LIVE_CHANGE_EVENTS);

interface Entry {
  prompt: Prompt;
  /** During a rollout: the candidate, as served to the keys assigned it (fetched once, versions never change). */
  candidate?: Promise<Prompt>;
  etag: string | null;
  /** When the entry stops being fresh (ms since epoch). */
  freshUntil: number;
}

/** What an execution log records about the rollout that served it: its variant and rollout id. */
function rolloutMetadata(prompt: Prompt): Record<string, unknown> {
  return prompt.rollout ? { variant: prompt.variant ?? 'live', rollout_id: prompt.rollout.id } : {};
}

/** How soon a fallback served because the registry was unreachable is retried. */
const FALLBACK_RETRY_MS = 5_000;
/** How soon a failed background refresh is tried again. */
const REFRESH_RETRY_MS = 1_000;

/** What `execute` hands the LLM call: the rendered prompt (text or messages, and config) and the prompt it came from. */
export interface RenderedPrompt extends RenderResult {
  prompt: Prompt;
}

/**
 * Fetches prompts from a Prompt Registry and renders them, for applications.
 *
 * - Live prompts are cached for `cacheTtlMs`; after that the cached one is
 *   served while a single background refresh asks the registry with
 *   If-None-Match. With `push` (the default) the registry's event stream
 *   refreshes a prompt as soon as it is deployed or rolled back.
 * - When the registry is unreachable, the last known prompt is served; at a
 *   cold start, a fallback from `fallbacks` or `bundlePath`; else
 *   RegistryUnreachableError.
 * - Rendering is strict, with the registry's own template engine: a missing
 *   variable throws a TemplateError naming it. It keeps to the registry's
 *   budgets (`templateLimits`), so a hostile template cannot stall the
 *   application: TemplateError `template_too_large` or `render_too_large`.
 * - `logExecution` and `execute` send execution logs in the background.
 */
export class PromptRegistryClient {
  private readonly http: Http;
  private readonly ttlMs: number;
  private readonly environment: string;
  private readonly cache = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<Prompt>>();
  /** Keys whose refresh must run again: a change arrived while one was in flight. */
  private readonly again = new Set<string>();
  private readonly templates = new WeakMap<Prompt, CompiledPrompt>();
  private readonly fallbacks: Map<string, FallbackPrompt>;
  private bundle: { environment: string; prompts: Map<string, Prompt> } | undefined;
  private events: EventSubscription | undefined;
  private logger: ExecutionLogger | undefined;
  private readonly onError: (error: Error) => void;
  private readonly limits: TemplateLimits;

  constructor(private readonly options: ClientOptions) {
    if (!options.url) throw new Error('PromptRegistryClient needs the registry url');
    if (!options.apiKey) throw new Error('PromptRegistryClient needs an apiKey');
    this.http = new Http(options.url.replace(/\/+$/, ''), options.apiKey, options.timeoutMs ?? 5_000);
    this.ttlMs = options.cacheTtlMs ?? 60_000;
    this.environment = options.environment ?? 'production';
    this.fallbacks = new Map(Object.entries(options.fallbacks ?? {}));
    this.onError = options.onError ?? (() => undefined);
    this.limits = templateLimits(options.templateLimits);
    if (options.bundlePath) this.bundle = readBundle(options.bundlePath);
  }

  /** The prompt live in an environment (or a given version), from the cache when fresh. */
  async get(name: string, options: GetOptions = {}): Promise<Prompt> {
    if (options.version !== undefined) return this.getVersion(name, options.version);
    const environment = options.environment ?? this.environment;
    const key = `${environment}\u0000${name}`;
    const entry = this.cache.get(key);
    if (entry) {
      if (Date.now() >= entry.freshUntil) this.refresh(key, name, environment).catch(() => undefined);
      return this.variantFor(entry, options.key);
    }
    this.subscribe();
    const prompt = await this.refresh(key, name, environment).catch((err: unknown) => this.fallback(key, name, environment, err));
    const fresh = this.cache.get(key);
    return fresh ? this.variantFor(fresh, options.key) : prompt;
  }

  /**
   * The variant that serves `key` during a rollout, assigned here from the cached rollout (the
   * registry's function, shared/rollouts/assign.ts): the live prompt, or the candidate.
   */
  private async variantFor(entry: Entry, key: string | undefined): Promise<Prompt> {
    const { prompt } = entry;
    if (key === undefined || !prompt.rollout || !prompt.environment) return prompt;
    if (assignVariant(prompt.name, prompt.environment, prompt.rollout, key) === 'live') return prompt;
    const candidate = (entry.candidate ??= this.candidateOf(prompt));
    return candidate.catch((err: unknown) => {
      // The candidate could not be fetched: serve the live version (what an abort would do), and try again next time.
      if (entry.candidate === candidate) delete entry.candidate;
      this.onError(err as Error);
      return prompt;
    });
  }

  private candidateOf(live: Prompt): Promise<Prompt> {
    const rollout = live.rollout!;
    const found = this.getVersion(live.name, rollout.candidate).then((v): Prompt => ({ ...v, environment: live.environment, variant: 'candidate', rollout }));
    found.catch(() => undefined);
    return found;
  }

  /**
   * Renders a text prompt strictly; throws TemplateError naming a missing variable, or past the template
   * budgets, and InvalidInputError for variables its input schema refuses. A chat prompt: `renderFull`.
   */
  async render(name: string, variables: Record<string, unknown>, options: GetOptions = {}): Promise<string> {
    return this.renderPrompt(await this.get(name, options), variables);
  }

  /**
   * Renders a text or chat prompt: `text` or `messages` (placeholders filled from `options.placeholders`,
   * partials expanded), with its `config` and the partial versions that went in.
   */
  async renderFull(name: string, variables: Record<string, unknown>, options: RenderOptions = {}): Promise<RenderResult> {
    return this.renderPromptFull(await this.get(name, options), variables, options.placeholders);
  }

  /** The seed client's name for `render`. */
  getAndRender(name: string, variables: Record<string, unknown>, options: GetOptions = {}): Promise<string> {
    return this.render(name, variables, options);
  }

  /** Renders an already fetched text prompt (its compiled template is kept with it). */
  renderPrompt(prompt: Prompt, variables: Record<string, unknown>): string {
    if (prompt.type === 'chat') throw new TypeError(`"${prompt.name}" is a chat prompt: renderFull() renders its messages`);
    return this.renderPromptFull(prompt, variables).text!;
  }

  /** Renders an already fetched prompt, text or chat (its compiled templates are kept with it). */
  renderPromptFull(prompt: Prompt, variables: Record<string, unknown>, placeholders?: Placeholders): RenderResult {
    let compiled = this.templates.get(prompt);
    if (!compiled) {
      compiled = compilePrompt(prompt, this.limits);
      this.templates.set(prompt, compiled);
    }
    return renderCompiled(prompt, compiled, variables, placeholders, this.limits);
  }

  /** Queues an execution for the registry's log; answers its id at once, never throws. */
  logExecution(execution: ExecutionInput): string {
    this.logger ??= new ExecutionLogger(this.http, this.options.logging ?? {}, this.onError);
    return this.logger.log(execution);
  }

  /**
   * Renders a prompt, runs `call` with it (an LLM call), and logs the
   * execution: latency, and what `extract` reads from the result (response,
   * tokens, cost). A failed call is logged with status "error" and rethrown.
   */
  async execute<T>(
    name: string,
    variables: Record<string, unknown>,
    call: (rendered: RenderedPrompt) => Promise<T>,
    options: RenderOptions & { extract?: (result: T) => ExecutionResult; metadata?: Record<string, unknown> } = {},
  ): Promise<T> {
    const prompt = await this.get(name, options);
    const rendered = this.renderPromptFull(prompt, variables, options.placeholders);
    const base: ExecutionInput = {
      ...(prompt.versionId ? { promptVersionId: prompt.versionId } : { prompt: name }),
      ...(prompt.environment ? { environment: prompt.environment } : {}),
      inputVariables: variables,
      ...(rendered.text !== null ? { renderedPrompt: rendered.text } : {}),
      ...(rendered.messages ? { messages: rendered.messages } : {}),
      ...(rendered.partialsUsed.length ? { partialsUsed: rendered.partialsUsed } : {}),
      executedAt: new Date(),
      ...(options.metadata || prompt.rollout ? { metadata: { ...options.metadata, ...rolloutMetadata(prompt) } } : {}),
    };
    const started = performance.now();
    try {
      const result = await call({ ...rendered, prompt });
      const latencyMs = performance.now() - started;
      let facts: ExecutionResult = {};
      try {
        facts = options.extract?.(result) ?? {};
      } catch (err) {
        // The call succeeded: a broken extract must not fail it. Log what we know.
        this.onError(err as Error);
      }
      const costUsd = facts.costUsd ?? this.cost(prompt.model, facts.inputTokens, facts.outputTokens);
      if (prompt.versionId) {
        this.logExecution({ ...base, ...facts, ...(costUsd !== undefined ? { costUsd } : {}), latencyMs, status: 'ok', metadata: { ...base.metadata, ...facts.metadata } });
      }
      return result;
    } catch (err) {
      if (prompt.versionId) {
        this.logExecution({ ...base, latencyMs: performance.now() - started, status: 'error', error: err instanceof Error ? err.message : String(err) });
      }
      throw err;
    }
  }

  /** Execution-log counters: sent, dropped, rejected, buffered. */
  get loggingStats(): LoggerStats {
    return this.logger?.stats ?? { sent: 0, dropped: 0, rejected: 0, buffered: 0 };
  }

  /** Sends buffered execution logs now. */
  async flush(): Promise<void> {
    await this.logger?.flush();
  }

  /** Sends what is buffered (retrying up to `timeoutMs`) and stops the event stream. */
  async close(timeoutMs = 5_000): Promise<void> {
    this.events?.close();
    this.events = undefined;
    await this.logger?.close(timeoutMs);
  }

  private cost(model: string, input?: number, output?: number): number | undefined {
    const price = this.options.pricing?.[model];
    if (!price || (input === undefined && output === undefined)) return undefined;
    return ((input ?? 0) * price.inputPerMillion + (output ?? 0) * price.outputPerMillion) / 1_000_000;
  }

  /** Fetches (If-None-Match when cached) and stores; one request per key at a time. */
  private refresh(key: string, name: string, environment: string): Promise<Prompt> {
    const running = this.inflight.get(key);
    if (running) return running;
    const cached = this.cache.get(key);
    const task = (async () => {
      try {
        const path = `/prompts/${encodeURIComponent(name)}/latest?environment=${encodeURIComponent(environment)}`;
        const answer = await this.http.request('GET', path, { etag: cached?.prompt.source === 'registry' ? cached.etag : null });
        if (answer.status === 304 && cached) {
          cached.freshUntil = Date.now() + this.ttlMs;
          return cached.prompt;
        }
        const prompt = fromResolved(name, environment, answer.body as Parameters<typeof fromResolved>[2], 'registry');
        const entry: Entry = { prompt, etag: answer.etag, freshUntil: Date.now() + this.ttlMs };
        // During a rollout the candidate is fetched now, so keys assigned it need no round trip later.
        if (prompt.rollout) {
          const same = cached?.prompt.rollout?.id === prompt.rollout.id && cached.prompt.rollout.candidate === prompt.rollout.candidate;
          entry.candidate = same && cached.candidate ? cached.candidate.then((c) => ({ ...c, rollout: prompt.rollout! })) : this.candidateOf(prompt);
        }
        this.cache.set(key, entry);
        return prompt;
      } catch (err) {
        // No longer deployed there: stop serving it. Unreachable: keep serving what we have, and
        // wait a moment before asking again rather than on every get().
        if (err instanceof PromptNotFoundError) this.cache.delete(key);
        else if (cached) {
          cached.freshUntil = Date.now() + Math.min(this.ttlMs, REFRESH_RETRY_MS);
          this.onError(err as Error);
        }
        throw err;
      } finally {
        this.inflight.delete(key);
        if (this.again.delete(key)) this.refresh(key, name, environment).catch(() => undefined);
      }
    })();
    this.inflight.set(key, task);
    return task;
  }

  private fallback(key: string, name: string, environment: string, err: unknown): Prompt {
    if (!(err instanceof RegistryUnreachableError)) throw err;
    const fromBundle = this.bundle?.environment === environment ? this.bundle.prompts.get(name) : undefined;
    const given = this.fallbacks.get(name);
    const prompt = fromBundle ?? (given !== undefined ? fromFallback(name, given) : undefined);
    if (!prompt) {
      throw new RegistryUnreachableError(`${err.message}; no cached, bundled or fallback prompt "${name}" for ${environment}`, err.cause);
    }
    this.onError(err);
    // Serve it for a few seconds, then try the registry again in the background.
    this.cache.set(key, { prompt, etag: null, freshUntil: Date.now() + Math.min(this.ttlMs, FALLBACK_RETRY_MS) });
    return prompt;
  }

  private readonly versions = new Map<string, Promise<Prompt>>();

  /** Versions never change, so they are cached for good (failed fetches are not). */
  private getVersion(name: string, version: number): Promise<Prompt> {
    const key = `${name}\u0000${version}`;
    let found = this.versions.get(key);
    if (!found) {
      found = this.http.request('GET', `/prompts/${encodeURIComponent(name)}/versions/${version}`).then((answer) => {
        // A version answer: partials are there only if the registry sends them (a resolve answer always does).
        const v = answer.body as Omit<BundleEntry, 'version_number' | 'deployed_at'> & { version: number };
        return fromResolved(name, null, { ...v, version_number: v.version, deployed_at: null as unknown as string }, 'registry');
      });
      found.catch(() => this.versions.delete(key));
      this.versions.set(key, found);
    }
    return found;
  }

  private subscribe(): void {
    if (this.events || this.options.push === false) return;
    this.events = new EventSubscription(this.http.baseUrl, async () => ({ 'X-API-Key': this.options.apiKey }), {
      onEvent: (event) => this.onEvent(event),
      onResync: () => {
        // Events may have been missed while disconnected: treat every cached prompt as stale.
        for (const entry of this.cache.values()) entry.freshUntil = 0;
      },
      onError: this.onError,
    });
  }

  private onEvent(event: RegistryEvent): void {
    if (!LIVE_CHANGES.has(event.type)) return;
    if (!event.prompt || !event.environment) return;
    const key = `${event.environment}\u0000${event.prompt}`;
    if (!this.cache.has(key)) return;
    // A refresh already running may have read the old version: run another after it.
    if (this.inflight.has(key)) this.again.add(key);
    else this.refresh(key, event.prompt, event.environment).catch(() => undefined);
  }
}
