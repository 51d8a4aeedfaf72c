import { createHash } from 'node:crypto';
import { recordAudit } from '../audit/repository.js';
import type { Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { invalid, notFound, conflict } from '../errors.js';
import type { ChangeFeed } from '../events.js';
import { TemplateError } from '../../shared/templates/errors.js';
import type { TemplatePool } from '../templates/pool.js';
import { checkJsonSchema, validateVariables } from './json-schemas.js';
import { checkIncludes, parseRef, resolvePartials, type ResolvedPartials, type ResolveMode } from './partials.js';
import { renderJob, type RenderJob } from '../templates/render-job.js';
import * as repo from './repository.js';
import type { ActiveDeployment, PromptRow, VersionRow } from './repository.js';
import type { z } from 'zod';
import type { CreateVersionInput, Include, MessageTemplate, PartialUsed, PromptConfig, promptSchema, versionSummarySchema } from './schemas.js';
import { VERSION_DEFAULTS } from '../../shared/contract/defaults.js';

/** The API's shapes, from the schemas the OpenAPI document is built from. */
export type PromptView = z.infer<typeof promptSchema>;
export type VersionView = z.infer<typeof versionSummarySchema> & { content?: string | null; messages?: MessageTemplate[] | null };

/** The settings that have their own columns (the seed's); the rest of config is stored as given. */
const MIRRORED = ['model', 'temperature', 'max_tokens'] as const;
const DEFAULTS = VERSION_DEFAULTS;

/** config as answered: the stored keys with model, temperature and max_tokens mirrored in. */
export function fullConfig(v: { config: Record<string, unknown>; model: string; temperature: number; max_tokens: number }): Record<string, unknown> {
  return { ...v.config, model: v.model, temperature: v.temperature, max_tokens: v.max_tokens };
}

/**
 * The content hash: a text version with no config beyond the seed's settings and no input schema
 * hashes its content alone (as the seed's versions always have); anything else hashes the whole
 * version (type, content or messages, config, input schema) as canonical JSON.
 */
export function contentHash(v: {
  type: 'text' | 'chat';
  content: string;
  messages: MessageTemplate[] | null;
  config: Record<string, unknown>;
  input_schema: Record<string, unknown> | null;
}): string {
  if (v.type === 'text' && Object.keys(v.config).length === 0 && v.input_schema === null) return sha256(v.content);
  const body = v.type === 'text' ? { content: v.content } : { messages: v.messages };
  return sha256(canonicalJson({ type: v.type, ...body, config: v.config, input_schema: v.input_schema }));
}

/** What a render needs of a version, wherever it came from (a version number, or what is live). */
export interface RenderSource {
  prompt: string;
  version_id: string;
  version: number;
  type: 'text' | 'chat';
  content: string;
  messages: MessageTemplate[] | null;
  input_schema: Record<string, unknown> | null;
  includes: Include[];
}

export interface RenderOutput {
  rendered: string | null;
  messages: Array<Record<string, unknown> & { role: string; content: string }> | null;
  partials_used: PartialUsed[];
}

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
    type: v.type,
    ...(v.content !== undefined ? { content: v.type === 'chat' ? null : v.content } : {}),
    ...(v.messages !== undefined ? { messages: v.messages } : {}),
    content_hash: v.content_hash,
    model: v.model,
    temperature: v.temperature,
    max_tokens: v.max_tokens,
    config: fullConfig(v),
    input_schema: v.input_schema,
    includes: v.includes,
    variables: v.variables,
    metadata: v.metadata,
    message: v.message,
    created_at: v.created_at,
    created_by: v.created_by,
    environments,
  };
}

function sameSettings(v: VersionRow, input: { model: string; temperature: number; max_tokens: number; metadata: Record<string, unknown> }): boolean {
  return (
    v.model === input.model &&
    v.temperature === input.temperature &&
    v.max_tokens === input.max_tokens &&
    canonicalJson(v.metadata) === canonicalJson(input.metadata)
  );
}

/** Every JSON Schema a version carries, compiled once to refuse a broken one (400 invalid_schema naming its path). */
function checkSchemas(config: PromptConfig | undefined, inputSchema: Record<string, unknown> | null | undefined): void {
  (config?.tools ?? []).forEach((tool, i) => {
    if (tool.function.parameters !== undefined) checkJsonSchema(tool.function.parameters, `config.tools[${i}].function.parameters`);
  });
  const format = config?.response_format;
  if (format?.type === 'json_schema') checkJsonSchema(format.json_schema.schema, 'config.response_format.json_schema.schema');
  if (inputSchema) checkJsonSchema(inputSchema, 'input_schema');
}

const isPlaceholder = (m: MessageTemplate): m is { type: 'placeholder'; name: string } => 'type' in m && m.type === 'placeholder';

