/**
 * `.prompt` files are Dotprompt: the same file renders the same messages in
 * our mapping (messages rendered one by one with Handlebars and our helpers)
 * and in Google's `dotprompt` package, the reference implementation.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { Dotprompt, picoschema } from 'dotprompt';
import { analyzePromptFile } from '../../extension/core/diagnostics.js';
import { messagesOf, parseBody, renderMessages, renderText, type Role } from '../../shared/prompt-files/chat-template.js';
import { toJsonSchema } from '../../shared/prompt-files/picoschema.js';
import { compileTemplate } from '../../shared/templates/index.js';
import { convertLegacyFile, formatPromptFile, MappingError, parsePromptFile, sampleValues, versionOf, versionRequest } from '../../shared/prompt-files/prompt-file.js';

/** Genkit's documentation style: Picoschema input with defaults, JSON output, Gemini config. */
const GENKIT = `---
model: googleai/gemini-1.5-flash
config:
  temperature: 0.9
  maxOutputTokens: 400
  topP: 0.8
  stopSequences: [END]
input:
  schema:
    name: string, the person's name
    style?: string
  default:
    style: pirate
output:
  format: json
  schema:
    greeting: string
    mood(enum): [happy, sad]
tools: [lookupUser]
---
{{role "system"}}
You are a helpful assistant that talks like a {{style}}.
{{role "user"}}
Greet {{name}} & ask "how are you?"
`;

const SUPPORT = `---
name: support-reply
description: Answers tickets
model: openai/gpt-4o
config:
  temperature: 0.2
promptRegistry.tags: [support]
promptRegistry.samples:
  language: French
  tier: gold
  question: Where is my parcel?
  context:
    order: 42
    items: [jacket, boots]
---
{{role "system"}}
{{> safety}}
Answer in {{language}}.
{{#ifEquals tier "gold"}}Be extra polite.{{else}}Be brief.{{/ifEquals}}
{{#unlessEquals tier "gold"}}No upsell.{{/unlessEquals}}
{{history}}
{{role "user"}}
{{question}}
Context: {{json context}}
`;

const PREAMBLE = `---
name: preamble
---
Before any marker, a user turn for {{who}}.
{{role "model"}}
Noted, {{who}}.{{section "output"}}
{{role "user"}}
Thanks.
`;

const TEXT = `---
name: plain
---
Hello {{name}}, welcome to {{company}}!
`;

const PARTIALS = { safety: 'Never share {{secret_kind}} data.\n' };
const HISTORY: Array<{ role: Role; content: string }> = [
  { role: 'user', content: 'Hi, I ordered boots.' },
  { role: 'assistant', content: 'Thanks, which order?' },
];

type Simple = { role: string; content: string };

/** Ours: the file's messages, each rendered alone. */
function ours(text: string, data: Record<string, unknown>, history: typeof HISTORY = []): Simple[] {
  const file = parsePromptFile(text);
  assert.deepEqual(file.problems, []);
  const values = { ...sampleValues(file), ...data };
  if (file.structure.kind === 'text') return [{ role: 'user', content: renderText(file.body, values, PARTIALS).trim() }];
  return renderMessages(messagesOf(file.structure), values, { partials: PARTIALS, placeholders: { history } }).map((m) => ({ role: m.role, content: m.content.trim() }));
}

/** Dotprompt's: one render of the whole template, split at its markers. */
async function theirs(text: string, data: Record<string, unknown>, history: typeof HISTORY = []): Promise<Simple[]> {
  const dp = new Dotprompt({ partials: PARTIALS });
  const file = parsePromptFile(text);
  const rendered = await dp.render(text, {
    // Defaults are applied by the registry (input_schema), so both get the same values.
    input: { ...sampleValues(file), ...data },
    messages: history.map((h) => ({ role: h.role === 'assistant' ? 'model' : h.role, content: [{ text: h.content }] })),
  });
  return rendered.messages.map((m) => ({
    role: m.role === 'model' ? 'assistant' : m.role,
    content: m.content.map((p) => ('text' in p ? p.text : '')).join('').trim(),
  }));
}

