/**
 * Holds a SQLite database's write lock from another process, for busy-timeout
 * tests: `node --import tsx test/support/sqlite-lock-holder.ts FILE MS` takes
 * the lock (BEGIN IMMEDIATE, through the driver the server would use), prints
 * "locked", keeps it MS milliseconds, commits and prints "released".
 */
import { loadSqliteDriver } from '../../server/db/sqlite-driver.js';

const [path, ms] = process.argv.slice(2);
if (!path || !ms) throw new Error('usage: sqlite-lock-holder.ts FILE MS');
const db = (await loadSqliteDriver()).open(path, { readonly: false });
db.exec('BEGIN IMMEDIATE');
process.stdout.write('locked\n');
// Blocks this process only: the lock is held however busy the test's event loop is.
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, Number(ms));
db.exec('COMMIT');
db.close();
process.stdout.write('released\n');
