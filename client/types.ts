import type { TemplateLimits } from '../server/templates/index.js';

/** Where a prompt came from: the registry (fresh or cached), a bundle file, or a fallback given in code. */
export type PromptSource = 'registry' | 'bundle' | 'fallback';

export interface Prompt {
  name: string;
  /** The environment it is live in; null when fetched by version or given as a fallback. */
  environment: string | null;
  /** The version number; 0 for a fallback given in code. */
  version: number;
  versionId: string | null;
  content: string;
  contentHash: string | null;
  model: string;
  temperature: number;
  maxTokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
  deployedAt: string | null;
  source: PromptSource;
  /** During a rollout: which variant this is (the live version unless a key was assigned the candidate). */
  variant?: 'candidate' | 'live';
  /** During a rollout: the rollout, from which the client assigns keys itself (docs/rollouts.md). */
  rollout?: RolloutInfo;
}

/** A rollout as resolve answers carry it: the candidate serves `weight` percent of keys, the live version the rest. */
export interface RolloutInfo {
  id: string;
  candidate: number;
  live: number;
  weight: number;
}

/** A prompt to use when the registry is unreachable at a cold start. */
export type FallbackPrompt = string | { content: string; model?: string; temperature?: number; maxTokens?: number; metadata?: Record<string, unknown> };

export interface GetOptions {
  /** Default: the client's environment (production unless set). */
  environment?: string;
  /** A specific version instead of what is live. */
  version?: number;
  /**
   * A caller key (a user or session id): during a rollout, the variant is assigned from it locally, the
   * same way the registry does (the same key always gets the same variant). Without one, the live version.
   */
  key?: string;
}

export interface LoggingOptions {
  /** Send when this many executions are waiting (default 100). */
  batchSize?: number;
  /** Send at least this often while executions wait (default 2000 ms). */
  flushIntervalMs?: number;
  /** At most this many wait in memory; beyond it the oldest are dropped and counted (default 10,000). */
  maxBuffer?: number;
  /** Longest wait between retries of a failed send (default 30,000 ms). */
  maxBackoffMs?: number;
}

/** Prices per million tokens, to compute cost_usd from token counts. */
export type Pricing = Record<string, { inputPerMillion: number; outputPerMillion: number }>;

export interface ClientOptions {
  /** The registry's base URL, e.g. https://prompts.example.com */
  url: string;
  apiKey: string;
  /** The environment `get` and `render` use by default (production). */
  environment?: string;
  /** How long a fetched prompt is fresh (default 60,000 ms). After that it is served while one background refresh runs. */
  cacheTtlMs?: number;
  /** Per-request timeout (default 5,000 ms). */
  timeoutMs?: number;
  /** Subscribe to the registry's event stream so a deploy reaches this client at once (default true). */
  push?: boolean;
  /** Prompts to use when the registry is unreachable and nothing is cached, by name. */
  fallbacks?: Record<string, FallbackPrompt>;
  /** A bundle written by `prompt-registry export`, used like fallbacks. */
  bundlePath?: string;
  logging?: LoggingOptions;
  pricing?: Pricing;
  /**
   * Budgets for compiling and rendering templates (docs/templates.md, "Limits"); each one left out
   * keeps its default, the registry's: 200,000 characters, 5,000 tags, 32 levels of blocks,
   * 100,000 loop iterations, 1,000,000 characters of output, 2,000 ms.
   */
  templateLimits?: Partial<TemplateLimits>;
  /** Errors in background work (refreshes, the event stream, sending logs). Default: ignored. */
  onError?: (error: Error) => void;
}

/** One execution of a prompt, as an application logs it. */
export interface ExecutionInput {
  /** The version executed: its id, or name plus version or environment. */
  promptVersionId?: string;
  prompt?: string;
  version?: number;
  environment?: string;
  inputVariables?: Record<string, unknown>;
  renderedPrompt?: string;
  response?: string;
  inputTokens?: number;
  outputTokens?: number;
  latencyMs?: number;
  costUsd?: number;
  qualityScore?: number;
  status?: 'ok' | 'error';
  error?: string;
  metadata?: Record<string, unknown>;
  /** Default: now. */
  executedAt?: Date | string;
  /** Default: a new UUID; the same id sent twice is stored once. */
  id?: string;
}

/** What an LLM call's result says about itself, for the execution log. */
export interface ExecutionResult {
  response?: string;
  inputTokens?: number;
  outputTokens?: number;
  costUsd?: number;
  qualityScore?: number;
  metadata?: Record<string, unknown>;
}
