import { LRUCache } from 'lru-cache';

/**
 * A bounded map that forgets the least recently used entry first: lru-cache,
 * with the two things our callers need on top: a capacity of 0 turns caching
 * off (lru-cache requires at least 1), and `onEvict` hears only of entries
 * dropped to make room, not of those deleted or replaced, so an index kept
 * beside the cache stays in step.
 */
export class LruCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>> {
  private readonly cache: LRUCache<K, V> | undefined;

  constructor(capacity: number, onEvict?: (key: K) => void) {
    if (capacity <= 0) return;
    this.cache = new LRUCache<K, V>({
      max: capacity,
      ...(onEvict ? { dispose: (_value: V, key: K, reason: LRUCache.DisposeReason) => reason === 'evict' && onEvict(key) } : {}),
    });
  }

  get(key: K): V | undefined {
    return this.cache?.get(key);
  }

  set(key: K, value: V): void {
    this.cache?.set(key, value);
  }

  delete(key: K): void {
    this.cache?.delete(key);
  }

  clear(): void {
    this.cache?.clear();
  }

  get size(): number {
    return this.cache?.size ?? 0;
  }
}
