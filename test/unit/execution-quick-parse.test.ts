import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseBatch } from '../../server/executions/routes.js';
import { executionInput, quickParseExecution } from '../../server/executions/schemas.js';

// The quick path must answer exactly what zod answers for the rows it takes, and leave every
// other row to zod, so a row is accepted, refused or reported the same whichever path reads it.

const VERSION = '6f1c2a4e-8b3d-4c5e-9f60-1a2b3c4d5e6f';
const ID = '0b7f6e5d-4c3b-4a29-8817-26354a5b6c7d';

const full = {
  id: ID,
  prompt_version_id: VERSION,
  prompt: 'support-reply',
  version: 3,
  environment: 'production',
  executed_at: '2026-01-31T12:00:00.000Z',
  input_variables: { name: 'Ada', nested: { list: [1, 'two', null] } },
  rendered_prompt: 'Hello Ada',
  response: 'Hi!\n"quoted" \\ back',
  input_tokens: 12,
  output_tokens: 0,
  latency_ms: 2_147_483_647,
  cost_usd: 0.0004,
  quality_score: -0.5,
  status: 'error',
  error: 'upstream timeout',
  metadata: { region: 'eu' },
};

/** Rows the quick path must take, answering what zod answers. */
const wellFormed: unknown[] = [
  full,
  { prompt_version_id: VERSION },
  { prompt: 'base', version: 1 },
  { prompt: 'a.b_c-d', environment: 'staging-2', executed_at: '1970-01-01T00:00:00.000Z' },
  { prompt_version_id: VERSION, input_variables: null, rendered_prompt: null, response: null, error: null },
  { prompt_version_id: VERSION, input_tokens: null, output_tokens: null, latency_ms: null, cost_usd: null, quality_score: null },
  { prompt_version_id: VERSION, status: 'ok', error: '' },
  { prompt_version_id: VERSION, cost_usd: 0, quality_score: 1e9, metadata: {} },
  { prompt_version_id: VERSION, executed_at: '2024-02-29T23:59:59.999Z' },
  { prompt_version_id: VERSION, input_variables: { emoji: '🙂', 'key with space': 1, 10: 'numeric key' } },
];

/** Rows the quick path must hand to zod: some valid in another spelling, most invalid. */
const forZod: unknown[] = [
  null,
  'text',
  42,
  [full],
  {},
  { latency_ms: 1 },
  { prompt_version_id: VERSION.toUpperCase() },
  { prompt_version_id: '00000000-0000-0000-0000-000000000000' },
  { prompt_version_id: 'not-a-uuid' },
  { prompt_version_id: VERSION, id: 'x' },
  { prompt_version_id: VERSION, executed_at: '2026-01-31T12:00:00Z' },
  { prompt_version_id: VERSION, executed_at: '2026-01-31T13:00:00+01:00' },
  { prompt_version_id: VERSION, executed_at: '2026-02-30T00:00:00.000Z' },
  { prompt_version_id: VERSION, executed_at: '2026-01-31T24:00:00.000Z' },
  { prompt_version_id: VERSION, executed_at: '1969-12-31T23:59:59.999Z' },
  { prompt_version_id: VERSION, executed_at: 'yesterday' },
  { prompt: 'base' },
  { prompt: '-base', version: 1 },
  { prompt: 'x'.repeat(256), version: 1 },
  { prompt_version_id: VERSION, version: 2 },
  { prompt: 'base', version: 0 },
  { prompt: 'base', version: 1.5 },
  { prompt: 'base', environment: 'Production' },
  { prompt: 'base', environment: 'e'.repeat(51) },
  { prompt_version_id: VERSION, latency_ms: -1 },
  { prompt_version_id: VERSION, latency_ms: '12' },
  { prompt_version_id: VERSION, input_tokens: 1.5 },
  { prompt_version_id: VERSION, output_tokens: 1e12 },
  { prompt_version_id: VERSION, cost_usd: -1 },
  { prompt_version_id: VERSION, cost_usd: 2e9 },
  { prompt_version_id: VERSION, quality_score: -2e9 },
  { prompt_version_id: VERSION, status: 'fine' },
  { prompt_version_id: VERSION, status: 'ok', error: 'boom' },
  { prompt_version_id: VERSION, response: 'a\u0000b' },
  { prompt_version_id: VERSION, error: 'e'.repeat(10_001) },
  { prompt_version_id: VERSION, input_variables: ['a'] },
  { prompt_version_id: VERSION, input_variables: { k: 'v\u0000' } },
  { prompt_version_id: VERSION, metadata: null },
  { prompt_version_id: VERSION, metadata: 'm' },
  { prompt_version_id: VERSION, prompt_name: 'base' },
  JSON.parse(`{"prompt_version_id": "${VERSION}", "metadata": {"__proto__": {"x": 1}}}`),
  JSON.parse(`{"prompt_version_id": "${VERSION}", "__proto__": {"x": 1}}`),
];

