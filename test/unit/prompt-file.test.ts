import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { analyzePromptFile, describeSample, sampleAt } from '../../extension/core/diagnostics.js';
import { formatPromptFile, parsePromptFile, versionRequest } from '../../shared/prompt-files/prompt-file.js';

const FILE = `---
name: support-reply
description: Answers tickets
tags: [support]
model: gpt-4o-mini
temperature: 0.2
max_tokens: 300
metadata:
  top_p: 0.9
samples:
  company: Acme
  customer:
    name: Ann
  unused: nobody
---
Hello {{customer.name}} from {{company}}.
Question: {{question}}
`;

describe('.prompt files', () => {
  it('parses front matter and body, and places the body in the document', () => {
    const f = parsePromptFile(FILE);
    assert.deepEqual(f.problems, []);
    assert.equal(f.format, 'legacy');
    assert.equal(f.meta.name, 'support-reply');
    assert.deepEqual(f.meta.tags, ['support']);
    assert.equal(f.meta.config.temperature, 0.2);
    assert.deepEqual(f.meta.samples, { company: 'Acme', customer: { name: 'Ann' }, unused: 'nobody' });
    assert.equal(f.body, 'Hello {{customer.name}} from {{company}}.\nQuestion: {{question}}\n');
    assert.equal(f.bodyLine, 15);
    assert.deepEqual(f.sampleKeys.get('unused'), { line: 14, column: 3, endLine: 14, endColumn: 9 });
  });

  it('turns the front matter into the registry request', () => {
    assert.deepEqual(versionRequest(parsePromptFile(FILE), 'msg'), {
      content: 'Hello {{customer.name}} from {{company}}.\nQuestion: {{question}}\n',
      model: 'gpt-4o-mini',
      temperature: 0.2,
      max_tokens: 300,
      metadata: { top_p: 0.9 },
      description: 'Answers tickets',
      tags: ['support'],
      message: 'msg',
    });
  });

  it('treats a file without front matter as all template', () => {
    const f = parsePromptFile('Just {{x}}');
    assert.equal(f.body, 'Just {{x}}');
    assert.equal(f.bodyLine, 0);
  });

  it('reports YAML errors, bad fields and a missing closing fence with their lines', () => {
    const yaml = parsePromptFile('---\nname: [unclosed\n---\nbody');
    assert.equal(yaml.problems.length > 0, true);
    assert.match(yaml.problems[0]!.message, /front matter/);
    const field = parsePromptFile('---\ntemperature: 5\ncolour: red\n---\nbody');
    const messages = field.problems.map((p) => p.message).join('\n');
    assert.match(messages, /temperature: temperature is 0 to 2/);
    assert.match(messages, /unknown field "colour"/);
    const config = parsePromptFile('---\nconfig:\n  topP: 3\n  maxOutputTokens: 1.5\n---\nbody');
    assert.deepEqual(
      config.problems.map((p) => [p.message, p.span.line]),
      [['front matter: config.topP is 0 to 1', 3], ['front matter: config.maxOutputTokens is a whole number', 4]],
    );
    assert.equal(field.problems.find((p) => /colour/.test(p.message))!.span.line, 3);
    const open = parsePromptFile('---\nname: x\nbody');
    assert.match(open.problems[0]!.message, /no closing "---"/);
  });

  it('round-trips what Pull into Workspace writes, in the Dotprompt form', () => {
    const text = formatPromptFile({ name: 'p', description: 'd', tags: ['a'], model: 'm', temperature: 0.5, max_tokens: 10, metadata: { k: 1 }, samples: { x: '' }, content: 'Hi {{x}}\n' });
    assert.equal(
      text,
      '---\nname: p\ndescription: d\nmodel: m\nconfig:\n  temperature: 0.5\n  maxOutputTokens: 10\nmetadata:\n  k: 1\npromptRegistry.tags:\n  - a\npromptRegistry.samples:\n  x: ""\n---\nHi {{x}}\n',
    );
    const f = parsePromptFile(text);
    assert.deepEqual(f.problems, []);
    assert.equal(f.format, 'dotprompt');
    assert.equal(f.meta.name, 'p');
    assert.deepEqual(f.meta.samples, { x: '' });
    assert.deepEqual(f.meta.config, { model: 'm', temperature: 0.5, max_tokens: 10 });
    assert.equal(f.body, 'Hi {{x}}\n');
  });
});

