// Shared by the extensionTestsPath suites (each is bundled on its own, with this inside).

/** Polls `get` every 100 ms until it gives a truthy value; fails naming `what` after `ms`. */
export async function until<T>(what: string, get: () => T | undefined | false | Promise<T | undefined | false>, ms = 30_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await get();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
