import type { Schemas } from '../shared/contract/api.js';
import type { TemplateLimits } from '../shared/templates/index.js';

/** Where a prompt came from: the registry (fresh or cached), a bundle file, or a fallback given in code. */
export type PromptSource = 'registry' | 'bundle' | 'fallback';

export interface Prompt {
  name: string;
  /** The environment it is live in; null when fetched by version or given as a fallback. */
  environment: string | null;
  /** The version number; 0 for a fallback given in code. */
  version: number;
  versionId: string | null;
  /** "text" (one template in `content`) or "chat" (`messages`). */
  type: PromptType;
  /** The template of a text prompt; null for a chat prompt. */
  content: string | null;
  /** The message templates and placeholders of a chat prompt; null for a text prompt. */
  messages: PromptMessage[] | null;
  contentHash: string | null;
  model: string;
  temperature: number;
  maxTokens: number;
  /** The full model configuration (model and sampling parameters, tools, tool_choice, response_format). */
  config: PromptConfig;
  /** JSON Schema for the variables; null when the version has none (then every variable used must be given). */
  inputSchema: JsonSchema | null;
  /** The partial references its templates make, as the registry read them. */
  includes: PartialReference[];
  /** The partials it includes (nested ones too), by reference as written: what rendering registers. */
  partials: Record<string, ResolvedPartial>;
  variables: string[];
  metadata: Record<string, unknown>;
  deployedAt: string | null;
  source: PromptSource;
  /** During a rollout: which variant this is (the live version unless a key was assigned the candidate). */
  variant?: 'candidate' | 'live';
  /** During a rollout: the rollout, from which the client assigns keys itself (docs/rollouts.md). */
  rollout?: RolloutInfo;
}

// The registry's own shapes are aliases of the generated contract (shared/contract/api.gen.ts), never retyped.

/** A rollout as resolve answers carry it: the candidate serves `weight` percent of keys, the live version the rest. */
export type RolloutInfo = Schemas['RolloutInfo'];

export type PromptType = Schemas['Version']['type'];
/** A message of a chat prompt: a template for one role, or a placeholder filled at render time. */
export type PromptMessage = Schemas['PromptMessage'];
/** A rendered message (and what a placeholder is filled with): plain text, not a template. */
export type ChatMessage = Schemas['ChatMessage'];
export type ChatRole = ChatMessage['role'];

/** A JSON Schema object. */
export type JsonSchema = Record<string, unknown>;

/** A version's model configuration, as the registry stores it; other keys are provider-specific and kept as given. */
export type PromptConfig = Schemas['PromptConfig'];
export type ToolDefinition = NonNullable<PromptConfig['tools']>[number];
export type ToolChoice = NonNullable<PromptConfig['tool_choice']>;
export type ResponseFormat = NonNullable<PromptConfig['response_format']>;

/** A partial reference found in a template: `{{> safety}}` follows, `{{> "safety@3"}}` and `{{> "safety@production"}}` pin. */
export type PartialReference = Schemas['PartialReference'];

/** A partial as a resolve answer carries it: the text registered under its reference. */
export type ResolvedPartial = Schemas['ResolvedPrompt']['partials'][string];

/** A partial version that went into a render. */
export interface PartialUsed {
  prompt: string;
  version: number;
  versionId: string;
}

/** Messages for each placeholder of a chat prompt, by name; one not given renders as nothing. */
export type Placeholders = Record<string, ChatMessage[]>;

export interface RenderOptions extends GetOptions {
  placeholders?: Placeholders;
}

/** A rendered prompt: `text` for a text prompt, `messages` for a chat prompt, with the configuration to call the model with. */
export interface RenderResult {
  type: PromptType;
  /** The rendered text of a text prompt; null for a chat prompt. */
  text: string | null;
  /** The rendered messages of a chat prompt, placeholders filled and partials expanded; null for a text prompt. */
  messages: ChatMessage[] | null;
  config: PromptConfig;
  /** The partial versions that went in, once each, in order of first inclusion. */
  partialsUsed: PartialUsed[];
}

/** A prompt to use when the registry is unreachable at a cold start. */
export type FallbackPrompt =
  | string
  | { content: string; model?: string; temperature?: number; maxTokens?: number; metadata?: Record<string, unknown>; config?: PromptConfig; inputSchema?: JsonSchema }
  | { type: 'chat'; messages: PromptMessage[]; model?: string; temperature?: number; maxTokens?: number; metadata?: Record<string, unknown>; config?: PromptConfig; inputSchema?: JsonSchema };

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
  /** A chat prompt's rendered input messages. */
  messages?: ChatMessage[];
  /** The partial versions that went into the rendered prompt. */
  partialsUsed?: PartialUsed[];
  response?: string;
  /** The response message(s) of a chat call, with their tool calls. */
  responseMessages?: Array<{ role: ChatRole; content: string | null; tool_calls?: unknown[] }>;
  /** Tool calls the model made. */
  toolCalls?: unknown[];
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
