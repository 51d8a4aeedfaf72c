import { isUtf8 } from 'node:buffer';
import { z } from 'zod';
import { invalid } from '../errors.js';
import { isStorableTime } from './schemas.js';
import { isWellFormed } from './json-limits.js';

/** Opaque cursors: base64url JSON of the last item's sort key. */
export function encodeCursor(key: unknown): string {
  return Buffer.from(JSON.stringify(key)).toString('base64url');
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/**
 * The sort key a cursor holds, checked against `key`: the shape this list
 * writes, with every value one its column can hold. A cursor is the client's
 * to send, so anything else (forged, or from another list) is a 400
 * `invalid_cursor` here, never a value SQL refuses. Its JSON is short (the
 * query schema caps a cursor at 512 characters) and the key schemas are flat,
 * so no nesting in it reaches anything recursive.
 */
export function decodeCursor<T>(cursor: string | undefined, key: z.ZodType<T>): T | undefined {
  if (cursor === undefined || cursor === '') return undefined;
  const bytes = BASE64URL.test(cursor) ? Buffer.from(cursor, 'base64url') : undefined;
  if (bytes && isUtf8(bytes)) {
    try {
      const parsed = key.safeParse(JSON.parse(bytes.toString('utf8')));
      if (parsed.success) return parsed.data;
    } catch {
      // not JSON: refused below
    }
  }
  throw invalid('invalid_cursor', 'the cursor is not one this list returned; start again without it');
}

/** Builds `{items, next_cursor}` from a page fetched with limit + 1 rows. */
export function pageOf<T>(rows: T[], limit: number, keyOf: (last: T) => unknown): { items: T[]; next_cursor: string | null } {
  const items = rows.slice(0, limit);
  const last = items[items.length - 1];
  return { items, next_cursor: rows.length > limit && last !== undefined ? encodeCursor(keyOf(last)) : null };
}

// The sort keys lists page by, each bounded by its column's type (migrations/).

/** A VARCHAR(max) column: text Postgres can compare (no NUL, no lone surrogate), within the column's length. */
export const textKey = (max: number) => z.string().min(1).max(max).refine((s) => !s.includes('\u0000') && isWellFormed(s));
/** An INTEGER column (version numbers, deployment seq): 1 to 2^31 − 1. */
export const int4Key = z.number().int().min(1).max(2_147_483_647);
/** A BIGINT identity (audit ids), as far as a JSON number stays exact. */
export const int8Key = z.number().int().min(1).max(Number.MAX_SAFE_INTEGER);
/** A UUID column, in the lower-case form both databases answer. */
export const uuidKey = z.string().regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
/** A TIMESTAMPTZ column, as the list wrote it (toISOString()), and a real day (no 31 February). */
export const timeKey = z.string().refine((s) => isStorableTime(s) && new Date(s).toISOString() === s);
/** [time, id]: lists ordered by a time and then an id (executions, deployment requests). */
export const timeIdKey = z.tuple([timeKey, uuidKey]);
