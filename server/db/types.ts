import type { AfterCommitErrorHandler } from './after-commit.js';
import type { Sql } from './sql.js';

/**
 * The storage contract both dialects implement. SQL is written once with
 * Postgres-style `$1` placeholders; the SQLite adapter rewrites them.
 */
export type Dialect = 'postgres' | 'sqlite';

export type Row = Record<string, unknown>;

export interface Queryable {
  readonly dialect: Dialect;
  /** The fragments of SQL that differ by dialect (locks, lists, case-insensitive matching): see ./sql.ts. */
  readonly sql: Sql;
  all<T = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly unknown[]): Promise<T | undefined>;
  /** Runs a statement and answers how many rows it changed. */
  run(sql: string, params?: readonly unknown[]): Promise<number>;
}

declare const transactionBrand: unique symbol;

/**
 * A connection inside an open transaction. Functions that write several rows
 * or lock take a Transaction, so the caller decides where the transaction ends.
 */
export interface Transaction extends Queryable {
  readonly [transactionBrand]: true;
  /**
   * Runs `fn` once the transaction has committed (never if it rolls back). An error it throws is
   * reported to the database's after-commit error handler with `what`, never to the caller.
   */
  afterCommit(what: string, fn: () => void): void;
  /**
   * Tells the other processes listening on `channel` (Postgres NOTIFY), once the transaction commits.
   * SQLite has one process, so it tells no one.
   */
  notify(channel: string, payload: string): Promise<void>;
  /** Runs a script of several statements without parameters (migrations). */
  exec(script: string): Promise<void>;
  /**
   * Postgres only: streams text-format rows into `COPY ... FROM STDIN`, pulling
   * each chunk as the connection takes it; answers the rows copied.
   */
  copyFrom?(sql: string, chunks: Iterable<string>): Promise<number>;
}

/** A Postgres pool's connections right now, and how many idle connections have failed since start. */
export interface PoolStats {
  total: number;
  idle: number;
  waiting: number;
  max: number;
  idleErrors: number;
}

export interface Database extends Queryable {
  /** The driver underneath: pg, node (node:sqlite) or better-sqlite3. */
  readonly driver: string;
  transaction<T>(fn: (tx: Transaction) => Promise<T>): Promise<T>;
  /** Where after-commit work that threw is reported (stderr until set). */
  onAfterCommitError(handler: AfterCommitErrorHandler): void;
  /**
   * Subscribes to change notifications from other processes (Postgres
   * LISTEN/NOTIFY). SQLite has one process, so it never calls back. `onResumed`: the subscription was
   * lost and is back (Postgres reconnected); notifications in between were missed.
   */
  listen(channel: string, onNotify: (payload: string) => void, onResumed?: () => void): Promise<void>;
  /**
   * Why a write would fail now, or undefined: Postgres read-only (a standby); SQLite's file or directory
   * not writable, or its volume full. For the readiness check.
   */
  writeProblem(): Promise<string | undefined>;
  close(): Promise<void>;
  /** Postgres only: the connection pool's use, for the operator metrics. */
  poolStats?(): PoolStats;
}
