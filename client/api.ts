import { createParser } from 'eventsource-parser';
import { RegistryError, RegistryUnreachableError } from './errors.js';
import { EventSubscription, type EventHandlers } from './events.js';
import { Http, type BearerTokens, type HttpAnswer } from './http.js';
import { readAuthConfig, type OidcConfig } from './oauth.js';
import type { operations, RequestBody, ResponseBody, Schemas } from '../shared/contract/api.js';
import type { Placeholders } from './types.js';

/**
 * The registry's answers and request bodies: aliases of the types generated from the server's zod
 * declarations (shared/contract/api.gen.ts, `npm run contract:generate`), never retyped here.
 */
export type PromptSummary = Schemas['Prompt'];
/** A version as lists answer it; `getVersion` adds the template (`content`, or `messages` for chat). */
export type VersionInfo = Schemas['VersionSummary'] & Partial<Pick<Schemas['Version'], 'content' | 'messages'>>;
export type Deployment = Schemas['Deployment'];
/** A rollout: the candidate serves `weight` percent of caller keys beside the live version (docs/rollouts.md). */
export type Rollout = Schemas['Rollout'];
/** Aborts a rollout when the candidate's `metric` over its last `window` executions crosses `threshold` (docs/rollouts.md, "Guard"). */
export type RolloutGuard = RequestBody<'putPromptsNameRolloutsEnvironment'>['guard'] & {};
/** A deploy or rollback waiting for approval (docs/api.md, "Protected environments and approvals"). */
export type DeploymentRequest = Schemas['DeploymentRequest'];
export type RequestDecision = Schemas['RequestDecision'];

/**
 * What a deploy or rollback did: `applied` (the deployment; `created` false
 * when the version was already live), or `pending`, where the environment
 * needs approval (202) and the answer is the request waiting for it.
 */
export type DeployResult = { kind: 'applied'; deployment: Deployment; created: boolean } | { kind: 'pending'; request: DeploymentRequest };

/** Who the caller is (`GET /me`), and what it may do in each environment. */
export type Me = Schemas['Me'];
export type EnvironmentPolicy = Schemas['EnvironmentPolicy'];
/** What `PUT /environments/{name}/policy` takes; what it leaves out takes its default. */
export type PolicyInput = RequestBody<'putEnvironmentsNamePolicy'>;

export interface RequestFilter {
  status?: DeploymentRequest['status'];
  prompt?: string;
  environment?: string;
  requestedBy?: string;
  limit?: number;
  cursor?: string | null;
}

export interface Page<T> {
  items: T[];
  next_cursor: string | null;
}

/** A new version: `content` for a text prompt, `type: "chat"` with `messages` for a chat prompt. */
export type NewVersion = RequestBody<'postPromptsNameVersions'>;
/** What `POST /prompts/{name}/render` answers: `rendered` for a text prompt, `messages` for a chat prompt. */
export type RenderAnswer = Schemas['RenderResult'];
/** A version that includes a prompt as a partial (`GET /prompts/{name}/used-by`); `ref` as written, `live_in` its environments. */
export type UsedBy = ResponseBody<'getPromptsNameUsedby'>['data'][number];

/** One logged execution, as `GET /executions` lists it (without variables, rendered prompt and response). */
export type ExecutionSummary = Schemas['ExecutionSummary'];
export type MetricType = Schemas['Metric']['type'];
export type ScoreSource = Schemas['Score']['source'];
export type Score = Schemas['Score'];
/**
 * `GET /executions/{id}`: everything logged, and its scores. Redacted executions have null text fields, and so
 * does every execution for a credential without `executions:read` (then `payload_withheld` is true).
 */
