import type { Queryable, Transaction } from '../db/index.js';
import { bool, json, stringArray, timestamp } from '../db/values.js';
import type { Include, MessageTemplate } from '../prompts/schemas.js';

export interface DeploymentRow {
  id: string;
  prompt_id: string;
  prompt_version_id: string;
  version_number: number;
  environment: string;
  deployed_at: string;
  deployed_by: string;
  is_active: boolean;
  rollback_of: string | null;
  previous_deployment_id: string | null;
  seq: number;
  /** The version this deployment replaced in its environment, if any. */
  previous_version: number | null;
}

function toDeployment(r: Record<string, unknown>): DeploymentRow {
  return {
    id: String(r.id),
    prompt_id: String(r.prompt_id),
    prompt_version_id: String(r.prompt_version_id),
    version_number: Number(r.version_number),
    environment: String(r.environment),
    deployed_at: timestamp(r.deployed_at),
    deployed_by: String(r.deployed_by),
    is_active: bool(r.is_active),
    rollback_of: (r.rollback_of as string | null) ?? null,
    previous_deployment_id: (r.previous_deployment_id as string | null) ?? null,
    seq: Number(r.seq),
    previous_version: r.previous_version === null || r.previous_version === undefined ? null : Number(r.previous_version),
  };
}

// The replaced deployment is the one a rollback undid, or the one a deploy pushed down.
const SELECT_DEPLOYMENT = `
  SELECT d.id, d.prompt_id, d.prompt_version_id, v.version_number, d.environment, d.deployed_at, d.deployed_by,
         d.is_active, d.rollback_of, d.previous_deployment_id, d.seq, rv.version_number AS previous_version
    FROM prompt_deployments d
    JOIN prompt_versions v ON v.id = d.prompt_version_id
    LEFT JOIN prompt_deployments r ON r.id = CASE WHEN d.rollback_of IS NULL THEN d.previous_deployment_id ELSE d.rollback_of END
    LEFT JOIN prompt_versions rv ON rv.id = r.prompt_version_id`;

export async function activeDeployment(tx: Queryable, promptId: string, environment: string): Promise<DeploymentRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(`${SELECT_DEPLOYMENT} WHERE d.prompt_id = $1 AND d.environment = $2 AND d.is_active`, [promptId, environment]);
  return row && toDeployment(row);
}

/**
 * The deployments a rollback could restore, nearest first: following
 * previous_deployment_id down from `fromId`.
 */
export async function rollbackChain(tx: Transaction, fromId: string): Promise<Array<{ id: string; prompt_version_id: string; version_number: number; previous_deployment_id: string | null }>> {
  const rows = await tx.all<Record<string, unknown>>(
    `WITH RECURSIVE chain (id, prompt_version_id, previous_deployment_id, depth) AS (
       SELECT id, prompt_version_id, previous_deployment_id, 0 FROM prompt_deployments WHERE id = $1
       UNION ALL
       SELECT d.id, d.prompt_version_id, d.previous_deployment_id, c.depth + 1
         FROM prompt_deployments d JOIN chain c ON d.id = c.previous_deployment_id
     )
     SELECT c.id, c.prompt_version_id, c.previous_deployment_id, v.version_number
       FROM chain c JOIN prompt_versions v ON v.id = c.prompt_version_id
      ORDER BY c.depth`,
    [fromId],
  );
  return rows.map((r) => ({
    id: String(r.id),
    prompt_version_id: String(r.prompt_version_id),
    version_number: Number(r.version_number),
    previous_deployment_id: (r.previous_deployment_id as string | null) ?? null,
  }));
}

export async function deactivate(tx: Transaction, id: string): Promise<void> {
  await tx.run('UPDATE prompt_deployments SET is_active = $2 WHERE id = $1', [id, false]);
}

/** Next position in the prompt's history; safe only while the prompt row is locked. */
export async function nextSeq(tx: Transaction, promptId: string): Promise<number> {
  const row = await tx.get<{ n: number }>('SELECT COALESCE(MAX(seq), 0) + 1 AS n FROM prompt_deployments WHERE prompt_id = $1', [promptId]);
  return Number(row!.n);
}

