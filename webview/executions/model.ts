/** The Executions view's and the detail's logic, apart from the DOM. */
import type { ExecutionSummary, Metric, Page } from '../../client/api.js';
import { formatCost, formatLatency, formatScore, formatTime, formatTokens } from '../format.js';

/** One table row's cells, in column order (see COLUMNS). */
export const COLUMNS = ['Time', 'Prompt', 'Version', 'Environment', 'Latency', 'Tokens', 'Cost', 'Quality', 'Status'] as const;

export function rowCells(e: ExecutionSummary, now: Date, timeZone?: string): string[] {
  return [
    formatTime(e.executed_at, now, timeZone),
    e.prompt ?? '(deleted)',
    e.version === null ? '—' : `v${e.version}`,
    e.environment ?? '—',
    formatLatency(e.latency_ms),
    formatTokens(e.input_tokens, e.output_tokens),
    formatCost(e.cost_usd),
    formatScore(e.quality_score),
    e.status,
  ];
}

/**
 * The list after a background refresh: the newest page's executions not yet
 * shown go on top, and what was loaded below (with "Load more") stays. When
 * the newest page shares nothing with the list, more than a page arrived at
 * once: the list starts again from that page.
 */
export function mergeNewest(current: Page<ExecutionSummary>, newest: Page<ExecutionSummary>): Page<ExecutionSummary> {
  const shown = new Set(current.items.map((e) => e.id));
  const overlap = newest.items.findIndex((e) => shown.has(e.id));
  if (overlap === -1) return newest;
  return { items: [...newest.items.slice(0, overlap), ...current.items], next_cursor: current.next_cursor };
}

export type ScoreMetric = Pick<Metric, 'name' | 'type' | 'min' | 'max' | 'categories'>;

/** What a metric takes, said the way the form's hint says it. */
export function describeMetric(m: ScoreMetric): string {
  if (m.type === 'boolean') return 'true or false';
  if (m.type === 'categorical') return `one of: ${(m.categories ?? []).join(', ')}`;
  if (m.min !== null && m.max !== null) return `a number from ${m.min} to ${m.max}`;
  if (m.min !== null) return `a number, at least ${m.min}`;
  if (m.max !== null) return `a number, at most ${m.max}`;
  return 'a number';
}

/** A score as typed, checked against its metric before it is sent (the registry checks again). */
export function parseScoreValue(m: ScoreMetric, input: string): { ok: true; value: number | boolean | string } | { ok: false; message: string } {
  const text = input.trim();
  if (!text) return { ok: false, message: `Enter ${describeMetric(m)}.` };
  if (m.type === 'boolean') {
    if (/^(true|yes|1)$/i.test(text)) return { ok: true, value: true };
    if (/^(false|no|0)$/i.test(text)) return { ok: true, value: false };
    return { ok: false, message: `${m.name} is true or false.` };
  }
  if (m.type === 'categorical') {
    const categories = m.categories ?? [];
    return categories.includes(text) ? { ok: true, value: text } : { ok: false, message: `${m.name} is ${describeMetric(m)}.` };
  }
  const value = Number(text);
  if (!/^[-+]?(\d+\.?\d*|\.\d+)(e[-+]?\d+)?$/i.test(text) || !Number.isFinite(value)) return { ok: false, message: `${m.name} is a number; "${text}" is not.` };
  if ((m.min !== null && value < m.min) || (m.max !== null && value > m.max)) return { ok: false, message: `${m.name} is ${describeMetric(m)}; ${value} is outside.` };
  return { ok: true, value };
}
