import { RegistryError, RegistryUnreachableError } from './errors.js';
import { EventSubscription, type EventHandlers } from './events.js';
import { Http, type BearerTokens, type HttpAnswer } from './http.js';
import { readAuthConfig, type OidcConfig } from './oauth.js';
import type { ChatMessage, JsonSchema, PartialReference, Placeholders, PromptConfig, PromptMessage, PromptType } from './types.js';

/** The registry's answers, as the API documents them (docs/api.md). */
export interface PromptSummary {
  id: string;
  name: string;
  description: string | null;
  tags: string[];
  created_at: string;
  created_by: string;
  updated_at: string;
  latest_version: number | null;
  environments: Record<string, { version: number; deployed_at: string; deployed_by: string }>;
}

export interface VersionInfo {
  version_id: string;
  version: number;
  prompt: string;
  content?: string;
  content_hash: string;
  model: string;
  temperature: number;
  max_tokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
  /** Chat prompts (issue 12); absent from registries older than them. */
  type?: PromptType;
  messages?: PromptMessage[] | null;
  config?: PromptConfig;
  input_schema?: JsonSchema | null;
  includes?: PartialReference[];
  message: string | null;
  created_at: string;
  created_by: string;
  environments: string[];
}

export interface Deployment {
  id: string;
  prompt: string;
  environment: string;
  version: number;
  version_id: string;
  action: 'deploy' | 'rollback';
  previous_version: number | null;
  deployed_at: string;
  deployed_by: string;
  is_active: boolean;
  rollback_of: string | null;
}

/** A rollout: the candidate serves `weight` percent of caller keys beside the live version (docs/rollouts.md). */
export interface Rollout {
  id: string;
  prompt: string;
  environment: string;
  candidate: number;
  live: number;
  weight: number;
  guard: RolloutGuard | null;
  status: 'active' | 'promoted' | 'aborted' | 'superseded';
  started_at: string;
  started_by: string;
  updated_at: string;
  ended_at: string | null;
  ended_by: string | null;
  end_reason: string | null;
}

/** Aborts a rollout when the candidate's `metric` over its last `window` executions crosses `threshold` (docs/rollouts.md, "Guard"). */
export interface RolloutGuard {
  metric: string;
  window: number;
  threshold: number;
  comparison?: 'above_live' | 'below_live' | 'above' | 'below';
}

/** A deploy or rollback waiting for approval (docs/api.md, "Protected environments and approvals"). */
export interface DeploymentRequest {
  id: string;
  prompt: string;
  environment: string;
  /** rollout_start: start (or re-weight) a rollout of `version`; rollout_abort: abort the rollout of `version` (docs/rollouts.md). */
  action: 'deploy' | 'rollback' | 'rollout_start' | 'rollout_abort';
  /** Rollout requests: the weight and guard asked for, or the rollout to abort. */
  rollout?: { weight: number | null; guard: RolloutGuard | null; id: string | null };
  /** The version it makes live (for a rollback, the one it restores). */
  version: number;
  /** What was live when it was asked for. */
  from_version: number | null;
  comment: string | null;
  requested_by: string;
  requested_credential: string;
  requested_at: string;
  expires_at: string;
  /** The final approval applies the change at once, so there is no resting "approved" state. */
  status: 'pending' | 'applied' | 'rejected' | 'expired';
  required_approvals: number;
  approvals: number;
  decisions: RequestDecision[];
  decided_at: string | null;
  deployment_id: string | null;
  /** What is live in its environment now (null: nothing); absent from older registries. */
  live_version?: number | null;
  /** Pending, but something else went live since it was asked for: approving it is refused (409 `request_outdated`). */
  outdated?: boolean;
}

export interface RequestDecision {
  actor: string;
  credential: string;
  decision: 'approve' | 'reject';
  comment: string | null;
  decided_at: string;
}

/**
 * What a deploy or rollback did: `applied` (the deployment; `created` false
 * when the version was already live), or `pending`, where the environment
 * needs approval (202) and the answer is the request waiting for it.
 */
export type DeployResult = { kind: 'applied'; deployment: Deployment; created: boolean } | { kind: 'pending'; request: DeploymentRequest };

