/**
 * The messages between the extension host and its webviews, typed once and
 * imported by both sides. The webview speaks first (`ready`); the host posts
 * nothing before it.
 */
import type { Comparison, ExecutionDetail, ExecutionFilter, ExecutionSummary, Metric, Page, PromptStats, Score } from '../client/api.js';

/** One message of a chat prompt's preview; `placeholder` names the placeholder it filled in for. */
export interface PreviewMessage {
  role: 'system' | 'user' | 'assistant' | 'tool';
  content: string;
  placeholder?: string;
}

/** Host → preview: the rendered prompt, or why it could not be rendered. */
export interface PreviewUpdate {
  type: 'update';
  fileName: string;
  /** A text prompt's rendering; for a chat, the conversation as text (what Copy copies). */
  rendered: string | null;
  /** A chat prompt's conversation; null for a text prompt. */
  messages: PreviewMessage[] | null;
  error: { message: string; variable?: string } | null;
  chars: number;
  /** An estimate: about four characters a token. */
  tokens: number;
  variables: string[];
  missing: string[];
}

export type HostToPreview = PreviewUpdate;

export interface PreviewReady {
  type: 'ready';
}

export interface PreviewCopy {
  type: 'copy';
}

export type PreviewToHost = PreviewReady | PreviewCopy;

export function isPreviewToHost(value: unknown): value is PreviewToHost {
  const type = (value as { type?: unknown } | null)?.type;
  return type === 'ready' || type === 'copy';
}

export function isHostToPreview(value: unknown): value is HostToPreview {
  return (value as { type?: unknown } | null)?.type === 'update';
}

// The compare panel: two versions of a prompt (or two .prompt files), built by extension/core/compare.ts.
export type Status = 'same' | 'changed' | 'added' | 'removed';

export interface LineChange {
  kind: 'same' | 'added' | 'removed';
  text: string;
}

/** `role` is the message's role, `placeholder` for `{{history}}`, or `text` for a text prompt's template. */
export interface ComparedMessage {
  role: string;
  content: string;
}

export interface MessageRow {
  status: Status;
  left: ComparedMessage | null;
  right: ComparedMessage | null;
  /** For a changed message: its lines, each kept, removed (left) or added (right). */
  lines: LineChange[] | null;
}

export interface ConfigRow {
  key: string;
  status: Status;
  left: string | null;
  right: string | null;
}

export interface VersionComparison {
  left: string;
  right: string;
  messages: MessageRow[];
  config: ConfigRow[];
  /** Counts for the summary line. */
  changes: { messages: number; config: number };
}

/** Host → compare panel: two versions, message by message and config by config. */
export interface CompareUpdate {
  type: 'compare';
  title: string;
  comparison: VersionComparison;
}

export function isHostToCompare(value: unknown): value is CompareUpdate {
  return (value as { type?: unknown } | null)?.type === 'compare';
}

/** Compare panel → host: `ready` once it listens. */
export type CompareToHost = PreviewReady;

/** The token estimate the preview shows: no tokenizer ships with the extension, so ~4 characters a token. */
export function estimateTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

// ---------------------------------------------------------------------------
// The execution-log webviews (the Executions view, an execution's detail, a
// prompt's statistics) ask the host for data: requests carry an id the
// response echoes; notifications carry none. Each webview has a table of
// methods, `{ params, result }` per name, that types both sides.

export type Methods = Record<string, { params: unknown; result: unknown }>;

export interface Request<M extends Methods, K extends keyof M & string = keyof M & string> {
  kind: 'request';
  id: number;
  method: K;
  params: M[K]['params'];
}

export type Response =
  | { kind: 'response'; id: number; ok: true; result: unknown }
  | { kind: 'response'; id: number; ok: false; error: { message: string; code?: string } };

/** A message without an answer. `ready` (webview → host) opens every conversation. */
export type Notification<T extends { type: string }> = T & { kind: 'notify' };

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

export function isRequest<M extends Methods>(value: unknown, methods: readonly (keyof M & string)[]): value is Request<M> {
  return isObject(value) && value.kind === 'request' && typeof value.id === 'number' && typeof value.method === 'string' && methods.includes(value.method) && isObject(value.params);
}

