/** Recognises driver errors by their codes, never by class names or message text. */

interface DriverError {
  code?: unknown;
  constraint?: unknown;
  message?: unknown;
}

function driverCode(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const code = (err as DriverError).code;
  return typeof code === 'string' ? code : undefined;
}

export function isUniqueViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

export function isForeignKeyViolation(err: unknown): boolean {
  const code = driverCode(err);
  return code === '23503' || code === 'SQLITE_CONSTRAINT_FOREIGNKEY';
}

/** Postgres serialization failures and deadlocks, and SQLite's busy database: safe to retry. */
export function isRetryable(err: unknown): boolean {
  const code = driverCode(err);
  return code === '40001' || code === '40P01' || code === 'SQLITE_BUSY';
}

/** The constraint or index a unique violation hit, when the driver says. */
export function violatedConstraint(err: unknown): string | undefined {
  if (typeof err !== 'object' || err === null) return undefined;
  const { constraint, message } = err as DriverError;
  if (typeof constraint === 'string') return constraint;
  // SQLite names the columns, not the index: "UNIQUE constraint failed: prompts.name".
  if (typeof message === 'string') {
    const m = /constraint failed: (.+)$/.exec(message);
    if (m) return m[1];
  }
  return undefined;
}

/** SQLite's primary result code: node:sqlite gives it as `errcode` (extended codes keep it in the low byte). */
function sqlitePrimary(err: unknown): number | undefined {
  const errcode = (err as { errcode?: unknown } | null)?.errcode;
  return typeof errcode === 'number' ? errcode & 0xff : undefined;
}

/** No space left for the database: SQLite's SQLITE_FULL, Postgres's disk_full, the OS's ENOSPC. */
export function isStorageFull(err: unknown): boolean {
  const code = driverCode(err);
  return code === 'SQLITE_FULL' || code === '53100' || code === 'ENOSPC' || sqlitePrimary(err) === 13;
}

/** The database may not be written: a read-only file or folder, or a read-only Postgres. */
export function isReadOnlyStorage(err: unknown): boolean {
  const code = driverCode(err);
  return code?.startsWith('SQLITE_READONLY') === true || code === '25006' || code === 'EROFS' || sqlitePrimary(err) === 8;
}
