import { sha256 } from './sha256.js';

/**
 * Which variant of a rollout serves a caller key, the same in the server and
 * the clients (docs/rollouts.md, "Assignment"): the first 4 bytes of the
 * SHA-256 of `${prompt}\n${environment}\n${rolloutId}\n${key}` (UTF-8), read as
 * a big-endian unsigned integer, modulo 100, is the key's bucket; buckets below
 * the weight get the candidate. A key keeps its bucket for the whole rollout, so
 * raising the weight only moves keys from live to candidate.
 */
export function rolloutBucket(prompt: string, environment: string, rolloutId: string, key: string): number {
  const digest = sha256(new TextEncoder().encode(`${prompt}\n${environment}\n${rolloutId}\n${key}`));
  return new DataView(digest.buffer).getUint32(0) % 100;
}

export type Variant = 'candidate' | 'live';

export function assignVariant(prompt: string, environment: string, rollout: { id: string; weight: number }, key: string): Variant {
  return rolloutBucket(prompt, environment, rollout.id, key) < rollout.weight ? 'candidate' : 'live';
}
