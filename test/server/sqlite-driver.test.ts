import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { openDatabase, type Database } from '../../server/db/index.js';
import { isForeignKeyViolation, isUniqueViolation, violatedConstraint } from '../../server/db/errors.js';
import { migrate } from '../../server/db/migrate.js';
import { loadSqliteDriver, sqliteCodeName, sqliteDriverChoice } from '../../server/db/sqlite-driver.js';
import { freshDatabase, type TestDatabase } from '../support/db.js';
import { freePort, killGroup, run, start, waitForHealthy, type Spawned } from '../support/process.js';
import { eventually } from '../support/wait.js';

// `npm test` runs this file on Node 20 (better-sqlite3) and on Node 24 (node:sqlite), naming the driver in the env.
const NODE_SQLITE: string = 'node:sqlite';
const hasNodeSqlite = await import(NODE_SQLITE).then(() => true, () => false);
const warnsOnNodeSqlite = hasNodeSqlite && /ExperimentalWarning: SQLite/.test((await run(process.execPath, ['-e', `require(${JSON.stringify(NODE_SQLITE)})`])).output);
const betterFailure = await loadSqliteDriver('better-sqlite3').then(
  () => undefined,
  (err: unknown) => err as Error,
);
const choice = sqliteDriverChoice();
const expected = choice === 'auto' ? (hasNodeSqlite ? 'node' : 'better-sqlite3') : choice;

describe(`SQLite driver (${expected}, Node.js ${process.versions.node})`, () => {
  let t: TestDatabase;
  let db: Database;
  let file: string;
  const procs: Spawned[] = [];

  before(async () => {
    t = await freshDatabase('sqlite');
    file = t.url.slice('sqlite:'.length);
    db = await openDatabase(t.url);
    await migrate(db);
  });
  after(async () => {
    for (const p of procs) killGroup(p);
    await db.close();
    await t.drop();
  });

  it('runs on the driver this runtime is meant to use', () => {
    assert.equal(db.driver, expected);
  });

  it('sets WAL, a busy timeout, synchronous=FULL, foreign keys and a 16 MB page cache on the writer, and all but the write-only ones on the reader', async () => {
    const pragmas = async (q: { get: Database['get'] }) => ({
      journal: (await q.get<{ journal_mode: string }>('PRAGMA journal_mode'))?.journal_mode,
      busy: (await q.get<{ timeout: number }>('PRAGMA busy_timeout'))?.timeout,
      synchronous: (await q.get<{ synchronous: number }>('PRAGMA synchronous'))?.synchronous,
      foreignKeys: (await q.get<{ foreign_keys: number }>('PRAGMA foreign_keys'))?.foreign_keys,
      cacheSize: (await q.get<{ cache_size: number }>('PRAGMA cache_size'))?.cache_size,
    });
    const writer = await db.transaction((tx) => pragmas(tx));
    assert.deepEqual(writer, { journal: 'wal', busy: 5000, synchronous: 2, foreignKeys: 1, cacheSize: -16000 });
    const reader = await pragmas(db);
    assert.equal(reader.journal, 'wal');
    assert.equal(reader.busy, 5000);
    assert.equal(reader.foreignKeys, 1);
    assert.equal(reader.cacheSize, -16000);
  });

  it('waits for another process that holds the write lock, where a connection without a busy timeout is refused with SQLITE_BUSY', async () => {
    const holder = start(process.execPath, ['--import', 'tsx', 'test/support/sqlite-lock-holder.ts', file, '1500']);
    procs.push(holder);
    await eventually(() => holder.output().includes('locked'), 'the other process holds the write lock', 20_000);

    const impatient = (await loadSqliteDriver()).open(file, { readonly: false });
    try {
      impatient.exec('PRAGMA busy_timeout = 0');
      assert.throws(
        () => impatient.exec('BEGIN IMMEDIATE'),
        (err: unknown) => (err as { code?: string }).code === 'SQLITE_BUSY',
        'refused at once, with SQLITE_BUSY',
      );
    } finally {
      impatient.close();
    }

    const changed = await db.transaction((tx) => tx.run("INSERT INTO audit_log (actor, action) VALUES ('test', 'after-the-lock')"));
    assert.equal(changed, 1, 'our write waited for the lock instead of failing');
    assert.equal(await holder.exited, 0, holder.output());
  });

  it('reports unique and foreign-key violations by code, with the columns a unique violation hit', async () => {
    await db.transaction((tx) => tx.run('INSERT INTO prompts (name, created_by) VALUES ($1, $2)', ['taken', 't']));
    const unique = await db.transaction((tx) => tx.run('INSERT INTO prompts (name, created_by) VALUES ($1, $2)', ['taken', 't'])).catch((e: unknown) => e);
    assert.ok(isUniqueViolation(unique), String(unique));
    assert.equal((unique as { code: string }).code, 'SQLITE_CONSTRAINT_UNIQUE');
    assert.equal(violatedConstraint(unique), 'prompts.name');
    const orphan = await db
      .transaction((tx) =>
        tx.run(`INSERT INTO prompt_versions (prompt_id, version_number, content, content_hash, model, created_by) VALUES ($1, 1, 'c', $2, 'm', 't')`, [
          '00000000-0000-4000-8000-000000000000',
          'a'.repeat(64),
        ]),
      )
      .catch((e: unknown) => e);
    assert.ok(isForeignKeyViolation(orphan), String(orphan));
  });

  it('answers plain objects, BLOBs as Buffers, and binds booleans as 0/1 and undefined as NULL', async () => {
    const row = await db.get<{ b: unknown; yes: unknown; no: unknown; absent: unknown; n: unknown }>(
      "SELECT x'0102' AS b, $1 AS yes, $2 AS no, $3 AS absent, 1.5 AS n",
      [true, false, undefined],
    );
    assert.equal(Object.getPrototypeOf(row), Object.prototype);
    assert.ok(Buffer.isBuffer(row!.b));
    assert.deepEqual([...(row!.b as Buffer)], [1, 2]);
    assert.deepEqual({ yes: row!.yes, no: row!.no, absent: row!.absent, n: row!.n }, { yes: 1, no: 0, absent: null, n: 1.5 });
  });

  it('counts the rows a write changed, with or without RETURNING', async () => {
    const plain = await db.transaction((tx) => tx.run("INSERT INTO audit_log (actor, action) VALUES ('a', 'x'), ('b', 'x')"));
    assert.equal(plain, 2);
    const returning = await db.transaction((tx) => tx.run("INSERT INTO audit_log (actor, action) VALUES ('c', 'y'), ('d', 'y'), ('e', 'y') RETURNING id"));
    assert.equal(returning, 3);
  });

  it('rolls back when a statement fails inside a transaction, and the next transaction starts clean', async () => {
    const before = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))!.n);
    await assert.rejects(
      db.transaction(async (tx) => {
        await tx.run("INSERT INTO audit_log (actor, action) VALUES ('half', 'written')");
        await tx.run('INSERT INTO no_such_table VALUES (1)');
      }),
    );
    assert.equal(Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM audit_log'))!.n), before);
    assert.equal(await db.transaction((tx) => tx.run("INSERT INTO audit_log (actor, action) VALUES ('next', 'ok')")), 1);
  });

  it('`serve --sqlite-driver` runs on the driver named, and says so in its start-up line', async () => {
    const port = await freePort();
    const other = await freshDatabase('sqlite');
    try {
      const server = start(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', String(port), '--db', other.url, '--sqlite-driver', expected], {
        PROMPT_REGISTRY_SQLITE_DRIVER: 'bogus-the-flag-wins',
        PROMPT_REGISTRY_ADMIN_KEY: 'driver-test-admin-key-0123456789',
      });
      procs.push(server);
      await waitForHealthy(`http://127.0.0.1:${port}/healthz`, server);
      assert.match(server.output(), new RegExp(`"driver":"${expected}"`));
      killGroup(server, 'SIGTERM');
      await server.exited;
    } finally {
      await other.drop();
    }
  });
});

