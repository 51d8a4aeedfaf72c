import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_APP_OPTIONS, type AppOptions } from './app.js';
import { checkIssuerUrl, OIDC_DEFAULTS, type OidcConfig } from './auth/oidc.js';
import { SCOPE_LIST, SCOPE_PATTERN } from './auth/principal.js';
import { POSTGRES_DEFAULTS } from './db/postgres.js';
import { sqliteDriverChoice, type SqliteDriverChoice } from './db/sqlite-driver.js';
import { DEFAULT_TEMPLATE_POOL_OPTIONS, type TemplatePoolOptions } from './templates/pool.js';
import { parseAllowList } from './webhooks/addresses.js';
import { DEFAULT_WEBHOOK_OPTIONS, type WebhookOptions } from './webhooks/worker.js';
import { DEFAULT_PROVIDER_CALL_OPTIONS, type ProviderCallOptions } from './providers/client.js';

export const OPERATIONS_DEFAULTS = {
  metricsHost: '127.0.0.1',
  dbPoolSize: POSTGRES_DEFAULTS.max,
  dbConnectTimeoutMs: POSTGRES_DEFAULTS.connectTimeoutMs,
  dbStatementTimeoutMs: POSTGRES_DEFAULTS.statementTimeoutMs,
  shutdownDelayMs: 0,
  shutdownGraceMs: 10_000,
} as const;

export interface ServerConfig extends AppOptions {
  port: number;
  host: string;
  databaseUrl: string;
  /** For a SQLite database: node (node:sqlite), better-sqlite3, or auto. */
  sqliteDriver?: SqliteDriverChoice | undefined;
  adminKey: string | undefined;
  /** The name PROMPT_REGISTRY_ADMIN_KEY gets (what created_by records); default admin. */
  adminKeyName?: string | undefined;
  /** Where the server secret and a first admin key file are written; default defaultDataDir(). */
  dataDir?: string | undefined;
  /** PROMPT_REGISTRY_SECRET: the server secret itself (API key hashes are keyed with it). */
  secret?: string | undefined;
  /** PROMPT_REGISTRY_SECRET_FILE: a file holding the server secret. */
  secretFile?: string | undefined;
  logLevel: string;
  /** The management port serving Prometheus metrics at /metrics; undefined: none. */
  metricsPort?: number | undefined;
  /** Where the management port listens: loopback by default, since it has no credential. */
  metricsHost?: string | undefined;
  /** Postgres: pool size, connection wait and statement timeout (ms, 0: none). These and the rest default to OPERATIONS_DEFAULTS. */
  dbPoolSize?: number | undefined;
  dbConnectTimeoutMs?: number | undefined;
  dbStatementTimeoutMs?: number | undefined;
  /** On SIGTERM: how long readiness fails while still serving (for load balancers to notice), then how long requests in flight get. */
  shutdownDelayMs?: number | undefined;
  shutdownGraceMs?: number | undefined;
}

export interface ServeFlags {
  port?: string | undefined;
  host?: string | undefined;
  db?: string | undefined;
  dataDir?: string | undefined;
  sqliteDriver?: string | undefined;
  environments?: string | undefined;
  logLevel?: string | undefined;
  cache?: boolean | undefined;
  logRequests?: boolean | undefined;
  logResolveHits?: boolean | undefined;
  retentionInterval?: string | undefined;
  oidcIssuer?: string | undefined;
  oidcAudience?: string | undefined;
  oidcRolesClaim?: string | undefined;
  oidcRoleMap?: string | undefined;
  oidcClientId?: string | undefined;
  oidcScopes?: string | undefined;
  oidcAllowInsecureHttp?: boolean | undefined;
  trustProxy?: string | undefined;
  authFailureLimit?: string | undefined;
  rateLimit?: string | undefined;
  rateLimitBurst?: string | undefined;
  renderMaxTemplateChars?: string | undefined;
  renderMaxTags?: string | undefined;
  renderMaxDepth?: string | undefined;
  renderMaxIterations?: string | undefined;
  renderMaxOutputChars?: string | undefined;
  renderTimeoutMs?: string | undefined;
  renderThreads?: string | undefined;
  renderWorkerHeapMb?: string | undefined;
  metricsPort?: string | undefined;
  metricsHost?: string | undefined;
}

