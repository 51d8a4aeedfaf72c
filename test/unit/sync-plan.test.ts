import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { contentHash, driftOf, formatVersion, nameFromPath, pathForName, planSync, readPromptText, sha256, unrepresentable, partialProblems, waves, type LocalPrompt, type RemotePrompt, type VersionFields } from '../../cli/sync/index.js';

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
    // The registry answers config with the model settings mirrored in: equal to a file that gives none beyond them.
    assert.deepEqual(driftOf(fields(), { ...fields(), type: 'text', config: { model: 'gpt-4o', temperature: 0, max_tokens: 1000 }, input_schema: null }), { drifted: false, changes: [] });
    assert.deepEqual(driftOf(fields(), { ...fields(), type: 'chat', config: { model: 'gpt-4o', top_p: 0.9 }, input_schema: { type: 'object' } }), {
      drifted: true,
      changes: ['type', 'config', 'input_schema'],
    });
  });

  it('reads a chat file: messages, config beyond the model settings, input schema, the partials it includes; problems on the line of the message', () => {
    const text = [
      '---',
      'name: support.chat',
      'model: gpt-4o-mini',
      'config:',
      '  temperature: 0.3',
      '  topP: 0.9',
      'input:',
      '  schema:',
      '    question: string',
      '---',
      '{{role "system"}}',
      '{{> safety}} Be brief.',
      '{{history}}',
      '{{role "user"}}',
      '{{question}}',
      '',
    ].join('\n');
    const read = readPromptText(text);
    assert.ok(read.ok);
    assert.deepEqual(read.includes, [{ prompt: 'safety', line: 12 }]);
    const chat = fields({
      type: 'chat',
      content: null,
      messages: [{ role: 'system', content: '{{> safety}} Be brief.' }, { type: 'placeholder', name: 'history' }, { role: 'user', content: '{{question}}' }],
      model: 'gpt-4o-mini',
      temperature: 0.3,
      config: { top_p: 0.9 },
      input_schema: { type: 'object', properties: { question: { type: 'string' } }, required: ['question'], additionalProperties: false },
    });
    assert.deepEqual(read.fields, chat);

    // A helper the registry's engine does not have, in the second line of the user message.
    const broken = readPromptText(text.replace('{{question}}', 'line one\n{{upper question}}'));
    assert.ok(!broken.ok);
    assert.deepEqual(broken.problems.map((p) => p.line), [16]);
    assert.match(broken.problems[0]!.message, /^messages\[2\]\.content: unknown helper "upper"/);
    // A JSON Schema the registry's validator refuses: on the line of input:.
    const badSchema = readPromptText(text.replace('    question: string', '    type: object\n    properties:\n      question: {type: 7}'));
    assert.ok(!badSchema.ok);
    assert.deepEqual(badSchema.problems, [{ line: 7, message: 'input_schema.properties.question.type: not a valid JSON Schema: must be equal to one of the allowed values' }]);

    // As the registry answers it: config with the settings mirrored in, the hash instead of messages in a summary.
    const answered = { ...chat, content: null, config: { top_p: 0.9, model: 'gpt-4o-mini', temperature: 0.3, max_tokens: 1000 } };
    assert.deepEqual(driftOf(chat, answered), { drifted: false, changes: [] });
    const hash = contentHash({ ...chat, config: { top_p: 0.9 } });
    assert.deepEqual(driftOf(chat, { ...answered, messages: undefined, content_hash: hash }), { drifted: false, changes: [] });
    const edited = fields({ ...chat, messages: [{ role: 'user', content: 'Q: {{question}}' }] });
    assert.deepEqual(driftOf(edited, { ...answered, messages: undefined, content_hash: hash }), { drifted: true, changes: ['messages'] });
    assert.deepEqual(driftOf(fields({ ...chat, config: { top_p: 0.5 }, input_schema: null }), answered), { drifted: true, changes: ['config', 'input_schema'] });
    assert.deepEqual(driftOf(fields(), answered).changes, ['type', 'model', 'temperature', 'config', 'input_schema']);
  });

  it('pushes partials of the folder before the prompts that include them; a missing partial and a cycle are problems before any push', () => {
    const p = (name: string, includes: string[]): LocalPrompt => ({ ...local(name), includes: includes.map((prompt, i) => ({ prompt, line: 10 + i })) });
    const folder = [p('a', ['b']), p('b', ['c', 'elsewhere']), p('c', [])];
    const { rounds, stuck } = waves(folder);
    assert.deepEqual(rounds.map((r) => r.map((f) => f.name)), [['c'], ['b'], ['a']]);
    assert.deepEqual(stuck, []);
    assert.deepEqual(partialProblems(folder, new Set(['elsewhere'])), []);
    assert.deepEqual(partialProblems(folder, new Set()), [{ path: 'b.prompt', line: 11, message: '{{> elsewhere}}: no prompt "elsewhere", in the folder or in the registry' }]);
    const cyclic = [...folder, p('x', ['y']), p('y', ['z']), p('z', ['x']), p('w', ['x']), p('self', ['self'])];
    assert.deepEqual(waves(cyclic).stuck.map((f) => f.name), ['x', 'y', 'z', 'w', 'self']);
    assert.deepEqual(partialProblems(cyclic, new Set(['elsewhere'])).map((e) => `${e.path}:${e.line}: ${e.message}`), [
      'x.prompt:10: the partials make a cycle: x → y → z → x',
      'self.prompt:10: the partials make a cycle: self → self',
    ]);
  });

  it('writes a version in the Dotprompt form, the same text whatever key order the registry answers; what the form cannot hold is named', () => {
    const prompt = { name: 'p', description: null, tags: [] };
    const version = {
      type: 'chat' as const,
      messages: [{ role: 'system' as const, content: 'Be {{tone}}.' }, { type: 'placeholder' as const, name: 'history' }],
      model: 'm',
      temperature: 0.5,
      max_tokens: 10,
      config: { model: 'm', temperature: 0.5, max_tokens: 10, top_p: 1, seed: 3 },
      input_schema: { type: 'object', properties: { tone: { type: 'string', enum: ['a', 'b'] } }, required: ['tone'] },
      metadata: { b: 1, a: 2 },
      variables: ['tone'],
    };
    const text = formatVersion(prompt, version);
    // As Postgres (jsonb) orders keys: by length, then bytes.
    const jsonb = { ...version, config: { seed: 3, model: 'm', top_p: 1, max_tokens: 10, temperature: 0.5 }, input_schema: { type: 'object', required: ['tone'], properties: { tone: { enum: ['a', 'b'], type: 'string' } } }, metadata: { a: 2, b: 1 } };
    assert.equal(formatVersion(prompt, jsonb), text);
    assert.equal(text.split('---\n')[2], '{{role "system"}}\nBe {{tone}}.\n{{history}}\n');
    assert.match(text, /\nconfig:\n {2}temperature: 0\.5\n {2}maxOutputTokens: 10\n {2}topP: 1\n {2}seed: 3\n/);
    const back = readPromptText(text);
    assert.ok(back.ok);
    assert.deepEqual(driftOf(back.fields, version), { drifted: false, changes: [] });
    assert.equal(unrepresentable(prompt, version), null);
    assert.match(unrepresentable(prompt, { ...version, messages: [{ type: 'placeholder', name: 'examples' }] }) ?? '', /placeholder "examples"/);
    assert.match(unrepresentable(prompt, { ...version, messages: [{ role: 'user', content: 'a {{role "system"}} b' }] }) ?? '', /marker/);
  });

  it('maps names to paths and back', () => {
    assert.equal(pathForName('support.reply', 'flat'), 'support.reply.prompt');
    assert.equal(pathForName('support.reply', 'nested'), 'support/reply.prompt');
    assert.equal(nameFromPath('support/reply.prompt'), 'support.reply');
    assert.equal(nameFromPath(pathForName('a.b-c.d_e', 'nested')), 'a.b-c.d_e');
  });
});