export async function insertDeployment(
  tx: Transaction,
  d: { promptId: string; versionId: string; environment: string; deployedBy: string; seq: number; rollbackOf: string | null; previousId: string | null },
): Promise<DeploymentRow> {
  const inserted = await tx.get<{ id: string }>(
    `INSERT INTO prompt_deployments (prompt_version_id, environment, deployed_by, is_active, rollback_of, prompt_id, seq, previous_deployment_id)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id`,
    [d.versionId, d.environment, d.deployedBy, true, d.rollbackOf, d.promptId, d.seq, d.previousId],
  );
  const row = await tx.get<Record<string, unknown>>(`${SELECT_DEPLOYMENT} WHERE d.id = $1`, [inserted!.id]);
  return toDeployment(row!);
}

export async function history(
  db: Queryable,
  promptId: string,
  f: { environment?: string | undefined; beforeSeq?: number | undefined; limit: number },
): Promise<DeploymentRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `${SELECT_DEPLOYMENT}
      WHERE d.prompt_id = $1 AND ($2::text IS NULL OR d.environment = $2::text) AND ($3::int IS NULL OR d.seq < $3::int)
      ORDER BY d.seq DESC LIMIT $4`,
    [promptId, f.environment ?? null, f.beforeSeq ?? null, f.limit],
  );
  return rows.map(toDeployment);
}

export interface ResolvedRow {
  prompt: string;
  version_id: string;
  version_number: number;
  type: 'text' | 'chat';
  content: string;
  messages: MessageTemplate[] | null;
  config: Record<string, unknown>;
  input_schema: Record<string, unknown> | null;
  includes: Include[];
  content_hash: string;
  model: string;
  temperature: number;
  max_tokens: number;
  variables: string[];
  metadata: Record<string, unknown>;
  deployment_id: string;
  deployed_at: string;
}

/** The live version per prompt in the environment given by placeholder `env`. */
const selectResolved = (env: string) => `
  SELECT p.name, v.id AS version_id, v.version_number, v.content, v.content_hash, v.model, v.temperature, v.max_tokens,
         v.variables, v.metadata, d.id AS deployment_id, d.deployed_at, v.type, v.messages, v.config, v.input_schema, v.includes
    FROM prompts p
    JOIN prompt_deployments d ON d.prompt_id = p.id AND d.environment = ${env} AND d.is_active
    JOIN prompt_versions v ON v.id = d.prompt_version_id`;

const RESOLVE_SQL = `${selectResolved('$2')} WHERE p.name = $1`;
const LIVE_IN_SQL = `${selectResolved('$1')} ORDER BY p.name`;

/** The hot path: (name, environment) to the live version, through the one-active index. */
export async function resolve(db: Queryable, name: string, environment: string): Promise<ResolvedRow | undefined> {
  const r = await db.get<Record<string, unknown>>(RESOLVE_SQL, [name, environment]);
  return r && toResolved(r);
}

/** Every prompt live in an environment, by name (for export bundles). */
export async function liveIn(db: Queryable, environment: string): Promise<ResolvedRow[]> {
  return (await db.all<Record<string, unknown>>(LIVE_IN_SQL, [environment])).map(toResolved);
}

function toResolved(r: Record<string, unknown>): ResolvedRow {
  return {
    prompt: String(r.name),
    version_id: String(r.version_id),
    version_number: Number(r.version_number),
    type: r.type === 'chat' ? 'chat' : 'text',
    content: String(r.content),
    messages: (json(r.messages) as MessageTemplate[] | null) ?? null,
    config: (json(r.config) as Record<string, unknown> | null) ?? {},
    input_schema: (json(r.input_schema) as Record<string, unknown> | null) ?? null,
    includes: (json(r.includes) as Include[] | null) ?? [],
    content_hash: String(r.content_hash),
    model: String(r.model),
    temperature: Number(r.temperature),
    max_tokens: Number(r.max_tokens),
    variables: stringArray(r.variables),
    metadata: (json(r.metadata) as Record<string, unknown> | null) ?? {},
    deployment_id: String(r.deployment_id),
    deployed_at: timestamp(r.deployed_at),
  };
}