export type ExecutionDetail = Schemas['ExecutionDetail'];
/** `GET /executions` filters (`version` needs `prompt`; `from` inclusive, `to` exclusive, ISO-8601). */
export type ExecutionFilter = Omit<NonNullable<operations['getExecutions']['parameters']['query']>, 'limit' | 'cursor'>;
/** An execution to log, in the API's own shape (docs/api.md, "Logging executions"). */
export type ExecutionRecord = Exclude<RequestBody<'postExecutions'>, unknown[]>;
export type IngestResult = Schemas['IngestResult'];
export type MetricStats = Schemas['MetricStats'];
export type VersionStats = Schemas['VersionStats'];
export type SeriesPoint = Schemas['SeriesPoint'];
export type StatsInterval = Schemas['PromptStats']['interval'];
export type PromptStats = Schemas['PromptStats'];
export type StatsWindow = NonNullable<operations['getPromptsNameStats']['parameters']['query']>;
export type Comparison = Schemas['Comparison'];
export type ComparisonSide = Comparison['metrics'][number]['a'];
export type Metric = Schemas['Metric'];
export type NewMetric = RequestBody<'postMetrics'>;
export type NewScore = RequestBody<'postExecutionsIdScores'>;
export type Dataset = Schemas['Dataset'];
export type NewDatasetItem = RequestBody<'postDatasetsNameItems'>['items'][number];
export type DatasetItem = Schemas['DatasetItem'];
/** What adding items answers: the dataset version they made. */
export type DatasetItemsAdded = Schemas['DatasetItemsAdded'];

/**
 * A built-in or LLM-judge evaluator spec, e.g. `{type: 'regex', pattern: '^\\d+$'}` (see docs/evaluate.md).
 * The server checks specs itself and declares them as any JSON; this is their common shape.
 */
export interface EvaluatorSpec {
  type: string;
  name?: string;
  [option: string]: unknown;
}

export type NewExperiment = Omit<RequestBody<'postExperiments'>, 'evaluators'> & { evaluators: EvaluatorSpec[] };
export type Experiment = Omit<ResponseBody<'getExperimentsId'>, 'evaluators'> & { evaluators: EvaluatorSpec[] };
export type ExperimentAggregate = Experiment['aggregates'][number];
export type ExperimentStatus = Experiment['status'];

export type RunRequest = Omit<RequestBody<'postPromptsNameRun'>, 'stream'>;
/** An unpublished body to run, as the editor has it (see `versionRequest` in shared/prompt-files). */
export type DraftBody = NonNullable<RunRequest['draft']>;
/** A (non-streamed) run: the output, logged as an execution. */
export type RunResult = ResponseBody<'postPromptsNameRun'>;
export type Evaluation = ResponseBody<'postEvaluatorsTest'>;

/** A webhook as the registry lists it (never its secret); docs/webhooks.md. */
export type Webhook = Schemas['Webhook'];
/** What registering a webhook answers: the webhook and its signing secret, shown this once. */
export type CreatedWebhook = ResponseBody<'postWebhooks', 201>;
export type NewWebhook = RequestBody<'postWebhooks'>;
export type WebhookPatch = RequestBody<'patchWebhooksId'>;
/** One event sent to a webhook, with each attempt (status code, duration, error) and the payload. */
export type WebhookDelivery = Schemas['WebhookDelivery'];
export type WebhookAttempt = Schemas['WebhookAttempt'];
export type WebhookDeliveryStatus = WebhookDelivery['status'];

function query(params: Record<string, string | number | string[] | undefined>): string {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === '') continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const p = (name: string) => `/prompts/${encodeURIComponent(name)}`;

/**
 * Typed calls for authoring tools (the VS Code extension, scripts, CI): list,
 * publish, deploy, roll back; read execution logs and their statistics, and
 * score executions. Errors are the client's typed errors.
 */
export class RegistryApi {
  private readonly http: Http;

  /** Credentials: an API key, or tokens from a sign-in (which win when both are given); none for `authConfig()`. */
  constructor(options: { url: string; apiKey?: string; bearer?: BearerTokens; timeoutMs?: number }) {
    this.http = new Http(options.url.replace(/\/+$/, ''), options.apiKey, options.timeoutMs ?? 10_000, options.bearer);
  }

  get url(): string {
    return this.http.baseUrl;
  }

  private async body<T>(method: string, path: string, body?: unknown): Promise<T> {
    return (await this.http.request(method, path, body === undefined ? {} : { body })).body as T;
  }

  health(): Promise<{ status: string; version: string; database: string }> {
    return this.body('GET', '/healthz');
  }

  /** What the registry advertises for sign-in (needs no credential); undefined when it has no identity provider. */
  async authConfig(): Promise<Partial<OidcConfig> | undefined> {
    try {
      return readAuthConfig(await this.body('GET', '/auth/config'));
    } catch (err) {
      // A registry without sign-in (or older than it) has no such route.
      if (err instanceof RegistryError && err.status === 404) return undefined;
      throw err;
    }
  }

