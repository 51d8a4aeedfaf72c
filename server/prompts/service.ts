import { createHash } from 'node:crypto';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { invalid, notFound, conflict } from '../errors.js';
import type { ChangeFeed } from '../events.js';
import type { TemplatePool } from '../templates/pool.js';
import * as repo from './repository.js';
import type { ActiveDeployment, PromptRow, VersionRow } from './repository.js';
import type { z } from 'zod';
import type { CreateVersionInput, promptSchema, versionSummarySchema } from './schemas.js';

/** The API's shapes, from the schemas the OpenAPI document is built from. */
export type PromptView = z.infer<typeof promptSchema>;
export type VersionView = z.infer<typeof versionSummarySchema> & { content?: string };

export function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** JSON with sorted keys, so two equal objects compare equal whatever their key order. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

export function versionView(promptName: string, v: VersionRow, environments: string[]): VersionView {
  return {
    version_id: v.id,
    version: v.version_number,
    prompt: promptName,
    ...(v.content !== undefined ? { content: v.content } : {}),
    content_hash: v.content_hash,
    model: v.model,
    temperature: v.temperature,
    max_tokens: v.max_tokens,
    variables: v.variables,
    metadata: v.metadata,
    message: v.message,
    created_at: v.created_at,
    created_by: v.created_by,
    environments,
  };
}

function sameSettings(v: VersionRow, input: CreateVersionInput): boolean {
  return (
    v.model === input.model &&
    v.temperature === input.temperature &&
    v.max_tokens === input.max_tokens &&
    canonicalJson(v.metadata) === canonicalJson(input.metadata)
  );
}

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