/** Where the SQLite file lives when no database is given: XDG data home. */
export function defaultDataDir(env = process.env): string {
  if (env.PROMPT_REGISTRY_DATA_DIR) return env.PROMPT_REGISTRY_DATA_DIR;
  const base = env.XDG_DATA_HOME || join(homedir(), '.local', 'share');
  return join(base, 'prompt-registry');
}

export function databaseUrlFrom(flags: { db?: string | undefined; dataDir?: string | undefined }, env = process.env): string {
  const url = flags.db ?? env.PROMPT_REGISTRY_DATABASE_URL ?? env.DATABASE_URL;
  if (url) return url;
  return `sqlite:${join(flags.dataDir ?? defaultDataDir(env), 'registry.db')}`;
}

function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`invalid port "${value}": use 0 to 65535`);
  return port;
}

function parseMinutes(value: string): number {
  const minutes = Number(value);
  if (value.trim() === '' || !Number.isFinite(minutes) || minutes < 0 || minutes > 525_600) {
    throw new Error(`invalid retention interval "${value}": minutes from 0 (never) to 525600`);
  }
  return minutes;
}

function parseEnvironments(value: string): string[] {
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = list.find((e) => !/^[a-z0-9][a-z0-9_-]{0,49}$/.test(e));
  if (bad !== undefined) throw new Error(`invalid environment name "${bad}": lower-case letters, digits, '_' and '-', at most 50`);
  if (list.length === 0) throw new Error('at least one environment is needed');
  return [...new Set(list)];
}

function parseRoleMap(value: string): Record<string, string[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new Error('PROMPT_REGISTRY_OIDC_ROLE_MAP is not JSON; give an object of claim value to scopes, e.g. {"prompt-admins":["admin"],"ml-eng":["read","write","deploy:staging"]}');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error('PROMPT_REGISTRY_OIDC_ROLE_MAP must be a JSON object of claim value to a list of scopes');
  }
  const map: Record<string, string[]> = {};
  for (const [role, scopes] of Object.entries(parsed)) {
    if (!Array.isArray(scopes) || !scopes.every((x) => typeof x === 'string')) {
      throw new Error(`PROMPT_REGISTRY_OIDC_ROLE_MAP: "${role}" must map to a list of scopes, e.g. ["read"]`);
    }
    const bad = scopes.find((x) => !SCOPE_PATTERN.test(x));
    if (bad !== undefined) throw new Error(`PROMPT_REGISTRY_OIDC_ROLE_MAP: unknown scope "${bad}" for "${role}": use ${SCOPE_LIST}`);
    map[role] = scopes;
  }
  return map;
}

/** The OpenID Connect settings, or undefined when no issuer is set (API keys only). */
export function oidcConfig(flags: ServeFlags, env = process.env): OidcConfig | undefined {
  const issuer = flags.oidcIssuer ?? env.PROMPT_REGISTRY_OIDC_ISSUER;
  if (!issuer) return undefined;
  const allowInsecureHttp = flags.oidcAllowInsecureHttp ?? env.PROMPT_REGISTRY_OIDC_ALLOW_INSECURE_HTTP === 'true';
  checkIssuerUrl(issuer, allowInsecureHttp);
  const audience = flags.oidcAudience ?? env.PROMPT_REGISTRY_OIDC_AUDIENCE;
  if (!audience) throw new Error('PROMPT_REGISTRY_OIDC_AUDIENCE (--oidc-audience) is needed with an issuer: the "aud" your identity provider puts in tokens for this registry');
  const scopesText = flags.oidcScopes ?? env.PROMPT_REGISTRY_OIDC_SCOPES;
  const scopes = scopesText ? scopesText.split(/[\s,]+/).filter(Boolean) : OIDC_DEFAULTS.scopes;
  // Without openid the provider sends no ID token, and an editor could not say who signed in.
  if (!scopes.includes('openid')) {
    throw new Error(`PROMPT_REGISTRY_OIDC_SCOPES (--oidc-scopes) must include "openid" (given: ${scopes.join(' ') || 'none'}); e.g. "openid profile email offline_access"`);
  }
  return {
    issuer,
    audience,
    rolesClaim: flags.oidcRolesClaim ?? env.PROMPT_REGISTRY_OIDC_ROLES_CLAIM ?? OIDC_DEFAULTS.rolesClaim,
    roleMap: parseRoleMap(flags.oidcRoleMap ?? env.PROMPT_REGISTRY_OIDC_ROLE_MAP ?? '{}'),
    clientId: flags.oidcClientId ?? env.PROMPT_REGISTRY_OIDC_CLIENT_ID,
    scopes,
    allowInsecureHttp,
    clockToleranceSeconds: OIDC_DEFAULTS.clockToleranceSeconds,
    jwksCooldownMs: OIDC_DEFAULTS.jwksCooldownMs,
  };
}

