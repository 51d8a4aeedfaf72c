import assert from 'node:assert/strict';

/** Polls until `check` holds; fails after `ms` (a bound on waiting, not a performance assertion). */
export async function eventually(check: () => Promise<boolean> | boolean, what: string, ms = 5_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`never happened within ${ms} ms: ${what}`);
}
