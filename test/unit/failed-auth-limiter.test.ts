import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FailedAuthLimiter } from '../../server/auth/failures.js';

describe('failed-authentication limiter', () => {
  it('limits an address after `limit` failures until its window ends, others not at all', () => {
    const limiter = new FailedAuthLimiter(3, 60_000);
    const t0 = 1_000_000;
    const told: string[] = [];
    const tell = (address: string) => told.push(address);
    for (let i = 0; i < 3; i++) assert.equal(limiter.fail('10.0.0.1', t0 + i, tell), undefined);
    assert.deepEqual(told, []);
    assert.equal(limiter.fail('10.0.0.1', t0 + 10, tell), 60, 'seconds left in the window, rounded up');
    assert.equal(limiter.fail('10.0.0.1', t0 + 30_500, tell), 30);
    assert.deepEqual(told, ['10.0.0.1'], 'told once per window, when it first goes over');
    assert.equal(limiter.fail('10.0.0.2', t0 + 30_500), undefined, 'another address has its own count');
    assert.equal(limiter.fail('10.0.0.1', t0 + 60_000), undefined, 'a new window starts afresh');
  });

  it('never limits with a limit of 0', () => {
    const limiter = new FailedAuthLimiter(0, 60_000);
    for (let i = 0; i < 100; i++) assert.equal(limiter.fail('10.0.0.1', i), undefined);
  });
});
