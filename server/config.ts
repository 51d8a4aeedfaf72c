import { homedir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_APP_OPTIONS, type AppOptions } from './app.js';

export interface ServerConfig extends AppOptions {
  port: number;
  host: string;
  databaseUrl: string;
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
  environments?: string | undefined;
  logLevel?: string | undefined;
  cache?: boolean | undefined;
  logRequests?: boolean | undefined;
  logResolveHits?: boolean | undefined;
  retentionInterval?: string | undefined;
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

/** Flags win over environment variables, which win over defaults. */
export function serverConfig(flags: ServeFlags, env = process.env): ServerConfig {
  return {
    ...DEFAULT_APP_OPTIONS,
    port: parsePort(flags.port ?? env.PROMPT_REGISTRY_PORT ?? env.PORT ?? '8080'),
    host: flags.host ?? env.PROMPT_REGISTRY_HOST ?? '127.0.0.1',
    databaseUrl: databaseUrlFrom(flags, env),
    environments: parseEnvironments(flags.environments ?? env.PROMPT_REGISTRY_ENVIRONMENTS ?? 'dev,staging,production'),
    adminKey: env.PROMPT_REGISTRY_ADMIN_KEY || undefined,
    adminKeyName: env.PROMPT_REGISTRY_ADMIN_KEY_NAME || undefined,
    logLevel: flags.logLevel ?? env.PROMPT_REGISTRY_LOG_LEVEL ?? 'info',
    resolveCacheSize: flags.cache === false || env.PROMPT_REGISTRY_RESOLVE_CACHE === '0' ? 0 : DEFAULT_APP_OPTIONS.resolveCacheSize,
    logRequests: flags.logRequests ?? env.PROMPT_REGISTRY_LOG_REQUESTS !== 'false',
    logResolveHits: flags.logResolveHits ?? env.PROMPT_REGISTRY_LOG_RESOLVE_HITS === 'true',
    retentionIntervalMinutes: parseMinutes(flags.retentionInterval ?? env.PROMPT_REGISTRY_RETENTION_INTERVAL ?? String(DEFAULT_APP_OPTIONS.retentionIntervalMinutes)),
  };
}