describe('.prompt files render as Dotprompt renders them', () => {
  it('a Genkit file: system and user messages, input defaults applied', async () => {
    const data = { name: 'Ann' };
    const mine = ours(GENKIT, data);
    assert.deepEqual(mine, [
      { role: 'system', content: 'You are a helpful assistant that talks like a pirate.' },
      { role: 'user', content: 'Greet Ann & ask "how are you?"' },
    ]);
    assert.deepEqual(mine, await theirs(GENKIT, data));
  });

  it('a chat with a partial, json, ifEquals/unlessEquals, and the history placeholder filled', async () => {
    const data = { secret_kind: 'payment' };
    const mine = ours(SUPPORT, data, HISTORY);
    assert.deepEqual(mine.map((m) => m.role), ['system', 'user', 'assistant', 'user']);
    assert.equal(mine[0]!.content, 'Never share payment data.\nAnswer in French.\nBe extra polite.');
    assert.equal(mine[3]!.content, 'Where is my parcel?\nContext: {"order":42,"items":["jacket","boots"]}');
    assert.deepEqual(mine, await theirs(SUPPORT, data, HISTORY));
    const silver = { secret_kind: 'payment', tier: 'silver' };
    assert.deepEqual(ours(SUPPORT, silver, HISTORY), await theirs(SUPPORT, silver, HISTORY));
    assert.match(ours(SUPPORT, silver)[0]!.content, /Be brief\.\nNo upsell\.$/);
  });

  it('text before the first marker is a user message; model is the assistant; section leaves no text', async () => {
    const data = { who: 'Bo' };
    const mine = ours(PREAMBLE, data);
    assert.deepEqual(mine, [
      { role: 'user', content: 'Before any marker, a user turn for Bo.' },
      { role: 'assistant', content: 'Noted, Bo.' },
      { role: 'user', content: 'Thanks.' },
    ]);
    assert.deepEqual(mine, await theirs(PREAMBLE, data));
  });

  it('a body without markers is a text prompt, one user message in Dotprompt', async () => {
    const data = { name: 'Ann', company: 'Acme' };
    assert.equal(parsePromptFile(TEXT).structure.kind, 'text');
    assert.deepEqual(ours(TEXT, data), await theirs(TEXT, data));
  });

  it('Picoschema becomes the same JSON Schema as Dotprompt makes of it', async () => {
    const schemas: unknown[] = [
      { name: 'string, the name', 'age?': 'integer', 'tags(array, labels)': 'string', 'address(object)': { city: 'string', 'zip?': 'string' }, 'tone?(enum)': ['formal', 'friendly'], '(*)': 'any' },
      'string, just text',
      { type: 'object', properties: { a: { type: 'number' } } },
      { properties: { a: { type: 'number' } } },
      { 'list?(array)': { id: 'integer' } },
    ];
    // Dotprompt writes `required: undefined` where we leave the key out.
    for (const s of schemas) assert.deepEqual(toJsonSchema(s), JSON.parse(JSON.stringify(await picoschema(s))), JSON.stringify(s));
  });
});