function sameTags(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((t, i) => t === b[i]);
}

interface RenderPlan {
  /** The templates to render: the text, or each message that is not a placeholder. */
  templates: string[];
  placeholders: Set<string>;
}

// Sources from the resolve cache are the same objects render after render: what is derived from them
// (down to the render job's key, a hash of its templates and partials) is kept with them.
const plans = new WeakMap<RenderSource, RenderPlan>();
const jobs = new WeakMap<RenderPlan, WeakMap<ResolvedPartials, RenderJob>>();

function renderPlan(source: RenderSource): RenderPlan {
  let plan = plans.get(source);
  if (!plan) {
    const list = source.messages ?? [];
    plan = {
      templates: source.type === 'text' ? [source.content] : list.flatMap((m) => (isPlaceholder(m) ? [] : [m.content])),
      placeholders: new Set(list.filter(isPlaceholder).map((m) => m.name)),
    };
    plans.set(source, plan);
  }
  return plan;
}

function jobOf(plan: RenderPlan, resolved: ResolvedPartials): RenderJob {
  let byPartials = jobs.get(plan);
  if (!byPartials) jobs.set(plan, (byPartials = new WeakMap()));
  let job = byPartials.get(resolved);
  if (!job) {
    job = renderJob(plan.templates, Object.fromEntries(Object.entries(resolved.partials).map(([ref, p]) => [ref, p.content])));
    byPartials.set(resolved, job);
  }
  return job;
}

/** Prompts and their immutable versions. */
export class PromptService {
  constructor(
    private readonly db: Database,
    private readonly feed: ChangeFeed,
    private readonly templates: TemplatePool,
    private readonly environments: readonly string[] = ['dev', 'staging', 'production'],
  ) {}

  /**
   * Compiles every template of a version in a worker (limits, syntax, helpers): the root variables
   * of all of them, in order of first use, and the partial references. A fault in a chat message
   * names it (`messages[2].content: …`).
   */
  private async compileVersion(type: 'text' | 'chat', content: string, messages: MessageTemplate[] | null): Promise<{ variables: string[]; includes: Include[] }> {
    const indexed = type === 'chat' ? (messages ?? []).flatMap((m, i) => (isPlaceholder(m) ? [] : [{ i, source: m.content }])) : [{ i: -1, source: content }];
    let infos;
    try {
      infos = await this.templates.compileMany(indexed.map((t) => t.source));
    } catch (err) {
      if (err instanceof TemplateError && type === 'chat' && typeof err.details.index === 'number') {
        const field = `messages[${indexed[err.details.index]!.i}].content`;
        const { index: _index, ...details } = err.details;
        throw new TemplateError(err.code, `${field}: ${err.message}`, { ...details, field });
      }
      throw err;
    }
    const variables = [...new Set(infos.flatMap((t) => t.variables))];
    const refs = [...new Set(infos.flatMap((t) => t.partials))];
    return { variables, includes: refs.map(parseRef) };
  }

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
    const config: Record<string, unknown> = { ...(input.config ?? {}) };
    const settings = {
      model: input.model ?? input.config?.model ?? DEFAULTS.model,
      temperature: input.temperature ?? input.config?.temperature ?? DEFAULTS.temperature,
      max_tokens: input.max_tokens ?? input.config?.max_tokens ?? DEFAULTS.max_tokens,
      metadata: input.metadata,
    };
    for (const key of MIRRORED) delete config[key];
    checkSchemas(input.config, input.input_schema);
    const content = input.type === 'chat' ? '' : input.content!;
    const messages = input.type === 'chat' ? (input.messages as MessageTemplate[]) : null;
    const inputSchema = input.input_schema ?? null;
    // Refuse a broken or oversized template before touching the database (compiled in a worker).
    const { variables, includes } = await this.compileVersion(input.type, content, messages);
    const hash = contentHash({ type: input.type, content, messages, config, input_schema: inputSchema });
    const tags = input.tags ? [...new Set(input.tags)] : undefined;

