import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { compileTemplate, TemplateError } from '../../shared/templates/index.js';

export interface RenderVector {
  name: string;
  template: string;
  variables: Record<string, unknown>;
  expected?: string;
  error?: { code: string; variable?: string; line?: number };
}

const { vectors } = JSON.parse(readFileSync(new URL('../vectors/render.json', import.meta.url), 'utf8')) as { vectors: RenderVector[] };

describe('shared render vectors: the server engine', () => {
  it('has vectors for output and for each error code', () => {
    assert.ok(vectors.length >= 50);
    const codes = new Set(vectors.map((v) => v.error?.code).filter(Boolean));
    for (const code of ['missing_variable', 'invalid_variable', 'template_syntax_error', 'template_unsupported']) assert.ok(codes.has(code), code);
  });

  for (const v of vectors) {
    it(v.name, () => {
      if (v.expected !== undefined) {
        assert.equal(compileTemplate(v.template).render(v.variables), v.expected);
        return;
      }
      assert.throws(
        () => compileTemplate(v.template).render(v.variables),
        (err: unknown) => {
          assert.ok(err instanceof TemplateError);
          assert.equal(err.code, v.error!.code);
          if (v.error!.variable !== undefined) assert.equal(err.details.variable, v.error!.variable);
          if (v.error!.line !== undefined) assert.equal(err.details.line, v.error!.line);
          return true;
        },
      );
    });
  }
});