export function isResponse(value: unknown): value is Response {
  return isObject(value) && value.kind === 'response' && typeof value.id === 'number' && typeof value.ok === 'boolean';
}

export function isNotification<T extends { type: string }>(value: unknown, types: readonly T['type'][]): value is Notification<T> {
  return isObject(value) && value.kind === 'notify' && typeof value.type === 'string' && types.includes(value.type);
}

export type Ready = { type: 'ready' };

/** The time windows the Executions view filters by. */
export const TIME_RANGES = { '1h': 'Last hour', '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days', all: 'All time' } as const;
export type TimeRange = keyof typeof TIME_RANGES;

/** The windows statistics cover (the registry's longest is 366 days). */
export const STATS_RANGES = { '24h': 'Last 24 hours', '7d': 'Last 7 days', '30d': 'Last 30 days', '90d': 'Last 90 days', '365d': 'Last 365 days' } as const;
export type StatsRange = keyof typeof STATS_RANGES;

/** What the Executions view filters by, as the user chose it. */
export interface ExecutionsFilter {
  prompt?: string;
  version?: number;
  environment?: string;
  status?: ExecutionFilter['status'];
  range: TimeRange;
}

// The Executions view (a webview view in the panel).
export type ExecutionsMethods = {
  list: { params: { filter: ExecutionsFilter; cursor: string | null }; result: Page<ExecutionSummary> };
  /** Prompt names for the filter's suggestions, searched as the user types. */
  prompts: { params: { search: string }; result: string[] };
  versions: { params: { prompt: string }; result: number[] };
  environments: { params: Record<string, never>; result: string[] };
  openExecution: { params: { id: string }; result: null };
  openStats: { params: { prompt: string }; result: null };
};
export const EXECUTIONS_METHODS = ['list', 'prompts', 'versions', 'environments', 'openExecution', 'openStats'] as const satisfies readonly (keyof ExecutionsMethods)[];

/**
 * Host → Executions view: filter to this ("Show Executions"), or load the
 * newest again: `merge` (the timer) adds new executions on top of what is
 * loaded; otherwise (Refresh, a reconnect) the list starts over.
 */
export type ExecutionsNotice = { type: 'filter'; filter: ExecutionsFilter } | { type: 'refresh'; merge: boolean };
export const EXECUTIONS_NOTICES = ['filter', 'refresh'] as const satisfies readonly ExecutionsNotice['type'][];

/** Executions view → host, after each render: what it shows (tests and the view's title read it). */
export type ExecutionsShown = { type: 'shown'; filter: ExecutionsFilter; ids: string[]; more: boolean; error: string | null };

// One execution's detail (a webview panel).
export type ExecutionMethods = {
  detail: { params: { id: string }; result: ExecutionDetail };
  metrics: { params: Record<string, never>; result: Metric[] };
  /** Always as a human score: the extension is a person's tool. */
  addScore: { params: { id: string; metric: string; value: number | boolean | string; comment?: string }; result: Score };
  openStats: { params: { prompt: string }; result: null };
  /** "Add to Dataset": the host asks which dataset (or a new one); null when the user cancelled. */
  addToDataset: { params: { id: string }; result: { dataset: string; item: number } | null };
};
export const EXECUTION_METHODS = ['detail', 'metrics', 'addScore', 'openStats', 'addToDataset'] as const satisfies readonly (keyof ExecutionMethods)[];

export type ExecutionNotice = { type: 'show'; id: string };
export const EXECUTION_NOTICES = ['show'] as const satisfies readonly ExecutionNotice['type'][];

/** Detail → host, after each render. */
export type ExecutionShown = { type: 'shown'; id: string; scores: Array<{ metric: string; value: number | boolean | string; source: string }>; error: string | null };

// A prompt's statistics (a webview panel per prompt).
/** A rollout the statistics compare: its two variants, from its start (`since`), in its environment. */
export interface StatsRollout {
  environment: string;
  live: number;
  candidate: number;
  weight: number;
  /** The rollout's started_at: the window starts there instead of at `range`. */
  since: string;
}
export type StatsMethods = {
  /** `since`: from then to now (a rollout's start), instead of `range`. */
  stats: { params: { prompt: string; range: StatsRange; environment?: string; since?: string }; result: PromptStats };
  environments: { params: Record<string, never>; result: string[] };
  compare: { params: { prompt: string; a: number; b: number; range: StatsRange; environment?: string; since?: string }; result: Comparison };
  showExecutions: { params: { prompt: string; version?: number; environment?: string }; result: null };
};
export const STATS_METHODS = ['stats', 'environments', 'compare', 'showExecutions'] as const satisfies readonly (keyof StatsMethods)[];