describe('the registry\'s engine renders Dotprompt\'s helpers as Dotprompt does', () => {
  // Every shared vector (render.json, render-limits.json) that uses json, ifEquals, unlessEquals or section and renders.
  const vectors = ['render.json', 'render-limits.json'].flatMap(
    (f) => (JSON.parse(readFileSync(new URL(`../vectors/${f}`, import.meta.url), 'utf8')) as { vectors: Array<{ name: string; template: string; variables: Record<string, unknown>; expected?: string }> }).vectors,
  );
  const helpers = vectors.filter((v) => v.expected !== undefined && /\{\{[#~]?\s*(json|ifEquals|unlessEquals|section)\b/.test(v.template));
  it('covers each helper', () => {
    for (const h of ['json', 'ifEquals', 'unlessEquals', 'section']) assert.ok(helpers.some((v) => v.template.includes(h)), h);
  });
  for (const v of helpers) {
    it(v.name, async () => {
      // A text template is one user message in Dotprompt; {{section}} splits its text into parts around a pending one.
      const rendered = await new Dotprompt().render(v.template, { input: v.variables });
      const text = rendered.messages.flatMap((m) => m.content.map((p) => ('text' in p ? p.text : ''))).join('');
      assert.equal(compileTemplate(v.template).render(v.variables), v.expected);
      assert.equal(text, v.expected);
    });
  }
});

describe('the mapping to the registry\'s version, both ways', () => {
  it('maps Dotprompt front matter to config, input_schema and response_format', async () => {
    const request = versionRequest(parsePromptFile(GENKIT), 'first');
    assert.deepEqual(request, {
      type: 'chat',
      messages: [
        { role: 'system', content: 'You are a helpful assistant that talks like a {{style}}.' },
        { role: 'user', content: 'Greet {{name}} & ask "how are you?"' },
      ],
      model: 'googleai/gemini-1.5-flash',
      temperature: 0.9,
      max_tokens: 400,
      config: {
        top_p: 0.8,
        stop: ['END'],
        tools: [{ type: 'function', function: { name: 'lookupUser' } }],
        response_format: { type: 'json_schema', json_schema: { name: 'output', schema: JSON.parse(JSON.stringify(await picoschema({ greeting: 'string', 'mood(enum)': ['happy', 'sad'] }))) } },
      },
      input_schema: {
        type: 'object',
        properties: { name: { type: 'string', description: "the person's name" }, style: { type: ['string', 'null'], default: 'pirate' } },
        required: ['name'],
        additionalProperties: false,
      },
      message: 'first',
    });
  });

  it('keeps partials as written, and the history placeholder in its place', () => {
    const v = versionOf(parsePromptFile(SUPPORT));
    assert.deepEqual(v.messages, [
      { role: 'system', content: '{{> safety}}\nAnswer in {{language}}.\n{{#ifEquals tier "gold"}}Be extra polite.{{else}}Be brief.{{/ifEquals}}\n{{#unlessEquals tier "gold"}}No upsell.{{/unlessEquals}}' },
      { type: 'placeholder', name: 'history' },
      { role: 'user', content: '{{question}}\nContext: {{json context}}' },
    ]);
    assert.deepEqual(
      parseBody('{{> "safety@3"}} {{> "tone@production"}} {{> plain}}').partials.map((p) => [p.ref, p.prompt, p.version, p.environment]),
      [['safety@3', 'safety', 3, null], ['tone@production', 'tone', null, 'production'], ['plain', 'plain', null, null]],
    );
  });

  it('round-trips file -> version -> file: the same version, and a fixed point after one write', () => {
    for (const text of [GENKIT, SUPPORT, PREAMBLE, TEXT]) {
      const file = parsePromptFile(text);
      const written = formatPromptFile({ name: file.meta.name ?? 'x', description: file.meta.description, tags: file.meta.tags, samples: file.meta.samples, ...versionOf(file) });
      const again = parsePromptFile(written);
      assert.deepEqual(again.problems, [], written);
      assert.deepEqual(versionOf(again), versionOf(file), written);
      const { name: _n, ...request } = { name: 1, ...versionRequest(again) };
      assert.deepEqual(request, { ...versionRequest(file) });
      assert.equal(formatPromptFile({ name: again.meta.name ?? 'x', description: again.meta.description, tags: again.meta.tags, samples: again.meta.samples, ...versionOf(again) }), written);
    }
  });

  it('writes a chat version from the registry as role-marked Dotprompt', () => {
    const text = formatPromptFile({
      name: 'triage',
      type: 'chat',
      content: null,
      messages: [{ role: 'system', content: 'Sort {{ticket}}.' }, { type: 'placeholder', name: 'history' }, { role: 'assistant', content: 'Which queue?' }],
      config: { model: 'gpt-4o', temperature: 0, response_format: { type: 'json_object' }, seed: 7 },
      input_schema: { type: 'object', properties: { ticket: { type: 'string', default: 'none' } } },
      samples: { ticket: '' },
    });
    assert.equal(
      text,
      `---
name: triage
model: gpt-4o
config:
  temperature: 0
  seed: 7
input:
  schema:
    type: object
    properties:
      ticket:
        type: string
  default:
    ticket: none
output:
  format: json
promptRegistry.samples:
  ticket: ""
---
{{role "system"}}
Sort {{ticket}}.
{{history}}
{{role "model"}}
Which queue?
`,
    );
  });

  it('refuses what the file cannot express, with a span for what a file holds', () => {
    assert.throws(() => formatPromptFile({ name: 'x', type: 'chat', messages: [{ type: 'placeholder', name: 'examples' }] }), (e: unknown) => e instanceof MappingError && /"examples"/.test(e.message));
    assert.throws(() => formatPromptFile({ name: 'x', type: 'chat', messages: [{ role: 'user', content: 'a {{role "system"}} b' }] }), /messages\[0\] \(user\).*\{\{role\}\}/);
    const inBlock = parsePromptFile('---\nname: x\n---\n{{role "system"}}\nHi\n{{#if vip}}\n{{role "user"}}\n{{/if}}\n');
    assert.deepEqual(
      inBlock.problems.map((p) => [p.message, p.span]),
      [['a {{role}} marker inside {{#if}}…{{/if}} cannot become a message: move it out of the block', { line: 7, column: 1, endLine: 7, endColumn: 16 }]],
    );
    const history = parsePromptFile('---\nname: x\n---\n{{#each turns}}{{history}}{{/each}}\n{{role "user"}}hi\n');
    assert.match(history.problems[0]!.message, /\{\{history\}\} inside \{\{#each\}\}/);
    assert.deepEqual([history.problems[0]!.span.line, history.problems[0]!.span.column], [4, 16]);
    assert.match(parsePromptFile('{{role "narrator"}}x').problems[0]!.message, /takes one quoted role/);
  });
});

describe('old-format files', () => {
  const LEGACY = `---
name: greeting
description: Greets a customer
tags: [demo]
model: gpt-4o
temperature: 0.2
max_tokens: 300
metadata:
  team: cx
samples:
  name: Ann
---
Hello {{name}}!
`;
  it('still open, and convert to the Dotprompt form with the same version', () => {
    const old = parsePromptFile(LEGACY);
    assert.equal(old.format, 'legacy');
    assert.deepEqual(old.problems, []);
    const converted = convertLegacyFile(LEGACY, 'fallback');
    assert.equal(
      converted,
      `---
name: greeting
description: Greets a customer
model: gpt-4o
config:
  temperature: 0.2
  maxOutputTokens: 300
metadata:
  team: cx
promptRegistry.tags:
  - demo
promptRegistry.samples:
  name: Ann
---
Hello {{name}}!
`,
    );
    const now = parsePromptFile(converted);
    assert.equal(now.format, 'dotprompt');
    assert.deepEqual(versionRequest(now), versionRequest(old));
    assert.equal(convertLegacyFile(converted, 'x'), converted, 'a file in the new form is left as it is');
  });
});

describe('editor analysis across messages', () => {
  it('finds variables in every message, inside json and ifEquals, placed in the document', () => {
    const file = parsePromptFile(SUPPORT);
    const a = analyzePromptFile(file);
    assert.deepEqual(a.diagnostics.filter((d) => d.severity === 'error'), []);
    assert.deepEqual(a.variables, ['language', 'tier', 'question', 'context']);
    const at = (name: string) => a.occurrences.filter((o) => o.name === name).map((o) => [o.span.line, o.span.column, o.span.endColumn, o.sample.found]);
    assert.deepEqual(at('language'), [[18, 13, 21, true]]);
    assert.deepEqual(at('tier'), [[19, 13, 17, true], [20, 17, 21, true]]);
    assert.deepEqual(at('context'), [[24, 17, 24, true]]);
    assert.deepEqual(at('question'), [[23, 3, 11, true]]);
  });
});

describe('comparing two versions message by message', async () => {
  const { compareVersions, fileSide, versionSide, diffLines } = await import('../../extension/core/compare.js');
  it('aligns messages, pairs a changed one with a line diff, and lists config values', () => {
    const v1 = versionSide('v1', { type: 'chat', messages: [{ role: 'system', content: 'Be kind.\nAnswer in {{language}}.' }, { type: 'placeholder', name: 'history' }, { role: 'user', content: '{{question}}' }], config: { model: 'gpt-4o', temperature: 0.2 } });
    const v2 = versionSide('v2', {
      type: 'chat',
      messages: [{ role: 'system', content: 'Be kind.\nAnswer in {{language}}, briefly.' }, { type: 'placeholder', name: 'history' }, { role: 'user', content: '{{question}}' }, { role: 'assistant', content: 'Sure:' }],
      config: { model: 'gpt-4o', temperature: 0.5, top_p: 0.9 },
    });
    const c = compareVersions(v1, v2);
    assert.deepEqual(c.messages.map((r) => [r.status, r.left?.role ?? null, r.right?.role ?? null]), [
      ['changed', 'system', 'system'],
      ['same', 'placeholder', 'placeholder'],
      ['same', 'user', 'user'],
      ['added', null, 'assistant'],
    ]);
    assert.deepEqual(c.messages[0]!.lines, [
      { kind: 'same', text: 'Be kind.' },
      { kind: 'removed', text: 'Answer in {{language}}.' },
      { kind: 'added', text: 'Answer in {{language}}, briefly.' },
    ]);
    assert.deepEqual(c.config.map((r) => [r.key, r.status, r.left, r.right]), [
      ['type', 'same', 'chat', 'chat'],
      ['model', 'same', 'gpt-4o', 'gpt-4o'],
      ['temperature', 'changed', '0.2', '0.5'],
      ['top_p', 'added', null, '0.9'],
    ]);
    assert.deepEqual(c.changes, { messages: 2, config: 2 });
    assert.deepEqual(diffLines('a\nb', 'a\nb'), [{ kind: 'same', text: 'a' }, { kind: 'same', text: 'b' }]);
  });
  it('compares a text prompt with a chat file as a removed template and added messages', () => {
    const c = compareVersions(versionSide('v1', { content: 'Hi {{name}}', model: 'm', temperature: 0, max_tokens: 5 }), fileSide('support.prompt', parsePromptFile(SUPPORT)));
    assert.deepEqual(c.messages.map((r) => r.status), ['removed', 'added', 'added', 'added']);
    assert.equal(c.config.find((r) => r.key === 'type')!.status, 'changed');
  });
});

describe('importing Prompty', async () => {
  const { importPrompty } = await import('../../extension/core/prompty.js');
  const PROMPTY = `---
name: Support Chat
description: Answers customers
tags: [support]
model:
  api: chat
  configuration:
    type: azure_openai
    azure_deployment: gpt-4o-mini
  parameters:
    max_tokens: 200
    temperature: 0.3
inputs:
  customer:
    type: string
    description: who asks
    sample: Ann
  items:
    type: array
sample:
  question: Where is my parcel?
---
system:
You help {{ customer }}.
{% for item in items %}- {{item}}
{% endfor %}
{# internal note #}
user:
{{question}} {{ question | upper }}
`;
  it('turns role lines into messages, Jinja into Handlebars, and the front matter into config, schema and samples', () => {
    const result = importPrompty(PROMPTY, 'support.prompty');
    assert.equal(result.name, 'support-chat');
    assert.deepEqual(result.warnings, ['line 29: the Jinja filter in "{{ question | upper }}" has no Handlebars form; the variable is kept, the filter left in a comment']);
    const file = parsePromptFile(result.text);
    assert.deepEqual(file.problems, []);
    assert.deepEqual(versionRequest(file), {
      type: 'chat',
      messages: [
        { role: 'system', content: 'You help {{customer}}.\n{{#each items as |item|}}- {{item}}\n{{/each}}\n{{!-- internal note --}}' },
        { role: 'user', content: '{{question}} {{question}}{{!-- | upper --}}' },
      ],
      model: 'gpt-4o-mini',
      temperature: 0.3,
      max_tokens: 200,
      input_schema: { type: 'object', properties: { customer: { type: 'string', description: 'who asks' }, items: { type: 'array' } } },
      description: 'Answers customers',
      tags: ['support'],
    });
    assert.deepEqual(file.meta.samples, { question: 'Where is my parcel?', customer: 'Ann' });
  });
});

describe('the preview\'s rendering', async () => {
  const { inlinePartials, renderWithEngine } = await import('../../extension/core/render-preview.js');
  it('expands partials as Handlebars does, standalone lines and indents included', () => {
    const partials = { safety: 'Never share.\nReally.\n' };
    for (const t of ['A\n{{> safety}}\nB', 'A\n  {{> safety}}\nB', 'Hi {{> safety}} x', '{{> safety}}']) {
      assert.equal(inlinePartials(t, parseBody(t).partials, partials), renderText(t, {}, partials), JSON.stringify(t));
    }
  });
  it('renders with the registry\'s engine and its budget, Dotprompt\'s helpers included', () => {
    assert.equal(renderWithEngine('A\n{{> safety}}\nHi {{name}}', { name: 'Ann' }, { safety: 'Be safe.\n' }), 'A\nBe safe.\nHi Ann');
    assert.throws(() => renderWithEngine('Hi {{name}}', {}, {}), /missing variable "name"/);
    assert.throws(() => renderWithEngine('{{#each a}}{{#each @root.a}}{{#each @root.a}}x{{/each}}{{/each}}{{/each}}', { a: new Array(600).fill(0) }, {}), /more than 100000 loop iterations/);
    assert.equal(renderWithEngine('{{json o}} {{#ifEquals t "x"}}yes{{/ifEquals}}', { o: { a: 1 }, t: 'x' }, {}), '{"a":1} yes');
    assert.equal(renderWithEngine('{{json o indent=1}}{{section "output"}} {{#unlessEquals t "x"}}no{{else}}yes{{/unlessEquals}}', { o: [1], t: 'x' }, {}), '[\n 1\n] yes');
    // The engine's, not plain Handlebars: strict on what json prints.
    assert.throws(() => renderWithEngine('{{json o}}', {}, {}), /missing variable "o"/);
  });
});
