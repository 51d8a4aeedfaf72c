import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { driftOf } from '../../extension/core/drift.js';
import { parsePromptFile, versionRequest } from '../../shared/prompt-files/prompt-file.js';
import { GREETING, SAFETY, SUPPORT_CHAT } from '../extension/greeting.js';
import { startTestServer, type TestServer } from '../support/server.js';

/** Drift against what a real registry stores for a file (its defaults and mirrored config included), not a hand-made version. */
describe('drift: a .prompt file against its latest version in the registry', () => {
  let s: TestServer;
  const publish = async (text: string) => {
    const file = parsePromptFile(text);
    const created = await s.admin.post(`/prompts/${file.meta.name}/versions`, versionRequest(file));
    assert.ok(created.status === 201 || created.status === 409, JSON.stringify(created.body));
    return (await s.admin.get(`/prompts/${file.meta.name}/versions/1`)).body;
  };
  before(async () => {
    s = await startTestServer('sqlite');
    await publish(SAFETY);
  });
  after(() => s.close());

  it('is the same for the file just published, text and chat alike', async () => {
    for (const text of [GREETING, SUPPORT_CHAT]) {
      const file = parsePromptFile(text);
      const drift = driftOf(file, file.meta.name!, await publish(text));
      assert.equal(drift.kind, 'same', `${file.meta.name}: ${JSON.stringify(drift)}`);
    }
  });

  it('counts a changed message and a changed setting', async () => {
    const version = await publish(SUPPORT_CHAT);
    const edited = parsePromptFile(SUPPORT_CHAT.replace('{{question}}', '{{question}} Thank them.').replace('temperature: 0.2', 'temperature: 0.7'));
    assert.deepEqual(driftOf(edited, 'support-reply', version), { kind: 'differs', name: 'support-reply', version: 1, messages: 1, config: 1 });
  });
});
