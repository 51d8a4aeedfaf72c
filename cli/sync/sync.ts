/** diff, push and pull: the folder and the registry read, the plan made (plan.ts), then applied. */
import { existsSync } from 'node:fs';
import type { DeployResult, RegistryApi } from '../../client/index.js';
import { FolderError, findPromptFiles, pathForName, readFolder, writePromptFile, type Layout } from './folder.js';
import { createBody, formatVersion, unrepresentable } from './format.js';
import { partialProblems, planSync, waves, type LocalPrompt, type Plan, type RemotePrompt } from './plan.js';
import { listAllPrompts, mapLimit, readRemote } from './remote.js';

/** The registry's state for the folder; a FolderError when its partial references cannot be published (missing, a cycle). */
async function remoteFor(api: RegistryApi, local: LocalPrompt[]): Promise<RemotePrompt[]> {
  const remote = await readRemote(api, local);
  const problems = partialProblems(local, new Set(remote.map((r) => r.name)));
  if (problems.length) throw new FolderError(problems);
  return remote;
}

/** Compares the folder with the registry; throws a FolderError (before any change) when a file is not valid. */
export async function diff(api: RegistryApi, dir: string): Promise<Plan> {
  const local = readFolder(dir);
  return planSync(local, await remoteFor(api, local));
}

export interface PushedPrompt {
  name: string;
  path: string;
  /** What was done: created the prompt or a version, changed the prompt's description or tags, or nothing. */
  action: 'created_prompt' | 'created_version' | 'updated_prompt' | 'none';
  /** The version that is the file's content. */
  version: number;
  deploy?: { environment: string; status: 'deployed' | 'already_live' | 'pending_approval'; request_id?: string };
}

export interface PushResult {
  prompts: PushedPrompt[];
  changed: boolean;
}

function deployOutcome(environment: string, result: DeployResult): NonNullable<PushedPrompt['deploy']> {
  if (result.kind === 'pending') return { environment, status: 'pending_approval', request_id: result.request.id };
  return { environment, status: result.created ? 'deployed' : 'already_live' };
}

/** Refuses, before anything is created, a push the credential may not finish: no write scope, or no deploy to the environment. */
async function checkAllowed(api: RegistryApi, plan: Plan, deploy: string | undefined): Promise<void> {
  if (!plan.changed && !deploy) return;
  const me = await api.me();
  if (plan.changed && !me.can.write) throw new Error(`"${me.name}" may not publish (its credential lacks the write scope): nothing was pushed`);
  if (!deploy) return;
  const may = me.can.deploy[deploy];
  if (!may) throw new Error(`the registry has no environment "${deploy}" (it has ${Object.keys(me.can.deploy).join(', ')}): nothing was pushed`);
  if (!may.allowed) throw new Error(`"${me.name}" may not deploy to ${deploy} (its credential needs deploy or deploy:${deploy}): nothing was pushed`);
}

/**
 * Pushes the folder: every file is checked first (one bad file, nothing is
 * sent), then versions are created idempotently, so pushing twice changes
 * nothing. With `deploy`, each file's version is made live there.
 */
export async function push(api: RegistryApi, dir: string, opts: { deploy?: string; message?: string } = {}): Promise<PushResult> {
  const local = readFolder(dir);
  const plan = planSync(local, await remoteFor(api, local));
  await checkAllowed(api, plan, opts.deploy);
  const entries = new Map(plan.entries.map((e) => [e.name, e]));
  const pushOne = async (file: LocalPrompt): Promise<PushedPrompt> => {
    const entry = entries.get(file.name)!;
    let action: PushedPrompt['action'] = 'none';
    let version = entry.version;
    if (entry.action === 'create_prompt' || entry.action === 'create_version') {
      const created = await api.createVersion(file.name, createBody(file.fields, opts.message), { idempotent: true });
      version = created.version;
      // Someone may have pushed the same file since the plan: then nothing was created.
      if (created.created) action = entry.action === 'create_prompt' ? 'created_prompt' : 'created_version';
    } else if (entry.action === 'update_prompt') {
      const { description, tags } = file.fields;
      await api.updatePrompt(file.name, { ...(description !== undefined ? { description } : {}), ...(tags !== undefined ? { tags } : {}) });
      action = 'updated_prompt';
    }
    const pushed: PushedPrompt = { name: file.name, path: file.path, action, version: version! };
    if (opts.deploy) pushed.deploy = deployOutcome(opts.deploy, await api.deploy(file.name, version!, opts.deploy, opts.message ? { comment: opts.message } : {}));
    return pushed;
  };
  const done = new Map<string, PushedPrompt>();
  for (const wave of waves(local).rounds) for (const p of await mapLimit(wave, pushOne)) done.set(p.name, p);
  const prompts = local.map((f) => done.get(f.name)!);
  return { prompts, changed: prompts.some((p) => p.action !== 'none' || p.deploy?.status === 'deployed') };
}

