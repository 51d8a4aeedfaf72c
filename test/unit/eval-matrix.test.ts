import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DatasetItem, ExperimentResult, ExperimentWithDrafts } from '../../client/api.js';
import { buildMatrix, evaluatorNames } from '../../extension/core/matrix.js';

const item = (seq: number): DatasetItem => ({ id: `i${seq}`, seq, added_in: 1, input: { n: seq }, expected: String(seq), metadata: {}, source_execution_id: null, created_at: '2026-12-03T00:00:00Z' });

const result = (seq: number, column: { version: number | null; draft: string | null }, output: string, passed: boolean): ExperimentResult => ({
  item_seq: seq,
  ...column,
  status: 'ok',
  output,
  error: null,
  latency_ms: 10,
  input_tokens: 1,
  output_tokens: 1,
  cost_usd: 0.001,
  execution_id: `e${seq}`,
  scores: { exact: { score: passed ? 1 : 0, passed, reason: passed ? 'same' : 'differs' } },
  passed,
});

const aggregate = (column: { version: number | null; draft: string | null }, passRate: number) => ({
  ...column,
  results: 2,
  errors: 0,
  pass_rate: passRate,
  mean_scores: { exact: passRate },
  latency_p50_ms: 10,
  latency_p95_ms: 10,
  input_tokens: 2,
  output_tokens: 2,
  cost_usd: 0.002,
});

const experiment = {
  id: 'x1',
  status: 'completed',
  error: null,
  evaluators: [{ type: 'exact_match', name: 'exact' }, { type: 'json_valid' }],
  aggregates: [aggregate({ version: 3, draft: null }, 0), aggregate({ version: null, draft: 'draft' }, 0.5)],
} as unknown as ExperimentWithDrafts;

describe('the evaluation matrix', () => {
  it('names evaluators by name, else by type', () => {
    assert.deepEqual(evaluatorNames(experiment), ['exact', 'json_valid']);
  });

  it('puts each result in its item row and column, the aggregates at the columns, and diffs the second column against the first', () => {
    const columns = [
      { label: 'draft', version: null, draft: 'draft' },
      { label: 'v3 (production)', version: 3, draft: null },
    ];
    const results = [result(1, { version: 3, draft: null }, '{"a":1}', false), result(1, { version: null, draft: 'draft' }, '1', true), result(2, { version: 3, draft: null }, 'x\ny', false)];
    const view = buildMatrix('Evaluation', experiment, columns, [item(2), item(1)], results);
    assert.deepEqual(view.rows.map((r) => r.seq), [1, 2]);
    assert.deepEqual(view.rows[0]!.cells.map((c) => [c.status, c.output, c.passed]), [['ok', '1', true], ['ok', '{"a":1}', false]]);
    // Item 2 has no draft result yet (a cancelled experiment): the cell says so.
    assert.deepEqual(view.rows[1]!.cells.map((c) => c.status), ['missing', 'ok']);
    assert.deepEqual(view.rows[0]!.diff, [{ kind: 'removed', text: '{"a":1}' }, { kind: 'added', text: '1' }]);
    assert.deepEqual(view.columns.map((c) => c.aggregate?.pass_rate), [0.5, 0]);
    assert.deepEqual([view.experimentId, view.status, view.evaluators], ['x1', 'completed', ['exact', 'json_valid']]);
  });
});
