/**
 * Pure planning: what a push would change, from the folder's files and the
 * registry's state (no I/O here; folder.ts and remote.ts gather both).
 */
import { createHash } from 'node:crypto';
import { storedConfig, type FileProblem, type PartialUse, type VersionFields } from './format.js';
import type { Schemas } from '../../shared/contract/api.js';

/** A `.prompt` file of the folder, read and checked. */
export interface LocalPrompt {
  name: string;
  /** Relative to the folder, with `/` separators. */
  path: string;
  fields: VersionFields;
  samples: Record<string, unknown>;
  /** The prompts its templates include (`{{> safety}}`): a push creates those of the folder first. */
  includes?: PartialUse[];
}

/** A version as the registry answers it (content and the settings a create compares). */
export interface RemoteVersion extends VersionSettings {
  version: number;
  variables: string[];
}

/** What the registry holds of a prompt, as far as planning needs it. */
export interface RemotePrompt extends Pick<Schemas['Prompt'], 'name' | 'description' | 'tags' | 'latest_version'> {
  /** The latest version, read only for prompts the folder has a file for. */
  latest: RemoteVersion | null;
  /** An older version identical to the file (content and settings), when the file differs from the latest. */
  identical?: number | null;
}

/** A field that differs: `content` of a text prompt, `messages` of a chat prompt, `type` when one is text and the other chat. */
export type Change = 'type' | 'content' | 'messages' | 'model' | 'temperature' | 'max_tokens' | 'config' | 'input_schema' | 'metadata' | 'description' | 'tags';

export type Action =
  /** The registry has no prompt of this name: push creates it with version 1. */
  | 'create_prompt'
  /** The file differs from every version: push creates the next one. */
  | 'create_version'
  /** Only the description or tags differ: push changes the prompt, no version. */
  | 'update_prompt'
  /** Nothing for push to do. */
  | 'none'
  /** In the registry, not in the folder: reported, never deleted. */
  | 'registry_only';

export interface PlanEntry {
  name: string;
  /** The file; absent for registry_only. */
  path?: string;
  action: Action;
  /** What differs from the registry's latest version (and the prompt's description and tags). */
  changes: Change[];
  /** The registry's latest version number (null: none). */
  latest: number | null;
  /** The version that is the file's content once pushed, when known before the push (unchanged, or identical to an older one). */
  version: number | null;
}

