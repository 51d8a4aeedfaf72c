import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileTemplate, extractVariables, JSON_MAX_NESTING, TemplateError } from '../../shared/templates/index.js';

function fails(fn: () => unknown, code: string, details: Record<string, unknown> = {}): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof TemplateError, String(err));
    assert.equal(err.code, code, err.message);
    for (const [k, v] of Object.entries(details)) assert.equal(err.details[k], v, `${k} in ${err.message}`);
    return true;
  });
}

describe('variable extraction', () => {
  const cases: Array<[string, string[]]> = [
    ['Hello {{name}}', ['name']],
    ['{{a}} {{b}} {{a}}', ['a', 'b']],
    ['{{user.name}} {{user.email}}', ['user']],
    ['{{#if vip}}VIP {{/if}}{{#unless quiet}}loud{{/unless}}', ['vip', 'quiet']],
    ['{{#each items}}{{name}} {{this}} {{@index}} {{../title}}{{/each}}', ['items', 'title']],
    // Inside #each, a bare name is the item's field: Handlebars does not fall back to the root.
    ['{{#each items as |item i|}}{{item.name}} {{i}} {{field}} {{@root.outer}}{{/each}}', ['items', 'outer']],
    ['{{#with user}}{{name}} {{@root.site}}{{/with}}', ['user', 'site']],
    ['{{lookup table key}}', ['table', 'key']],
    ['{{! a comment {{x}} }}{{y}}', ['y']],
    ['{{#each rows}}{{#each cells}}{{../../top}}{{/each}}{{/each}}', ['rows', 'top']],
    ['{{#if a}}{{b}}{{else if c}}{{d}}{{else}}{{e}}{{/if}}', ['a', 'b', 'c', 'd', 'e']],
    ['No variables at all', []],
    // Dotprompt's helpers read variables like any other.
    ['{{json order.items indent=2}}{{section "output"}}{{#ifEquals user.tier gold}}{{a}}{{else}}{{b}}{{/ifEquals}}', ['order', 'user', 'gold', 'a', 'b']],
    ['{{#each rows as |r|}}{{#unlessEquals r.kind ../skip}}{{json this}}{{/unlessEquals}}{{/each}}', ['rows', 'skip']],
  ];
  for (const [template, expected] of cases) {
    it(`finds ${JSON.stringify(expected)} in ${JSON.stringify(template)}`, () => {
      assert.deepEqual(extractVariables(template), expected);
    });
  }
});

describe('strict rendering', () => {
  it('renders variables, nested paths and blocks without HTML escaping', () => {
    const t = compileTemplate('{{greeting}}, {{user.name}} <{{user.email}}> & {{{raw}}}{{#if vip}} (VIP){{/if}}');
    assert.equal(t.render({ greeting: 'Hi', user: { name: 'Ann', email: 'a@b.c' }, raw: '<b>', vip: true }), 'Hi, Ann <a@b.c> & <b> (VIP)');
  });

  it('iterates with #each, exposing @index and parent context', () => {
    const t = compileTemplate('{{#each items}}{{@index}}:{{name}}@{{../shop}};{{else}}none{{/each}}');
    assert.equal(t.render({ items: [{ name: 'a' }, { name: 'b' }], shop: 'S' }), '0:a@S;1:b@S;');
    assert.equal(t.render({ items: [], shop: 'S' }), 'none');
  });

  it('renders numbers and booleans as text, and honours whitespace control', () => {
    assert.equal(compileTemplate('{{n}} {{f}} {{b}}').render({ n: 0, f: 1.5, b: false }), '0 1.5 false');
    assert.equal(compileTemplate('a  {{~x~}}  b').render({ x: '-' }), 'a-b');
  });

  it('names a missing variable, never rendering an empty string or a left-over tag', () => {
    fails(() => compileTemplate('Hello {{name}}').render({}), 'missing_variable', { variable: 'name' });
    fails(() => compileTemplate('Hello {{user.name}}').render({ user: {} }), 'missing_variable', { variable: 'user.name' });
    fails(() => compileTemplate('Hello {{user.name}}').render({}), 'missing_variable', { variable: 'user.name' });
    fails(() => compileTemplate('Hello {{name}}').render({ name: null }), 'missing_variable', { variable: 'name' });
    fails(() => compileTemplate('{{#each items}}x{{/each}}').render({}), 'missing_variable', { variable: 'items' });
    fails(() => compileTemplate('{{#with u}}{{n}}{{/with}}').render({}), 'missing_variable', { variable: 'u' });
  });

  it('treats a variable only tested by #if or #unless as false when absent', () => {
    assert.equal(compileTemplate('a{{#if extra}}+{{extra}}{{/if}}').render({}), 'a');
    assert.equal(compileTemplate('{{#unless quiet}}loud{{/unless}}').render({}), 'loud');
  });

  it('refuses to print an object or a list', () => {
    fails(() => compileTemplate('{{x}}').render({ x: { a: 1 } }), 'invalid_variable', { variable: 'x' });
    fails(() => compileTemplate('{{x}}').render({ x: [1] }), 'invalid_variable', { variable: 'x' });
  });

  it('json refuses a value nested past its limit, or one JSON cannot hold', () => {
    let deep: unknown = [];
    for (let i = 0; i < JSON_MAX_NESTING; i++) deep = [deep];
    fails(() => compileTemplate('{{json d}}').render({ d: deep }), 'invalid_variable', { variable: 'd' });
    assert.equal(compileTemplate('{{json d}}').render({ d: (deep as unknown[])[0] }), '['.repeat(JSON_MAX_NESTING) + ']'.repeat(JSON_MAX_NESTING));
    fails(() => compileTemplate('{{json n}}').render({ n: 10n }), 'invalid_variable', { variable: 'n' });
    // A Date prints as JSON.stringify prints it (its toJSON).
    assert.equal(compileTemplate('{{json d}}').render({ d: new Date(0) }), '"1970-01-01T00:00:00.000Z"');
  });

  it('does not reach prototype properties', () => {
    fails(() => compileTemplate('{{x.constructor}}').render({ x: 'a' }), 'missing_variable');
    fails(() => compileTemplate('{{__proto__}}').render({}), 'missing_variable');
  });
});

describe('template errors', () => {
  it('gives line and column for a syntax error', () => {
    fails(() => compileTemplate('one\ntwo {{name'), 'template_syntax_error', { line: 2 });
    fails(() => compileTemplate('{{#if a}}\n\n{{/each}}'), 'template_syntax_error', { line: 1 });
    fails(() => compileTemplate('ok\n{{#if a}}never closed'), 'template_syntax_error');
    assert.throws(() => compileTemplate('x\n  y {{#if}}{{/if}}'), /line 2/);
  });

  it('refuses unknown helpers, partials and decorators with their position', () => {
    fails(() => compileTemplate('a\nb {{upper name}}'), 'template_unsupported', { line: 2, column: 3, helper: 'upper' });
    fails(() => compileTemplate('{{#custom}}x{{/custom}}'), 'template_unsupported');
    fails(() => compileTemplate('{{#> layout}}x{{/layout}}'), 'template_unsupported'); // partials are supported (issue 12); partial blocks are not
    fails(() => compileTemplate('{{log "x"}}'), 'template_unsupported');
  });
});
