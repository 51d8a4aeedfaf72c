import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CredentialRateLimiter } from '../../server/auth/rate-limit.js';
import { serverConfig } from '../../server/config.js';

describe('per-credential rate limiter', () => {
  it('lets a burst through, then the rate, and tells how long to wait; other credentials keep theirs', () => {
    const limiter = new CredentialRateLimiter(2, 4);
    const t0 = 1_000_000;
    for (let i = 0; i < 4; i++) assert.equal(limiter.take('key:a', t0), undefined, `burst request ${i + 1}`);
    assert.equal(limiter.take('key:a', t0), 1, 'empty bucket: wait a second (rounded up)');
    assert.equal(limiter.take('key:b', t0), undefined, 'another credential has its own bucket');
    assert.equal(limiter.take('key:a', t0 + 500), undefined, 'half a second refills one request at 2 a second');
    assert.equal(limiter.take('key:a', t0 + 500), 1);
    assert.equal(limiter.take('key:a', t0 + 60_000), undefined, 'a quiet spell refills it');
    for (let i = 0; i < 3; i++) assert.equal(limiter.take('key:a', t0 + 60_000), undefined, 'up to the burst, not beyond');
    assert.equal(limiter.take('key:a', t0 + 60_000), 1);
  });

  it('asks for the whole seconds one request takes to refill at a slow rate', () => {
    const limiter = new CredentialRateLimiter(0.1, 1);
    assert.equal(limiter.take('key:a', 0), undefined);
    assert.equal(limiter.take('key:a', 0), 10);
    assert.equal(limiter.take('key:a', 5_000), 5);
  });

  it('never limits at 0', () => {
    const limiter = new CredentialRateLimiter(0, 1);
    for (let i = 0; i < 1_000; i++) assert.equal(limiter.take('key:a', 0), undefined);
  });

  it('is set by --rate-limit or PROMPT_REGISTRY_RATE_LIMIT, the burst three seconds of it unless given', () => {
    assert.deepEqual(pick(serverConfig({}, {})), { rateLimit: 100, rateLimitBurst: 300 });
    assert.deepEqual(pick(serverConfig({}, { PROMPT_REGISTRY_RATE_LIMIT: '20' })), { rateLimit: 20, rateLimitBurst: 60 });
    assert.deepEqual(pick(serverConfig({ rateLimit: '50', rateLimitBurst: '500' }, { PROMPT_REGISTRY_RATE_LIMIT: '20' })), { rateLimit: 50, rateLimitBurst: 500 });
    assert.deepEqual(pick(serverConfig({}, { PROMPT_REGISTRY_RATE_LIMIT: '0' })), { rateLimit: 0, rateLimitBurst: 1 });
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_RATE_LIMIT: 'lots' }), /PROMPT_REGISTRY_RATE_LIMIT.*"lots": a whole number from 0/);
    assert.throws(() => serverConfig({}, { PROMPT_REGISTRY_RATE_LIMIT_BURST: '0' }), /PROMPT_REGISTRY_RATE_LIMIT_BURST.*"0": a whole number from 1/);
  });
});

const pick = (c: { rateLimit: number; rateLimitBurst: number }) => ({ rateLimit: c.rateLimit, rateLimitBurst: c.rateLimitBurst });