/** Who the caller is (`GET /me`), and what it may do in each environment. */
export interface Me {
  name: string;
  /** Who approvals take the caller to be (a key's owner, else its name); absent from older servers. */
  person?: string;
  kind: 'api_key' | 'oidc' | 'other';
  credential: string;
  scopes: string[];
  expires_at: string | null;
  oidc: { issuer: string; subject: string; email: string | null; roles: string[] } | null;
  can: {
    read: boolean;
    write: boolean;
    admin: boolean;
    /** Absent from older servers. */
    log_executions?: boolean;
    read_execution_payloads?: boolean;
    deploy: Record<string, { allowed: boolean; needs_approval: boolean; required_approvals: number }>;
  };
}

export interface EnvironmentPolicy {
  environment: string;
  protected: boolean;
  require_approval: boolean;
  deploy_scopes: string[];
  required_approvals: number;
  approval_ttl_hours: number;
  updated_at: string | null;
  updated_by: string | null;
}

/** What `PUT /environments/{name}/policy` takes; what it leaves out takes its default. */
export interface PolicyInput {
  require_approval?: boolean;
  required_approvals?: number;
  deploy_scopes?: string[];
  approval_ttl_hours?: number;
}

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

export interface NewVersion {
  /** The template of a text prompt; leave it out for a chat prompt (`type: "chat"` with `messages`). */
  content?: string;
  type?: PromptType;
  messages?: PromptMessage[];
  config?: PromptConfig;
  input_schema?: JsonSchema;
  model?: string;
  temperature?: number;
  max_tokens?: number;
  metadata?: Record<string, unknown>;
  description?: string | null;
  tags?: string[];
  message?: string;
}

/** What `POST /prompts/{name}/render` answers; the chat fields come from registries with chat prompts. */
export interface RenderAnswer {
  /** The rendered text of a text prompt; null for a chat prompt. */
  rendered: string | null;
  prompt: string;
  version: number;
  version_id: string;
  environment: string | null;
  model: string;
  temperature: number;
  max_tokens: number;
  type?: PromptType;
  /** A chat prompt's messages in order, placeholders filled, partials expanded. */
  messages?: ChatMessage[] | null;
  config?: PromptConfig;
  partials_used?: Array<{ prompt: string; version: number; version_id: string }>;
}

/** A version that includes a prompt as a partial (`GET /prompts/{name}/used-by`). */
export interface UsedBy {
  prompt: string;
  version: number;
  /** The reference as written: `safety`, `safety@3`, `safety@production`. */
  ref: string;
  /** The environments where that version is live. */
  live_in: string[];
}

/** One logged execution, as `GET /executions` lists it (without variables, rendered prompt and response). */
export interface ExecutionSummary {
  id: string;
  prompt: string | null;
  version: number | null;
  prompt_version_id: string | null;
  environment: string | null;
  executed_at: string;
  status: 'ok' | 'error';
  error: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  cost_usd: number | null;
  quality_score: number | null;
  metadata: Record<string, unknown>;
  redacted_at: string | null;
}

export type MetricType = 'numeric' | 'boolean' | 'categorical';
export type ScoreSource = 'human' | 'code' | 'llm';

export interface Score {
  id: string;
  execution_id: string;
  metric: string;
  type: MetricType;
  value: number | boolean | string;
  source: ScoreSource;
  comment: string | null;
  scored_at: string;
  scored_by: string;
}

/**
 * `GET /executions/{id}`: everything logged, and its scores. Redacted executions have null text fields, and so
 * does every execution for a credential without `executions:read` (then `payload_withheld` is true).
 */
export interface ExecutionDetail extends ExecutionSummary {
  input_variables: Record<string, unknown> | null;
  rendered_prompt: string | null;
  response: string | null;
  /** Absent from servers before the executions:read scope. */
  payload_withheld?: boolean;
  scores: Score[];
}

export interface ExecutionFilter {
  prompt?: string;
  /** Needs `prompt`. */
  version?: number;
  environment?: string;
  /** ISO-8601, inclusive. */
  from?: string;
  /** ISO-8601, exclusive. */
  to?: string;
  status?: 'ok' | 'error';
  quality_min?: number;
  quality_max?: number;
  /** Executions with a score by this metric (within metric_min and metric_max when given). */
  metric?: string;
  metric_min?: number;
  metric_max?: number;
}

