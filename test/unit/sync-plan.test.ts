import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { driftOf, nameFromPath, pathForName, planSync, readPromptText, sha256, type LocalPrompt, type RemotePrompt, type VersionFields } from '../../cli/sync/index.js';

const fields = (more: Partial<VersionFields> = {}): VersionFields => ({
  type: 'text',
  content: 'Hi {{x}}\n',
  messages: null,
  model: 'gpt-4o',
  temperature: 0,
  max_tokens: 1000,
  config: {},
  input_schema: null,
  metadata: {},
  ...more,
});
const local = (name: string, more: Partial<VersionFields> = {}): LocalPrompt => ({ name, path: `${name}.prompt`, fields: fields(more), samples: {} });
const remote = (name: string, latest: Partial<VersionFields> & { version: number }, more: Partial<RemotePrompt> = {}): RemotePrompt => ({
  name,
  description: null,
  tags: [],
  latest_version: latest.version,
  latest: { variables: ['x'], ...fields(), ...latest },
  ...more,
});

describe('git sync planning', () => {
  it('reads a file as the registry would create it: its defaults applied, metadata compared by value', () => {
    const read = readPromptText('---\nname: a\n---\nHi {{x}}\n');
    assert.ok(read.ok);
    assert.deepEqual(read.fields, fields());
    assert.equal(read.name, 'a');
    assert.deepEqual(driftOf(fields({ metadata: { b: 1, a: [1, { d: 2, c: 3 }] } }), fields({ metadata: { a: [1, { c: 3, d: 2 }], b: 1 } })), { drifted: false, changes: [] });
  });

  it('plans each file against the latest version, an identical older one, or nothing; registry-only prompts are no change', () => {
    const plan = planSync(
      [local('same'), local('edited', { content: 'Hello {{x}}\n', temperature: 1 }), local('reverted', { content: 'v1\n' }), local('retagged', { tags: ['t'] }), local('fresh')],
      [
        remote('same', { version: 3 }),
        remote('edited', { version: 1 }),
        remote('reverted', { version: 2, content: 'v2\n' }, { identical: 1 }),
        remote('retagged', { version: 1 }),
        remote('elsewhere', { version: 4 }, { latest: null }),
      ],
    );
    assert.deepEqual(
      plan.entries.map((e) => [e.name, e.action, e.changes, e.latest, e.version]),
      [
        ['edited', 'create_version', ['content', 'temperature'], 1, null],
        ['elsewhere', 'registry_only', [], 4, null],
        ['fresh', 'create_prompt', [], null, null],
        ['retagged', 'update_prompt', ['tags'], 1, 1],
        ['reverted', 'none', ['content'], 2, 1],
        ['same', 'none', [], 3, 3],
      ],
    );
    assert.equal(plan.changed, true);
    assert.equal(planSync([local('same')], [remote('same', { version: 3 }), remote('other', { version: 1 })]).changed, false);
  });

  it('drift: what differs from the latest version, comparing a content hash when the content is not at hand', () => {
    assert.deepEqual(driftOf(fields(), { ...fields(), content: undefined, content_hash: sha256('Hi {{x}}\n') }), { drifted: false, changes: [] });
    assert.deepEqual(driftOf(fields({ model: 'm' }), { ...fields(), content: undefined, content_hash: sha256('other') }), { drifted: true, changes: ['content', 'model'] });
    assert.deepEqual(driftOf(fields({ description: 'new' }), fields(), { description: 'old', tags: [] }), { drifted: true, changes: ['description'] });
    assert.deepEqual(driftOf(fields(), null), { drifted: true, changes: ['content'] });
    // A registry with chat prompts answers type, config (the model settings repeated) and input_schema.
    assert.deepEqual(driftOf(fields(), { ...fields(), type: 'text', config: { model: 'gpt-4o', temperature: 0, max_tokens: 1000 }, input_schema: null }), { drifted: false, changes: [] });
    assert.deepEqual(driftOf(fields(), { ...fields(), type: 'chat', config: { model: 'gpt-4o', top_p: 0.9 }, input_schema: { type: 'object' } }), {
      drifted: true,
      changes: ['type', 'config', 'input_schema'],
    });
  });

  it('maps names to paths and back', () => {
    assert.equal(pathForName('support.reply', 'flat'), 'support.reply.prompt');
    assert.equal(pathForName('support.reply', 'nested'), 'support/reply.prompt');
    assert.equal(nameFromPath('support/reply.prompt'), 'support.reply');
    assert.equal(nameFromPath(pathForName('a.b-c.d_e', 'nested')), 'a.b-c.d_e');
  });
});
