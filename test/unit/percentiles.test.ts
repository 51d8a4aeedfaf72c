import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nearestRank, percentiles } from '../../server/executions/percentiles.js';
import { random } from '../support/random.js';

describe('percentiles by selection', () => {
  it('answers the nearest rank of the sorted values, whatever their order, ties and size', () => {
    const next = random(7);
    const shapes: Array<(n: number) => number[]> = [
      (n) => Array.from({ length: n }, () => Math.floor(next() * 3000)),
      (n) => Array.from({ length: n }, () => Math.floor(next() * 4)), // mostly ties
      (n) => Array.from({ length: n }, (_, i) => i), // ascending
      (n) => Array.from({ length: n }, (_, i) => n - i), // descending
      (n) => Array.from({ length: n }, () => 7), // all equal
      (n) => Array.from({ length: n }, () => next() * 1e6 - 5e5), // fractions, negatives
    ];
    const ps = [0.5, 0.95, 0.99];
    for (const shape of shapes) {
      for (const n of [1, 2, 3, 10, 99, 100, 101, 1_000, 4_321]) {
        const values = shape(n);
        const sorted = Float64Array.from(values).sort();
        assert.deepEqual(
          percentiles(Float64Array.from(values), ps),
          ps.map((p) => nearestRank(sorted, p)),
          `n=${n}: ${values.slice(0, 8).join(',')}…`,
        );
      }
    }
  });

  it('answers null for no values', () => {
    assert.deepEqual(percentiles(new Float64Array(0), [0.5, 0.99]), [null, null]);
  });
});