/** Show a prompt's statistics; with `rollout`, its two variants side by side since the rollout started. */
export type StatsNotice = { type: 'show'; prompt: string; rollout?: StatsRollout };
export const STATS_NOTICES = ['show'] as const satisfies readonly StatsNotice['type'][];

/** Statistics → host, after each render: the table's versions and the charts drawn with data. */
export type StatsShown = {
  type: 'shown';
  prompt: string;
  range: StatsRange;
  versions: number[];
  charts: string[];
  error: string | null;
  /** Comparing a rollout's variants: which, and the comparison's rows once drawn. */
  rollout?: { live: number; candidate: number; since: string; compared: number };
};

// A run of the current .prompt file (a webview panel): the host streams the output in.
export interface RunView {
  /** The file's name and what ran it: "greeting.prompt · mock / mock-1". */
  title: string;
  prompt: string;
  provider: string;
  model: string;
  status: 'running' | 'done' | 'error' | 'cancelled';
  /** The output so far (all of it once done). */
  text: string;
  /** Once done: tool calls (JSON), usage, latency, cost, and the execution it was logged as. */
  toolCalls: string | null;
  usage: { input_tokens: number | null; output_tokens: number | null } | null;
  latencyMs: number | null;
  costUsd: number | null;
  executionId: string | null;
  finishReason: string | null;
  /** A failure in the user's words, and the registry's code (provider_error, provider_timeout, ...). */
  error: { message: string; code?: string; status?: number } | null;
}

export type RunMethods = {
  cancel: { params: Record<string, never>; result: null };
  openExecution: { params: { id: string }; result: null };
};
export const RUN_METHODS = ['cancel', 'openExecution'] as const satisfies readonly (keyof RunMethods)[];

/** Host → run panel: the whole run as it stands (the latest replaces any not yet shown). */
export type RunNotice = { type: 'run'; run: RunView };
export const RUN_NOTICES = ['run'] as const satisfies readonly RunNotice['type'][];

/** Run panel → host, after each render. */
export type RunShown = { type: 'shown'; status: RunView['status']; text: string; error: string | null };

// An experiment of the file (a draft) and a live version on a dataset, as a matrix: items × columns.
export interface MatrixColumn {
  /** "draft" or "v3 (production)". */
  label: string;
  version: number | null;
  draft: string | null;
  aggregate: {
    results: number;
    errors: number;
    pass_rate: number | null;
    mean_scores: Record<string, number | null>;
    latency_p50_ms: number | null;
    latency_p95_ms: number | null;
    cost_usd: number;
  } | null;
}

export interface MatrixCell {
  status: 'ok' | 'error' | 'missing';
  passed: boolean;
  output: string | null;
  error: string | null;
  scores: Record<string, { score: number; passed: boolean; reason: string }>;
  latencyMs: number | null;
  costUsd: number | null;
  executionId: string | null;
}

export interface MatrixRow {
  seq: number;
  input: Record<string, unknown>;
  expected: unknown;
  /** One per column, in the columns' order. */
  cells: MatrixCell[];
  /** The first column's output against the second's, line by line. */
  diff: LineChange[];
}

export interface MatrixView {
  title: string;
  experimentId: string;
  status: string;
  error: string | null;
  evaluators: string[];
  columns: MatrixColumn[];
  rows: MatrixRow[];
}

export type MatrixMethods = {
  openExecution: { params: { id: string }; result: null };
};
export const MATRIX_METHODS = ['openExecution'] as const satisfies readonly (keyof MatrixMethods)[];

export type MatrixNotice = { type: 'matrix'; view: MatrixView } | { type: 'select'; seq: number };
export const MATRIX_NOTICES = ['matrix', 'select'] as const satisfies readonly MatrixNotice['type'][];

/** Matrix → host, after each render: its rows and columns, and the item open (if any). */
export type MatrixShown = { type: 'shown'; experimentId: string; columns: string[]; rows: number; selected: number | null };
