import { extractVariables } from '../shared/templates/index.js';
import { nodeBuiltin } from './runtime.js';
import type { FallbackPrompt, JsonSchema, PartialReference, Prompt, PromptConfig, PromptMessage, ResolvedPartial, RolloutInfo } from './types.js';

export const BUNDLE_FORMAT = 'prompt-registry-bundle/v1';

/** A resolve answer (and a bundle entry); the chat fields are absent from registries older than chat prompts. */
export interface BundleEntry {
  type?: 'text' | 'chat';
  content: string | null;
  messages?: PromptMessage[] | null;
  config?: PromptConfig;
  input_schema?: JsonSchema | null;
  includes?: PartialReference[];
  partials?: Record<string, ResolvedPartial>;
  model: string;
  temperature: number;
  max_tokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
  version_number: number;
  version_id: string;
  content_hash: string;
  deployed_at: string;
  variant?: 'candidate' | 'live';
  rollout?: RolloutInfo;
}

/** A resolve answer from the registry, as a Prompt. */
export function fromResolved(name: string, environment: string | null, r: BundleEntry, source: Prompt['source']): Prompt {
  return {
    name,
    environment,
    version: r.version_number,
    versionId: r.version_id,
    type: r.type ?? 'text',
    content: r.content ?? null,
    messages: r.messages ?? null,
    contentHash: r.content_hash,
    model: r.model,
    temperature: r.temperature,
    maxTokens: r.max_tokens,
    // Older registries have no config: the top-level settings are all of it.
    config: r.config ?? { model: r.model, temperature: r.temperature, max_tokens: r.max_tokens },
    inputSchema: r.input_schema ?? null,
    includes: r.includes ?? [],
    partials: r.partials ?? {},
    variables: r.variables,
    metadata: r.metadata ?? {},
    deployedAt: r.deployed_at ?? null,
    source,
    ...(r.rollout ? { rollout: r.rollout, variant: r.variant ?? 'live' } : {}),
  };
}

/** Reads a bundle written by `prompt-registry export`: the prompts live in one environment. */
export function readBundle(path: string): { environment: string; prompts: Map<string, Prompt> } {
  const fs = nodeBuiltin('node:fs');
  if (!fs) throw new Error(`cannot read the prompt bundle ${path}: reading a file needs Node.js 20.16+ or 22.3+, Bun or Deno (process.getBuiltinModule)`);
  let parsed: { format?: string; environment?: string; prompts?: Record<string, BundleEntry> };
  try {
    parsed = JSON.parse(fs.readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot read the prompt bundle ${path}: ${(err as Error).message}`);
  }
  if (parsed.format !== BUNDLE_FORMAT || !parsed.environment || typeof parsed.prompts !== 'object' || parsed.prompts === null) {
    throw new Error(`${path} is not a bundle written by \`prompt-registry export\` (format ${BUNDLE_FORMAT})`);
  }
  const environment = parsed.environment;
  return {
    environment,
    prompts: new Map(Object.entries(parsed.prompts).map(([name, entry]) => [name, fromResolved(name, environment, entry, 'bundle')])),
  };
}

/** A template's variables; none for one the engine refuses (rendering it says why). */
function variablesOf(template: string): string[] {
  try {
    return extractVariables(template);
  } catch {
    return [];
  }
}

export function fromFallback(name: string, fallback: FallbackPrompt): Prompt {
  const f = typeof fallback === 'string' ? { content: fallback } : fallback;
  const chat = 'messages' in f;
  const model = f.config?.model ?? f.model ?? 'gpt-4o';
  const temperature = f.config?.temperature ?? f.temperature ?? 0;
  const maxTokens = f.config?.max_tokens ?? f.maxTokens ?? 1000;
  const templates = chat ? f.messages.flatMap((m) => ('role' in m ? [m.content] : [])) : [f.content];
  return {
    name,
    environment: null,
    version: 0,
    versionId: null,
    type: chat ? 'chat' : 'text',
    content: chat ? null : f.content,
    messages: chat ? f.messages : null,
    contentHash: null,
    model,
    temperature,
    maxTokens,
    config: { ...f.config, model, temperature, max_tokens: maxTokens },
    inputSchema: f.inputSchema ?? null,
    includes: [],
    partials: {},
    variables: [...new Set(templates.flatMap(variablesOf))],
    metadata: f.metadata ?? {},
    deployedAt: null,
    source: 'fallback',
  };
}
