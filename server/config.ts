import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_APP_OPTIONS, type AppOptions } from './app.js';
import { checkIssuerUrl, OIDC_DEFAULTS, type OidcConfig } from './auth/oidc.js';
import { SCOPE_PATTERN } from './auth/principal.js';
import { sqliteDriverChoice, type SqliteDriverChoice } from './db/sqlite-driver.js';

export interface ServerConfig extends AppOptions {
  port: number;
  host: string;
  databaseUrl: string;
  /** For a SQLite database: node (node:sqlite), better-sqlite3, or auto. */
  sqliteDriver?: SqliteDriverChoice | undefined;
  adminKey: string | undefined;
  /** The name PROMPT_REGISTRY_ADMIN_KEY gets (what created_by records); default admin-<hash>. */
  adminKeyName?: string | undefined;
  logLevel: string;
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
    if (bad !== undefined) throw new Error(`PROMPT_REGISTRY_OIDC_ROLE_MAP: unknown scope "${bad}" for "${role}": use read, write, deploy, deploy:ENV or admin`);
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
    logLevel: flags.logLevel ?? env.PROMPT_REGISTRY_LOG_LEVEL ?? 'info',
    resolveCacheSize: flags.cache === false || env.PROMPT_REGISTRY_RESOLVE_CACHE === '0' ? 0 : DEFAULT_APP_OPTIONS.resolveCacheSize,
    logRequests: flags.logRequests ?? env.PROMPT_REGISTRY_LOG_REQUESTS !== 'false',
    logResolveHits: flags.logResolveHits ?? env.PROMPT_REGISTRY_LOG_RESOLVE_HITS === 'true',
    oidc: oidcConfig(flags, env),
    trustProxy: parseTrustProxy(flags.trustProxy ?? env.PROMPT_REGISTRY_TRUST_PROXY),
    authFailureLimit: parseLimit(flags.authFailureLimit ?? env.PROMPT_REGISTRY_AUTH_FAILURE_LIMIT ?? String(DEFAULT_APP_OPTIONS.authFailureLimit)),
    retentionIntervalMinutes: parseMinutes(flags.retentionInterval ?? env.PROMPT_REGISTRY_RETENTION_INTERVAL ?? String(DEFAULT_APP_OPTIONS.retentionIntervalMinutes)),
  };
}