export interface Plan {
  entries: PlanEntry[];
  /** True when a push would create or change something. */
  changed: boolean;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with sorted keys: two equal objects compare equal whatever their key order (as the registry compares metadata). */
function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonical(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

/** What makes a version identical for the registry: its type, content or messages (or the hash over them), settings, config and input schema. */
export interface VersionSettings {
  /** Absent from registries before chat prompts: text. */
  type?: string;
  /** A text version's template (null for chat; absent from a version summary). */
  content?: string | null;
  /** A chat version's messages (absent from a version summary). */
  messages?: unknown[] | null;
  content_hash?: string;
  model: string;
  temperature: number;
  max_tokens: number;
  /** As the registry answers it: with model, temperature and max_tokens mirrored in. */
  config?: Record<string, unknown> | null;
  input_schema?: unknown;
  metadata: Record<string, unknown>;
}

/**
 * The registry's content hash (server/prompts/service.ts): a text version with
 * nothing stored in config and no input schema hashes its content alone, any
 * other the whole version as canonical JSON.
 */
export function contentHash(v: { type: string; content: string | null; messages: unknown[] | null; config: Record<string, unknown>; input_schema: unknown }): string {
  if (v.type === 'text' && Object.keys(v.config).length === 0 && (v.input_schema ?? null) === null) return sha256(v.content ?? '');
  const body = v.type === 'text' ? { content: v.content ?? '' } : { messages: v.messages };
  return sha256(canonical({ type: v.type, ...body, config: v.config, input_schema: v.input_schema ?? null }));
}

/** The version fields that differ; the registry's mirrored settings and defaults compare equal to a file that leaves them out. */
export function versionChanges(file: VersionFields, version: VersionSettings): Change[] {
  const changes: Change[] = [];
  const type = version.type ?? 'text';
  const config = storedConfig(version.config);
  const inputSchema = version.input_schema ?? null;
  if (file.type !== type) changes.push('type');
  else if (type === 'text') {
    const same = typeof version.content === 'string'
      ? file.content === version.content
      : contentHash({ ...file, config, input_schema: inputSchema }) === version.content_hash;
    if (!same) changes.push('content');
  } else {
    // A summary answers no messages: the hash, over the file's messages and the version's config and schema, says whether they differ.
    const same = Array.isArray(version.messages)
      ? canonical(file.messages) === canonical(version.messages)
      : contentHash({ ...file, config, input_schema: inputSchema }) === version.content_hash;
    if (!same) changes.push('messages');
  }
  if (file.model !== version.model) changes.push('model');
  if (file.temperature !== version.temperature) changes.push('temperature');
  if (file.max_tokens !== version.max_tokens) changes.push('max_tokens');
  if (canonical(file.config) !== canonical(config)) changes.push('config');
  if (canonical(file.input_schema) !== canonical(inputSchema)) changes.push('input_schema');
  if (canonical(file.metadata) !== canonical(version.metadata)) changes.push('metadata');
  return changes;
}

/** The prompt-level fields the file sets and the registry has otherwise. */
export function promptChanges(file: VersionFields, prompt: { description: string | null; tags: string[] }): Change[] {
  const changes: Change[] = [];
  if (file.description !== undefined && (file.description ?? null) !== prompt.description) changes.push('description');
  if (file.tags !== undefined && canonical(file.tags) !== canonical(prompt.tags)) changes.push('tags');
  return changes;
}

/** A version (a summary without content will do) identical to the file: what an idempotent create answers. */
export function isIdentical(file: VersionFields, version: VersionSettings): boolean {
  return versionChanges(file, version).length === 0;
}

/**
 * Drift, for editors: how a workspace file differs from the registry's latest
 * version of its prompt (and the prompt's description and tags when given).
 * Empty when the file is what the registry has.
 */
export function driftOf(
  file: VersionFields,
  latest: VersionSettings | null,
  prompt?: { description: string | null; tags: string[] },
): { drifted: boolean; changes: Change[] } {
  if (!latest) return { drifted: true, changes: ['content'] };
  const changes = [...versionChanges(file, latest), ...(prompt ? promptChanges(file, prompt) : [])];
  return { drifted: changes.length > 0, changes };
}

/**
 * The folder's files in rounds: a file comes after the files of the prompts it
 * includes (`{{> safety}}`), so a partial exists, in its new version, before a
 * prompt that includes it is created (the registry refuses a reference to a
 * missing prompt). Files in (or behind) a cycle are `stuck`.
 */
export function waves(local: LocalPrompt[]): { rounds: LocalPrompt[][]; stuck: LocalPrompt[] } {
  const inFolder = new Set(local.map((f) => f.name));
  const placed = new Set<string>();
  const rounds: LocalPrompt[][] = [];
  let left = local;
  for (;;) {
    const ready = left.filter((f) => (f.includes ?? []).every((i) => i.prompt !== f.name && (!inFolder.has(i.prompt) || placed.has(i.prompt))));
    if (!ready.length) return { rounds, stuck: left };
    rounds.push(ready);
    for (const f of ready) placed.add(f.name);
    left = left.filter((f) => !placed.has(f.name));
  }
}

/**
 * What the registry would refuse in the folder's partial references, found
 * before anything is sent: a prompt neither in the folder nor in the registry,
 * and a cycle of partials among the folder's files.
 */
export function partialProblems(local: LocalPrompt[], registry: ReadonlySet<string>): Array<{ path: string } & FileProblem> {
  const byName = new Map(local.map((f) => [f.name, f]));
  const problems: Array<{ path: string } & FileProblem> = [];
  for (const f of local) {
    for (const i of f.includes ?? []) {
      if (!byName.has(i.prompt) && !registry.has(i.prompt)) {
        problems.push({ path: f.path, line: i.line, message: `{{> ${i.prompt}}}: no prompt "${i.prompt}", in the folder or in the registry` });
      }
    }
  }
  const { stuck } = waves(local);
  const stuckNames = new Set(stuck.map((f) => f.name));
  const reported = new Set<string>();
  for (const start of stuck) {
    // Follow references among the stuck files until one repeats: that is a cycle.
    const path: LocalPrompt[] = [];
    let at: LocalPrompt | undefined = start;
    while (at && !path.includes(at)) {
      path.push(at);
      const next: PartialUse | undefined = (at.includes ?? []).find((i) => stuckNames.has(i.prompt));
      at = next ? byName.get(next.prompt) : undefined;
    }
    if (!at) continue;
    const cycle = path.slice(path.indexOf(at));
    const key = cycle.map((c) => c.name).sort().join(',');
    if (reported.has(key)) continue;
    reported.add(key);
    const first = cycle[0]!;
    const ref = (first.includes ?? []).find((i) => i.prompt === (cycle[1] ?? first).name)!;
    problems.push({ path: first.path, line: ref.line, message: `the partials make a cycle: ${[...cycle, first].map((c) => c.name).join(' → ')}` });
  }
  return problems;
}

/** Compares every file with the registry's prompt of its name; prompts in no file are listed as registry_only. */
export function planSync(local: LocalPrompt[], remote: RemotePrompt[]): Plan {
  const byName = new Map(remote.map((r) => [r.name, r]));
  const entries: PlanEntry[] = [];
  for (const file of local) {
    const r = byName.get(file.name);
    if (!r?.latest) {
      entries.push({ name: file.name, path: file.path, action: r ? 'create_version' : 'create_prompt', changes: [], latest: null, version: null });
      continue;
    }
    const versionDiff = versionChanges(file.fields, r.latest);
    const promptDiff = promptChanges(file.fields, r);
    const changes = [...versionDiff, ...promptDiff];
    const base = { name: file.name, path: file.path, changes, latest: r.latest.version };
    if (versionDiff.length === 0) entries.push({ ...base, action: promptDiff.length ? 'update_prompt' : 'none', version: r.latest.version });
    else if (r.identical) entries.push({ ...base, action: promptDiff.length ? 'update_prompt' : 'none', version: r.identical });
    else entries.push({ ...base, action: 'create_version', version: null });
  }
  const inFolder = new Set(local.map((f) => f.name));
  for (const r of remote) {
    if (!inFolder.has(r.name)) entries.push({ name: r.name, action: 'registry_only', changes: [], latest: r.latest_version, version: null });
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { entries, changed: entries.some((e) => e.action === 'create_prompt' || e.action === 'create_version' || e.action === 'update_prompt') };
}

/** The plan as lines for a person (diff's output). */
export function describePlan(plan: Plan): string {
  const lines: string[] = [];
  for (const e of plan.entries) {
    const file = e.path ? ` (${e.path})` : '';
    const what = e.changes.length ? `: ${e.changes.join(', ')}` : '';
    switch (e.action) {
      case 'create_prompt':
        lines.push(`+ new prompt      ${e.name}${file}`);
        break;
      case 'create_version':
        lines.push(`~ new version     ${e.name}${file}${what}${e.latest ? ` (latest is v${e.latest})` : ''}`);
        break;
      case 'update_prompt':
        lines.push(`~ prompt update   ${e.name}${file}${what}${e.version !== e.latest ? ` (content as v${e.version}; latest is v${e.latest})` : ''}`);
        break;
      case 'none':
        lines.push(
          e.version === e.latest
            ? `= unchanged       ${e.name}${file} v${e.latest}`
            : `= as older        ${e.name}${file} is v${e.version} (latest is v${e.latest}; push creates nothing, --deploy makes v${e.version} live)`,
        );
        break;
      case 'registry_only':
        lines.push(`? registry only   ${e.name}${e.latest ? ` v${e.latest}` : ''} (no file; push leaves it, pull writes it)`);
        break;
    }
  }
  const count = (...actions: Action[]) => plan.entries.filter((e) => actions.includes(e.action)).length;
  lines.push(
    `${count('create_prompt')} new prompts, ${count('create_version')} new versions, ${count('update_prompt')} prompt updates, ${count('none')} unchanged, ${count('registry_only')} only in the registry`,
  );
  return `${lines.join('\n')}\n`;
}
