/**
 * The mock provider in a process of its own, as a real provider would be: in the registry's
 * process it would take event-loop time from the runner being measured. Answers every call after
 * the given delay; tells its parent its base URL once listening, and its call count when asked.
 */
import { MockProvider } from '../../test/support/mock-provider.js';

const mock = new MockProvider();
await mock.start();
mock.fallback = { delayMs: Number(process.env.MOCK_DELAY_MS ?? 50), text: process.env.MOCK_TEXT ?? '42' };
process.send!({ base: mock.openAiBase });
process.on('message', (m: { type: string }) => {
  if (m.type === 'calls') process.send!({ calls: mock.calls.length });
  if (m.type === 'close') void mock.close().then(() => process.exit(0));
});