describe('SQLite driver choice', () => {
  it('names SQLite result codes as better-sqlite3 does', () => {
    assert.equal(sqliteCodeName(5), 'SQLITE_BUSY');
    assert.equal(sqliteCodeName(517), 'SQLITE_BUSY_SNAPSHOT');
    assert.equal(sqliteCodeName(2067), 'SQLITE_CONSTRAINT_UNIQUE');
    assert.equal(sqliteCodeName(1555), 'SQLITE_CONSTRAINT_PRIMARYKEY');
    assert.equal(sqliteCodeName(787), 'SQLITE_CONSTRAINT_FOREIGNKEY');
    assert.equal(sqliteCodeName(13), 'SQLITE_FULL');
    assert.equal(sqliteCodeName(1032), 'SQLITE_READONLY_DBMOVED');
  });

  it('refuses an unknown driver name, from the flag or the environment, saying which exist', async () => {
    assert.throws(() => sqliteDriverChoice('sqlite4'), /unknown SQLite driver "sqlite4": use node .*better-sqlite3, or auto/);
    const flag = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'serve', '--port', '0', '--db', 'sqlite::memory:', '--sqlite-driver', 'sqlite4']);
    assert.equal(flag.code, 1);
    assert.match(flag.output, /unknown SQLite driver "sqlite4"/);
    const env = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'migrate', '--db', 'sqlite::memory:'], { PROMPT_REGISTRY_SQLITE_DRIVER: 'sqlite4' });
    assert.equal(env.code, 1);
    assert.match(env.output, /unknown SQLite driver "sqlite4"/);
  });

  // Each runtime has the tests that apply to it (Node 20 has no node:sqlite; Node 24's better-sqlite3 is built for 20): none is skipped.
  if (warnsOnNodeSqlite) it("keeps Node.js 22's ExperimentalWarning for node:sqlite off the server's stderr", async () => {
    const cli = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'migrate', '--db', 'sqlite::memory:'], { PROMPT_REGISTRY_SQLITE_DRIVER: 'node' });
    assert.equal(cli.code, 0, cli.output);
    assert.doesNotMatch(cli.output, /ExperimentalWarning/);
  });

  if (!hasNodeSqlite) it('without node:sqlite, asking for it names the Node.js version that has it', async () => {
    await assert.rejects(loadSqliteDriver('node'), /node:sqlite is not available in Node\.js .*needs Node\.js 22\.13/);
    const cli = await run(process.execPath, ['--import', 'tsx', 'server/cli.ts', 'migrate', '--db', 'sqlite::memory:'], { PROMPT_REGISTRY_SQLITE_DRIVER: 'node' });
    assert.equal(cli.code, 1);
    assert.match(cli.output, /needs Node\.js 22\.13/);
  });

  if (betterFailure) it('where better-sqlite3 is not built for this runtime, auto takes node:sqlite and asking for better-sqlite3 says why not', async () => {
    const better = betterFailure;
    assert.match(better.message, /better-sqlite3 cannot be loaded in Node\.js .*\(ABI \d+\)/);
    assert.ok(hasNodeSqlite, `with neither driver nothing works: ${better.message}`);
    assert.equal((await loadSqliteDriver('auto')).name, 'node');
  });
});