describe('diagnostics and inline samples', () => {
  it('finds each variable with its sample and its place in the document', () => {
    const a = analyzePromptFile(parsePromptFile(FILE));
    assert.deepEqual(a.variables, ['customer', 'company', 'question']);
    const customer = a.occurrences.find((o) => o.name === 'customer')!;
    assert.deepEqual(customer.span, { line: 16, column: 9, endLine: 16, endColumn: 22 });
    assert.deepEqual(customer.sample, { found: true, value: 'Ann' });
    assert.deepEqual(a.occurrences.find((o) => o.name === 'question')!.sample, { found: false });
  });

  it('warns of a variable without a sample and hints at a sample nothing uses', () => {
    const a = analyzePromptFile(parsePromptFile(FILE));
    const warning = a.diagnostics.find((d) => d.code === 'variable_without_sample')!;
    assert.equal(warning.severity, 'warning');
    assert.match(warning.message, /"question" has no sample/);
    assert.equal(warning.span.line, 17);
    const hint = a.diagnostics.find((d) => d.code === 'unused_sample')!;
    assert.equal(hint.severity, 'hint');
    assert.match(hint.message, /"unused"/);
    assert.equal(hint.span.line, 14);
  });

  it('reports a template syntax error at its line and column in the document', () => {
    const a = analyzePromptFile(parsePromptFile('---\nname: x\n---\nline one\nline {{#if ok}} two\n'));
    const error = a.diagnostics.find((d) => d.code === 'template_syntax_error')!;
    assert.equal(error.severity, 'error');
    assert.ok(error.span.line >= 5, `line ${error.span.line}`);
    const helper = analyzePromptFile(parsePromptFile('---\nname: x\n---\n\nHi {{shout name}}'));
    const unsupported = helper.diagnostics.find((d) => d.code === 'template_unsupported')!;
    assert.deepEqual([unsupported.span.line, unsupported.span.column], [5, 4]);
  });

  it('looks samples up by path and shortens them for inline display', () => {
    assert.deepEqual(sampleAt({ a: { b: [1] } }, ['a', 'b']), { found: true, value: [1] });
    assert.deepEqual(sampleAt({ a: 'x' }, ['a', 'length']), { found: false });
    assert.equal(describeSample('x'.repeat(100), 10), 'xxxxxxxxx…');
    assert.equal(describeSample('two\nlines'), 'two lines');
    assert.equal(describeSample({ n: 1 }), '{"n":1}');
  });
});

describe('tree model', async () => {
  const { promptText, versionText, parseFilter, describeFilter, liveText } = await import('../../extension/core/tree-model.js');
  const prompt = {
    id: '1',
    name: 'support',
    description: 'Answers tickets',
    tags: ['a', 'b'],
    created_at: '2026-11-20T10:00:00.000Z',
    created_by: 'ann',
    updated_at: '2026-11-20T10:00:00.000Z',
    latest_version: 4,
    environments: { production: { version: 3, deployed_at: '2026-11-21T10:00:00.000Z', deployed_by: 'bo' } },
  };
  it('describes a prompt with what is live where, and its tags in the tooltip', () => {
    const t = promptText(prompt);
    assert.equal(t.label, 'support');
    assert.equal(t.description, 'production v3');
    assert.match(t.tooltip, /Answers tickets/);
    assert.match(t.tooltip, /tags: a, b/);
    assert.equal(liveText(prompt, 'production').description, 'v3 · bo · 2026-11-21');
  });
  it('describes a version by number, short hash, author, date and live badges', () => {
    const t = versionText({
      version_id: 'x',
      version: 3,
      prompt: 'support',
      type: 'text',
      content_hash: 'abcdef0123456789',
      model: 'gpt-4o',
      temperature: 0,
      max_tokens: 10,
      config: {},
      input_schema: null,
      includes: [],
      variables: ['x'],
      metadata: {},
      message: 'shorter',
      created_at: '2026-11-21T09:00:00.000Z',
      created_by: 'ann',
      environments: ['production', 'staging'],
    });
    assert.equal(t.label, 'v3');
    assert.equal(t.description, 'abcdef0 · ann · 2026-11-21 · ● production ● staging');
    assert.match(t.tooltip, /“shorter”/);
  });
  it('parses filters with tag: tokens', () => {
    assert.deepEqual(parseFilter('  support  tag:email tag:vip  reply '), { search: 'support reply', tags: ['email', 'vip'] });
    assert.deepEqual(parseFilter(''), { tags: [] });
    assert.equal(describeFilter({ search: 'x', tags: ['t'] }), '"x" tag:t');
  });
});
