import type { Queryable, Transaction } from '../db/index.js';
import { json, stringArray, timestamp } from '../db/values.js';
import type { Include, MessageTemplate } from './schemas.js';

export interface PromptRow {
  id: string;
  name: string;
  description: string | null;
  tags: string[];
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface VersionRow {
  id: string;
  prompt_id: string;
  version_number: number;
  type: 'text' | 'chat';
  /** With the full version: the template ('' for chat). */
  content?: string;
  /** With the full version: a chat prompt's message templates (null for text). */
  messages?: MessageTemplate[] | null;
  /** The model configuration beyond model, temperature and max_tokens (which have their own columns). */
  config: Record<string, unknown>;
  input_schema: Record<string, unknown> | null;
  includes: Include[];
  content_hash: string;
  model: string;
  temperature: number;
  max_tokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
  message: string | null;
  created_at: string;
  created_by: string;
}

export interface ActiveDeployment {
  prompt_id: string;
  environment: string;
  version_number: number;
  version_id: string;
  deployed_at: string;
  deployed_by: string;
}

const PROMPT_COLUMNS = 'id, name, description, tags, created_at, created_by, updated_at';
const VERSION_SUMMARY_COLUMNS =
  'id, prompt_id, version_number, type, config, input_schema, includes, content_hash, model, temperature, max_tokens, variables, metadata, message, created_at, created_by';
/** The summary and the templates. */
const VERSION_COLUMNS = `${VERSION_SUMMARY_COLUMNS}, content, messages`;

function toPrompt(r: Record<string, unknown>): PromptRow {
  return {
    id: String(r.id),
    name: String(r.name),
    description: (r.description as string | null) ?? null,
    tags: stringArray(r.tags),
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
    updated_at: timestamp(r.updated_at),
  };
}

export function toVersion(r: Record<string, unknown>): VersionRow {
  return {
    id: String(r.id),
    prompt_id: String(r.prompt_id),
    version_number: Number(r.version_number),
    type: r.type === 'chat' ? 'chat' : 'text',
    ...(r.content !== undefined ? { content: String(r.content) } : {}),
    ...(r.messages !== undefined ? { messages: (json(r.messages) as MessageTemplate[] | null) ?? null } : {}),
    config: (json(r.config) as Record<string, unknown> | null) ?? {},
    input_schema: (json(r.input_schema) as Record<string, unknown> | null) ?? null,
    includes: (json(r.includes) as Include[] | null) ?? [],
    content_hash: String(r.content_hash),
    model: String(r.model),
    temperature: Number(r.temperature),
    max_tokens: Number(r.max_tokens),
    variables: stringArray(r.variables),
    metadata: (json(r.metadata) as Record<string, unknown> | null) ?? {},
    message: (r.message as string | null) ?? null,
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
  };
}

export async function findPrompt(db: Queryable, name: string): Promise<PromptRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${PROMPT_COLUMNS} FROM prompts WHERE name = $1`, [name]);
  return row && toPrompt(row);
}

/** The prompt row, locked until the transaction ends (SQLite's writer lock already serialises). */
export async function lockPrompt(tx: Transaction, name: string): Promise<PromptRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(`SELECT ${PROMPT_COLUMNS} FROM prompts WHERE name = $1${tx.sql.forUpdate}`, [name]);
  return row && toPrompt(row);
}

/** Inserts the prompt unless another transaction just did; answers undefined then. */
export async function insertPrompt(
  tx: Transaction,
  p: { name: string; description: string | null; tags: string[]; createdBy: string },
): Promise<PromptRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO prompts (name, description, tags, created_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name) DO NOTHING RETURNING ${PROMPT_COLUMNS}`,
    [p.name, p.description, tx.sql.list(p.tags), p.createdBy],
  );
  return row && toPrompt(row);
}

export async function updatePrompt(tx: Transaction, id: string, p: { description: string | null; tags: string[] }): Promise<PromptRow> {
  const row = await tx.get<Record<string, unknown>>(
    `UPDATE prompts SET description = $2, tags = $3, updated_at = $4 WHERE id = $1 RETURNING ${PROMPT_COLUMNS}`,
    [id, p.description, tx.sql.list(p.tags), new Date().toISOString()],
  );
  return toPrompt(row!);
}

