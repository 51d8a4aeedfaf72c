import type { Queryable, Transaction } from '../db/index.js';
import { json, timestamp } from '../db/values.js';
import type { ItemInput } from './schemas.js';

export interface DatasetRow {
  id: string;
  name: string;
  description: string | null;
  version: number;
  item_count: number;
  created_at: string;
  created_by: string;
  updated_at: string;
}

export interface ItemRow {
  id: string;
  seq: number;
  added_in: number;
  input: Record<string, unknown>;
  expected: unknown;
  metadata: Record<string, unknown>;
  source_execution_id: string | null;
  created_at: string;
}

const COLUMNS = 'id, name, description, version, item_count, created_at, created_by, updated_at';
// expected as JSON text on both dialects: a JSONB string scalar would come back from pg already parsed, indistinguishable from JSON text.
const ITEM_COLUMNS = 'id, seq, added_in, input, CAST(expected AS TEXT) AS expected, metadata, source_execution_id, created_at';

function dataset(r: Record<string, unknown>): DatasetRow {
  return {
    id: String(r.id),
    name: String(r.name),
    description: (r.description as string | null) ?? null,
    version: Number(r.version),
    item_count: Number(r.item_count),
    created_at: timestamp(r.created_at),
    created_by: String(r.created_by),
    updated_at: timestamp(r.updated_at),
  };
}

function item(r: Record<string, unknown>): ItemRow {
  return {
    id: String(r.id),
    seq: Number(r.seq),
    added_in: Number(r.added_in),
    input: json(r.input) as Record<string, unknown>,
    expected: r.expected === null || r.expected === undefined ? null : JSON.parse(String(r.expected)),
    metadata: json(r.metadata) as Record<string, unknown>,
    source_execution_id: (r.source_execution_id as string | null) ?? null,
    created_at: timestamp(r.created_at),
  };
}

export async function insertDataset(tx: Transaction, d: { name: string; description: string | null; createdBy: string }): Promise<DatasetRow> {
  const row = await tx.get<Record<string, unknown>>(`INSERT INTO datasets (name, description, created_by) VALUES ($1, $2, $3) RETURNING ${COLUMNS}`, [d.name, d.description, d.createdBy]);
  return dataset(row!);
}

export async function findDataset(db: Queryable, name: string): Promise<DatasetRow | undefined> {
  const row = await db.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM datasets WHERE name = $1`, [name]);
  return row && dataset(row);
}

export async function lockDataset(tx: Transaction, name: string): Promise<DatasetRow | undefined> {
  const row = await tx.get<Record<string, unknown>>(`SELECT ${COLUMNS} FROM datasets WHERE name = $1${tx.sql.forUpdate}`, [name]);
  return row && dataset(row);
}

export async function listDatasets(db: Queryable, f: { after?: string | undefined; limit: number }): Promise<DatasetRow[]> {
  const rows = await db.all<Record<string, unknown>>(`SELECT ${COLUMNS} FROM datasets WHERE ($1::text IS NULL OR name > $1::text) ORDER BY name LIMIT $2`, [f.after ?? null, f.limit]);
  return rows.map(dataset);
}

export async function deleteDataset(tx: Transaction, id: string): Promise<void> {
  await tx.run('DELETE FROM dataset_items WHERE dataset_id = $1', [id]);
  await tx.run('DELETE FROM datasets WHERE id = $1', [id]);
}

const ROWS_PER_INSERT = 500;

/** Appends items after the dataset's last one, as version `version`; the caller holds the dataset's lock and bumps it. */
export async function insertItems(
  tx: Transaction,
  d: { datasetId: string; firstSeq: number; version: number; createdBy: string },
  items: ReadonlyArray<ItemInput & { sourceExecutionId?: string }>,
): Promise<void> {
  for (let start = 0; start < items.length; start += ROWS_PER_INSERT) {
    const chunk = items.slice(start, start + ROWS_PER_INSERT);
    const params: unknown[] = [];
    const values = chunk.map((it, i) => {
      const p = params.length;
      params.push(
        d.datasetId,
        d.firstSeq + start + i,
        d.version,
        JSON.stringify(it.input),
        it.expected === undefined ? null : JSON.stringify(it.expected),
        JSON.stringify(it.metadata ?? {}),
        it.sourceExecutionId ?? null,
        d.createdBy,
      );
      return `(${Array.from({ length: 8 }, (_, k) => `$${p + k + 1}`).join(', ')})`;
    });
    await tx.run(`INSERT INTO dataset_items (dataset_id, seq, added_in, input, expected, metadata, source_execution_id, created_by) VALUES ${values.join(', ')}`, params);
  }
}

export async function bumpDataset(tx: Transaction, id: string, added: number, at: string): Promise<DatasetRow> {
  const row = await tx.get<Record<string, unknown>>(
    `UPDATE datasets SET version = version + 1, item_count = item_count + $2, updated_at = $3 WHERE id = $1 RETURNING ${COLUMNS}`,
    [id, added, at],
  );
  return dataset(row!);
}

/** Items of the dataset as of `version` (all when undefined), by position, after `afterSeq`. */
export async function listItems(db: Queryable, datasetId: string, f: { version?: number | undefined; afterSeq?: number | undefined; limit: number }): Promise<ItemRow[]> {
  const rows = await db.all<Record<string, unknown>>(
    `SELECT ${ITEM_COLUMNS} FROM dataset_items
      WHERE dataset_id = $1 AND ($2::int IS NULL OR added_in <= $2::int) AND ($3::int IS NULL OR seq > $3::int)
      ORDER BY seq LIMIT $4`,
    [datasetId, f.version ?? null, f.afterSeq ?? null, f.limit],
  );
  return rows.map(item);
}
