/**
 * Several templates rendered in one Handlebars call (prepareTemplates, as the template workers and the
 * client render a chat prompt's messages) answer what each renders alone, errors and budgets included;
 * and the template workers' render protocol: a job sent by key alone is rendered only by a worker that
 * has it ready, and a key is only ever filed with the content it hashes.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { compileTemplate, prepareTemplates, renderTemplates } from '../../shared/templates/engine.js';
import { TemplateError } from '../../shared/templates/errors.js';
import run from '../../server/templates/render-worker.js';
import { renderJob, renderJobKey } from '../../server/templates/render-job.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS, TemplatePool } from '../../server/templates/pool.js';

/** Each template rendered by plain Handlebars on its own, with the partials registered under their references. */
function alone(templates: string[], partials: Record<string, string>, data: Record<string, unknown>): string[] {
  const hbs = Handlebars.create();
  for (const [ref, source] of Object.entries(partials)) hbs.registerPartial(ref, source);
  return templates.map((t) => hbs.compile(t, { noEscape: true })(data));
}

function prepared(templates: string[], partials: Record<string, string>, limits = {}) {
  return prepareTemplates(
    templates.map((t) => compileTemplate(t)),
    Object.fromEntries(Object.entries(partials).map(([ref, s]) => [ref, compileTemplate(s)])),
    limits,
  );
}

const CASES: Array<{ name: string; templates: string[]; partials: Record<string, string>; data: Record<string, unknown> }> = [
  {
    name: 'partials, @root and ../ inside #each, in several messages',
    templates: ['Hi {{name}}.\n{{> safety}}{{> "style@2"}}', '{{#each items}}{{this}} of {{../name}} ({{@root.name}}) {{@index}};{{/each}}', 'Last: {{name}}'],
    partials: { safety: 'Be safe, {{name}}.\n', 'style@2': '{{#if short}}Short.{{else}}Long.{{/if}}' },
    data: { name: 'Ann', items: ['a', 'b'], short: true },
  },
  {
    name: 'a standalone partial on its own indented line (indented as Handlebars does), and whitespace control at the edges',
    templates: ['Rules:\n  {{> rules}}\nEnd\n', '{{~name~}}  \n', '\n{{~#if short}} x {{~/if}}'],
    partials: { rules: 'one\ntwo {{name}}\n' },
    data: { name: 'Bo', short: true },
  },
  {
    name: 'an empty message and a partial used by two messages',
    templates: ['', '{{> p}}', '{{> p}}{{> p}}'],
    partials: { p: '[{{#with who}}{{first}} {{@root.name}}{{/with}}]' },
    data: { name: 'Cy', who: { first: 'C' } },
  },
];

describe('prepared templates', () => {
  for (const c of CASES) {
    it(`renders each template as it renders alone: ${c.name}`, () => {
      const expected = alone(c.templates, c.partials, c.data);
      const p = prepared(c.templates, c.partials);
      assert.deepEqual(p.render(c.data), expected);
      // Again, with other values: nothing of the first render is kept.
      const other = { ...c.data, name: 'Zed' };
      assert.deepEqual(p.render(other), alone(c.templates, c.partials, other));
      assert.deepEqual(renderTemplates(c.templates.map((t) => compileTemplate(t)), other, Object.fromEntries(Object.entries(c.partials).map(([r, s]) => [r, compileTemplate(s)]))), alone(c.templates, c.partials, other));
    });
  }

  it('renders as before when a reference has the name the single call gives its templates', () => {
    const p = prepared(['a {{> __pr_template_0}}', 'b {{x}}'], { __pr_template_0: 'P{{x}}' });
    assert.deepEqual(p.render({ x: 1 }), ['a P1', 'b 1']);
  });

  it('names the missing variable and the partial not given, whichever message holds it', () => {
    const p = prepared(['ok {{a}}', 'then {{b}}', '{{> gone}}'], {});
    assert.throws(() => p.render({ a: 1 }), (e: unknown) => e instanceof TemplateError && e.code === 'missing_variable' && e.details.variable === 'b');
    assert.throws(() => p.render({ a: 1, b: 2 }), (e: unknown) => e instanceof TemplateError && e.code === 'missing_partial' && e.details.partial === 'gone');
  });

  it('holds one output budget for all the templates together', () => {
    const p = prepared(['{{a}}', '{{a}}', '{{a}}'], {}, { maxOutputChars: 25 });
    assert.deepEqual(p.render({ a: 'x'.repeat(8) }), ['x'.repeat(8), 'x'.repeat(8), 'x'.repeat(8)]);
    assert.throws(() => p.render({ a: 'x'.repeat(9) }), (e: unknown) => e instanceof TemplateError && e.code === 'render_too_large');
  });
});

describe('the template workers\' render protocol', () => {
  it('answers "missing" to a key it does not have, renders with the sources, then with the key alone', () => {
    const job = renderJob(['Hi {{name}} {{> p}}', 'Bye'], { p: '({{name}})' });
    assert.deepEqual(run({ op: 'render', key: job.key, variables: { name: 'Ann' } }), { ok: false, missing: true, compiled: false });
    assert.deepEqual(run({ op: 'render', key: job.key, variables: { name: 'Ann' }, sources: job }), { ok: true, outputs: ['Hi Ann (Ann)', 'Bye'], compiled: true });
    assert.deepEqual(run({ op: 'render', key: job.key, variables: { name: 'Bo' } }), { ok: true, outputs: ['Hi Bo (Bo)', 'Bye'], compiled: false });
  });

  it('refuses sources under a key that is not theirs', () => {
    const other = renderJob(['other {{x}}']);
    assert.throws(() => run({ op: 'render', key: other.key, variables: { x: 1 }, sources: { templates: ['evil'], partials: {} } }), /does not match/);
    assert.notEqual(renderJobKey(['a'], { p: 'b' }), renderJobKey(['a'], { q: 'b' }));
    assert.notEqual(renderJobKey(['a', 'b'], {}), renderJobKey(['ab'], {}));
  });

  it('answers template errors as data, with their code and details', () => {
    const job = renderJob(['{{missing}}']);
    const r = run({ op: 'render', key: job.key, variables: {}, sources: job });
    assert.equal(r.ok, false);
    assert.equal(!r.ok && !r.missing && r.error.code, 'missing_variable');
  });

  it('sends a job\'s sources to the pool once: a second render sends the key and compiles nothing', async () => {
    const pool = new TemplatePool({ ...DEFAULT_TEMPLATE_POOL_OPTIONS, threads: 1 });
    try {
      const job = renderJob(['Hi {{name}}{{> p}}', '{{name}}!'], { p: ', welcome' });
      assert.deepEqual(await pool.renderJob(job, { name: 'Ann' }), ['Hi Ann, welcome', 'Ann!']);
      assert.deepEqual(await pool.renderJob(job, { name: 'Bo' }), ['Hi Bo, welcome', 'Bo!']);
      assert.equal(await pool.render('solo {{x}}', { x: 3 }), 'solo 3');
      assert.deepEqual(pool.stats(), { compiles: 2, renders: 3, resent: 0, terminated: 0 });
    } finally {
      await pool.close();
    }
  });
});
