import { createHash } from 'node:crypto';
import { LruCache } from '../lru.js';

/** A ready-to-send answer: the body is serialised and its ETag computed once. */
export interface CachedAnswer {
  status: 200 | 404 | 422;
  body: Buffer;
  etag: string | undefined;
  /** A 200's live version and its resolved partials, for rendering without reading the database again. */
  source?: unknown;
}

export function answer(status: 200 | 404 | 422, value: unknown): CachedAnswer {
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
  /** Each prompt's cached environments, so invalidating a prompt touches only its own entries. */
  private readonly byPrompt = new Map<string, Set<string>>();
  /** The entries (keys) whose answer includes a prompt as a partial that follows a deployment: invalidated with it. */
  private readonly dependents = new Map<string, Set<string>>();
  private generation = 0;
  /** Lookups answered from the cache and not, for the operator metrics (counted by the callers, once a request). */
  readonly stats = { hits: 0, misses: 0 };

  constructor(private readonly capacity: number) {
    this.entries = new LruCache(capacity, (key) => {
      const [prompt, environment] = key.split('\u0000') as [string, string];
      this.forget(prompt, environment);
    });
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

  /** `dependsOn`: the partials (prompt names) the answer followed; a change to any of them invalidates it too. */
  set(prompt: string, environment: string, value: CachedAnswer, ticket: number, dependsOn: Iterable<string> = []): void {
    if (ticket !== this.generation || this.capacity <= 0) return;
    let environments = this.byPrompt.get(prompt);
    if (!environments) this.byPrompt.set(prompt, (environments = new Set()));
    environments.add(environment);
    const key = ResolveCache.key(prompt, environment);
    for (const partial of dependsOn) {
      let keys = this.dependents.get(partial);
      if (!keys) this.dependents.set(partial, (keys = new Set()));
      keys.add(key);
    }
    this.entries.set(key, value);
  }

  invalidatePrompt(prompt: string): void {
    this.generation++;
    const keys = this.dependents.get(prompt);
    if (keys) {
      this.dependents.delete(prompt);
      for (const key of keys) {
        const [owner, environment] = key.split('\u0000') as [string, string];
        this.entries.delete(key);
        this.forget(owner, environment);
      }
    }
    const environments = this.byPrompt.get(prompt);
    if (!environments) return;
    this.byPrompt.delete(prompt);
    for (const environment of environments) this.entries.delete(ResolveCache.key(prompt, environment));
  }

  clear(): void {
    this.generation++;
    this.entries.clear();
    this.byPrompt.clear();
    this.dependents.clear();
  }

  /** How many answers are cached (for tests and metrics). */
  get size(): number {
    return this.entries.size;
  }

  private forget(prompt: string, environment: string): void {
    const environments = this.byPrompt.get(prompt);
    if (!environments) return;
    environments.delete(environment);
    if (environments.size === 0) this.byPrompt.delete(prompt);
  }
}
