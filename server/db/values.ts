import { SQL } from './sql.js';
import type { Dialect } from './types.js';

/**
 * Row values in one form on both dialects: Postgres answers arrays, JSON and
 * booleans natively; SQLite answers JSON text and 0/1.
 */
export function json(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

export function stringArray(value: unknown): string[] {
  if (value === null || value === undefined) return [];
  const parsed = typeof value === 'string' ? JSON.parse(value) : value;
  return Array.isArray(parsed) ? parsed.map(String) : [];
}

export function bool(value: unknown): boolean {
  return value === true || value === 1;
}

/** ISO-8601 UTC with milliseconds, from a Postgres ISO string or SQLite text. */
export function timestamp(value: unknown): string {
  if (typeof value !== 'string') return new Date(value as number).toISOString();
  return value.endsWith('Z') && value.length === 24 ? value : new Date(value).toISOString();
}

export function nullableTimestamp(value: unknown): string | null {
  return value === null || value === undefined ? null : timestamp(value);
}

/** A list parameter: a text[] for Postgres, JSON text for SQLite's json_each (`db.sql.list`, for a caller holding the dialect). */
export function listParam(dialect: Dialect, values: readonly string[]): unknown {
  return SQL[dialect].list(values);
}
