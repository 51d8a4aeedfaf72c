import type { Database, Transaction } from '../db/index.js';
import type { DeploymentService } from '../deployments/service.js';
import type { MetricService } from '../metrics/service.js';
import { ExecutionIngest, type Batch } from './ingest.js';
import { ExecutionQueries } from './query.js';
import { ExecutionStatistics } from './statistics.js';
import { executionStore, type ExecutionStore } from './store/index.js';

export { batchTooLarge, emptyBatch, invalidRows, type Batch, type IngestResult, type RowIssue } from './ingest.js';
export { round } from './statistics.js';

/**
 * Execution logs, one feature in three parts: ingest (ingest.ts), reading
 * back (query.ts) and statistics (statistics.ts), over the dialect's store
 * (store/). Retention lives in server/retention.
 */
export class ExecutionService {
  readonly store: ExecutionStore;
  private readonly ingestion: ExecutionIngest;
  private readonly queries: ExecutionQueries;
  private readonly statistics: ExecutionStatistics;

  constructor(db: Database, deployments: DeploymentService, metrics: MetricService) {
    this.store = executionStore(db.dialect);
    this.ingestion = new ExecutionIngest(db, this.store, deployments);
    this.queries = new ExecutionQueries(db, this.store, deployments, metrics);
    this.statistics = new ExecutionStatistics(db, this.store, deployments);
  }

  /** Batches stored, rows inserted and duplicate rows skipped since start, for the operator metrics. */
  get ingested() {
    return this.ingestion.ingested;
  }

  /** Called with each batch once it is stored (rollout guards); a listener must not throw. */
  get onStored() {
    return this.ingestion.onStored;
  }

  ingest(batch: Batch) {
    return this.ingestion.ingest(batch);
  }

  ingestWith<T>(batch: Batch, more: (tx: Transaction) => Promise<T>): Promise<T> {
    return this.ingestion.ingestWith(batch, more);
  }

  list(...args: Parameters<ExecutionQueries['list']>) {
    return this.queries.list(...args);
  }

  get(id: string) {
    return this.queries.get(id);
  }

  stats(...args: Parameters<ExecutionStatistics['stats']>) {
    return this.statistics.stats(...args);
  }

  compare(...args: Parameters<ExecutionStatistics['compare']>) {
    return this.statistics.compare(...args);
  }
}
