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

/**
 * The code our Postgres adapter gives the driver's own connection failures (a connection timeout, a
 * connection ended mid-query, a query read timeout), which pg throws without a code.
 */
export const CONNECTION_FAILED = 'PR_CONNECTION_FAILED';

/** Socket errors: the database host refuses, resets, times out or cannot be found. */
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'EPIPE']);

/**
 * Postgres SQLSTATEs meaning "not now" rather than "not this request": class 08 (connection exceptions),
 * 53300 too many connections, 57014 statement timeout (query_canceled), 57P01 admin shutdown,
 * 57P02 crash shutdown, 57P03 cannot connect now.
 */
const POSTGRES_UNAVAILABLE = new Set(['08000', '08001', '08003', '08004', '08006', '53300', '57014', '57P01', '57P02', '57P03']);

/** The database cannot answer right now (unreachable, overloaded, timed out): a retry later may succeed. */
export function isDatabaseUnavailable(err: unknown): boolean {
  const code = driverCode(err);
  if (code === undefined) return false;
  // SQLite's busy timeout ran out: another writer held the lock the whole time.
  return code === CONNECTION_FAILED || SOCKET_CODES.has(code) || POSTGRES_UNAVAILABLE.has(code) || code === 'SQLITE_BUSY';
}
