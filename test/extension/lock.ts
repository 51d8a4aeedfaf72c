/**
 * A lock shared between processes: a directory made atomically, holding the
 * owner's pid. One left by a process that is gone is taken over.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Waits up to `maxWaitMs` for `lock`; resolves with its release. `what` is for messages on stderr. */
export async function acquireDirLock(lock: string, what: string, maxWaitMs: number): Promise<() => void> {
  const deadline = Date.now() + maxWaitMs;
  let said = false;
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, 'pid'), String(process.pid));
      return () => rmSync(lock, { recursive: true, force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    let owner = NaN;
    try {
      owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
    } catch {
      // made but not written yet: give its owner a moment
    }
    if (Number.isInteger(owner) && owner > 0 && owner !== process.pid && !pidAlive(owner)) {
      process.stderr.write(`[e2e] taking over ${lock} from process ${owner}, which is gone\n`);
      rmSync(lock, { recursive: true, force: true });
      continue;
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${maxWaitMs} ms waiting for ${lock} (held by process ${owner}) for ${what}`);
    if (!said) process.stderr.write(`[e2e] waiting for ${lock} (held by process ${owner}) before ${what}\n`);
    said = true;
    await new Promise((r) => setTimeout(r, 500));
  }
}