  environments(): Promise<string[]> {
    return this.body<Page<{ name: string }>>('GET', '/environments').then((page) => page.items.map((e) => e.name));
  }

  listPrompts(f: { search?: string; tags?: string[]; environment?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<PromptSummary>> {
    return this.body('GET', `/prompts${query({ search: f.search, tag: f.tags, environment: f.environment, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  getPrompt(name: string): Promise<PromptSummary> {
    return this.body('GET', p(name));
  }

  /** Changes a prompt's description or tags (no new version). */
  updatePrompt(name: string, patch: { description?: string | null; tags?: string[] }): Promise<PromptSummary> {
    return this.body('PATCH', p(name), patch);
  }

  listVersions(name: string, f: { limit?: number; cursor?: string | null } = {}): Promise<Page<VersionInfo>> {
    return this.body('GET', `${p(name)}/versions${query({ limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  getVersion(name: string, version: number): Promise<VersionInfo & { content: string }> {
    return this.body('GET', `${p(name)}/versions/${version}`);
  }

  /** Publishes a version; with `idempotent`, an identical one is answered instead of refused. */
  async createVersion(name: string, version: NewVersion, opts: { idempotent?: boolean } = {}): Promise<VersionInfo & { content: string; created: boolean }> {
    return this.body('POST', `${p(name)}/versions${opts.idempotent ? '?idempotent=true' : ''}`, version);
  }

  /** Deploys a version; where the environment needs approval, the answer is the pending request. */
  async deploy(name: string, version: number, environment: string, opts: { comment?: string } = {}): Promise<DeployResult> {
    const body = opts.comment ? { version, environment, comment: opts.comment } : { version, environment };
    return deployResult(await this.http.request('POST', `${p(name)}/deployments`, { body }));
  }

  /** Restores the version live before (or `version`); with `dryRun`, answers what it would restore without doing it. */
  rollback(name: string, environment: string, opts: { version?: number; dryRun: true }): Promise<Deployment>;
  rollback(name: string, environment: string, opts?: { version?: number; dryRun?: false; comment?: string }): Promise<DeployResult>;
  async rollback(name: string, environment: string, opts: { version?: number; dryRun?: boolean; comment?: string } = {}): Promise<Deployment | DeployResult> {
    const body = { environment, ...(opts.version === undefined ? {} : { version: opts.version }), ...(opts.comment ? { comment: opts.comment } : {}) };
    const answer = await this.http.request('POST', `${p(name)}/rollback${opts.dryRun ? '?dry_run=true' : ''}`, { body });
    return opts.dryRun ? (answer.body as Deployment) : deployResult(answer);
  }

  /** Starts a rollout of `candidate` at `weight` percent, or changes the weight (and guard) of the one running for it. */
  startRollout(name: string, environment: string, r: { candidate: number; weight: number; guard?: RolloutGuard | null; comment?: string }): Promise<Rollout> {
    return this.body('PUT', `${p(name)}/rollouts/${encodeURIComponent(environment)}`, r);
  }

  /** The rollout running in an environment (RegistryError not_found `no_rollout` when none). */
  rollout(name: string, environment: string): Promise<Rollout> {
    return this.body('GET', `${p(name)}/rollouts/${encodeURIComponent(environment)}`);
  }

  /**
   * The rollouts running in an environment, a page by prompt name (`prompt`: only that prompt's, an empty page when none runs).
   * A registry older than this list answers 404 (RegistryError, code route_not_found); ask `rolloutIfAny` per prompt there.
   */
  listRollouts(environment: string, f: { prompt?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<Rollout>> {
    return this.body('GET', `/rollouts${query({ environment, prompt: f.prompt, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  /** The candidate goes live for every key; the rollout ends. */
  promoteRollout(name: string, environment: string, comment?: string): Promise<Rollout> {
    return this.body('POST', `${p(name)}/rollouts/${encodeURIComponent(environment)}/promote`, comment ? { comment } : {});
  }

  /** Every key gets the live version again; the rollout ends with `reason`. */
  abortRollout(name: string, environment: string, reason?: string): Promise<Rollout> {
    return this.body('POST', `${p(name)}/rollouts/${encodeURIComponent(environment)}/abort`, reason ? { reason } : {});
  }

  history(name: string, f: { environment?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<Deployment>> {
    return this.body('GET', `${p(name)}/deployments${query({ environment: f.environment, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  /** Renders on the registry: the version live in `environment` (or `version`), with variables and, for a chat prompt, placeholders. */
  render(name: string, r: { variables?: Record<string, unknown>; placeholders?: Placeholders; environment?: string; version?: number } = {}): Promise<RenderAnswer> {
    const body: Record<string, unknown> = { variables: r.variables ?? {} };
    // Only what is given: registries older than chat prompts refuse unknown fields.
    if (r.placeholders !== undefined) body.placeholders = r.placeholders;
    if (r.environment !== undefined) body.environment = r.environment;
    if (r.version !== undefined) body.version = r.version;
    return this.body('POST', `${p(name)}/render`, body);
  }

  /** The versions that include the prompt `name` as a partial; with `environment`, only prompts live there that follow or pin it. */
  async usedBy(name: string, environment?: string): Promise<UsedBy[]> {
    return (await this.body<{ data: UsedBy[] }>('GET', `${p(name)}/used-by${query({ environment })}`)).data;
  }

  /** Logs executions as they are (one request, up to 1,000). Applications log through PromptRegistryClient instead, in the background. */
  logExecutions(executions: ExecutionRecord | ExecutionRecord[]): Promise<IngestResult> {
    return this.body('POST', '/executions', executions);
  }

  /** Executions, newest first, without their variables, rendered prompt and response. */
  listExecutions(f: ExecutionFilter & { limit?: number; cursor?: string | null } = {}): Promise<Page<ExecutionSummary>> {
    const { cursor, ...rest } = f;
    return this.body('GET', `/executions${query({ ...rest, cursor: cursor ?? undefined })}`);
  }

  getExecution(id: string): Promise<ExecutionDetail> {
    return this.body('GET', `/executions/${encodeURIComponent(id)}`);
  }

  /** Per-version statistics and a time series over a window (by default the last 7 days). */
  stats(name: string, w: StatsWindow = {}): Promise<PromptStats> {
    return this.body('GET', `${p(name)}/stats${query({ ...w })}`);
  }

  /** Versions `a` and `b` on every measure; over all time unless `from` or `to`. */
  compare(name: string, a: number, b: number, w: Omit<StatsWindow, 'interval'> = {}): Promise<Comparison> {
    return this.body('GET', `${p(name)}/compare${query({ a, b, ...w })}`);
  }

  listMetrics(f: { limit?: number; cursor?: string | null } = {}): Promise<Page<Metric>> {
    return this.body('GET', `/metrics${query({ limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  createMetric(metric: NewMetric): Promise<Metric> {
    return this.body('POST', '/metrics', metric);
  }

  /** Scores an execution; the same source scoring the same metric again replaces its score. */
  addScore(executionId: string, score: NewScore): Promise<Score> {
    return this.body('POST', `/executions/${encodeURIComponent(executionId)}/scores`, score);
  }

  /** An empty dataset (version 0). */
  createDataset(name: string, description?: string): Promise<Dataset> {
    return this.body('POST', '/datasets', { name, ...(description !== undefined ? { description } : {}) });
  }

  getDataset(name: string): Promise<Dataset> {
    return this.body('GET', `/datasets/${encodeURIComponent(name)}`);
  }

  /** Appends up to 1,000 items as the dataset's next version (in one transaction). */
  addDatasetItems(name: string, items: NewDatasetItem[]): Promise<DatasetItemsAdded> {
    return this.body('POST', `/datasets/${encodeURIComponent(name)}/items`, { items });
  }

  /** "Add to dataset": a logged execution's variables as the input, its response (or `expected`) as the expected output. Needs write and executions:read. */
  addDatasetItemFromExecution(name: string, executionId: string, opts: { expected?: unknown; metadata?: Record<string, unknown> } = {}): Promise<DatasetItemsAdded & { item: DatasetItem }> {
    return this.body('POST', `/datasets/${encodeURIComponent(name)}/items/from-execution/${encodeURIComponent(executionId)}`, opts);
  }

  /** A page of a dataset version's items (default: the latest), by position. */
  datasetItems(name: string, f: { version?: number; limit?: number; cursor?: string | null } = {}): Promise<Page<DatasetItem>> {
    return this.body('GET', `/datasets/${encodeURIComponent(name)}/items${query({ version: f.version, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  /** Runs a prompt on a provider (scope run), not streamed: a version, what is live in an environment, or a draft. */
  run(name: string, request: RunRequest): Promise<RunResult> {
    return this.body('POST', `${p(name)}/run`, { ...request, stream: false });
  }

  /** Applies a built-in evaluator spec to one output. */
  testEvaluator(r: { evaluator: EvaluatorSpec; output: string | null; expected?: unknown; latency_ms?: number | null; cost_usd?: number | null }): Promise<Evaluation> {
    return this.body('POST', '/evaluators/test', r);
  }

  /** Starts an experiment in the background (scope run): the answer is the experiment, queued. */
  createExperiment(experiment: NewExperiment): Promise<Experiment> {
    return this.body('POST', '/experiments', experiment);
  }

  /** Progress and per-version aggregates. */
  getExperiment(id: string): Promise<Experiment> {
    return this.body('GET', `/experiments/${encodeURIComponent(id)}`);
  }

  cancelExperiment(id: string): Promise<Experiment> {
    return this.body('POST', `/experiments/${encodeURIComponent(id)}/cancel`, {});
  }

  /** The live version in an environment, or undefined when nothing is deployed there. */
  async live(name: string, environment: string): Promise<(VersionInfo & { content: string }) | undefined> {
    const prompt = await this.getPrompt(name);
    const live = prompt.environments[environment];
    return live ? this.getVersion(name, live.version) : undefined;
  }

  /** Who this client's credential is, and per environment whether it may deploy and whether that needs approval. */
  me(): Promise<Me> {
    return this.body('GET', '/me');
  }

  environmentPolicy(environment: string): Promise<EnvironmentPolicy> {
    return this.body('GET', `/environments/${encodeURIComponent(environment)}/policy`);
  }

  /** Replaces an environment's policy (admin). */
  setEnvironmentPolicy(environment: string, policy: PolicyInput): Promise<EnvironmentPolicy> {
    return this.body('PUT', `/environments/${encodeURIComponent(environment)}/policy`, policy);
  }

  /** Deployment requests, newest first; `{status: 'pending'}` for what awaits a decision. */
  deploymentRequests(f: RequestFilter = {}): Promise<Page<DeploymentRequest>> {
    return this.body(
      'GET',
      `/deployment-requests${query({ status: f.status, prompt: f.prompt, environment: f.environment, requested_by: f.requestedBy, limit: f.limit, cursor: f.cursor ?? undefined })}`,
    );
  }

  deploymentRequest(id: string): Promise<DeploymentRequest> {
    return this.body('GET', `/deployment-requests/${encodeURIComponent(id)}`);
  }

  /** Approves someone else's request; the last approval needed applies it (the answer's status is then `applied`). */
  approve(id: string, comment?: string): Promise<DeploymentRequest> {
    return this.body('POST', `/deployment-requests/${encodeURIComponent(id)}/approve`, comment ? { comment } : {});
  }

  /** Rejects a request, or withdraws your own. */
  reject(id: string, comment?: string): Promise<DeploymentRequest> {
    return this.body('POST', `/deployment-requests/${encodeURIComponent(id)}/reject`, comment ? { comment } : {});
  }

  /** Registers a webhook (admin): the answer holds its signing secret, shown this once (docs/webhooks.md). */
  createWebhook(webhook: NewWebhook): Promise<CreatedWebhook> {
    return this.body('POST', '/webhooks', webhook);
  }

  listWebhooks(f: { limit?: number; cursor?: string | null } = {}): Promise<Page<Webhook>> {
    return this.body('GET', `/webhooks${query({ limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  getWebhook(id: string): Promise<Webhook> {
    return this.body('GET', `/webhooks/${encodeURIComponent(id)}`);
  }

  /** Changes a webhook's url, events, description or enabled, or gives it a new secret. */
  updateWebhook(id: string, patch: WebhookPatch): Promise<Webhook> {
    return this.body('PATCH', `/webhooks/${encodeURIComponent(id)}`, patch);
  }

  /** Deletes a webhook and its delivery log; answers the webhook deleted. */
  deleteWebhook(id: string): Promise<Webhook> {
    return this.body('DELETE', `/webhooks/${encodeURIComponent(id)}`);
  }

  /** A webhook's delivery log, newest first, each delivery with its attempts. */
  webhookDeliveries(id: string, f: { status?: WebhookDeliveryStatus; limit?: number; cursor?: string | null } = {}): Promise<Page<WebhookDelivery>> {
    return this.body('GET', `/webhooks/${encodeURIComponent(id)}/deliveries${query({ status: f.status, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  /** Sends a delivery again now, with the same webhook-id; answers the delivery, pending. */
  redeliverWebhook(id: string, deliveryId: string): Promise<WebhookDelivery> {
    return this.body('POST', `/webhooks/${encodeURIComponent(id)}/deliveries/${encodeURIComponent(deliveryId)}/redeliver`, {});
  }

  /** Subscribes to the registry's event stream (`GET /events`) with this client's credential; close() it when done. */
  events(handlers: EventHandlers): EventSubscription {
    return new EventSubscription(this.url, (afterUnauthorized) => this.http.authHeaders(afterUnauthorized), handlers);
  }

  // Rollout actions that say whether they applied or wait for approval (202), as deploy() does; the extension's commands use these.

  /** Starts a rollout of `candidate` at `weight` percent, or re-weights the one running for it; pending where the environment needs approval. */
  async rolloutStart(name: string, environment: string, r: { candidate: number; weight: number; guard?: RolloutGuard | null; comment?: string }): Promise<RolloutResult> {
    return rolloutResult(await this.http.request('PUT', `${p(name)}/rollouts/${encodeURIComponent(environment)}`, { body: r }));
  }

  /** Deploys the candidate and ends the rollout; pending (a deploy request) where the environment needs approval. */
  async rolloutPromote(name: string, environment: string, comment?: string): Promise<RolloutResult> {
    return rolloutResult(await this.http.request('POST', `${p(name)}/rollouts/${encodeURIComponent(environment)}/promote`, { body: comment ? { comment } : {} }));
  }

  /** Every key gets the live version again; pending (a rollout_abort request) where the environment needs approval. */
  async rolloutAbort(name: string, environment: string, reason?: string): Promise<RolloutResult> {
    return rolloutResult(await this.http.request('POST', `${p(name)}/rollouts/${encodeURIComponent(environment)}/abort`, { body: reason ? { reason } : {} }));
  }

  /**
   * Every rollout running in an environment (all pages of `listRollouts`), or undefined from a registry older
   * than that list (it answers 404 there): ask `rolloutIfAny` per prompt instead.
   */
  async runningRollouts(environment: string): Promise<Rollout[] | undefined> {
    const found: Rollout[] = [];
    let cursor: string | null = null;
    do {
      let page: Page<Rollout>;
      try {
        page = await this.listRollouts(environment, { limit: 100, cursor });
      } catch (err) {
        if (cursor === null && err instanceof RegistryError && err.status === 404) return undefined;
        throw err;
      }
      found.push(...page.items);
      cursor = page.next_cursor;
    } while (cursor);
    return found;
  }

  /** The rollout running in an environment, or undefined when none runs there. */
  async rolloutIfAny(name: string, environment: string): Promise<Rollout | undefined> {
    try {
      return await this.rollout(name, environment);
    } catch (err) {
      if (err instanceof RegistryError && err.code === 'no_rollout') return undefined;
      throw err;
    }
  }

  // --- Runs, providers, datasets and experiments of drafts, for the editor (issue 13) ---

  /** The model providers (no keys), with their price tables. */
  listProviders(f: { limit?: number; cursor?: string | null } = {}): Promise<Page<ProviderInfo>> {
    return this.body('GET', `/providers${query({ limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  listDatasets(f: { limit?: number; cursor?: string | null } = {}): Promise<Page<Dataset>> {
    return this.body('GET', `/datasets${query({ limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }

  /**
   * Runs a prompt streamed (Server-Sent Events): each text chunk goes to `onDelta`, the answer is the
   * run as logged. Aborting `signal` stops the run (the registry cancels the provider call). A provider
   * failure is a RegistryError with the registry's code (provider_error, provider_timeout, ...), before or during the stream.
   */
  async runStream(name: string, request: RunRequest, hooks: { onDelta?: (text: string) => void; signal?: AbortSignal } = {}): Promise<RunResult> {
    const headers = { ...(await this.http.authHeaders()), 'Content-Type': 'application/json', Accept: 'text/event-stream' };
    let res: Response;
    try {
      res = await fetch(`${this.url}/prompts/${encodeURIComponent(name)}/run`, { method: 'POST', headers, body: JSON.stringify({ ...request, stream: true }), ...(hooks.signal ? { signal: hooks.signal } : {}) });
    } catch (err) {
      if (hooks.signal?.aborted) throw err;
      throw new RegistryUnreachableError(`the prompt registry at ${this.url} is unreachable: ${err instanceof Error ? err.message : String(err)}`, err);
    }
    const failure = (status: number, body: unknown) => {
      const e = (body as { error?: Record<string, unknown> } | null)?.error ?? {};
      const { code, message, ...details } = e;
      return new RegistryError(status, typeof code === 'string' ? code : 'http_error', typeof message === 'string' ? message : `the registry answered ${status}`, details);
    };
    if (!(res.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
      const text = await res.text();
      let body: unknown;
      try {
        body = text ? JSON.parse(text) : undefined;
      } catch {
        body = undefined;
      }
      if (res.ok) return body as RunResult;
      throw failure(res.status, body);
    }
    // The run's stream ends with `done` (its result) or `error`; `delta` events carry the text so far.
    let outcome: { result: RunResult } | { error: RegistryError } | undefined;
    const parser = createParser({
      onEvent: (message) => {
        if (outcome || !message.data) return;
        const parsed = JSON.parse(message.data) as unknown;
        if (message.event === 'delta') hooks.onDelta?.((parsed as { text: string }).text);
        else if (message.event === 'done') outcome = { result: parsed as RunResult };
        else if (message.event === 'error') outcome = { error: failure(502, parsed) };
      },
    });
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    while (!outcome) {
      const { value, done } = await reader.read();
      if (done) throw new RegistryUnreachableError(`the prompt registry at ${this.url} ended the run's stream without its result`);
      parser.feed(value);
    }
    await reader.cancel().catch(() => undefined);
    if ('error' in outcome) throw outcome.error;
    return outcome.result;
  }

  /** Starts an experiment of versions and (or) drafts; a draft's column is named by its label. */
  startExperiment(experiment: NewExperimentWithDrafts): Promise<ExperimentWithDrafts> {
    return this.body('POST', '/experiments', experiment);
  }

  /** An experiment with its drafts' columns (aggregates name a version or a draft). */
  experiment(id: string): Promise<ExperimentWithDrafts> {
    return this.body('GET', `/experiments/${encodeURIComponent(id)}`);
  }

  /** A page of an experiment's results (outputs, scores), by item then column; needs executions:read. */
  experimentResults(id: string, f: { version?: number; draft?: string; limit?: number; cursor?: string | null } = {}): Promise<Page<ExperimentResult>> {
    return this.body('GET', `/experiments/${encodeURIComponent(id)}/results${query({ version: f.version, draft: f.draft, limit: f.limit, cursor: f.cursor ?? undefined })}`);
  }
}

function deployResult(answer: HttpAnswer): DeployResult {
  if (answer.status === 202) return { kind: 'pending', request: answer.body as DeploymentRequest };
  return { kind: 'applied', deployment: answer.body as Deployment, created: answer.status === 201 };
}

/** What a rollout action did: `applied` (the rollout; `created` when a PUT started it), or `pending`: the request waiting for approval (202). */
export type RolloutResult = { kind: 'applied'; rollout: Rollout; created: boolean } | { kind: 'pending'; request: DeploymentRequest };

function rolloutResult(answer: HttpAnswer): RolloutResult {
  if (answer.status === 202) return { kind: 'pending', request: answer.body as DeploymentRequest };
  return { kind: 'applied', rollout: answer.body as Rollout, created: answer.status === 201 };
}

// --- Types of runs, providers and experiments of drafts, for the editor (issue 13): aliases of the generated contract ---

export type ProviderInfo = ResponseBody<'getProviders'>['items'][number];

/** A draft in an experiment: the body a run takes as `draft`, named by a label. */
export type ExperimentDraft = NonNullable<NewExperiment['drafts']>[number];

export type NewExperimentWithDrafts = NewExperiment;

/** Which column: a version (`draft` null), or a draft by its label (`version` null). */
export type ExperimentColumn = Pick<ExperimentAggregate, 'version' | 'draft'>;

export type ExperimentColumnAggregate = ExperimentAggregate;

export type ExperimentWithDrafts = Experiment;

export type ExperimentResult = ResponseBody<'getExperimentsIdResults'>['items'][number];
