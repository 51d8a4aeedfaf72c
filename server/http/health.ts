import { z } from 'zod';
import type { Database } from '../db/index.js';
import { migrationsCurrent } from '../db/migrate.js';
import { AppError } from '../errors.js';
import { VERSION } from '../version.js';
import { DATABASE_RETRY_AFTER_SECONDS } from './error-handler.js';
import { defineRoute, type Route } from './route.js';

/** Set when shutdown begins, so readiness fails before the server stops accepting (see main.ts). */
export interface Lifecycle {
  draining: boolean;
}

type Check = () => Promise<string | undefined>;

/** A check that has not answered by then fails: readiness must answer a load balancer promptly. */
const CHECK_TIMEOUT_MS = 3_000;

async function bounded(check: Check): Promise<string | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => (timer = setTimeout(() => resolve(`no answer within ${CHECK_TIMEOUT_MS} ms`), CHECK_TIMEOUT_MS)));
  try {
    return await Promise.race([check().catch((err: unknown) => (err as Error).message || String(err)), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function checks(db: Database): Record<string, Check> {
  return {
    database: async () => {
      await db.get('SELECT 1 AS ok');
      return undefined;
    },
    migrations: async () => {
      const m = await migrationsCurrent(db);
      return m.current ? undefined : `migration ${m.applied} applied, ${m.known} expected: run prompt-registry migrate (or restart one replica)`;
    },
    storage: () => db.writeProblem(),
  };
}

const readySchema = z.object({ status: z.literal('ok'), checks: z.record(z.string(), z.literal('ok')) });

/** Liveness, readiness and the older combined health check; none needs a credential. */
export function healthRoutes(db: Database, lifecycle: Lifecycle): Route[] {
  const all = checks(db);
  return [
    defineRoute({
      method: 'get',
      path: '/healthz',
      summary: 'Database reachability (kept for compatibility; prefer /livez and /readyz). 503 database_unavailable when the database is down',
      tag: 'system',
      scope: 'none',
      responses: { 200: { description: 'Healthy', schema: z.object({ status: z.literal('ok'), version: z.string(), database: z.string() }) } },
      async handler() {
        await db.get('SELECT 1 AS ok');
        return { status: 'ok', version: VERSION, database: db.dialect };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/livez',
      summary: 'Liveness: the process answers (touches no database; restart it only when this fails)',
      tag: 'system',
      scope: 'none',
      responses: { 200: { description: 'Alive', schema: z.object({ status: z.literal('ok'), version: z.string() }) } },
      handler: () => ({ status: 'ok' as const, version: VERSION }),
    }),
    defineRoute({
      method: 'get',
      path: '/readyz',
      summary:
        'Readiness: the database answers, its migrations are current and storage is writable, and the server is not shutting down. ' +
        '503 not_ready with Retry-After, the failing checks named in `checks`, when not',
      tag: 'system',
      scope: 'none',
      responses: { 200: { description: 'Ready to serve', schema: readySchema } },
      async handler() {
        const results: Record<string, string> = {};
        if (lifecycle.draining) results.shutdown = 'the server is shutting down';
        // The checks run one after another: storage and migrations mean little when the database is down.
        for (const [name, check] of Object.entries(all)) {
          const failure = results.database && results.database !== 'ok' ? 'skipped: the database is not answering' : await bounded(check);
          results[name] = failure ?? 'ok';
        }
        const failing = Object.entries(results).filter(([, v]) => v !== 'ok');
        if (failing.length === 0) return { status: 'ok' as const, checks: results };
        const message = `not ready: ${failing.map(([k, v]) => `${k}: ${v}`).join('; ')}`;
        throw new AppError('unavailable', 'not_ready', message, { checks: results, retry_after: DATABASE_RETRY_AFTER_SECONDS });
      },
    }),
  ];
}
