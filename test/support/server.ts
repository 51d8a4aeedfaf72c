import { after, before } from 'node:test';
import { pino } from 'pino';
import type { Dialect } from '../../server/db/index.js';
import { DEFAULT_APP_OPTIONS } from '../../server/app.js';
import type { ServerConfig } from '../../server/config.js';
import { startServer, type RunningServer } from '../../server/main.js';
import { freshDatabase, type TestDatabase } from './db.js';

export const ADMIN_KEY = 'test-admin-key-0123456789';
/** Every test server shares one server secret, as replicas on one database must. */
export const TEST_SECRET = 'test-server-secret-0123456789abcdef0123456789';

export interface Answer<T = any> {
  status: number;
  body: T;
  headers: Headers;
}

export interface Api {
  get<T = any>(path: string, headers?: Record<string, string>): Promise<Answer<T>>;
  post<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  patch<T = any>(path: string, body?: unknown, headers?: Record<string, string>): Promise<Answer<T>>;
  delete<T = any>(path: string, headers?: Record<string, string>): Promise<Answer<T>>;
  /** Sends a raw body (for malformed JSON and size tests). */
  raw<T = any>(method: string, path: string, body: string | Buffer, headers?: Record<string, string>): Promise<Answer<T>>;
}

/** An API client sending `key` as X-API-Key; null sends none. */
export function api(baseUrl: string, key: string | null = ADMIN_KEY): Api {
  async function call(method: string, path: string, body: string | Buffer | undefined, headers: Record<string, string> = {}) {
    const res = await fetch(baseUrl + path, {
      method,
      headers: { ...(key ? { 'X-API-Key': key } : {}), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}), ...headers },
      ...(body !== undefined ? { body } : {}),
    });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // keep the text: a test asserting on JSON will say what came back
    }
    return { status: res.status, body: parsed as any, headers: res.headers };
  }
  const json = (b: unknown) => (b === undefined ? undefined : JSON.stringify(b));
  return {
    get: (path, headers) => call('GET', path, undefined, headers),
    post: (path, body, headers) => call('POST', path, json(body ?? {}), headers),
    patch: (path, body, headers) => call('PATCH', path, json(body ?? {}), headers),
    delete: (path, headers) => call('DELETE', path, undefined, headers),
    raw: (method, path, body, headers) => call(method, path, body, headers),
  };
}

export interface TestServer {
  url: string;
  dialect: Dialect;
  running: RunningServer;
  database: TestDatabase;
  /** An API client with the admin key. */
  admin: Api;
  /** An API client with this key; null for none. */
  as(key: string | null): Api;
  close(): Promise<void>;
}

export const silentLogger = () => pino({ level: 'silent' });

/** A registry on a random port over a fresh database of the dialect. */
export async function startTestServer(dialect: Dialect, overrides: Partial<ServerConfig> = {}, database?: TestDatabase): Promise<TestServer> {
  const db = database ?? (await freshDatabase(dialect));
  const config: ServerConfig = {
    ...DEFAULT_APP_OPTIONS,
    port: 0,
    host: '127.0.0.1',
    databaseUrl: db.url,
    adminKey: ADMIN_KEY,
    secret: TEST_SECRET,
    logLevel: 'silent',
    logRequests: false,
    // Tests send bursts of requests with one key; the per-credential limit is tested on its own (rate-limit.test.ts).
    rateLimit: 1_000_000,
    rateLimitBurst: 1_000_000,
    // The hard stop counts from submission, so it includes starting a worker, which loads the
    // engine through tsx here: on a starved CI machine that alone took seconds. Render budgets are
    // tested with their own pools (render-limits.test.ts).
    templates: { ...DEFAULT_APP_OPTIONS.templates, hardTimeoutGraceMs: 60_000 },
    ...overrides,
  };
  const running = await startServer(config, silentLogger());
  return {
    url: running.url,
    dialect,
    running,
    database: db,
    admin: api(running.url),
    as: (key) => api(running.url, key),
    async close() {
      await running.close(1_000);
      if (!database) await db.drop();
    },
  };
}

export interface Replicas {
  a: TestServer;
  b: TestServer;
}

/** In a describe: two servers (replicas) on one fresh Postgres database, started before its tests and closed after. */
export function twoReplicas(): Replicas {
  const replicas = {} as Replicas;
  let db: TestDatabase | undefined;
  before(async () => {
    db = await freshDatabase('postgres');
    replicas.a = await startTestServer('postgres', {}, db);
    replicas.b = await startTestServer('postgres', {}, db);
  });
  after(async () => {
    await replicas.a?.close();
    await replicas.b?.close();
    await db?.drop();
  });
  return replicas;
}