describe('the quick path of execution parsing', () => {
  it('answers what the schema answers for well-formed rows, JSON fields as the text stored', () => {
    for (const row of wellFormed) {
      const quick = quickParseExecution(row);
      assert.ok(quick, `the quick path took ${JSON.stringify(row)}`);
      assert.deepEqual(quick, executionInput.parse(row), JSON.stringify(row));
    }
    assert.equal(quickParseExecution(full)?.input_variables, JSON.stringify(full.input_variables));
  });

  it('leaves every other row to the schema, which accepts or refuses it with its own messages', () => {
    for (const row of forZod) assert.equal(quickParseExecution(row), undefined, JSON.stringify(row));
    // Some of them are valid, in a spelling only the schema normalises.
    assert.equal(executionInput.parse({ prompt_version_id: VERSION.toUpperCase() }).prompt_version_id, VERSION);
    assert.equal(executionInput.parse({ prompt_version_id: VERSION, executed_at: '2026-01-31T13:00:00+01:00' }).executed_at, '2026-01-31T12:00:00.000Z');
  });

  it('gives a batch the same rows and the same problems as the schema alone', () => {
    const rows = [...wellFormed, ...forZod.filter((r) => typeof r === 'object' && r !== null && !Array.isArray(r))];
    const batch = parseBatch(rows as Record<string, unknown>[]);
    rows.forEach((row, index) => {
      const result = executionInput.safeParse(row);
      assert.deepEqual(batch.rows[index], result.success ? result.data : undefined, `row ${index}`);
      assert.equal(
        batch.invalid.some((r) => r.index === index),
        !result.success,
        `row ${index} is reported as invalid exactly when the schema refuses it`,
      );
    });
    assert.ok(batch.invalid.length > 20, 'most of the rows given to the schema are invalid');
  });
});

describe('the quick path on times', () => {
  it('takes exactly the real times of toISOString() form, every day of four years and the edges of a day', () => {
    const start = Date.parse('2023-01-01T00:00:00.000Z');
    for (let day = 0; day < 4 * 366; day++) {
      for (const offset of [0, 86_399_999]) {
        const at = new Date(start + day * 86_400_000 + offset).toISOString();
        assert.equal(quickParseExecution({ prompt_version_id: VERSION, executed_at: at })?.executed_at, at);
      }
    }
    for (const bad of ['2023-02-29', '2024-02-30', '2100-02-29', '2026-04-31', '2026-13-01', '2026-00-10', '2026-01-00']) {
      assert.equal(quickParseExecution({ prompt_version_id: VERSION, executed_at: `${bad}T00:00:00.000Z` }), undefined, bad);
      assert.equal(executionInput.safeParse({ prompt_version_id: VERSION, executed_at: `${bad}T00:00:00.000Z` }).success, false, bad);
    }
    assert.ok(quickParseExecution({ prompt_version_id: VERSION, executed_at: '2000-02-29T00:00:00.000Z' }));
    for (const bad of ['T24:00:00.000Z', 'T23:60:00.000Z', 'T23:59:60.000Z']) {
      assert.equal(quickParseExecution({ prompt_version_id: VERSION, executed_at: `2026-01-01${bad}` }), undefined, bad);
    }
  });
});
