import type { Queryable, Transaction } from '../db/index.js';
import { json, timestamp } from '../db/values.js';
import type { Prices, ProviderKind } from './schemas.js';

export interface ProviderRow {
  id: string;
  name: string;
  kind: ProviderKind;
  base_url: string | null;
  api_key_encrypted: string | null;
  default_model: string | null;
  headers: Record<string, string>;
  prices: Prices;
  created_at: string;
  created_by: string;
  updated_at: string;
}

const COLUMNS = 'id, name, kind, base_url, api_key_encrypted, default_model, headers, prices, created_at, created_by, updated_at';

function provider(r: Record<string, unknown>): ProviderRow {
  return {
    id: String(r.id),
    name: String(r.name),
    kind: r.kind as ProviderKind,
    base_url: (r.base_url as string | null) ?? null,
    api_key_encrypted: (r.api_key_encrypted as string | null) ?? null,
    default_model: (r.default_model as string | null) ?? null,
    headers: json(r.headers) as Record<string, string>,
    prices: json(r.prices) as Prices,
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
    updated_at: timestamp(r.updated_at),
  };
}

export interface ProviderValues {
  base_url: string | null;
  api_key_encrypted: string | null;
  default_model: string | null;
  headers: Record<string, string>;
  prices: Prices;
}

export async function insertProvider(tx: Transaction, p: ProviderValues & { name: string; kind: ProviderKind; createdBy: string }): Promise<ProviderRow> {
  const row = await tx.get<Record<string, unknown>>(
    `INSERT INTO providers (name, kind, base_url, api_key_encrypted, default_model, headers, prices, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
    [p.name, p.kind, p.base_url, p.api_key_encrypted, p.default_model, JSON.stringify(p.headers), JSON.stringify(p.prices), p.createdBy],
  );
  return provider(row!);
}

export async function findProvider(db: Queryable, name: string): Promise<ProviderRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM providers WHERE name = $1`, [name]);
  return row && provider(row);
}

export async function lockProvider(tx: Transaction, name: string): Promise<ProviderRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM providers WHERE name = $1${tx.sql.forUpdate}`, [name]);
  return row && provider(row);
}

export async function listProviders(db: Queryable, f: { after?: string | undefined; limit: number }): Promise<ProviderRow[]> {
  const rows = await db.all<Record<string, unknown>>(`SELECT ${COLUMNS} FROM providers WHERE ($1::text IS NULL OR name > $1::text) ORDER BY name LIMIT $2`, [
    f.after ?? null,
    f.limit,
  ]);
  return rows.map(provider);
}

/** The first provider by name: what a run uses when it names none. */
export async function firstProvider(db: Queryable): Promise<ProviderRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM providers ORDER BY name LIMIT 1`);
  return row && provider(row);
}

export async function updateProvider(tx: Transaction, name: string, p: ProviderValues & { at: string }): Promise<ProviderRow> {
  const row = await tx.get<Record<string, unknown>>(
    `UPDATE providers SET base_url = $2, api_key_encrypted = $3, default_model = $4, headers = $5, prices = $6, updated_at = $7
      WHERE name = $1 RETURNING ${COLUMNS}`,
    [name, p.base_url, p.api_key_encrypted, p.default_model, JSON.stringify(p.headers), JSON.stringify(p.prices), p.at],
  );
  return provider(row!);
}

export async function deleteProvider(tx: Transaction, name: string): Promise<void> {
  await tx.run('DELETE FROM providers WHERE name = $1', [name]);
}
