/**
 * The two SQLite drivers behind one small interface: the runtime's built-in
 * `node:sqlite` (Node.js 22.13+, 24; no native module to build or ship) and
 * `better-sqlite3` (a native module, for Node.js 20). Each is loaded only when
 * chosen, so a runtime without better-sqlite3 never touches it.
 */
import type BetterSqlite3 from 'better-sqlite3';
import type { Row } from './types.js';

export const SQLITE_DRIVERS = ['node', 'better-sqlite3'] as const;
export type SqliteDriverName = (typeof SQLITE_DRIVERS)[number];
export type SqliteDriverChoice = SqliteDriverName | 'auto';

/** The first Node.js releases whose `node:sqlite` needs no flag. */
export const NODE_SQLITE_MINIMUM = 'Node.js 22.13 (or 23.4, 24)';

export interface SqliteStatement {
  /** Whether the statement answers rows (a SELECT, or a write with RETURNING). */
  readonly returnsRows: boolean;
  all(args: readonly unknown[]): Row[];
  get(args: readonly unknown[]): Row | undefined;
  /** Runs it and answers the rows it changed (for RETURNING: the rows it answered). */
  run(args: readonly unknown[]): number;
}

export interface SqliteConnection {
  prepare(sql: string): SqliteStatement;
  /** Runs a script of statements without parameters. */
  exec(sql: string): void;
  readonly inTransaction: boolean;
  close(): void;
}

export interface SqliteDriver {
  readonly name: SqliteDriverName;
  /** `readonly`: the file must exist, and the connection never writes. */
  open(path: string, options: { readonly: boolean }): SqliteConnection;
}

// --- error codes ------------------------------------------------------------

/** SQLite's result codes, by number; an extended code is `primary | n << 8` for the n-th name in its list. */
const PRIMARY = [
  'OK', 'ERROR', 'INTERNAL', 'PERM', 'ABORT', 'BUSY', 'LOCKED', 'NOMEM', 'READONLY', 'INTERRUPT', 'IOERR', 'CORRUPT',
  'NOTFOUND', 'FULL', 'CANTOPEN', 'PROTOCOL', 'EMPTY', 'SCHEMA', 'TOOBIG', 'CONSTRAINT', 'MISMATCH', 'MISUSE', 'NOLFS',
  'AUTH', 'FORMAT', 'RANGE', 'NOTADB', 'NOTICE', 'WARNING',
];
const EXTENDED: Record<string, string[]> = {
  OK: ['LOAD_PERMANENTLY', 'SYMLINK'],
  ERROR: ['MISSING_COLLSEQ', 'RETRY', 'SNAPSHOT'],
  ABORT: ['ROLLBACK'],
  BUSY: ['RECOVERY', 'SNAPSHOT', 'TIMEOUT'],
  LOCKED: ['SHAREDCACHE', 'VTAB'],
  READONLY: ['RECOVERY', 'CANTLOCK', 'ROLLBACK', 'DBMOVED', 'CANTINIT', 'DIRECTORY'],
  IOERR: [
    'READ', 'SHORT_READ', 'WRITE', 'FSYNC', 'DIR_FSYNC', 'TRUNCATE', 'FSTAT', 'UNLOCK', 'RDLOCK', 'DELETE', 'BLOCKED',
    'NOMEM', 'ACCESS', 'CHECKRESERVEDLOCK', 'LOCK', 'CLOSE', 'DIR_CLOSE', 'SHMOPEN', 'SHMSIZE', 'SHMLOCK', 'SHMMAP', 'SEEK',
    'DELETE_NOENT', 'MMAP', 'GETTEMPPATH', 'CONVPATH', 'VNODE', 'AUTH', 'BEGIN_ATOMIC', 'COMMIT_ATOMIC', 'ROLLBACK_ATOMIC',
    'DATA', 'CORRUPTFS', 'IN_PAGE',
  ],
  CORRUPT: ['VTAB', 'SEQUENCE', 'INDEX'],
  CANTOPEN: ['NOTEMPDIR', 'ISDIR', 'FULLPATH', 'CONVPATH', 'DIRTYWAL', 'SYMLINK'],
  CONSTRAINT: ['CHECK', 'COMMITHOOK', 'FOREIGNKEY', 'FUNCTION', 'NOTNULL', 'PRIMARYKEY', 'TRIGGER', 'UNIQUE', 'VTAB', 'ROWID', 'PINNED', 'DATATYPE'],
  NOTICE: ['RECOVER_WAL', 'RECOVER_ROLLBACK', 'RBU'],
  WARNING: ['AUTOINDEX'],
  AUTH: ['USER'],
};