export async function listPrompts(
  db: Queryable,
  f: { search?: string | undefined; tags: string[]; environment?: string | undefined; after?: string | undefined; limit: number },
): Promise<PromptRow[]> {
  const pattern = f.search ? `%${f.search.replace(/[\\%_]/g, (c) => '\\' + c)}%` : null;
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${PROMPT_COLUMNS} FROM prompts
      WHERE ($1::text IS NULL OR ${db.sql.ilike('name', 1)} OR ${db.sql.ilike('description', 1)})
        AND ${db.sql.hasAll('prompts.tags', 2)}
        AND ($3::text IS NULL OR name > $3)
        AND ($5::text IS NULL OR EXISTS (SELECT 1 FROM prompt_deployments d WHERE d.prompt_id = prompts.id AND d.environment = $5::text AND d.is_active))
      ORDER BY name LIMIT $4`,
    [pattern, db.sql.list(f.tags), f.after ?? null, f.limit, f.environment ?? null],
  );
  return rows.map(toPrompt);
}

/** The latest version number of each prompt. */
export async function latestVersions(db: Queryable, promptIds: string[]): Promise<Map<string, number>> {
  if (promptIds.length === 0) return new Map();
  const rows = await db.all<{ prompt_id: string; n: number }>(
    `SELECT prompt_id, MAX(version_number) AS n FROM prompt_versions WHERE ${db.sql.inList('prompt_id', 1, 'uuid')} GROUP BY prompt_id`,
    [db.sql.list(promptIds)],
  );
  return new Map(rows.map((r) => [String(r.prompt_id), Number(r.n)]));
}

/** What is live where, for these prompts. */
export async function activeDeployments(db: Queryable, promptIds: string[]): Promise<ActiveDeployment[]> {
  if (promptIds.length === 0) return [];
  const rows = await db.all<Record<string, unknown>>(
    `SELECT d.prompt_id, d.environment, v.version_number, v.id AS version_id, d.deployed_at, d.deployed_by
       FROM prompt_deployments d JOIN prompt_versions v ON v.id = d.prompt_version_id
      WHERE d.is_active AND ${db.sql.inList('d.prompt_id', 1, 'uuid')}
      ORDER BY d.environment`,
    [db.sql.list(promptIds)],
  );
  return rows.map((r) => ({
    prompt_id: String(r.prompt_id),
    environment: String(r.environment),
    version_number: Number(r.version_number),
    version_id: String(r.version_id),
    deployed_at: timestamp(r.deployed_at),
    deployed_by: String(r.deployed_by),
  }));
}

/** Versions of the prompt with this content hash: candidates for "identical". */
export async function versionsWithHash(tx: Transaction, promptId: string, contentHash: string): Promise<VersionRow[]> {
  const rows = await tx.all<Record<string, unknown>>(
    `SELECT ${VERSION_SUMMARY_COLUMNS} FROM prompt_versions WHERE prompt_id = $1 AND content_hash = $2 ORDER BY version_number`,
    [promptId, contentHash],
  );
  return rows.map(toVersion);
}

/** The next version number; safe only while the prompt row is locked. */
export async function nextVersionNumber(tx: Transaction, promptId: string): Promise<number> {
  const row = await tx.get<{ n: number }>('SELECT COALESCE(MAX(version_number), 0) + 1 AS n FROM prompt_versions WHERE prompt_id = $1', [promptId]);
  return Number(row!.n);
}

export async function insertVersion(
  tx: Transaction,
  v: Omit<VersionRow, 'id' | 'created_at' | 'content' | 'messages'> & { content: string; messages: MessageTemplate[] | null },
): Promise<VersionRow> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO prompt_versions (prompt_id, version_number, content, content_hash, model, temperature, max_tokens, variables, metadata, message, created_by,
                                  type, messages, config, input_schema, includes)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)
     RETURNING ${VERSION_COLUMNS}`,
    [
      v.prompt_id,
      v.version_number,
      v.content,
      v.content_hash,
      v.model,
      v.temperature,
      v.max_tokens,
      JSON.stringify(v.variables),
      JSON.stringify(v.metadata),
      v.message,
      v.created_by,
      v.type,
      v.messages === null ? null : JSON.stringify(v.messages),
      JSON.stringify(v.config),
      v.input_schema === null ? null : JSON.stringify(v.input_schema),
      JSON.stringify(v.includes),
    ],
  );
  for (const inc of v.includes) {
    await tx.run(
      `INSERT INTO prompt_version_includes (prompt_version_id, ref, included_prompt, pinned_version, pinned_environment) VALUES ($1, $2, $3, $4, $5)`,
      [row!.id, inc.ref, inc.prompt, inc.version, inc.environment],
    );
  }
  return toVersion(row!);
}

