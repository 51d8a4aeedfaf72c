import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from 'pino';

/** Where a first admin key goes when no one is at a terminal to read it. */
export const FIRST_KEY_FILE_NAME = 'first-admin-key';

/**
 * Shows the admin key made on a first start, never through the log stream
 * (log collectors keep it): to the terminal when there is one, else into a
 * file only its owner can read, whose path is logged.
 */
export function announceFirstKey(key: string, opts: { dataDir: string; logger: Logger; terminal?: NodeJS.WriteStream }): void {
  const terminal = opts.terminal ?? process.stderr;
  if (terminal.isTTY) {
    const line = '-'.repeat(72);
    terminal.write(
      `\n${line}\nA first admin API key was created. It is shown this once; keep it safe:\n\n  ${key}\n\n` +
        `Send it as the X-API-Key header. Create narrower keys with: prompt-registry keys create\n${line}\n\n`,
    );
    return;
  }
  const path = join(opts.dataDir, FIRST_KEY_FILE_NAME);
  mkdirSync(opts.dataDir, { recursive: true, mode: 0o700 });
  // Removed first: writeFileSync's mode applies only to a file it creates, and an old file may be readable by others.
  rmSync(path, { force: true });
  writeFileSync(path, `${key}\n`, { mode: 0o600, flag: 'wx' });
  opts.logger.warn({ path }, 'a first admin API key was created and written to this file, readable only by its owner: read it, store it safely, then delete the file');
}
