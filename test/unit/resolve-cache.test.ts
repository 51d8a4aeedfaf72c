import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { answer, ResolveCache } from '../../server/deployments/resolve-cache.js';

const ok = (v: number) => answer(200, { version: v });

describe('ResolveCache', () => {
  it('invalidating a prompt removes exactly its entries, in every environment', () => {
    const cache = new ResolveCache(100);
    for (const prompt of ['a', 'ab', 'b']) for (const env of ['production', 'staging']) cache.set(prompt, env, ok(1), cache.ticket());
    assert.equal(cache.size, 6);
    cache.invalidatePrompt('a');
    assert.equal(cache.get('a', 'production'), undefined);
    assert.equal(cache.get('a', 'staging'), undefined);
    // 'ab' shares a's first letter, not its name: it stays, as does b.
    assert.deepEqual(
      ['ab', 'b'].flatMap((p) => ['production', 'staging'].map((e) => cache.get(p, e)?.status)),
      [200, 200, 200, 200],
    );
    assert.equal(cache.size, 4);
  });

  it('a lookup that started before an invalidation does not store what it read', () => {
    const cache = new ResolveCache(100);
    const ticket = cache.ticket();
    cache.invalidatePrompt('a');
    cache.set('a', 'production', ok(1), ticket);
    assert.equal(cache.get('a', 'production'), undefined);
  });

  it('stays in step with entries the LRU evicted', () => {
    const cache = new ResolveCache(2);
    cache.set('a', 'production', ok(1), cache.ticket());
    cache.set('b', 'production', ok(1), cache.ticket());
    cache.set('c', 'production', ok(1), cache.ticket()); // evicts a
    assert.equal(cache.get('a', 'production'), undefined);
    cache.invalidatePrompt('a'); // nothing of a's left: the others stay
    assert.equal(cache.size, 2);
    cache.set('a', 'staging', ok(2), cache.ticket()); // evicts b
    cache.invalidatePrompt('a');
    assert.equal(cache.get('a', 'staging'), undefined);
    assert.equal(cache.get('c', 'production')?.status, 200);
    assert.equal(cache.size, 1);
  });

  it('stores nothing with a capacity of 0', () => {
    const cache = new ResolveCache(0);
    cache.set('a', 'production', ok(1), cache.ticket());
    assert.equal(cache.get('a', 'production'), undefined);
  });
});