export async function listVersions(db: Queryable, promptId: string, f: { before?: number | undefined; limit: number }): Promise<VersionRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${VERSION_SUMMARY_COLUMNS} FROM prompt_versions
      WHERE prompt_id = $1 AND ($2::int IS NULL OR version_number < $2::int)
      ORDER BY version_number DESC LIMIT $3`,
    [promptId, f.before ?? null, f.limit],
  );
  return rows.map(toVersion);
}

export async function getVersion(db: Queryable, promptId: string, number: number): Promise<VersionRow | undefined> {
  const row = await db.get<Record<string, unknown>>(
    `SELECT ${VERSION_COLUMNS} FROM prompt_versions WHERE prompt_id = $1 AND version_number = $2`,
    [promptId, number],
  );
  return row && toVersion(row);
}

/** A version of a partial, by the included prompt's name, with its template. */
export interface PartialVersion {
  prompt: string;
  version_id: string;
  version: number;
  type: 'text' | 'chat';
  content: string;
  includes: Include[];
}

const PARTIAL_SELECT = `SELECT p.name, v.id, v.version_number, v.type, v.content, v.includes FROM prompts p JOIN prompt_versions v ON v.prompt_id = p.id`;

function toPartial(r: Record<string, unknown>): PartialVersion {
  return {
    prompt: String(r.name),
    version_id: String(r.id),
    version: Number(r.version_number),
    type: r.type === 'chat' ? 'chat' : 'text',
    content: String(r.content),
    includes: (json(r.includes) as Include[] | null) ?? [],
  };
}

/** Version `number` of the prompt named `name`. */
export async function partialByNumber(db: Queryable, name: string, number: number): Promise<PartialVersion | undefined> {
  const r = await db.get<Record<string, unknown>>(`${PARTIAL_SELECT} WHERE p.name = $1 AND v.version_number = $2`, [name, number]);
  return r && toPartial(r);
}

/** The latest version of the prompt named `name`. */
export async function partialLatest(db: Queryable, name: string): Promise<PartialVersion | undefined> {
  const r = await db.get<Record<string, unknown>>(`${PARTIAL_SELECT} WHERE p.name = $1 ORDER BY v.version_number DESC LIMIT 1`, [name]);
  return r && toPartial(r);
}

/** The versions of the prompt named `name` live in `environment` (null: in any environment). */
export async function partialLive(db: Queryable, name: string, environment: string | null): Promise<PartialVersion[]> {
  const rows = await db.all<Record<string, unknown>>(
    `${PARTIAL_SELECT} JOIN prompt_deployments d ON d.prompt_version_id = v.id AND d.is_active
      WHERE p.name = $1 AND ($2::text IS NULL OR d.environment = $2::text) ORDER BY v.version_number`,
    [name, environment],
  );
  const seen = new Set<string>();
  return rows.map(toPartial).filter((v) => !seen.has(v.version_id) && seen.add(v.version_id));
}

/** The versions that include the prompt named `name`, with the environments each is live in. */
export async function usedBy(db: Queryable, name: string): Promise<Array<{ prompt: string; version: number; ref: string; live_in: string[] }>> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT p.name, v.version_number, i.ref, d.environment
       FROM prompt_version_includes i
       JOIN prompt_versions v ON v.id = i.prompt_version_id
       JOIN prompts p ON p.id = v.prompt_id
       LEFT JOIN prompt_deployments d ON d.prompt_version_id = v.id AND d.is_active
      WHERE i.included_prompt = $1
      ORDER BY p.name, v.version_number, i.ref, d.environment`,
    [name],
  );
  const out: Array<{ prompt: string; version: number; ref: string; live_in: string[] }> = [];
  for (const r of rows) {
    const last = out[out.length - 1];
    const [prompt, version, ref] = [String(r.name), Number(r.version_number), String(r.ref)];
    const entry = last && last.prompt === prompt && last.version === version && last.ref === ref ? last : undefined;
    const target = entry ?? out[out.push({ prompt, version, ref, live_in: [] }) - 1]!;
    if (r.environment !== null && r.environment !== undefined) target.live_in.push(String(r.environment));
  }
  return out;
}
