import type { IncomingMessage, ServerResponse } from 'node:http';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Database } from '../db/index.js';
import type { ResolveCache } from '../deployments/resolve-cache.js';
import type { ChangeFeed } from '../events.js';

/** What the metrics read when scraped: counters kept by the services themselves, so the hot paths stay plain increments. */
export interface MetricSources {
  db: Database;
  resolveCache: ResolveCache;
  ingested: { batches: number; rows: number; duplicates: number };
  feed: ChangeFeed;
  /** The webhook outbox's backlog, read from the database at each scrape. */
  outboxDepth?: () => Promise<{ pending: number; oldestAgeSeconds: number }>;
}

/** The label a request is counted under: the route pattern it matched, never the raw URL (unbounded). */
const RESOLVE_ROUTE = '/prompts/:name/latest';

/** A counter that reports a running total kept elsewhere. */
function mirroredCounter(registry: Registry, name: string, help: string, read: () => number): Counter {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(read());
    },
  });
}

/**
 * Operator metrics in the Prometheus text format (prom-client), one registry a server,
 * served on the management port (see main.ts), apart from the evaluation metrics API at /metrics.
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  private readonly requests: Counter<'method' | 'route' | 'status'>;
  private readonly duration: Histogram<'method' | 'route'>;
  private readonly unavailable: Counter;

  constructor(sources: MetricSources) {
    const registry = this.registry;
    collectDefaultMetrics({ register: registry, prefix: 'prompt_registry_' });
    this.requests = new Counter({
      name: 'prompt_registry_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'prompt_registry_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer finishing, by method and route pattern',
      labelNames: ['method', 'route'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    });
    this.unavailable = new Counter({
      name: 'prompt_registry_database_unavailable_total',
      help: 'Requests answered 503 database_unavailable (database unreachable, pool exhausted, or a timeout)',
      registers: [registry],
    });
    const cache = sources.resolveCache.stats;
    mirroredCounter(registry, 'prompt_registry_resolve_cache_hits_total', 'Resolves answered from the in-process cache', () => cache.hits);
    mirroredCounter(registry, 'prompt_registry_resolve_cache_misses_total', 'Resolves that had to read the database', () => cache.misses);
    const ingested = sources.ingested;
    mirroredCounter(registry, 'prompt_registry_ingest_batches_total', 'Execution batches stored (POST /executions)', () => ingested.batches);
    mirroredCounter(registry, 'prompt_registry_ingest_rows_total', 'Execution rows inserted', () => ingested.rows);
    mirroredCounter(registry, 'prompt_registry_ingest_duplicate_rows_total', 'Execution rows skipped as already stored (a retried batch)', () => ingested.duplicates);
    new Gauge({
      name: 'prompt_registry_event_stream_subscribers',
      help: 'Open GET /events streams',
      registers: [registry],
      collect() {
        this.set(sources.feed.streamCount());
      },
    });
    const outbox = sources.outboxDepth;
    if (outbox) {
      // One query a scrape for both gauges (prom-client collects them at once). A database that cannot
      // answer leaves the last values, and the scrape still answers (database_unavailable_total says why).
      let reading: Promise<{ pending: number; oldestAgeSeconds: number } | undefined> | undefined;
      const read = () => (reading ??= outbox().catch(() => undefined).finally(() => (reading = undefined)));
      new Gauge({
        name: 'prompt_registry_webhook_outbox_pending',
        help: 'Webhook deliveries waiting to be sent (to enabled webhooks): queued, or failed and due for a retry',
        registers: [registry],
        async collect() {
          const d = await read();
          if (d) this.set(d.pending);
        },
      });
      new Gauge({
        name: 'prompt_registry_webhook_outbox_oldest_pending_age_seconds',
        help: 'Age of the oldest webhook delivery waiting to be sent, in seconds (0 when none waits)',
        registers: [registry],
        async collect() {
          const d = await read();
          if (d) this.set(d.oldestAgeSeconds);
        },
      });
    }
    const pool = sources.db.poolStats?.bind(sources.db);
    if (pool) {
      new Gauge({
        name: 'prompt_registry_db_pool_connections',
        help: 'Postgres pool connections by state: total, idle, waiting (requests queued for one), max',
        labelNames: ['state'],
        registers: [registry],
        collect() {
          const s = pool();
          this.set({ state: 'total' }, s.total);
          this.set({ state: 'idle' }, s.idle);
          this.set({ state: 'waiting' }, s.waiting);
          this.set({ state: 'max' }, s.max);
        },
      });
      mirroredCounter(registry, 'prompt_registry_db_pool_idle_errors_total', 'Idle Postgres connections that failed (the server went away)', () => pool().idleErrors);
    }
  }

  /**
   * Counts a request when it ends (answered, or the client gone). A request no route matched is either
   * a resolve answered by the fast path ahead of the router (app.ts sets `res.locals.fastPath`), or an unknown path.
   */
  /** `fastPath`: answered before Express, from the resolve cache. */
  observe(req: IncomingMessage, res: ServerResponse, fastPath = false): void {
    const started = process.hrtime.bigint();
    res.once('close', () => {
      const matched = (req as { route?: { path?: unknown } }).route?.path;
      const route = fastPath ? RESOLVE_ROUTE : typeof matched === 'string' ? matched : 'unmatched';
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      this.requests.inc({ method: req.method, route, status: res.statusCode });
      this.duration.observe({ method: req.method, route }, seconds);
    });
  }

  databaseUnavailable(): void {
    this.unavailable.inc();
  }
}