    return this.db.transaction(async (tx) => {
      let prompt = await repo.lockPrompt(tx, name);
      if (!prompt) {
        prompt = await repo.insertPrompt(tx, { name, description: input.description ?? null, tags: tags ?? [], createdBy: actor.name });
        if (prompt) await recordAudit(tx, actor, { action: 'prompt.created', prompt: name, targetId: prompt.id });
        else prompt = await repo.lockPrompt(tx, name);
        if (!prompt) throw new Error(`prompt ${name} vanished while being created`);
      }

      // Read inside the transaction: the partials' state the check sees is the one the version is created against.
      await checkIncludes(tx, name, includes, this.environments);

      const identical = (await repo.versionsWithHash(tx, prompt.id, hash)).find((v) => sameSettings(v, settings));
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
        type: input.type,
        content,
        messages,
        config,
        input_schema: inputSchema,
        includes,
        content_hash: hash,
        model: settings.model,
        temperature: settings.temperature,
        max_tokens: settings.max_tokens,
        variables,
        metadata: input.metadata,
        message: input.message ?? null,
        created_by: actor.name,
      });
      await recordAudit(tx, actor, {
        action: 'version.created',
        prompt: name,
        targetId: version.id,
        details: { version: number, content_hash: hash, model: settings.model, type: input.type },
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

  /** The version `number` of `name` as a render source. */
  async renderSource(name: string, number: number): Promise<{ source: RenderSource; config: Record<string, unknown> }> {
    const prompt = await this.requirePrompt(name);
    const v = await repo.getVersion(this.db, prompt.id, number);
    if (!v) throw notFound('version_not_found', `"${name}" has no version ${number}`, { prompt: name, version: number });
    return {
      source: { prompt: name, version_id: v.id, version: v.version_number, type: v.type, content: v.content!, messages: v.messages ?? null, input_schema: v.input_schema, includes: v.includes },
      config: fullConfig(v),
    };
  }

  /**
   * An unpublished version body (a run's draft) as a render source: compiled like a new version
   * (limits, syntax, schemas), keyed for the template caches by its content hash. Its config is
   * what it gives, with model, temperature and max_tokens when given.
   */
  async draftSource(
    name: string,
    d: { type: 'text' | 'chat'; content?: string | undefined; messages?: unknown[] | undefined; model?: string | undefined; temperature?: number | undefined; max_tokens?: number | undefined; config?: PromptConfig | undefined; input_schema?: Record<string, unknown> | null | undefined },
  ): Promise<{ source: RenderSource; config: Record<string, unknown>; hash: string }> {
    checkSchemas(d.config, d.input_schema);
    const content = d.type === 'chat' ? '' : d.content!;
    const messages = d.type === 'chat' ? (d.messages as MessageTemplate[]) : null;
    const { includes } = await this.compileVersion(d.type, content, messages);
    const inputSchema = d.input_schema ?? null;
    const hash = contentHash({ type: d.type, content, messages, config: d.config ?? {}, input_schema: inputSchema });
    const config: Record<string, unknown> = {
      ...d.config,
      ...(d.model !== undefined ? { model: d.model } : {}),
      ...(d.temperature !== undefined ? { temperature: d.temperature } : {}),
      ...(d.max_tokens !== undefined ? { max_tokens: d.max_tokens } : {}),
    };
    return { source: { prompt: name, version_id: `draft:${hash}`, version: 0, type: d.type, content, messages, input_schema: inputSchema, includes }, config, hash };
  }

  /**
   * Renders a version strictly: variables checked against its input schema (defaults applied), partials
   * resolved for `mode` (unless given, already resolved), placeholders filled. Text answers `rendered`,
   * chat answers `messages`; both say which partial versions went in.
   */
  async renderVersion(
    source: RenderSource,
    given: { variables: Record<string, unknown>; placeholders: Record<string, Array<{ role: string; content: string }>> },
    partials: { mode: ResolveMode } | ResolvedPartials,
  ): Promise<RenderOutput> {
    const variables = source.input_schema ? structuredClone(given.variables) : given.variables;
    if (source.input_schema) validateVariables(source.version_id, source.input_schema, variables);
    const plan = renderPlan(source);
    for (const name of Object.keys(given.placeholders)) {
      if (!plan.placeholders.has(name)) {
        throw invalid('unknown_placeholder', `placeholders.${name}: "${source.prompt}" version ${source.version} has no placeholder "${name}"`, { field: `placeholders.${name}` });
      }
    }
    const resolved = 'mode' in partials ? await resolvePartials(this.db, source.includes, partials.mode) : partials;
    const outputs = await this.templates.renderJob(jobOf(plan, resolved), variables);
    if (source.type === 'text') return { rendered: outputs[0]!, messages: null, partials_used: resolved.used };
    let next = 0;
    const messages = (source.messages ?? []).flatMap((m) => (isPlaceholder(m) ? (given.placeholders[m.name] ?? []) : [{ role: m.role, content: outputs[next++]! }]));
    return { rendered: null, messages, partials_used: resolved.used };
  }

  /** Which versions include the prompt `name` (with environment: only those live there). */
  async usedBy(name: string, environment?: string): Promise<Array<{ prompt: string; version: number; ref: string; live_in: string[] }>> {
    await this.requirePrompt(name);
    const rows = await repo.usedBy(this.db, name);
    return environment === undefined ? rows : rows.filter((r) => r.live_in.includes(environment));
  }
}