/** Express's `trust proxy`: a hop count, true/false, or a list of addresses and subnets (loopback, 10.0.0.0/8, ...). */
function parseTrustProxy(value: string | undefined): boolean | number | string {
  if (value === undefined || value === '' || value === 'false') return false;
  if (value === 'true') return true;
  if (/^\d+$/.test(value)) return Number(value);
  return value;
}

function parseLimit(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new Error(`invalid failed-authentication limit "${value}": a whole number of failures a minute per address (0: no limit)`);
  return n;
}

/**
 * The per-credential request rate: --rate-limit / PROMPT_REGISTRY_RATE_LIMIT (requests a second, 0 no limit), and
 * --rate-limit-burst / PROMPT_REGISTRY_RATE_LIMIT_BURST (default three seconds' worth).
 */
export function rateLimitConfig(flags: ServeFlags, env = process.env): { rateLimit: number; rateLimitBurst: number } {
  const rateLimit = wholeNumber(flags.rateLimit ?? env.PROMPT_REGISTRY_RATE_LIMIT ?? String(DEFAULT_APP_OPTIONS.rateLimit), 'PROMPT_REGISTRY_RATE_LIMIT (--rate-limit, requests a second per credential; 0 no limit)', 0);
  const burst = flags.rateLimitBurst ?? env.PROMPT_REGISTRY_RATE_LIMIT_BURST;
  const rateLimitBurst = burst === undefined || burst === '' ? Math.max(1, rateLimit * 3) : wholeNumber(burst, 'PROMPT_REGISTRY_RATE_LIMIT_BURST (--rate-limit-burst)', 1);
  return { rateLimit, rateLimitBurst };
}

function wholeNumber(value: string, what: string, min: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isSafeInteger(n) || n < min) throw new Error(`invalid ${what} "${value}": a whole number from ${min}`);
  return n;
}

/** The template budgets and worker pool: --render-* flags, else PROMPT_REGISTRY_RENDER_* variables, else defaults. */
export function templatePoolConfig(flags: ServeFlags, env = process.env): TemplatePoolOptions {
  const d = DEFAULT_TEMPLATE_POOL_OPTIONS;
  const pick = (flag: string | undefined, name: string, fallback: number, min: number) =>
    wholeNumber(flag ?? env[`PROMPT_REGISTRY_RENDER_${name}`] ?? String(fallback), `PROMPT_REGISTRY_RENDER_${name} (--render-${name.toLowerCase().replace(/_/g, '-')})`, min);
  return {
    ...d,
    limits: {
      maxTemplateChars: pick(flags.renderMaxTemplateChars, 'MAX_TEMPLATE_CHARS', d.limits.maxTemplateChars, 1),
      maxTags: pick(flags.renderMaxTags, 'MAX_TAGS', d.limits.maxTags, 0),
      maxDepth: pick(flags.renderMaxDepth, 'MAX_DEPTH', d.limits.maxDepth, 0),
      maxIterations: pick(flags.renderMaxIterations, 'MAX_ITERATIONS', d.limits.maxIterations, 0),
      maxOutputChars: pick(flags.renderMaxOutputChars, 'MAX_OUTPUT_CHARS', d.limits.maxOutputChars, 0),
      timeoutMs: pick(flags.renderTimeoutMs, 'TIMEOUT_MS', d.limits.timeoutMs, 1),
    },
    threads: pick(flags.renderThreads, 'THREADS', d.threads, 1),
    workerHeapMb: pick(flags.renderWorkerHeapMb, 'WORKER_HEAP_MB', d.workerHeapMb, 16),
  };
}

