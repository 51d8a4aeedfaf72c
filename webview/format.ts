/**
 * How the execution-log webviews write numbers and times. Pure (no DOM, no
 * `vscode`), so unit tests cover it. A missing value is an em dash.
 */
export const NONE = '—';

const trim = (s: string) => (s.includes('.') ? s.replace(/\.?0+$/, '') : s);

/** 830 ms, 1.71 s, 12.4 s, 3 min 20 s. */
export function formatLatency(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return NONE;
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 10_000) return `${trim((ms / 1000).toFixed(2))} s`;
  if (ms < 60_000) return `${trim((ms / 1000).toFixed(1))} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${s % 60} s`;
}

/** US dollars with the digits that matter: $2.52, $0.10, $0.0021. */
export function formatCost(usd: number | null | undefined): string {
  if (usd === null || usd === undefined || !Number.isFinite(usd)) return NONE;
  if (usd === 0) return '$0';
  if (Math.abs(usd) >= 1) return `$${usd.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 })}`;
  // Two significant digits, zeros kept ($0.10, $0.0010): cents read as money.
  const digits = usd.toPrecision(2);
  return `$${digits.includes('e') ? trim(usd.toFixed(8)) : digits}`;
}

/** A count with thousands separators; 1.2k past ten thousand; 3.4M past ten million. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return NONE;
  const a = Math.abs(n);
  if (a >= 10_000_000) return `${trim((n / 1_000_000).toFixed(1))}M`;
  if (a >= 10_000) return `${trim((n / 1000).toFixed(1))}k`;
  return Number.isInteger(n) ? n.toLocaleString('en-US') : trim(n.toFixed(1));
}

/** Input → output tokens of one execution. */
export function formatTokens(input: number | null, output: number | null): string {
  if (input === null && output === null) return NONE;
  return `${input === null ? NONE : formatCount(input)} → ${output === null ? NONE : formatCount(output)}`;
}

/** A score or a mean of scores: up to three decimals. */
export function formatScore(value: number | null | undefined): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return NONE;
  return trim(value.toFixed(Math.abs(value) >= 100 ? 1 : 3));
}

export function formatPercent(share: number | null | undefined): string {
  if (share === null || share === undefined || !Number.isFinite(share)) return NONE;
  if (share === 0) return '0%';
  const pct = share * 100;
  return `${trim(pct.toFixed(pct < 1 ? 2 : 1))}%`;
}

/** A signed difference for a comparison (b − a), formatted like its measure. */
export function formatDifference(value: number | null, format: (v: number) => string): string {
  if (value === null || !Number.isFinite(value)) return NONE;
  if (value === 0) return '±0';
  return `${value > 0 ? '+' : '−'}${format(Math.abs(value))}`;
}

/**
 * When an execution ran, in the user's time zone (or `timeZone`): the time
 * of day for today, the date and minute otherwise.
 */
export function formatTime(iso: string, now: Date, timeZone?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  const zone = timeZone ? { timeZone } : {};
  const day = (d: Date) => d.toLocaleDateString('en-CA', zone);
  if (day(at) === day(now)) return at.toLocaleTimeString('en-GB', { ...zone, hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const sameYear = at.toLocaleDateString('en-CA', { ...zone, year: 'numeric' }) === now.toLocaleDateString('en-CA', { ...zone, year: 'numeric' });
  return at.toLocaleString('en-GB', { ...zone, ...(sameYear ? {} : { year: 'numeric' }), month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit' });
}

/** The full timestamp, for tooltips and the detail. */
export function formatTimestamp(iso: string, timeZone?: string): string {
  const at = new Date(iso);
  if (Number.isNaN(at.getTime())) return iso;
  return at.toLocaleString('en-GB', { ...(timeZone ? { timeZone } : {}), year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', timeZoneName: 'short' });
}
