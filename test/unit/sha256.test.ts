import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { sha256 } from '../../shared/rollouts/sha256.js';

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString('hex');

describe('sha256 in plain JavaScript (the rollout assignment, in every runtime the client runs in)', () => {
  it('gives the standard digests of the FIPS 180-4 examples', () => {
    assert.equal(hex(sha256(new Uint8Array())), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
    assert.equal(hex(sha256(new TextEncoder().encode('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(
      hex(sha256(new TextEncoder().encode('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq'))),
      '248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1',
    );
  });

  it('agrees with node:crypto on every length across the padding boundaries and on random input', () => {
    for (let length = 0; length <= 200; length++) {
      const data = randomBytes(length);
      assert.equal(hex(sha256(data)), createHash('sha256').update(data).digest('hex'), `length ${length}`);
    }
    const big = randomBytes(100_003);
    assert.equal(hex(sha256(big)), createHash('sha256').update(big).digest('hex'));
  });
});
