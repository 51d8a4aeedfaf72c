import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileTemplate, DEFAULT_TEMPLATE_LIMITS, TemplateError, type TemplateLimits } from '../../shared/templates/index.js';

interface LimitVector {
  name: string;
  template: string;
  variables: Record<string, unknown>;
  limits?: Record<string, number>;
  expected?: string;
  error?: { code: string; limit: string };
}

const file = JSON.parse(readFileSync(new URL('../vectors/render-limits.json', import.meta.url), 'utf8')) as {
  defaults: Record<string, number>;
  vectors: LimitVector[];
};

/** snake_case (the vectors, Python) to camelCase (TypeScript). */
function camel(limits: Record<string, number> = {}): Partial<TemplateLimits> {
  return Object.fromEntries(Object.entries(limits).map(([k, v]) => [k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), v]));
}

const LIMIT_KEYS: Record<string, keyof TemplateLimits> = {
  size: 'maxTemplateChars',
  tags: 'maxTags',
  depth: 'maxDepth',
  iterations: 'maxIterations',
  output: 'maxOutputChars',
  time: 'timeoutMs',
};

describe('shared render-limit vectors: the TypeScript engine', () => {
  it('the vectors\' defaults are the engine\'s', () => {
    assert.deepEqual(camel(file.defaults), DEFAULT_TEMPLATE_LIMITS);
  });

  it('covers every limit of both error codes', () => {
    const seen = new Set(file.vectors.map((v) => v.error && `${v.error.code}/${v.error.limit}`).filter(Boolean));
    for (const l of ['size', 'tags', 'depth']) assert.ok(seen.has(`template_too_large/${l}`), l);
    for (const l of ['iterations', 'output']) assert.ok(seen.has(`render_too_large/${l}`), l);
  });

  for (const v of file.vectors) {
    it(v.name, () => {
      const limits = camel(v.limits);
      const run = () => compileTemplate(v.template, limits).render(v.variables);
      if (v.expected !== undefined) {
        assert.equal(run(), v.expected);
        return;
      }
      assert.throws(run, (err: unknown) => {
        assert.ok(err instanceof TemplateError, String(err));
        assert.equal(err.code, v.error!.code, err.message);
        assert.equal(err.details.limit, v.error!.limit, err.message);
        const key = LIMIT_KEYS[v.error!.limit]!;
        assert.equal(err.details.max, limits[key] ?? DEFAULT_TEMPLATE_LIMITS[key]);
        return true;
      });
    });
  }
});

function fails(fn: () => unknown, code: string, limit: string): TemplateError {
  let caught: unknown;
  assert.throws(fn, (err: unknown) => ((caught = err), err instanceof TemplateError && err.code === code && err.details.limit === limit));
  return caught as TemplateError;
}

describe('template budgets beyond the vectors', () => {
  it('refuses the issue\'s attacks before parsing: 20,000 nested blocks and 20,000 tags', () => {
    const nested = `${'{{#if a}}'.repeat(20_000)}x`; // 180,001 characters: under the size limit
    const e = fails(() => compileTemplate(nested), 'template_too_large', 'depth');
    assert.match(e.message, /more than 32 deep; the limit is 32/);
    fails(() => compileTemplate('{{a}} '.repeat(20_000)), 'template_too_large', 'tags');
  });

  it('counts comments, raw text and {{^}} (an else) as the spec says', () => {
    // A long comment's tags and a short comment's tags count nothing; {{^}} does not open a block.
    assert.equal(compileTemplate('{{!-- {{#if a}} --~}}{{! {{#if b}}{{#if a}}y{{^}}n{{/if}}', { maxDepth: 1, maxTags: 5 }).render({ a: false }), 'n');
    fails(() => compileTemplate('{{#if a}}{{^ b}}{{/b}}{{/if}}', { maxDepth: 1 }), 'template_too_large', 'depth');
  });

  it('keeps #each as Handlebars has it: @index, @key, @first, @last, block params, else', () => {
    const t = compileTemplate('{{#each l as |x i|}}{{i}}{{x}}{{#if @first}}F{{/if}}{{#if @last}}L{{/if}},{{/each}}{{#each o}}{{@key}}={{this}}{{/each}}{{#each e}}x{{else}}none{{/each}}');
    assert.equal(t.render({ l: ['a', 'b', 'c'], o: { p: 1, q: 2 }, e: [] }), '0aF,1b,2cL,p=1q=2none');
  });

  it('stops a render past its time', () => {
    // 90,000 iterations fit the iteration budget but not a 1 ms deadline.
    const t = compileTemplate('{{#each a}}{{#each @root.a}}x{{/each}}{{/each}}', { timeoutMs: 1 });
    const e = fails(() => t.render({ a: Array.from({ length: 300 }, () => 0) }), 'render_too_large', 'time');
    assert.equal(e.details.max, 1);
  });

  it('stops a runaway output before building all of it', () => {
    // Each body writes 1,000,000 characters: the second body is already past twice the limit of 1,000.
    let bodies = 0;
    const big = 'x'.repeat(1_000_000);
    const t = compileTemplate('{{#each a}}{{@root.big}}{{/each}}', { maxOutputChars: 1_000 });
    const items = new Proxy([0, 0, 0, 0, 0], { get: (target, p) => (p !== 'length' && typeof p === 'string' && /^\d+$/.test(p) && bodies++, Reflect.get(target, p)) });
    fails(() => t.render({ a: items, big }), 'render_too_large', 'output');
    assert.equal(bodies, 1);
  });

  it('refuses limits that are not whole numbers', () => {
    assert.throws(() => compileTemplate('x', { maxTags: -1 }), RangeError);
    assert.throws(() => compileTemplate('x', { timeoutMs: 0 }), RangeError);
  });
});
