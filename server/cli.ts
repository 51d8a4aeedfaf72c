import { renameSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import type { Principal } from './auth/principal.js';
import { databaseUrlFrom, serverConfig, type ServeFlags } from './config.js';
import { openDatabase, type Database } from './db/index.js';
import { migrate } from './db/migrate.js';
import { DeploymentService } from './deployments/service.js';
import { ChangeFeed } from './events.js';
import { KeyService } from './keys/service.js';
import { createLogger, flushLogs } from './logger.js';
import { startServer } from './main.js';
import { RetentionService } from './retention/service.js';
import { VERSION } from './version.js';

function announceKey(key: string): void {
  const line = '-'.repeat(72);
  process.stderr.write(
    `\n${line}\nA first admin API key was created. It is shown this once; keep it safe:\n\n  ${key}\n\n` +
      `Send it as the X-API-Key header. Create narrower keys with: prompt-registry keys create\n${line}\n\n`,
  );
}

async function serve(flags: ServeFlags): Promise<void> {
  const config = serverConfig(flags);
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger);
  if (running.bootstrapKey) announceKey(running.bootstrapKey.key);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    logger.flush();
    running.close().then(
      () => flushLogs(logger).then(() => process.exit(0)),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

async function withKeys<T>(db: string | undefined, fn: (keys: KeyService, database: Database) => Promise<T>): Promise<T> {
  const database = openDatabase(databaseUrlFrom({ db }));
  try {
    await migrate(database);
    return await fn(new KeyService(database, new ChangeFeed(database)), database);
  } finally {
    await database.close();
  }
}

const cliActor = (): Principal => ({ name: `cli:${userInfo().username}`, scopes: ['admin'], credential: 'cli' });

const dbOption = () => new Option('--db <url>', 'database: postgres://... or sqlite:PATH (default: DATABASE_URL, else a SQLite file in the data directory)');

export function buildCli(): Command {
  const program = new Command('prompt-registry').description('Self-hosted registry for LLM prompts').version(VERSION);

  program
    .command('serve')
    .description('Start the registry server')
    .option('--port <port>', 'port to listen on (default 8080, or PORT)')
    .option('--host <host>', 'address to bind (default 127.0.0.1; 0.0.0.0 for all)')
    .addOption(dbOption())
    .option('--data-dir <dir>', 'where the default SQLite file lives (default ~/.local/share/prompt-registry)')
    .option('--environments <list>', 'comma-separated environments (default dev,staging,production)')
    .option('--log-level <level>', 'pino log level (default info)')
    .option('--no-cache', 'turn off the in-process resolve cache')
    .option('--no-log-requests', 'do not log a line per request')
    .option('--log-resolve-hits', 'also log a line per resolve answered from the cache (default: a count a minute)')
    .option('--retention-interval <minutes>', 'apply the retention policies every N minutes (default 60; 0 never)')
    .option('--oidc-issuer <url>', 'accept OpenID Connect bearer tokens from this issuer (or PROMPT_REGISTRY_OIDC_ISSUER)')
    .option('--oidc-audience <aud>', 'the audience tokens must carry (or PROMPT_REGISTRY_OIDC_AUDIENCE)')
    .option('--oidc-roles-claim <claim>', 'the claim with the groups or roles; dots reach nested claims (default groups)')
    .option('--oidc-role-map <json>', 'JSON: claim value to scopes, e.g. {"prompt-admins":["admin"]} (or PROMPT_REGISTRY_OIDC_ROLE_MAP)')
    .option('--oidc-client-id <id>', 'the public client id editors sign in with (device flow), shown by GET /auth/config')
    .option('--oidc-scopes <list>', 'the OAuth scopes a signing-in client asks for (default "openid profile email offline_access")')
    .option('--oidc-allow-insecure-http', 'accept an http:// issuer that is not on loopback (never in production)')
    .option('--trust-proxy <value>', 'the proxies whose X-Forwarded-For names the client: a hop count, loopback, or addresses/subnets')
    .option('--auth-failure-limit <n>', 'failed authentications per client address a minute before 429 (default 20; 0 no limit)')
    .option('--metrics-port <port>', 'serve Prometheus metrics at /metrics on this management port (or PROMPT_REGISTRY_METRICS_PORT; default none)')
    .option('--metrics-host <host>', 'address the management port binds (default 127.0.0.1: it has no credential)')
    .action((flags: ServeFlags) => serve(flags));

  program
    .command('purge')
    .description('Apply the retention policies now: delete or redact expired executions (prompts, versions and deployments are never touched)')
    .option('--dry-run', 'only count what would be deleted and redacted')
    .addOption(dbOption())
    .option('--json', 'print JSON')
    .action(async (flags: { dryRun?: boolean; db?: string; json?: boolean }) => {
      const { environments } = serverConfig({ db: flags.db });
      const db = openDatabase(databaseUrlFrom(flags));
      try {
        await migrate(db);
        const result = await new RetentionService(db, { batchSize: 1_000, environments }).run(cliActor(), { dryRun: Boolean(flags.dryRun) });
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(result)}\n`);
          return;
        }
        const verb = result.dry_run ? 'would' : 'did';
        for (const p of result.policies) {
          const scope = [p.prompt ? `prompt ${p.prompt}` : 'any prompt', p.environment ? `in ${p.environment}` : 'in any environment'].join(' ');
          process.stdout.write(`${p.action.padEnd(6)} after ${String(p.days).padStart(5)} days, ${scope}: ${verb} ${p.action} ${p.count} (older than ${p.cutoff})\n`);
        }
        if (result.policies.length === 0) process.stdout.write('no retention policies: nothing to do (set them with PUT /retention)\n');
        process.stdout.write(`${result.dry_run ? 'dry run: would delete' : 'deleted'} ${result.deleted}, ${result.dry_run ? 'would redact' : 'redacted'} ${result.redacted}\n`);
      } finally {
        await db.close();
      }
    });

  program
    .command('migrate')
    .description('Apply pending database migrations and exit')
    .addOption(dbOption())
    .action(async (flags: { db?: string }) => {
      const db = openDatabase(databaseUrlFrom(flags));
      try {
        const applied = await migrate(db);
        process.stdout.write(applied.length ? `applied: ${applied.map((m) => `${m.version}_${m.name}`).join(', ')}\n` : 'up to date\n');
      } finally {
        await db.close();
      }
    });

  program
    .command('export')
    .description('Write every prompt live in an environment to a JSON bundle that clients can start from when the registry is unreachable')
    .option('--environment <env>', 'the environment to export', 'production')
    .option('--out <file>', 'where to write the bundle (default: standard output)')
    .option('--environments <list>', 'the registry\'s environments (default dev,staging,production, or PROMPT_REGISTRY_ENVIRONMENTS)')
    .addOption(dbOption())
    .action(async (flags: { environment: string; out?: string; environments?: string; db?: string }) => {
      const { environments } = serverConfig({ environments: flags.environments, db: flags.db });
      const db = openDatabase(databaseUrlFrom(flags));
      try {
        await migrate(db);
        const service = new DeploymentService(db, new ChangeFeed(db), environments, 0);
        const text = `${JSON.stringify(await service.exportBundle(flags.environment), null, 2)}\n`;
        if (!flags.out) {
          process.stdout.write(text);
          return;
        }
        // Write beside, then rename: a reader never sees half a bundle.
        const tmp = `${flags.out}.${process.pid}.tmp`;
        writeFileSync(tmp, text);
        renameSync(tmp, flags.out);
        process.stderr.write(`wrote ${Object.keys(JSON.parse(text).prompts).length} prompts live in ${flags.environment} to ${flags.out}\n`);
      } finally {
        await db.close();
      }
    });

  const keys = program.command('keys').description('Manage API keys');
  keys
    .command('create')
    .description('Create an API key and print it (shown once)')
    .requiredOption('--name <name>', 'a name for the key; recorded as the author of its changes')
    .requiredOption('--scopes <list>', 'comma-separated: read, write, deploy, deploy:ENV, admin')
    .option('--expires-in-days <days>', 'the key stops working after this many days (default: never)')
    .addOption(dbOption())
    .option('--json', 'print JSON')
    .action(async (flags: { name: string; scopes: string; expiresInDays?: string; db?: string; json?: boolean }) => {
      let expiresAt: string | null = null;
      if (flags.expiresInDays !== undefined) {
        const days = Number(flags.expiresInDays);
        if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`invalid --expires-in-days "${flags.expiresInDays}": a whole number of days from 1 to 3650`);
        expiresAt = new Date(Date.now() + days * 86_400_000).toISOString();
      }
      const created = await withKeys(flags.db, (k) =>
        k.create(cliActor(), flags.name, flags.scopes.split(',').map((s) => s.trim()).filter(Boolean), { expiresAt }),
      );
      process.stdout.write(flags.json ? `${JSON.stringify(created)}\n` : `${created.key}\n`);
      if (!flags.json) process.stderr.write(`created key "${created.name}" (${created.id}) with scopes ${created.scopes.join(', ')}; it is shown only now\n`);
    });
  keys
    .command('list')
    .description('List API keys (never the keys themselves)')
    .addOption(dbOption())
    .option('--all', 'include revoked keys')
    .option('--json', 'print JSON')
    .action(async (flags: { db?: string; all?: boolean; json?: boolean }) => {
      const list = await withKeys(flags.db, (k) => k.list({ includeRevoked: Boolean(flags.all), limit: 10_000 }));
      if (flags.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else
        for (const k of list) {
          process.stdout.write(`${k.id}  ${k.name.padEnd(24)} ${k.key_prefix}…  ${k.scopes.join(',').padEnd(24)} ${k.revoked_at ? `revoked ${k.revoked_at}` : `created ${k.created_at}`}${k.expires_at ? `  expires ${k.expires_at}` : ''}${k.last_used_at ? `  last used ${k.last_used_at}` : ''}\n`);
        }
    });
  keys
    .command('revoke')
    .description('Revoke an API key by id or name')
    .argument('<key>', 'the key id or name')
    .addOption(dbOption())
    .action(async (key: string, flags: { db?: string }) => {
      const revoked = await withKeys(flags.db, (k) => k.revoke(cliActor(), key));
      process.stdout.write(`revoked "${revoked.name}" (${revoked.id})\n`);
    });

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`prompt-registry: ${message}\n`);
    process.exit(1);
  });