/** Webhook delivery: PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS, _TIMEOUT_MS and _RETRY_BASE_MS (docs/webhooks.md). */
export function webhookConfig(env = process.env): WebhookOptions {
  const d = DEFAULT_WEBHOOK_OPTIONS;
  return {
    ...d,
    allowedHosts: parseAllowList(env.PROMPT_REGISTRY_WEBHOOK_ALLOWED_HOSTS),
    timeoutMs: wholeNumber(env.PROMPT_REGISTRY_WEBHOOK_TIMEOUT_MS ?? String(d.timeoutMs), 'PROMPT_REGISTRY_WEBHOOK_TIMEOUT_MS', 100),
    retryBaseMs: wholeNumber(env.PROMPT_REGISTRY_WEBHOOK_RETRY_BASE_MS ?? String(d.retryBaseMs), 'PROMPT_REGISTRY_WEBHOOK_RETRY_BASE_MS', 1),
  };
}

/** Model provider calls: PROMPT_REGISTRY_PROVIDER_TIMEOUT_MS and _MAX_RETRIES (docs/evaluate.md). */
export function providerCallConfig(env = process.env): ProviderCallOptions {
  const d = DEFAULT_PROVIDER_CALL_OPTIONS;
  return {
    ...d,
    timeoutMs: wholeNumber(env.PROMPT_REGISTRY_PROVIDER_TIMEOUT_MS ?? String(d.timeoutMs), 'PROMPT_REGISTRY_PROVIDER_TIMEOUT_MS', 100),
    maxRetries: wholeNumber(env.PROMPT_REGISTRY_PROVIDER_MAX_RETRIES ?? String(d.maxRetries), 'PROMPT_REGISTRY_PROVIDER_MAX_RETRIES', 0),
  };
}

function parseMs(name: string, value: string, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 0 || n > max) throw new Error(`invalid ${name} "${value}": whole milliseconds from 0 to ${max}`);
  return n;
}

function parsePoolSize(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 1_000) throw new Error(`invalid PROMPT_REGISTRY_DB_POOL_SIZE "${value}": connections from 1 to 1000`);
  return n;
}

const HOUR_MS = 3_600_000;

/** Flags win over environment variables, which win over defaults. */
export function serverConfig(flags: ServeFlags, env = process.env): ServerConfig {
  return {
    ...DEFAULT_APP_OPTIONS,
    port: parsePort(flags.port ?? env.PROMPT_REGISTRY_PORT ?? env.PORT ?? '8080'),
    host: flags.host ?? env.PROMPT_REGISTRY_HOST ?? '127.0.0.1',
    databaseUrl: databaseUrlFrom(flags, env),
    sqliteDriver: sqliteDriverChoice(flags.sqliteDriver ?? env.PROMPT_REGISTRY_SQLITE_DRIVER),
    environments: parseEnvironments(flags.environments ?? env.PROMPT_REGISTRY_ENVIRONMENTS ?? 'dev,staging,production'),
    adminKey: env.PROMPT_REGISTRY_ADMIN_KEY || undefined,
    adminKeyName: env.PROMPT_REGISTRY_ADMIN_KEY_NAME || undefined,
    dataDir: flags.dataDir ?? defaultDataDir(env),
    secret: env.PROMPT_REGISTRY_SECRET || undefined,
    secretFile: env.PROMPT_REGISTRY_SECRET_FILE || undefined,
    logLevel: flags.logLevel ?? env.PROMPT_REGISTRY_LOG_LEVEL ?? 'info',
    resolveCacheSize: flags.cache === false || env.PROMPT_REGISTRY_RESOLVE_CACHE === '0' ? 0 : DEFAULT_APP_OPTIONS.resolveCacheSize,
    logRequests: flags.logRequests ?? env.PROMPT_REGISTRY_LOG_REQUESTS !== 'false',
    logResolveHits: flags.logResolveHits ?? env.PROMPT_REGISTRY_LOG_RESOLVE_HITS === 'true',
    oidc: oidcConfig(flags, env),
    trustProxy: parseTrustProxy(flags.trustProxy ?? env.PROMPT_REGISTRY_TRUST_PROXY),
    authFailureLimit: parseLimit(flags.authFailureLimit ?? env.PROMPT_REGISTRY_AUTH_FAILURE_LIMIT ?? String(DEFAULT_APP_OPTIONS.authFailureLimit)),
    ...rateLimitConfig(flags, env),
    templates: templatePoolConfig(flags, env),
    webhooks: webhookConfig(env),
    providerCalls: providerCallConfig(env),
    ...operationsConfig(flags, env),
    retentionIntervalMinutes: parseMinutes(flags.retentionInterval ?? env.PROMPT_REGISTRY_RETENTION_INTERVAL ?? String(DEFAULT_APP_OPTIONS.retentionIntervalMinutes)),
  };
}

