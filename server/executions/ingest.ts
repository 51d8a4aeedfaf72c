import { randomUUID } from 'node:crypto';
import type { Database, Transaction } from '../db/index.js';
import type { DeploymentService } from '../deployments/service.js';
import { AppError, invalid } from '../errors.js';
import { MAX_BATCH, type ExecutionInput } from './ingest-schemas.js';
import { VersionReferences } from './references.js';
import type { ExecutionRecord, ExecutionStore } from './store/index.js';

const DAY = 86_400_000;
/** Clocks differ: an execution may say it ran up to a day in the future. */
const FUTURE_TOLERANCE_MS = DAY;

export interface RowIssue {
  index: number;
  issues: Array<{ path: string; message: string }>;
}

/**
 * A batch refused whole: every bad row with its index and what is wrong,
 * also flattened into `issues` (with the index in each path) as other 400s have.
 */
export function invalidRows(rows: RowIssue[], total: number): AppError {
  const sorted = [...rows].sort((a, b) => a.index - b.index);
  const first = sorted[0]!;
  const what = total === 1 ? 'the execution is invalid' : `${sorted.length} of ${total} executions are invalid`;
  return invalid('invalid_executions', `${what}; nothing was stored. [${first.index}] ${first.issues[0]?.path ?? ''}: ${first.issues[0]?.message ?? ''}`, {
    rows: sorted,
    issues: sorted.flatMap((r) => r.issues.map((i) => ({ path: `[${r.index}]${i.path === '(row)' ? '' : `.${i.path}`}`, message: i.message }))),
  });
}

export function emptyBatch(): AppError {
  return invalid('invalid_executions', 'the batch is empty: send one execution, or an array of 1 to 1,000', { rows: [], issues: [] });
}

export function batchTooLarge(count: number): AppError {
  return new AppError('too_large', 'batch_too_large', `a batch holds at most ${MAX_BATCH} executions; this one has ${count}: split it`, {
    max: MAX_BATCH,
    count,
  });
}

/** A batch as the schema left it: each row parsed, or undefined with its problems in `invalid`. */
export interface Batch {
  rows: Array<ExecutionInput | undefined>;
  invalid: RowIssue[];
}

export interface IngestResult {
  accepted: number;
  inserted: number;
  duplicates: number;
  ids: string[];
}

/** Logging executions: checking a batch, resolving what each row names, storing it all or nothing. */
export class ExecutionIngest {
  private readonly references: VersionReferences;
  /** Batches stored, rows inserted and duplicate rows skipped since start, for the operator metrics. */
  readonly ingested = { batches: 0, rows: 0, duplicates: 0 };
  /** Called with each batch once it is stored (rollout guards); a listener must not throw. */
  readonly onStored: Array<(records: readonly ExecutionRecord[]) => void> = [];

  constructor(
    private readonly db: Database,
    private readonly store: ExecutionStore,
    private readonly deployments: DeploymentService,
  ) {
    this.references = new VersionReferences(db, store);
  }

  /**
   * Stores a batch, all of it or nothing. Every reference is resolved first;
   * any bad row refuses the batch, naming each bad row. An id already stored
   * is not stored again.
   */
  async ingest(batch: Batch): Promise<IngestResult> {
    const records = await this.records(batch);
    return this.stored(records, await this.store.insert(this.db, records));
  }

  /**
   * Stores a batch like `ingest`, in a transaction that `more` then continues: what belongs with the
   * executions is committed with them, in one commit. Answers what `more` answered.
   */
  async ingestWith<T>(batch: Batch, more: (tx: Transaction) => Promise<T>): Promise<T> {
    const records = await this.records(batch);
    const { inserted, result } = await this.store.insertWith(this.db, records, more);
    this.stored(records, inserted);
    return result;
  }

  /** The batch checked, each row resolved to what it names: the records to store. */
  private async records(batch: Batch): Promise<ExecutionRecord[]> {
    if (batch.rows.length > MAX_BATCH) throw batchTooLarge(batch.rows.length);
    const now = Date.now();
    const nowIso = new Date(now).toISOString();
    const problems = new Map<number, RowIssue['issues']>(batch.invalid.map((r) => [r.index, [...r.issues]]));
    const flag = (index: number, path: string, message: string) => {
      const list = problems.get(index) ?? [];
      list.push({ path, message });
      problems.set(index, list);
    };
    // Rows the schema refused take no further part; they are reported with the rest.
    const inputs = batch.rows;
    const executedAt = inputs.map((e) => e?.executed_at ?? nowIso);
    inputs.forEach((e, i) => {
      if (!e || problems.has(i)) return;
      if (e.environment !== undefined && !this.deployments.environments.includes(e.environment)) {
        flag(i, 'environment', `unknown environment "${e.environment}"; this registry has: ${this.deployments.environments.join(', ')}`);
      }
      if (Date.parse(executedAt[i]!) > now + FUTURE_TOLERANCE_MS) flag(i, 'executed_at', 'is more than a day in the future');
    });

    const refs = await this.references.resolve(inputs, executedAt, problems.size ? new Set(problems.keys()) : undefined, flag);
    if (problems.size) throw invalidRows([...problems].map(([index, issues]) => ({ index, issues })), inputs.length);

    return inputs.map((input, i) => {
      const [e, ref] = [input!, refs[i]!];
      return {
        id: e.id ?? randomUUID(),
        prompt_version_id: ref.id,
        prompt_id: ref.prompt_id,
        executed_at: executedAt[i]!,
        environment: e.environment ?? null,
        status: e.status ?? (e.error ? 'error' : 'ok'),
        error: e.error ?? null,
        input_variables: e.input_variables ?? null,
        rendered_prompt: e.rendered_prompt ?? null,
        response: e.response ?? null,
        input_tokens: e.input_tokens ?? null,
        output_tokens: e.output_tokens ?? null,
        latency_ms: e.latency_ms ?? null,
        cost_usd: e.cost_usd ?? null,
        quality_score: e.quality_score ?? null,
        metadata: e.metadata ?? '{}',
        messages: e.messages ?? null,
        response_messages: e.response_messages ?? null,
        tool_calls: e.tool_calls ?? null,
        partials_used: e.partials_used ?? null,
      };
    });
  }

  private stored(records: ExecutionRecord[], inserted: number): IngestResult {
    for (const listener of this.onStored) listener(records);
    this.ingested.batches++;
    this.ingested.rows += inserted;
    this.ingested.duplicates += records.length - inserted;
    return { accepted: records.length, inserted, duplicates: records.length - inserted, ids: records.map((r) => r.id) };
  }
}
