import { createHash } from 'node:crypto';
import { LruCache } from '../lru.js';

/** A ready-to-send answer: the body is serialised and its ETag computed once. */
export interface CachedAnswer {
  status: 200 | 404;
  body: Buffer;
  etag: string | undefined;
}

export function answer(status: 200 | 404, value: unknown): CachedAnswer {
  const body = Buffer.from(JSON.stringify(value));
  const etag = status === 200 ? `"${createHash('sha1').update(body).digest('base64url')}"` : undefined;
  return { status, body, etag };
}

/**
 * In-process cache of resolve answers by (prompt, environment). Changes
 * invalidate a prompt's entries after commit; the generation counter keeps a
 * lookup that started before an invalidation from storing what it read.
 */
export class ResolveCache {
  private readonly entries: LruCache<string, CachedAnswer>;
  private generation = 0;
  /** Lookups answered from the cache and not, for the operator metrics (counted by the callers, once a request). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(capacity: number) {
    this.entries = new LruCache(capacity);
  }

  static key(prompt: string, environment: string): string {
    return `${prompt}\u0000${environment}`;
  }

  get(prompt: string, environment: string): CachedAnswer | undefined {
    return this.entries.get(ResolveCache.key(prompt, environment));
  }

  /** Call before reading the database; pass the result to `set`. */
  ticket(): number {
    return this.generation;
  }

  set(prompt: string, environment: string, value: CachedAnswer, ticket: number): void {
    if (ticket === this.generation) this.entries.set(ResolveCache.key(prompt, environment), value);
  }

  invalidatePrompt(prompt: string): void {
    this.generation++;
    const prefix = `${prompt}\u0000`;
    this.entries.deleteWhere((k) => k.startsWith(prefix));
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
  }
}
