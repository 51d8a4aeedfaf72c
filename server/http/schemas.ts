import { z } from 'zod';

/** Text that Postgres can store: no NUL characters (SQLite would keep them, Postgres refuses). */
export const text = (max: number) =>
  z
    .string()
    .max(max, `must be at most ${max} characters`)
    .refine((s) => !s.includes('\u0000'), 'must not contain NUL characters');

export const promptName = z
  .string()
  .min(1, 'a prompt name is required')
  .max(255, 'a prompt name is at most 255 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, "a prompt name starts with a letter or digit and has only letters, digits, '.', '_' and '-'");

export const environmentName = z
  .string()
  .min(1)
  .max(50, 'an environment name is at most 50 characters')
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "an environment name is lower-case letters, digits, '_' and '-'");

export const tag = z
  .string()
  .min(1)
  .max(100, 'a tag is at most 100 characters')
  .regex(/^[^\p{Cc}]+$/u, 'a tag has no control characters');

/** A JSON object whose strings (keys and values) Postgres can store. */
export const jsonObject = z
  .record(z.string(), z.unknown())
  .refine((v) => !JSON.stringify(v).includes('\\u0000'), 'must not contain NUL characters');

export const positiveInt = z.coerce
  .number({ error: 'must be a whole number' })
  .int('must be a whole number')
  .min(1, 'must be at least 1')
  .max(2_147_483_647, 'is too large');

export const limit = z.coerce.number().int().min(1).max(100).default(50);

/** Query-string booleans: z.coerce.boolean would read "false" as true. */
export const flag = z
  .enum(['true', 'false', '1', '0', ''])
  .default('false')
  .transform((v) => v === 'true' || v === '1');

/** Whether `s` is a UTC time as toISOString() writes it, in the years 1 to 9999 (Postgres refuses year 0). */
export function isStorableTime(s: string): boolean {
  return /^(?!0000)\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(s);
}

/**
 * An ISO-8601 time, normalised to UTC with milliseconds so both dialects compare it as stored.
 * Checked again once normalised: an offset can carry 0001-01-01 into year 0, or 9999 into 10000.
 */
export const isoTime = z.iso
  .datetime({ offset: true, message: 'must be an ISO-8601 time, e.g. 2026-01-31T12:00:00Z' })
  .transform((s) => new Date(s).toISOString())
  .refine(isStorableTime, 'must be a time in the years 1 to 9999 (UTC)');

/** A UUID in lower case: SQLite compares text, so `ABC…` and `abc…` must be one id; Postgres refuses anything else. */
export const uuid = z.uuid('must be a UUID').transform((s) => s.toLowerCase());

export const cursorParam = z.string().max(512).optional();

/** Every list answers this shape. */
export const page = <T extends z.ZodType>(item: T) => z.object({ items: z.array(item), next_cursor: z.string().nullable() });

export const errorSchema = z.object({
  error: z.object({ code: z.string(), message: z.string(), request_id: z.string().optional() }).loose(),
});