/** An execution to log, in the API's own shape (docs/api.md, "Logging executions"). */
export interface ExecutionRecord {
  id?: string;
  prompt_version_id?: string;
  prompt?: string;
  version?: number;
  environment?: string;
  executed_at?: string;
  input_variables?: Record<string, unknown> | null;
  rendered_prompt?: string | null;
  response?: string | null;
  input_tokens?: number | null;
  output_tokens?: number | null;
  latency_ms?: number | null;
  cost_usd?: number | null;
  quality_score?: number | null;
  status?: 'ok' | 'error';
  error?: string | null;
  metadata?: Record<string, unknown>;
}

export interface IngestResult {
  accepted: number;
  inserted: number;
  duplicates: number;
  ids: string[];
}

export interface MetricStats {
  /** Numeric: the mean; boolean: the share of true; categorical: null. */
  mean: number | null;
  count: number;
  categories?: Record<string, number>;
}

export interface VersionStats {
  version: number;
  version_id: string;
  count: number;
  errors: number;
  error_rate: number;
  latency_ms: { p50: number | null; p95: number | null; p99: number | null; mean: number | null };
  input_tokens: { mean: number | null; sum: number };
  output_tokens: { mean: number | null; sum: number };
  cost_usd: { sum: number; mean: number | null };
  quality_score: { mean: number | null };
  metrics: Record<string, MetricStats>;
}

export interface SeriesPoint {
  /** The bucket's start (UTC). */
  start: string;
  version: number;
  count: number;
  errors: number;
  error_rate: number;
  latency_ms: { p95: number | null; mean: number | null };
  cost_usd: { sum: number; mean: number | null };
  quality_score: { mean: number | null };
}

export type StatsInterval = 'hour' | 'day';

export interface PromptStats {
  prompt: string;
  environment: string | null;
  from: string;
  to: string;
  interval: StatsInterval;
  versions: VersionStats[];
  series: SeriesPoint[];
}

export interface StatsWindow {
  environment?: string;
  from?: string;
  to?: string;
  interval?: StatsInterval;
}

export interface ComparisonSide {
  mean: number | null;
  count: number;
  categories?: Record<string, number>;
}

export interface Comparison {
  prompt: string;
  environment: string | null;
  from: string | null;
  to: string | null;
  a: { version: number; count: number };
  b: { version: number; count: number };
  metrics: Array<{ name: string; kind: 'builtin' | 'custom'; type: MetricType; a: ComparisonSide; b: ComparisonSide; difference: number | null }>;
}

export interface Metric {
  id: string;
  name: string;
  type: MetricType;
  min: number | null;
  max: number | null;
  categories: string[] | null;
  description: string | null;
  created_at: string;
  created_by: string;
}

export interface NewMetric {
  name: string;
  type: MetricType;
  min?: number;
  max?: number;
  categories?: string[];
  description?: string;
}

export interface NewScore {
  metric: string;
  value: number | boolean | string;
  source: ScoreSource;
  comment?: string;
}