export interface PulledPrompt {
  name: string;
  path: string;
  version: number;
  written: boolean;
}

export interface PullResult {
  prompts: PulledPrompt[];
  /** Files of the folder whose prompt the registry does not have (or has nothing live of, with an environment): left as they are. */
  folder_only: Array<{ name: string; path: string }>;
  /** Versions a `.prompt` file cannot hold (a placeholder other than history, a role marker inside a message): not written, with the reason. */
  skipped: Array<{ name: string; version: number; reason: string }>;
}

/**
 * Writes the registry's prompts into the folder: the version live in
 * `environment`, else the latest. A prompt goes to the file that already
 * declares it wherever it is, else to its layout path; a file keeps its samples.
 */
export async function pull(api: RegistryApi, dir: string, opts: { environment?: string; layout?: Layout } = {}): Promise<PullResult> {
  const local = existsSync(dir) && findPromptFiles(dir).length ? readFolder(dir) : [];
  const byName = new Map(local.map((f) => [f.name, f]));
  const prompts = await listAllPrompts(api, opts.environment);
  const chosen = prompts
    .map((p) => ({ prompt: p, version: opts.environment ? (p.environments[opts.environment]?.version ?? null) : p.latest_version }))
    .filter((c): c is { prompt: (typeof prompts)[number]; version: number } => c.version !== null);
  const fetched = await mapLimit(chosen, async (c) => ({ ...c, version: await api.getVersion(c.prompt.name, c.version) }));
  // A version the file format cannot hold is not written half: it is listed instead.
  const skipped = fetched.flatMap((c) => {
    const reason = unrepresentable(c.prompt, c.version);
    return reason === null ? [] : [{ name: c.prompt.name, version: c.version.version, reason }];
  });
  const skippedNames = new Set(skipped.map((p) => p.name));
  const writes = fetched.filter((c) => !skippedNames.has(c.prompt.name)).map((c) => {
    const existing = byName.get(c.prompt.name);
    const path = existing?.path ?? pathForName(c.prompt.name, opts.layout ?? 'flat');
    // A file's own sample values are kept; a file without any gets an empty one per variable.
    const samples = existing && Object.keys(existing.samples).length ? existing.samples : undefined;
    return { name: c.prompt.name, path, version: c.version.version, text: formatVersion(c.prompt, c.version, samples) };
  });
  // Two prompts must not land on one file (a flat `a.b` and a nested `a/b`): refuse before writing any.
  const paths = new Map<string, string>();
  for (const w of writes) {
    const other = paths.get(w.path);
    if (other) throw new Error(`prompts "${other}" and "${w.name}" would both be written to ${w.path}: give one of them a file of its own first`);
    paths.set(w.path, w.name);
  }
  const pulled = writes.map(({ text, ...w }): PulledPrompt => ({ ...w, written: writePromptFile(dir, w.path, text) }));
  const pulledNames = new Set(pulled.map((p) => p.name));
  return {
    prompts: pulled,
    folder_only: local.filter((f) => !pulledNames.has(f.name) && !skippedNames.has(f.name)).map((f) => ({ name: f.name, path: f.path })),
    skipped,
  };
}