/** `SQLITE_CONSTRAINT_UNIQUE` for 2067: the name better-sqlite3 puts in `code`. */
export function sqliteCodeName(errcode: number): string {
  const primary = PRIMARY[errcode & 0xff];
  if (primary === undefined) return `SQLITE_UNKNOWN_${errcode}`;
  const extended = errcode >> 8 ? EXTENDED[primary]?.[(errcode >> 8) - 1] : undefined;
  return extended ? `SQLITE_${primary}_${extended}` : `SQLITE_${primary}`;
}

/**
 * node:sqlite says `code: 'ERR_SQLITE_ERROR'` with the number in `errcode`;
 * better-sqlite3 says the name in `code`. Errors leave here as better-sqlite3's
 * do (errcode and errstr kept), so server/db/errors.ts reads one form.
 */
function withSqliteCode(err: unknown): unknown {
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'ERR_SQLITE_ERROR') {
    const { errcode } = err as { errcode?: unknown };
    if (typeof errcode === 'number') (err as { code: string }).code = sqliteCodeName(errcode);
  }
  return err;
}

// --- node:sqlite ------------------------------------------------------------

/** The part of node:sqlite we use (@types/node 20 does not declare it). */
interface NodeSqliteStatement {
  all(...args: unknown[]): Row[];
  get(...args: unknown[]): Row | undefined;
  run(...args: unknown[]): { changes: number | bigint };
  /** Node 22.16+, 23.11+. */
  columns?(): unknown[];
}
interface NodeSqliteDatabase {
  prepare(sql: string): NodeSqliteStatement;
  exec(sql: string): void;
  close(): void;
  /** Node 22.16+, 24. */
  readonly isTransaction?: boolean;
}
interface NodeSqliteModule {
  DatabaseSync: new (path: string, options?: { readOnly?: boolean }) => NodeSqliteDatabase;
}

/**
 * node:sqlite answers rows with a null prototype and BLOBs as Uint8Array;
 * better-sqlite3 answers plain objects and Buffers. Rows leave in the latter form.
 */
function plainRow(row: Row): Row {
  const out: Row = {};
  for (const key in row) {
    const value = row[key];
    out[key] = value instanceof Uint8Array ? Buffer.from(value.buffer, value.byteOffset, value.byteLength) : value;
  }
  return out;
}

/** Before columns() (Node 22.13–22.15): whether SQL answers rows, from its text. */
const ANSWERS_ROWS = /^\s*(SELECT|WITH|VALUES|PRAGMA|EXPLAIN)\b|\bRETURNING\b/i;

function nodeSqliteDriver(mod: NodeSqliteModule): SqliteDriver {
  const statement = (stmt: NodeSqliteStatement, sql: string): SqliteStatement => {
    const returnsRows = typeof stmt.columns === 'function' ? stmt.columns().length > 0 : ANSWERS_ROWS.test(sql);
    return {
      returnsRows,
      all(args) {
        try {
          return stmt.all(...args).map(plainRow);
        } catch (err) {
          throw withSqliteCode(err);
        }
      },
      get(args) {
        try {
          const row = stmt.get(...args);
          return row === undefined ? undefined : plainRow(row);
        } catch (err) {
          throw withSqliteCode(err);
        }
      },
      run(args) {
        try {
          return returnsRows ? stmt.all(...args).length : Number(stmt.run(...args).changes);
        } catch (err) {
          throw withSqliteCode(err);
        }
      },
    };
  };
  return {
    name: 'node',
    open(path, { readonly }) {
      let db: NodeSqliteDatabase;
      try {
        db = new mod.DatabaseSync(path, { readOnly: readonly });
      } catch (err) {
        throw withSqliteCode(err);
      }
      // Where isTransaction is missing (before Node 22.16), we keep the state ourselves.
      let open = false;
      return {
        prepare(sql) {
          try {
            return statement(db.prepare(sql), sql);
          } catch (err) {
            throw withSqliteCode(err);
          }
        },
        exec(sql) {
          try {
            db.exec(sql);
            if (/^\s*BEGIN\b/i.test(sql)) open = true;
            else if (/^\s*(COMMIT|ROLLBACK|END)\b/i.test(sql)) open = false;
          } catch (err) {
            throw withSqliteCode(err);
          }
        },
        get inTransaction() {
          return db.isTransaction ?? open;
        },
        close: () => db.close(),
      };
    },
  };
}

