import type { Database, Queryable, Transaction } from '../../db/index.js';
import type { Interval } from '../schemas.js';

/** An execution as stored: every column, resolved and serialised. */
export interface ExecutionRecord {
  id: string;
  prompt_version_id: string;
  prompt_id: string;
  executed_at: string;
  environment: string | null;
  status: 'ok' | 'error';
  error: string | null;
  /** JSON text, or null. */
  input_variables: string | null;
  rendered_prompt: string | null;
  response: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  cost_usd: number | null;
  quality_score: number | null;
  /** JSON text. */
  metadata: string;
  /** JSON text, or null (chat executions; absent: null). */
  messages?: string | null;
  response_messages?: string | null;
  tool_calls?: string | null;
  partials_used?: string | null;
}

/** A version, the prompt it belongs to, and its number. */
export interface VersionRef {
  id: string;
  prompt_id: string;
  prompt: string;
  version_number: number;
}

export interface DeploymentAt {
  prompt_id: string;
  environment: string;
  version_id: string;
  version_number: number;
  deployed_at: string;
  seq: number;
}

export interface DeploymentWindow {
  promptId: string;
  environment: string;
  first: string;
  last: string;
}

export interface ExecutionRow {
  id: string;
  prompt: string | null;
  version: number | null;
  prompt_version_id: string | null;
  environment: string | null;
  executed_at: string;
  status: 'ok' | 'error';
  error: string | null;
  input_tokens: number | null;
  output_tokens: number | null;
  latency_ms: number | null;
  cost_usd: number | null;
  quality_score: number | null;
  metadata: Record<string, unknown>;
  redacted_at: string | null;
}

export interface ExecutionDetailRow extends ExecutionRow {
  input_variables: Record<string, unknown> | null;
  rendered_prompt: string | null;
  response: string | null;
  messages: Array<Record<string, unknown>> | null;
  response_messages: Array<Record<string, unknown>> | null;
  tool_calls: Array<Record<string, unknown>> | null;
  partials_used: Array<{ prompt: string; version: number; version_id?: string }> | null;
}

export interface ExecutionFilter {
  promptId?: string | undefined;
  versionId?: string | undefined;
  environment?: string | undefined;
  from?: string | undefined;
  to?: string | undefined;
  status?: 'ok' | 'error' | undefined;
  qualityMin?: number | undefined;
  qualityMax?: number | undefined;
  metricId?: string | undefined;
  metricMin?: number | undefined;
  metricMax?: number | undefined;
  /** Executions older than this (executed_at, id): the cursor. */
  before?: [string, string] | undefined;
  limit: number;
}

/** Counts and sums of one group of executions; means are computed from them. */
export interface Aggregate {
  count: number;
  errors: number;
  latency: { n: number; sum: number };
  input_tokens: { n: number; sum: number };
  output_tokens: { n: number; sum: number };
  cost_usd: { n: number; sum: number };
  quality_score: { n: number; sum: number };
}

export interface StatsWindow {
  promptId: string;
  environment: string | null;
  from: string;
  to: string;
}

/**
 * Counts and sums of one version in one bucket (hour or day), as the store
 * answers them, with the latencies of the same executions. A bucket may come
 * in several parts (whole days, whole hours, part-hours), which add up.
 */
export interface BucketAggregate {
  version_id: string;
  version_number: number;
  /** The bucket's start, ISO UTC. */
  start: string;
  aggregate: Aggregate;
  /** The latencies of the part's executions, comma-separated (null: none). */
  latencies: string | null;
}

/** One month partition of prompt_executions (Postgres): [from, to). */
export interface Partition {
  name: string;
  from: string;
  to: string;
}

/** Executions of one (prompt, environment) in a partition. */
export interface PartitionCount {
  prompt_id: string | null;
  environment: string | null;
  count: number;
}

/** Time partitions of prompt_executions: months on Postgres; SQLite has none. */
export interface ExecutionPartitions {
  /** Makes sure executions at these times can be stored: creates the month partitions missing. */
  ensure(db: Queryable, times: readonly string[]): Promise<void>;
  /** Every partition, oldest first. */
  list(db: Queryable): Promise<Partition[]>;
  /**
   * A partition's executions per (prompt, environment), drafts included, from
   * the hourly totals; the partition is locked against writes until the
   * transaction ends, so the counts hold for a drop in the same transaction.
   */
  counts(tx: Transaction, p: Partition): Promise<PartitionCount[]>;
  /** Detaches and drops a partition, with its hourly totals and its executions' scores. */
  drop(tx: Transaction, p: Partition): Promise<void>;
}

/**
 * Where executions live, one implementation per dialect: what differs between
 * Postgres and SQLite (bulk inserts, list parameters, time buckets, rollups,
 * partitions) is written once in each, and the services above call this.
 */
export interface ExecutionStore {
  readonly partitions: ExecutionPartitions;
  /** Stores the records, all or none; answers how many were new (an id stored already is skipped). */
  insert(db: Database, records: readonly ExecutionRecord[]): Promise<number>;
  /**
   * Stores the records like `insert`, in a transaction that `more` then continues (what belongs with
   * them, one commit for both: an experiment's results and scores); answers how many were new and
   * what `more` answered.
   */
  insertWith<T>(db: Database, records: readonly ExecutionRecord[], more: (tx: Transaction) => Promise<T>): Promise<{ inserted: number; result: T }>;
  versionsByIds(db: Queryable, ids: readonly string[]): Promise<VersionRef[]>;
  versionsByNumbers(db: Queryable, pairs: ReadonlyArray<{ prompt: string; version: number }>): Promise<VersionRef[]>;
  promptsByNames(db: Queryable, names: readonly string[]): Promise<Array<{ id: string; name: string }>>;
  /**
   * The deployments that may have been live in an environment during
   * [first, last]: the last one deployed at or before `first`, and every one
   * after it up to `last`. Ordered by deployment time, then position.
   */
  deploymentsDuring(db: Queryable, windows: readonly DeploymentWindow[]): Promise<DeploymentAt[]>;
  /** Executions, newest first, without their large text fields. */
  list(db: Queryable, f: ExecutionFilter): Promise<ExecutionRow[]>;
  get(db: Queryable, id: string): Promise<ExecutionDetailRow | undefined>;
  /** Counts, sums and latencies per version and bucket over a window, draft runs left out. */
  bucketAggregates(db: Queryable, w: StatsWindow, interval: Interval): Promise<BucketAggregate[]>;
  /** Per version totals for some versions, draft runs left out; bounds optional (null: unbounded). */
  versionAggregates(
    db: Queryable,
    f: { versionIds: readonly string[]; environment: string | null; from: string | null; to: string | null },
  ): Promise<Map<string, Aggregate>>;
}

export type { Transaction };
