import type { Dialect } from '../../db/index.js';
import { PostgresExecutionStore } from './postgres.js';
import { SqliteExecutionStore } from './sqlite.js';
import type { ExecutionStore } from './types.js';

export type * from './types.js';

// One stateless store per dialect, chosen by a lookup, not by branches in the callers.
const STORES: Record<Dialect, ExecutionStore> = { postgres: new PostgresExecutionStore(), sqlite: new SqliteExecutionStore() };

/** The execution storage of a database's dialect. */
export function executionStore(dialect: Dialect): ExecutionStore {
  return STORES[dialect];
}