// --- better-sqlite3 ---------------------------------------------------------

function betterSqliteDriver(Database: typeof BetterSqlite3): SqliteDriver {
  return {
    name: 'better-sqlite3',
    open(path, { readonly }) {
      const db = new Database(path, { readonly, fileMustExist: readonly });
      return {
        prepare(sql) {
          const stmt = db.prepare(sql);
          const returnsRows = stmt.reader;
          return {
            returnsRows,
            all: (args) => stmt.all(...args) as Row[],
            get: (args) => stmt.get(...args) as Row | undefined,
            run: (args) => (returnsRows ? stmt.all(...args).length : stmt.run(...args).changes),
          };
        },
        exec: (sql) => void db.exec(sql),
        get inTransaction() {
          return db.inTransaction;
        },
        close: () => void db.close(),
      };
    },
  };
}

// --- choosing ---------------------------------------------------------------

/** The driver asked for: the argument, else PROMPT_REGISTRY_SQLITE_DRIVER, else auto. */
export function sqliteDriverChoice(value: string | undefined = process.env.PROMPT_REGISTRY_SQLITE_DRIVER): SqliteDriverChoice {
  const v = value?.trim() || 'auto';
  if (v === 'auto' || (SQLITE_DRIVERS as readonly string[]).includes(v)) return v as SqliteDriverChoice;
  throw new Error(`unknown SQLite driver "${v}": use node (the runtime's node:sqlite), better-sqlite3, or auto`);
}

const reason = (err: unknown): string => (err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err));

// A module specifier TypeScript does not resolve: @types/node 20 has no node:sqlite.
const NODE_SQLITE: string = 'node:sqlite';

async function loadNode(): Promise<SqliteDriver> {
  try {
    return nodeSqliteDriver((await import(NODE_SQLITE)) as NodeSqliteModule);
  } catch (err) {
    throw new Error(
      `the built-in node:sqlite is not available in Node.js ${process.versions.node} (${reason(err)}): ` +
        `it needs ${NODE_SQLITE_MINIMUM}; Node.js 22.5-22.12 have it only with --experimental-sqlite`,
    );
  }
}

async function loadBetterSqlite3(): Promise<SqliteDriver> {
  try {
    const { default: Database } = await import('better-sqlite3');
    // Importing does not load the native binding; opening does: fail here, not at first use.
    new Database(':memory:').close();
    return betterSqliteDriver(Database);
  } catch (err) {
    throw new Error(
      `better-sqlite3 cannot be loaded in Node.js ${process.versions.node} (ABI ${process.versions.modules}): ${reason(err)}`,
    );
  }
}

const loaded = new Map<SqliteDriverName, Promise<SqliteDriver>>();
function load(name: SqliteDriverName): Promise<SqliteDriver> {
  let driver = loaded.get(name);
  if (!driver) {
    driver = name === 'node' ? loadNode() : loadBetterSqlite3();
    // A failure is not cached: a test or a retry may fix the environment.
    driver.catch(() => loaded.delete(name));
    loaded.set(name, driver);
  }
  return driver;
}

/**
 * The driver to use: the one asked for, or with `auto` node:sqlite where the
 * runtime has it, else better-sqlite3. Fails with what to do when none works.
 */
export async function loadSqliteDriver(choice: SqliteDriverChoice = sqliteDriverChoice()): Promise<SqliteDriver> {
  if (choice !== 'auto') return load(choice);
  const failures: string[] = [];
  for (const name of SQLITE_DRIVERS) {
    try {
      return await load(name);
    } catch (err) {
      failures.push(reason(err));
    }
  }
  throw new Error(
    `no SQLite driver works in Node.js ${process.versions.node}: use ${NODE_SQLITE_MINIMUM} or later, whose built-in ` +
      `node:sqlite needs nothing installed, or Postgres (--db postgres://...). Tried: ${failures.join('; ')}`,
  );
}