export interface Dataset {
  id: string;
  name: string;
  description: string | null;
  version: number;
  item_count: number;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface NewDatasetItem {
  /** The variables, by name. */
  input: Record<string, unknown>;
  /** What a good answer is (any JSON). */
  expected?: unknown;
  metadata?: Record<string, unknown>;
}

export interface DatasetItem {
  id: string;
  /** Position in the dataset, from 1. */
  seq: number;
  /** The dataset version that added it. */
  added_in: number;
  input: Record<string, unknown>;
  expected: unknown;
  metadata: Record<string, unknown>;
  source_execution_id: string | null;
  created_at: string;
}

/** What adding items answers: the dataset version they made. */
export interface DatasetItemsAdded {
  dataset: string;
  version: number;
  added: number;
  item_count: number;
}

/** A built-in or LLM-judge evaluator spec, e.g. `{type: 'regex', pattern: '^\\d+$'}` (see docs/evaluate.md). */
export interface EvaluatorSpec {
  type: string;
  name?: string;
  [option: string]: unknown;
}

export interface NewExperiment {
  prompt: string;
  versions: number[];
  dataset: string;
  evaluators: EvaluatorSpec[];
  provider?: string;
  model?: string;
  concurrency?: number;
}

export interface ExperimentAggregate {
  version: number;
  results: number;
  errors: number;
  pass_rate: number | null;
  mean_scores: Record<string, number | null>;
  latency_p50_ms: number | null;
  latency_p95_ms: number | null;
  input_tokens: number;
  output_tokens: number;
  cost_usd: number;
}

export type ExperimentStatus = 'queued' | 'running' | 'completed' | 'cancelled' | 'failed';

export interface Experiment {
  id: string;
  prompt: string;
  dataset: string;
  dataset_version: number;
  versions: number[];
  evaluators: EvaluatorSpec[];
  provider: string | null;
  model: string | null;
  concurrency: number;
  status: ExperimentStatus;
  error: string | null;
  progress: { done: number; total: number };
  aggregates: ExperimentAggregate[];
  created_at: string;
  created_by: string;
  started_at: string | null;
  finished_at: string | null;
}

/** An unpublished body to run, as the editor has it (see `versionRequest` in shared/prompt-files). */
export interface DraftBody {
  type?: 'text' | 'chat';
  content?: string;
  messages?: unknown[];
  model?: string;
  temperature?: number;
  max_tokens?: number;
  config?: Record<string, unknown>;
  input_schema?: Record<string, unknown> | null;
}

export interface RunRequest {
  version?: number;
  environment?: string;
  draft?: DraftBody;
  variables?: Record<string, unknown>;
  provider?: string;
  model?: string;
  config?: Record<string, unknown>;
}

/** A (non-streamed) run: the output, logged as an execution. */
export interface RunResult {
  output: { text: string | null; message: Record<string, unknown> };
  usage: { input_tokens: number | null; output_tokens: number | null };
  latency_ms: number;
  cost_usd: number | null;
  execution_id: string;
  prompt: string;
  version: number;
  draft: boolean;
  provider: string;
  model: string;
  [field: string]: unknown;
}

export interface Evaluation {
  evaluator: string;
  score: number;
  passed: boolean;
  reason: string;
}

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

  /** Subscribes to the registry's event stream (`GET /events`) with this client's credential; close() it when done. */
  events(handlers: EventHandlers): EventSubscription {
    return new EventSubscription(this.url, (afterUnauthorized) => this.http.authHeaders(afterUnauthorized), handlers);
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
    const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new RegistryUnreachableError(`the prompt registry at ${this.url} ended the run's stream without its result`);
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event = /^event: (.*)$/m.exec(frame)?.[1];
        const data = frame.split('\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\n');
        if (!event || !data) continue;
        const parsed = JSON.parse(data) as unknown;
        if (event === 'delta') hooks.onDelta?.((parsed as { text: string }).text);
        else if (event === 'done') {
          await reader.cancel().catch(() => undefined);
          return parsed as RunResult;
        } else if (event === 'error') {
          await reader.cancel().catch(() => undefined);
          throw failure(502, parsed);
        }
      }
    }
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

// --- Types of runs, providers and experiments of drafts, for the editor (issue 13) ---

export interface ProviderInfo {
  name: string;
  kind: 'openai' | 'anthropic';
  base_url: string | null;
  has_api_key: boolean;
  default_model: string | null;
  /** Per model: USD per million input and output tokens. */
  prices: Record<string, { input_per_million: number; output_per_million: number }>;
  [field: string]: unknown;
}

/** A draft in an experiment: the body a run takes as `draft`, named by a label. */
export interface ExperimentDraft extends DraftBody {
  label: string;
}

export interface NewExperimentWithDrafts extends Omit<NewExperiment, 'versions'> {
  versions?: number[];
  drafts?: ExperimentDraft[];
}

/** Which column: a version (`draft` null), or a draft by its label (`version` null). */
export interface ExperimentColumn {
  version: number | null;
  draft: string | null;
}

export type ExperimentColumnAggregate = Omit<ExperimentAggregate, 'version'> & ExperimentColumn;

export interface ExperimentWithDrafts extends Omit<Experiment, 'aggregates'> {
  drafts: string[];
  aggregates: ExperimentColumnAggregate[];
}

export interface ExperimentResult extends ExperimentColumn {
  item_seq: number;
  status: 'ok' | 'error';
  output: string | null;
  error: string | null;
  latency_ms: number | null;
  input_tokens: number | null;
  output_tokens: number | null;
  cost_usd: number | null;
  execution_id: string | null;
  scores: Record<string, { score: number; passed: boolean; reason: string }>;
  passed: boolean;
}
