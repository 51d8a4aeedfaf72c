import { createHash } from 'node:crypto';
import { assignment } from '../../shared/rollouts/assign.js';

/**
 * The rollout assignment of shared/rollouts/assign.ts (the clients' function, the same buckets) with
 * node:crypto's SHA-256: resolve and render assign a key on every call with one, and the native digest
 * is faster than the plain-JavaScript one the clients need.
 */
export const { rolloutBucket, assignVariant } = assignment((text) => createHash('sha256').update(text, 'utf8').digest());
