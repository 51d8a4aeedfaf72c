/** Load generation with autocannon, and a few plain HTTP helpers. */
import autocannon from 'autocannon';

export interface Measurement {
  target: string;
  req_per_s: number;
  p50_ms: number;
  p99_ms: number;
  requests: number;
  errors: number;
  timeouts: number;
  non_2xx: number;
  duration_s: number;
}

const round = (n: number, digits = 2) => Math.round(n * 10 ** digits) / 10 ** digits;

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/**
 * `connections` keep-alive connections for `seconds`, each request to a path
 * picked at random from `paths`. Latency percentiles are over 2xx answers and
 * come from each response's own timing (autocannon's histogram keeps whole
 * milliseconds, too coarse at these latencies).
 */
export function runLoad(url: string, paths: readonly string[], headers: Record<string, string>, connections: number, seconds: number): Promise<Measurement> {
  return new Promise((resolve, reject) => {
    let latencies = new Float64Array(1 << 16);
    let n = 0;
    const instance = autocannon(
      {
        url,
        connections,
        duration: seconds,
        headers,
        requests: [
          {
            method: 'GET',
            setupRequest: (req) => {
              req.path = paths[Math.floor(Math.random() * paths.length)];
              return req;
            },
          },
        ],
      },
      (err: unknown, result) => {
        if (err) return reject(err instanceof Error ? err : new Error(String(err)));
        const sorted = latencies.subarray(0, n).sort();
        resolve({
          target: url,
          req_per_s: round(result.requests.average, 1),
          p50_ms: round(percentile(sorted, 0.5)),
          p99_ms: round(percentile(sorted, 0.99)),
          requests: result.requests.total,
          errors: result.errors,
          timeouts: result.timeouts,
          non_2xx: result.non2xx,
          duration_s: round(result.duration, 2),
        });
      },
    );
    instance.on('response', (_client, statusCode, _bytes, responseTime) => {
      if (statusCode < 200 || statusCode >= 300) return;
      if (n === latencies.length) {
        const bigger = new Float64Array(latencies.length * 2);
        bigger.set(latencies);
        latencies = bigger;
      }
      latencies[n++] = responseTime;
    });
  });
}

/** GETs every path (a few at a time) and answers each body as text; any status but 200 is an error. */
export async function fetchAll(base: string, paths: readonly string[], headers: Record<string, string>, concurrency = 16): Promise<string[]> {
  const bodies = new Array<string>(paths.length);
  let next = 0;
  const worker = async () => {
    while (next < paths.length) {
      const i = next++;
      const res = await fetch(base + paths[i], { headers });
      const text = await res.text();
      if (res.status !== 200) throw new Error(`GET ${paths[i]} on ${base} answered ${res.status}: ${text.slice(0, 300)}`);
      bodies[i] = text;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return bodies;
}
