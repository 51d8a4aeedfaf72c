import { readFileSync } from 'node:fs';
import { extractVariables } from '../server/templates/index.js';
import type { FallbackPrompt, Prompt, RolloutInfo } from './types.js';

export const BUNDLE_FORMAT = 'prompt-registry-bundle/v1';

interface BundleEntry {
  content: string;
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
    content: r.content,
    contentHash: r.content_hash,
    model: r.model,
    temperature: r.temperature,
    maxTokens: r.max_tokens,
    variables: r.variables,
    metadata: r.metadata ?? {},
    deployedAt: r.deployed_at ?? null,
    source,
    ...(r.rollout ? { rollout: r.rollout, variant: r.variant ?? 'live' } : {}),
  };
}

/** Reads a bundle written by `prompt-registry export`: the prompts live in one environment. */
export function readBundle(path: string): { environment: string; prompts: Map<string, Prompt> } {
  let parsed: { format?: string; environment?: string; prompts?: Record<string, BundleEntry> };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
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

export function fromFallback(name: string, fallback: FallbackPrompt): Prompt {
  const f = typeof fallback === 'string' ? { content: fallback } : fallback;
  return {
    name,
    environment: null,
    version: 0,
    versionId: null,
    content: f.content,
    contentHash: null,
    model: f.model ?? 'gpt-4o',
    temperature: f.temperature ?? 0,
    maxTokens: f.maxTokens ?? 1000,
    variables: extractVariables(f.content),
    metadata: f.metadata ?? {},
    deployedAt: null,
    source: 'fallback',
  };
}
