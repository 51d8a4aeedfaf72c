import type { z } from 'zod';
import { recordAudit } from '../audit/repository.js';
import { requireScope, type Principal } from '../auth/principal.js';
import type { Database } from '../db/index.js';
import { conflict, invalid, notFound } from '../errors.js';
import type { ExecutionService } from '../executions/service.js';
import { parseCsv, parseJsonl, toCsv } from './formats.js';
import * as repo from './repository.js';
import type { DatasetRow, ItemRow } from './repository.js';
import type { addedSchema, datasetSchema, ItemInput } from './schemas.js';

export type DatasetView = z.infer<typeof datasetSchema>;
export type Added = z.infer<typeof addedSchema>;

const view = (d: DatasetRow): DatasetView => ({ ...d });

/**
 * Datasets: named collections of items, versioned by appending. Every change
 * (items added, a file imported) makes the next version in one transaction;
 * version N is the items added up to it, so an experiment can name what it ran on.
 */
export class DatasetService {
  constructor(
    private readonly db: Database,
    private readonly executions: ExecutionService,
  ) {}

  async create(actor: Principal, input: { name: string; description?: string | null | undefined }): Promise<DatasetView> {
    return this.db.transaction(async (tx) => {
      if (await repo.findDataset(tx, input.name)) throw conflict('dataset_exists', `a dataset named "${input.name}" exists already`, { dataset: input.name });
      const row = await repo.insertDataset(tx, { name: input.name, description: input.description ?? null, createdBy: actor.name });
      await recordAudit(tx, actor, { action: 'dataset.created', targetId: row.id, details: { name: row.name } });
      return view(row);
    });
  }

  private async require(name: string): Promise<DatasetRow> {
    const row = await repo.findDataset(this.db, name);
    if (!row) throw notFound('dataset_not_found', `no dataset named "${name}"`, { dataset: name });
    return row;
  }

  async get(name: string): Promise<DatasetView> {
    return view(await this.require(name));
  }

  async list(f: { after?: string | undefined; limit: number }): Promise<DatasetView[]> {
    return (await repo.listDatasets(this.db, f)).map(view);
  }

  async remove(actor: Principal, name: string): Promise<DatasetView> {
    return this.db.transaction(async (tx) => {
      const current = await repo.lockDataset(tx, name);
      if (!current) throw notFound('dataset_not_found', `no dataset named "${name}"`, { dataset: name });
      await repo.deleteDataset(tx, current.id);
      await recordAudit(tx, actor, { action: 'dataset.deleted', targetId: current.id, details: { name, item_count: current.item_count } });
      return view(current);
    });
  }

  /** Appends the items as the next version, all or none. */
  async add(actor: Principal, name: string, items: ReadonlyArray<ItemInput & { sourceExecutionId?: string }>, how: string): Promise<Added> {
    return this.db.transaction(async (tx) => {
      const current = await repo.lockDataset(tx, name);
      if (!current) throw notFound('dataset_not_found', `no dataset named "${name}"`, { dataset: name });
      const version = current.version + 1;
      await repo.insertItems(tx, { datasetId: current.id, firstSeq: current.item_count + 1, version, createdBy: actor.name }, items);
      const updated = await repo.bumpDataset(tx, current.id, items.length, new Date().toISOString());
      await recordAudit(tx, actor, { action: 'dataset.items_added', targetId: current.id, details: { name, version, added: items.length, how } });
      return { dataset: name, version: updated.version, added: items.length, item_count: updated.item_count };
    });
  }

  /** Parses the whole file first: a bad row refuses it, naming its line, before anything is stored. */
  async import(actor: Principal, name: string, format: 'jsonl' | 'csv', text: string): Promise<Added> {
    await this.require(name);
    const items = format === 'csv' ? parseCsv(text) : parseJsonl(text);
    if (items.length === 0) throw invalid('empty_import', `the ${format === 'csv' ? 'CSV' : 'JSON Lines'} file has no items`);
    return this.add(actor, name, items, `import:${format}`);
  }

  /**
   * "Add to dataset": an item from a logged execution, its variables as the input and (unless
   * given) its response as the expected output. Reading them needs executions:read.
   */
  async addFromExecution(actor: Principal, name: string, executionId: string, body: { expected?: unknown; metadata?: Record<string, unknown> | undefined }): Promise<Added & { item: ItemRow }> {
    requireScope(actor, 'executions:read');
    await this.require(name);
    const e = await this.executions.get(executionId);
    if (e.input_variables === null && e.redacted_at) {
      throw invalid('execution_redacted', `execution ${executionId} had its variables removed by retention; it cannot become an item`, { execution: executionId });
    }
    const item: ItemInput & { sourceExecutionId: string } = {
      input: e.input_variables ?? {},
      expected: body.expected !== undefined ? body.expected : (e.response ?? undefined),
      metadata: { source_execution: executionId, prompt: e.prompt, version: e.version, ...body.metadata },
      sourceExecutionId: executionId,
    };
    const added = await this.add(actor, name, [item], 'from-execution');
    const [row] = await repo.listItems(this.db, (await this.require(name)).id, { afterSeq: added.item_count - 1, limit: 1 });
    return { ...added, item: row! };
  }

  async items(name: string, f: { version?: number | undefined; afterSeq?: number | undefined; limit: number }): Promise<ItemRow[]> {
    const d = await this.require(name);
    if (f.version !== undefined && f.version > d.version) throw notFound('dataset_version_not_found', `dataset "${name}" has no version ${f.version} (its latest is ${d.version})`, { dataset: name, version: f.version });
    return repo.listItems(this.db, d.id, f);
  }

  /** The items of a version (default: the latest) as JSON Lines or CSV. */
  async export(name: string, format: 'jsonl' | 'csv', version: number | undefined): Promise<string> {
    const all: ItemRow[] = [];
    for (let afterSeq: number | undefined; ; ) {
      const page = await this.items(name, { version, afterSeq, limit: 1_000 });
      all.push(...page);
      if (page.length < 1_000) break;
      afterSeq = page[page.length - 1]!.seq;
    }
    if (format === 'csv') return toCsv(all);
    return all.map((i) => JSON.stringify({ input: i.input, ...(i.expected !== null ? { expected: i.expected } : {}), metadata: i.metadata })).join('\n') + (all.length ? '\n' : '');
  }
}
