/**
 * The TypeScript client renders partials as native Handlebars partials (client/partials.ts): on a few
 * hundred generated templates (partials in text, blocks, loops, standalone lines, indentation, `~`,
 * comments, a partial starting with a block tag alone on its line, values with line breaks) it must
 * give plain Handlebars' text. The cases the client's own strict rules refuse (a variable missing in a
 * loop item) are left out: plain Handlebars prints nothing there.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Handlebars from 'handlebars';
import { fromFallback } from '../../client/bundle.js';
import { compilePrompt, DEFAULT_TEMPLATE_LIMITS, renderCompiled, TemplateError } from '../../client/index.js';

let seed = 7;
const rnd = (n: number) => {
  seed = (seed * 1103515245 + 12345) & 0x7fffffff;
  return seed % n;
};
const ATOMS = ['\n', '  ', 'a', ' b ', '{{x}}', '{{> p}}', '{{> q}}', '{{~> q}}', '{{> p~}}', '\t', '{{! c }}', '{{> r}}', '{{> s}}'];
function template(depth: number): string {
  let out = '';
  for (let i = 1 + rnd(6); i > 0; i--) {
    const r = rnd(10);
    if (r < 7 || depth > 2) out += ATOMS[rnd(ATOMS.length)];
    else if (r === 7) out += `{{#if flag}}${template(depth + 1)}{{else}}${template(depth + 1)}{{/if}}`;
    else if (r === 8) out += `\n{{#each items}}\n${template(depth + 1)}\n{{/each}}\n`;
    else out += `{{#with o}}${template(depth + 1)}{{/with}}`;
  }
  return out;
}

const PARTIALS = { p: 'P{{x}}\n  pp\n', q: 'Q{{#if flag}}\nq{{x}}\n{{/if}}\n', r: '{{#each items}}{{this}}{{/each}}', s: '{{#if flag}}\nS{{x}}\n{{/if}}\n' };

describe('partials expanded by the TypeScript client render as Handlebars renders them', () => {
  it('on 400 generated templates', () => {
    const hbs = Handlebars.create();
    for (const [ref, content] of Object.entries(PARTIALS)) hbs.registerPartial(ref, content);
    const partials = Object.fromEntries(Object.entries(PARTIALS).map(([ref, content]) => [ref, { prompt: ref, version: 1, version_id: ref, content }]));
    let compared = 0;
    for (let i = 0; i < 400; i++) {
      const source = template(0);
      const variables = { x: rnd(2) === 1 ? 'v' : 'v\nw', flag: rnd(2) === 1, items: [1, 2], o: { x: 'ox' } };
      const prompt = { ...fromFallback('main', 'x'), content: source, partials };
      let got: string;
      try {
        got = renderCompiled(prompt, compilePrompt(prompt, DEFAULT_TEMPLATE_LIMITS), variables, undefined, DEFAULT_TEMPLATE_LIMITS).text!;
      } catch (err) {
        if (err instanceof TemplateError && err.code === 'missing_variable') continue;
        throw err;
      }
      assert.equal(got, hbs.compile(source, { noEscape: true })(variables), JSON.stringify(source));
      compared++;
    }
    assert.ok(compared > 150, `only ${compared} templates compared`);
  });
});