/** Prompts and their immutable versions. */
export class PromptService {
  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    private readonly templates: TemplatePool,
  ) {}

  async requirePrompt(name: string): Promise<PromptRow> {
    const prompt = await repo.findPrompt(this.db, name);
    if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
    return prompt;
  }

  /**
   * Creates the next version (and the prompt, on its first). A version
   * identical to an existing one (content and settings) is refused, or
   * returned as it is in idempotent mode.
   */
  async createVersion(
    actor: Principal,
    name: string,
    input: CreateVersionInput,
    opts: { idempotent: boolean },
  ): Promise<{ version: VersionView; created: boolean }> {
    if (input.name !== undefined && input.name !== name) {
      throw invalid('name_mismatch', `the body names "${input.name}" but the path names "${name}"`);
    }
    // Refuse a broken or oversized template before touching the database (compiled in a worker).
    const variables = await this.templates.compile(input.content);
    const contentHash = sha256(input.content);
    const tags = input.tags ? [...new Set(input.tags)] : undefined;

    return this.db.transaction(async (tx) => {
      let prompt = await repo.lockPrompt(tx, name);
      if (!prompt) {
        prompt = await repo.insertPrompt(tx, { name, description: input.description ?? null, tags: tags ?? [], createdBy: actor.name });
        if (prompt) await recordAudit(tx, actor, { action: 'prompt.created', prompt: name, targetId: prompt.id });
        else prompt = await repo.lockPrompt(tx, name);
        if (!prompt) throw new Error(`prompt ${name} vanished while being created`);
      }

      const identical = (await repo.versionsWithHash(tx, prompt.id, contentHash)).find((v) => sameSettings(v, input));
      if (identical) {
        if (opts.idempotent) {
          const full = await repo.getVersion(tx, prompt.id, identical.version_number);
          return { version: versionView(name, full!, []), created: false };
        }
        throw conflict('duplicate_version', `identical to version ${identical.version_number} of "${name}" (same content and settings); nothing was created`, {
          existing_version: identical.version_number,
          existing_version_id: identical.id,
        });
      }

      // Description and tags published with a version keep the prompt in step with its source file.
      const description = input.description === undefined ? prompt.description : input.description;
      const newTags = tags ?? prompt.tags;
      if (description !== prompt.description || !sameTags(newTags, prompt.tags)) {
        prompt = await repo.updatePrompt(tx, prompt.id, { description, tags: newTags });
        await recordAudit(tx, actor, { action: 'prompt.updated', prompt: name, targetId: prompt.id, details: { description, tags: newTags } });
      }

      const number = await repo.nextVersionNumber(tx, prompt.id);
      const version = await repo.insertVersion(tx, {
        prompt_id: prompt.id,
        version_number: number,
        content: input.content,
        content_hash: contentHash,
        model: input.model,
        temperature: input.temperature,
        max_tokens: input.max_tokens,
        variables,
        metadata: input.metadata,
        message: input.message ?? null,
        created_by: actor.name,
      });
      await recordAudit(tx, actor, {
        action: 'version.created',
        prompt: name,
        targetId: version.id,
        details: { version: number, content_hash: contentHash, model: input.model },
      });
      await this.feed.publish(tx, { type: 'version.created', prompt: name, version: number });
      return { version: versionView(name, version, []), created: true };
    });
  }

  private async views(prompts: PromptRow[]): Promise<PromptView[]> {
    const ids = prompts.map((p) => p.id);
    const [latest, active] = await Promise.all([repo.latestVersions(this.db, ids), repo.activeDeployments(this.db, ids)]);
    const byPrompt = new Map<string, ActiveDeployment[]>();
    for (const d of active) byPrompt.set(d.prompt_id, [...(byPrompt.get(d.prompt_id) ?? []), d]);
    return prompts.map((p) => ({
      ...p,
      latest_version: latest.get(p.id) ?? null,
      environments: Object.fromEntries(
        (byPrompt.get(p.id) ?? []).map((d) => [d.environment, { version: d.version_number, deployed_at: d.deployed_at, deployed_by: d.deployed_by }]),
      ),
    }));
  }

  async list(f: { search?: string | undefined; tags: string[]; environment?: string | undefined; after?: string | undefined; limit: number }): Promise<PromptView[]> {
    return this.views(await repo.listPrompts(this.db, f));
  }

  async get(name: string): Promise<PromptView> {
    const [view] = await this.views([await this.requirePrompt(name)]);
    return view!;
  }

  async update(actor: Principal, name: string, patch: { description?: string | null | undefined; tags?: string[] | undefined }): Promise<PromptView> {
    await this.db.transaction(async (tx) => {
      const prompt = await repo.lockPrompt(tx, name);
      if (!prompt) throw notFound('prompt_not_found', `no prompt named "${name}"`, { prompt: name });
      const description = patch.description === undefined ? prompt.description : patch.description;
      const tags = patch.tags ? [...new Set(patch.tags)] : prompt.tags;
      await repo.updatePrompt(tx, prompt.id, { description, tags });
      await recordAudit(tx, actor, { action: 'prompt.updated', prompt: name, targetId: prompt.id, details: { description, tags } });
      await this.feed.publish(tx, { type: 'prompt.updated', prompt: name });
    });
    return this.get(name);
  }

  private async liveEnvironments(promptId: string): Promise<Map<string, string[]>> {
    const byVersion = new Map<string, string[]>();
    for (const d of await repo.activeDeployments(this.db, [promptId])) {
      byVersion.set(d.version_id, [...(byVersion.get(d.version_id) ?? []), d.environment]);
    }
    return byVersion;
  }

  async listVersions(name: string, f: { before?: number | undefined; limit: number }): Promise<VersionView[]> {
    const prompt = await this.requirePrompt(name);
    const [rows, live] = await Promise.all([repo.listVersions(this.db, prompt.id, f), this.liveEnvironments(prompt.id)]);
    return rows.map((v) => versionView(name, v, live.get(v.id) ?? []));
  }

  async getVersion(name: string, number: number): Promise<VersionView> {
    const prompt = await this.requirePrompt(name);
    const version = await repo.getVersion(this.db, prompt.id, number);
    if (!version) throw notFound('version_not_found', `"${name}" has no version ${number}`, { prompt: name, version: number });
    return versionView(name, version, (await this.liveEnvironments(prompt.id)).get(version.id) ?? []);
  }

  /** Renders in the template pool, where compiled templates are cached by version id: a version's content never changes. */
  render(versionId: string, content: string, variables: Record<string, unknown>): Promise<string> {
    return this.templates.render(versionId, content, variables);
  }
}
