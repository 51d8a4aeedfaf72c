import { sha256 } from './sha256.js';

/** SHA-256 of a text's UTF-8 bytes. The clients use the plain-JavaScript one; the server passes node:crypto's. */
export type Sha256 = (text: string) => Uint8Array;

const plainSha256: Sha256 = (text) => sha256(new TextEncoder().encode(text));

export type Variant = 'candidate' | 'live';

export interface Assignment {
  /**
   * Which variant of a rollout serves a caller key, the same in the server and
   * the clients (docs/rollouts.md, "Assignment"): the first 4 bytes of the
   * SHA-256 of `${prompt}\n${environment}\n${rolloutId}\n${key}` (UTF-8), read as
   * a big-endian unsigned integer, modulo 100, is the key's bucket; buckets below
   * the weight get the candidate. A key keeps its bucket for the whole rollout, so
   * raising the weight only moves keys from live to candidate.
   */
  rolloutBucket(prompt: string, environment: string, rolloutId: string, key: string): number;
  assignVariant(prompt: string, environment: string, rollout: { id: string; weight: number }, key: string): Variant;
}

/** The assignment computed with `digest`: the same buckets whichever SHA-256 it is. */
export function assignment(digest: Sha256): Assignment {
  const rolloutBucket = (prompt: string, environment: string, rolloutId: string, key: string): number => {
    const d = digest(`${prompt}\n${environment}\n${rolloutId}\n${key}`);
    return new DataView(d.buffer, d.byteOffset, d.byteLength).getUint32(0) % 100;
  };
  return {
    rolloutBucket,
    assignVariant: (prompt, environment, rollout, key) => (rolloutBucket(prompt, environment, rollout.id, key) < rollout.weight ? 'candidate' : 'live'),
  };
}

/** The assignment in plain JavaScript, for the clients (browsers and edge runtimes have no synchronous SHA-256). */
export const { rolloutBucket, assignVariant } = assignment(plainSha256);
