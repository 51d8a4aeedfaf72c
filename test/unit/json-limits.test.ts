import assert from 'node:assert/strict';
import { isUtf8 } from 'node:buffer';
import { describe, it } from 'node:test';
import { describeJsonPath, findJsonProblem, invalidUtf8Offset, MAX_JSON_DEPTH } from '../../server/http/json-limits.js';

/** A deterministic byte generator (xorshift), so a failure can be replayed. */
function bytes(seed: number, length: number): Uint8Array {
  let x = seed || 1;
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    // Mostly the bytes that make UTF-8 interesting: leads, continuations, ASCII.
    const pick = (x >>> 0) % 8;
    out[i] = pick < 3 ? 0x80 + ((x >>> 8) % 0x40) : pick < 6 ? 0xc0 + ((x >>> 8) % 0x40) : (x >>> 8) % 0x80;
  }
  return out;
}

describe('the UTF-8 offset of a refused body', () => {
  it('agrees with node:buffer isUtf8, and everything before the offset is valid', () => {
    for (let seed = 1; seed <= 3_000; seed++) {
      const b = bytes(seed, 1 + (seed % 12));
      const offset = invalidUtf8Offset(b);
      assert.equal(offset === -1, isUtf8(b), `seed ${seed}: ${Buffer.from(b).toString('hex')}`);
      if (offset >= 0) assert.ok(isUtf8(b.subarray(0, offset)), `seed ${seed}: the prefix before ${offset} is valid`);
    }
  });

  it('points at the first byte of the bad sequence', () => {
    const at = (hex: string) => invalidUtf8Offset(Buffer.from(hex, 'hex'));
    assert.equal(at('61c3a9'), -1); // aé
    assert.equal(at('61e9'), 1); // Latin-1 é
    assert.equal(at('61c080'), 1); // overlong NUL
    assert.equal(at('61eda080'), 1); // an encoded surrogate
    assert.equal(at('61f4908080'), 1); // past U+10FFFF
    assert.equal(at('6162e282'), 2); // cut short
    assert.equal(at('f09d849e80'), 4); // 𝄞 then a stray continuation byte
  });
});

describe('the JSON depth and surrogate check', () => {
  const nest = (levels: number): unknown => {
    let v: unknown = 1;
    for (let i = 0; i < levels; i++) v = [v];
    return v;
  };

  it('takes 64 levels and refuses 65, without recursion even at 100,000', () => {
    assert.equal(findJsonProblem(nest(MAX_JSON_DEPTH)), undefined);
    assert.equal(findJsonProblem(nest(MAX_JSON_DEPTH + 1))?.code, 'json_too_deep');
    const deep = findJsonProblem(nest(100_000));
    assert.equal(deep?.code, 'json_too_deep');
    assert.equal(deep?.path.length, MAX_JSON_DEPTH);
  });

  it('finds a lone surrogate in a key or a value, and passes pairs', () => {
    assert.equal(findJsonProblem({ a: ['ok', '😀', { b: 'x\ud800' }] })?.path.join('/'), 'a/2/b');
    assert.deepEqual(findJsonProblem({ ['\udc00']: 1 })?.path, ['\udc00']);
    assert.equal(findJsonProblem({ a: '\ud83d\ude00' }), undefined);
  });

  it('writes paths people can read, shortened in the middle', () => {
    assert.equal(describeJsonPath([]), '(body)');
    assert.equal(describeJsonPath(['metadata', 'a', 0, 'b c']), 'metadata.a[0]["b c"]');
    assert.equal(describeJsonPath([3, 'input_variables']), '[3].input_variables');
    assert.equal(describeJsonPath(['k'.repeat(50)]), `["${'k'.repeat(40)}…"]`);
    assert.equal(describeJsonPath(['metadata', 'a', ...Array(62).fill(0)]), 'metadata.a[0][0][0][0]…[0][0][0]');
  });
});
