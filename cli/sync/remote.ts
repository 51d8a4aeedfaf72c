/** The registry side: what planning needs from a registry, read through the TypeScript client. */
import type { PromptSummary, RegistryApi, VersionInfo } from '../../client/index.js';
import { isIdentical, versionChanges, type LocalPrompt, type RemotePrompt } from './plan.js';

/** Every prompt of the registry (all pages); with `environment`, only those live there. */
export async function listAllPrompts(api: RegistryApi, environment?: string): Promise<PromptSummary[]> {
  const all: PromptSummary[] = [];
  let cursor: string | null = null;
  do {
    const page = await api.listPrompts({ limit: 100, cursor, ...(environment ? { environment } : {}) });
    all.push(...page.items);
    cursor = page.next_cursor;
  } while (cursor);
  return all;
}

async function findIdentical(api: RegistryApi, file: LocalPrompt): Promise<number | null> {
  let cursor: string | null = null;
  do {
    const page = await api.listVersions(file.name, { limit: 100, cursor });
    const match = page.items.find((v: VersionInfo) => isIdentical(file.fields, v));
    if (match) return match.version;
    cursor = page.next_cursor;
  } while (cursor);
  return null;
}

/**
 * The registry's state for planning: every prompt, the latest version of
 * those the folder has a file for, and (when the file differs from the
 * latest) an older version identical to it.
 */
export async function readRemote(api: RegistryApi, local: LocalPrompt[]): Promise<RemotePrompt[]> {
  const files = new Map(local.map((f) => [f.name, f]));
  const prompts = await listAllPrompts(api);
  return mapLimit(
    prompts,
    async (p): Promise<RemotePrompt> => {
      const base = { name: p.name, description: p.description, tags: p.tags, latest_version: p.latest_version };
      const file = files.get(p.name);
      if (!file || p.latest_version === null) return { ...base, latest: null };
      const latest = await api.getVersion(p.name, p.latest_version);
      const differs = versionChanges(file.fields, latest).length > 0;
      return { ...base, latest, identical: differs ? await findIdentical(api, file) : null };
    },
  );
}

/** Requests at a time: enough to be quick, few enough not to crowd the registry. */
const PARALLEL = 8;

/** `Promise.all(items.map(fn))`, with at most PARALLEL calls running; results in order. */
export async function mapLimit<T, R>(items: T[], fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL, items.length) }, worker));
  return results;
}
