import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileEvaluator, judgeVerdict } from '../../server/evaluators/builtin.js';
import { AppError } from '../../server/errors.js';

const run = (spec: unknown, o: Parameters<ReturnType<typeof compileEvaluator>['evaluate']>[0]) => compileEvaluator(spec).evaluate(o);
const refusal = (spec: unknown, field = 'evaluator'): AppError => {
  try {
    compileEvaluator(spec, field);
  } catch (err) {
    assert.ok(err instanceof AppError);
    assert.equal(err.kind, 'invalid');
    return err;
  }
  assert.fail('expected a refusal');
};

describe('built-in evaluators', () => {
  it('exact match: trimmed and case-sensitive by default, options turn both', () => {
    assert.equal(run({ type: 'exact_match' }, { output: ' Paris\n', expected: 'Paris' }).passed, true);
    assert.equal(run({ type: 'exact_match' }, { output: 'paris', expected: 'Paris' }).passed, false);
    assert.equal(run({ type: 'exact_match', case_sensitive: false }, { output: 'paris', expected: 'Paris' }).score, 1);
    assert.equal(run({ type: 'exact_match', trim: false }, { output: 'Paris ', expected: 'Paris' }).passed, false);
    assert.equal(run({ type: 'exact_match' }, { output: '{"a":1}', expected: { a: 1 } }).passed, true);
    const none = run({ type: 'exact_match' }, { output: 'x' });
    assert.deepEqual([none.passed, none.reason], [false, 'the item has no expected value']);
  });

  it('contains: a given value, else the expected one', () => {
    assert.equal(run({ type: 'contains', value: 'capital' }, { output: 'Paris is the capital' }).passed, true);
    assert.equal(run({ type: 'contains' }, { output: 'It is Paris.', expected: 'paris' }).passed, false);
    assert.equal(run({ type: 'contains', case_sensitive: false }, { output: 'It is Paris.', expected: 'paris' }).passed, true);
  });

  it('regex: matches with flags; a bad pattern is refused at compile time naming the field', () => {
    assert.equal(run({ type: 'regex', pattern: '^\\d{3}-\\d{4}$' }, { output: '555-1234' }).passed, true);
    assert.equal(run({ type: 'regex', pattern: 'yes', flags: 'i' }, { output: 'YES' }).passed, true);
    assert.equal(run({ type: 'regex', pattern: 'yes' }, { output: null }).passed, false);
    const bad = refusal({ type: 'regex', pattern: '(unclosed' }, 'evaluators[1]');
    assert.equal(bad.code, 'invalid_evaluator');
    assert.match(bad.message, /^evaluators\[1\]\.pattern: not a valid regular expression/);
    assert.match(refusal({ type: 'regex', pattern: 'x', flags: 'g' }).message, /flags/);
  });

  it('JSON validity and JSON Schema conformance, against a given schema or the version response schema', () => {
    assert.equal(run({ type: 'json_valid' }, { output: '{"a": [1, 2]}' }).passed, true);
    assert.match(run({ type: 'json_valid' }, { output: '{a: 1}' }).reason, /not JSON/);
    const schema = { type: 'object', required: ['age'], properties: { age: { type: 'integer', minimum: 0 }, email: { type: 'string', format: 'email' } } };
    assert.equal(run({ type: 'json_schema', schema }, { output: '{"age": 3, "email": "a@b.co"}' }).passed, true);
    const wrong = run({ type: 'json_schema', schema }, { output: '{"age": -1}' });
    assert.equal(wrong.passed, false);
    assert.match(wrong.reason, /\/age must be >= 0/);
    assert.equal(run({ type: 'json_schema', schema }, { output: '{"age": 1, "email": "nope"}' }).passed, false, 'formats are checked');
    assert.equal(run({ type: 'json_schema' }, { output: '{"age": 2}', response_schema: schema }).passed, true);
    assert.match(run({ type: 'json_schema' }, { output: '{}' }).reason, /no schema/);
    const bad = refusal({ type: 'json_schema', schema: { type: 'objekt' } });
    assert.equal(bad.code, 'invalid_schema');
    assert.match(bad.message, /^evaluator\.schema: not a valid JSON Schema/);
  });

  it('numeric closeness: absolute or relative tolerance, the first number in the output', () => {
    assert.equal(run({ type: 'numeric_closeness', tolerance: 0.01 }, { output: 'about 3.14159', expected: 3.14 }).passed, true);
    assert.equal(run({ type: 'numeric_closeness' }, { output: '3.2', expected: '3.14' }).passed, false);
    assert.equal(run({ type: 'numeric_closeness', tolerance: 0, relative: 0.05 }, { output: '104', expected: 100 }).passed, true);
    assert.match(run({ type: 'numeric_closeness' }, { output: 'none', expected: 1 }).reason, /no number/);
    assert.match(run({ type: 'numeric_closeness' }, { output: '1', expected: 'x' }).reason, /not a number/);
  });

  it('latency and cost ceilings', () => {
    assert.equal(run({ type: 'latency_ceiling', max_ms: 500 }, { output: '', latency_ms: 500 }).passed, true);
    assert.equal(run({ type: 'latency_ceiling', max_ms: 500 }, { output: '', latency_ms: 501 }).passed, false);
    assert.equal(run({ type: 'cost_ceiling', max_usd: 0.01 }, { output: '', cost_usd: 0.002 }).passed, true);
    assert.equal(run({ type: 'cost_ceiling', max_usd: 0.01 }, { output: '', cost_usd: null }).passed, false);
  });

  it('names its metric by the spec name, else the type; an unknown type is refused', () => {
    assert.equal(compileEvaluator({ type: 'json_valid' }).name, 'json_valid');
    assert.equal(compileEvaluator({ type: 'json_valid', name: 'parses' }).name, 'parses');
    assert.match(refusal({ type: 'bleu' }).message, /type is one of/);
    assert.match(refusal({ type: 'latency_ceiling' }).message, /^evaluator\.max_ms/);
  });

  it("reads an LLM judge's verdict: JSON score and reason (fenced or not), passing at the threshold", () => {
    assert.deepEqual(judgeVerdict('{"score": 0.8, "reason": "close"}', 0.5), { score: 0.8, passed: true, reason: 'close' });
    assert.deepEqual(judgeVerdict('```json\n{"score": 0.4}\n```', 0.5), { score: 0.4, passed: false, reason: 'the judge gave no reason' });
    assert.match(judgeVerdict('I think it is good', 0.5).reason, /did not answer JSON/);
    assert.match(judgeVerdict('{"score": 7}', 0.5).reason, /not a number from 0 to 1/);
    assert.equal(judgeVerdict(null, 0.5).passed, false);
    assert.match(refusal({ type: 'llm_judge', prompt: 'rubric', version: 1, environment: 'production' }).message, /version or environment/);
    assert.equal(compileEvaluator({ type: 'llm_judge', prompt: 'rubric' }).evaluate({ output: 'x' }).passed, false);
  });
});
