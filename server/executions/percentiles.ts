// Nearest-rank latency percentiles, computed here the same way for both databases.

/**
 * Nearest-rank percentile of an ascending list: the value at position
 * ceil(p·n), computed in double precision as Postgres's percentile_disc does.
 */
export function nearestRank(sorted: ArrayLike<number>, p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const rank = Math.max(1, Math.ceil(p * n));
  return sorted[Math.min(rank, n) - 1]!;
}

/** Numbers from group_concat's comma-separated text; whole non-negative ones (the API's latencies) without making a string each. */
export function parseList(text: string): Float64Array {
  let count = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) count++;
    else if (c < 48 || c > 57) return new Float64Array(text.split(',').map(Number));
  }
  const out = new Float64Array(count);
  let k = 0;
  let value = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 44) {
      out[k++] = value;
      value = 0;
    } else value = value * 10 + (c - 48);
  }
  out[k] = value;
  return out;
}

/**
 * Rearranges a[lo..hi] so that a[k] holds the value an ascending sort would
 * put there, with none larger before it and none smaller after (Hoare's
 * selection, pivot the median of three): linear on average, where a sort of
 * every bucket cost more than the queries.
 */
function select(a: Float64Array, k: number, lo: number, hi: number): number {
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const [x0, x1, x2] = [a[lo]!, a[mid]!, a[hi]!];
    const pivot = x0 < x1 ? (x1 < x2 ? x1 : x0 < x2 ? x2 : x0) : x0 < x2 ? x0 : x1 < x2 ? x2 : x1;
    let [i, j] = [lo, hi];
    while (i <= j) {
      while (a[i]! < pivot) i++;
      while (pivot < a[j]!) j--;
      if (i <= j) {
        const t = a[i]!;
        a[i++] = a[j]!;
        a[j--] = t;
      }
    }
    if (j < k) lo = i;
    if (k < i) hi = j;
  }
  return a[k]!;
}

/** Nearest-rank percentiles (ascending ps) of values in any order, which it reorders; null for none. */
export function percentiles(values: Float64Array, ps: readonly number[]): Array<number | null> {
  const n = values.length;
  let lo = 0;
  return ps.map((p) => {
    if (n === 0) return null;
    const k = Math.min(Math.max(1, Math.ceil(p * n)), n) - 1;
    const value = select(values, k, lo, n - 1);
    lo = k;
    return value;
  });
}

export function concat(lists: readonly Float64Array[]): Float64Array {
  const out = new Float64Array(lists.reduce((n, l) => n + l.length, 0));
  let at = 0;
  for (const l of lists) {
    out.set(l, at);
    at += l.length;
  }
  return out;
}