/** The management port, database timeouts and shutdown timing (docs/operations.md). */
function operationsConfig(flags: ServeFlags, env: NodeJS.ProcessEnv) {
  const metricsPort = flags.metricsPort ?? env.PROMPT_REGISTRY_METRICS_PORT;
  const ms = (name: string, fallback: number, max = HOUR_MS) => parseMs(name, env[name] ?? String(fallback), max);
  return {
    metricsPort: metricsPort === undefined || metricsPort === '' ? undefined : parsePort(metricsPort),
    metricsHost: flags.metricsHost ?? env.PROMPT_REGISTRY_METRICS_HOST ?? OPERATIONS_DEFAULTS.metricsHost,
    operatorMetrics: metricsPort !== undefined && metricsPort !== '',
    dbPoolSize: parsePoolSize(env.PROMPT_REGISTRY_DB_POOL_SIZE ?? String(POSTGRES_DEFAULTS.max)),
    dbConnectTimeoutMs: ms('PROMPT_REGISTRY_DB_CONNECT_TIMEOUT_MS', POSTGRES_DEFAULTS.connectTimeoutMs),
    dbStatementTimeoutMs: ms('PROMPT_REGISTRY_DB_STATEMENT_TIMEOUT_MS', POSTGRES_DEFAULTS.statementTimeoutMs),
    shutdownDelayMs: ms('PROMPT_REGISTRY_SHUTDOWN_DELAY_MS', OPERATIONS_DEFAULTS.shutdownDelayMs),
    shutdownGraceMs: ms('PROMPT_REGISTRY_SHUTDOWN_GRACE_MS', OPERATIONS_DEFAULTS.shutdownGraceMs),
  };
}

/** The operational settings of a config, defaults filled in. */
export function operations(config: ServerConfig): { [K in keyof typeof OPERATIONS_DEFAULTS]: (typeof OPERATIONS_DEFAULTS)[K] extends string ? string : number } {
  return {
    metricsHost: config.metricsHost ?? OPERATIONS_DEFAULTS.metricsHost,
    dbPoolSize: config.dbPoolSize ?? OPERATIONS_DEFAULTS.dbPoolSize,
    dbConnectTimeoutMs: config.dbConnectTimeoutMs ?? OPERATIONS_DEFAULTS.dbConnectTimeoutMs,
    dbStatementTimeoutMs: config.dbStatementTimeoutMs ?? OPERATIONS_DEFAULTS.dbStatementTimeoutMs,
    shutdownDelayMs: config.shutdownDelayMs ?? OPERATIONS_DEFAULTS.shutdownDelayMs,
    shutdownGraceMs: config.shutdownGraceMs ?? OPERATIONS_DEFAULTS.shutdownGraceMs,
  };
}
