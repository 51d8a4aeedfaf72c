import { renameSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { Command, Option } from 'commander';
import type { Principal } from './auth/principal.js';
import { databaseUrlFrom, defaultDataDir, serverConfig, type ServeFlags } from './config.js';
import { openDatabase, type Database } from './db/index.js';
import { migrate } from './db/migrate.js';
import { DeploymentService } from './deployments/service.js';
import { EnvironmentService } from './environments/service.js';
import { ChangeFeed } from './events.js';
import { announceFirstKey } from './keys/announce.js';
import { KeyService } from './keys/service.js';
import { createLogger, flushLogs } from './logger.js';
import { startServer } from './main.js';
import { RetentionService } from './retention/service.js';
import { checkSecretMatches, loadServerSecret } from './secret.js';
import { VERSION } from './version.js';

async function serve(flags: ServeFlags): Promise<void> {
  const config = serverConfig(flags);
  const logger = createLogger(config.logLevel);
  const running = await startServer(config, logger);
  if (running.bootstrapKey) {
    announceFirstKey(running.bootstrapKey.key, { dataDir: config.dataDir ?? defaultDataDir(), logger });
    logger.flush();
  }
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

/** The key commands hash keys as the server does, so they read (or make) the same server secret, and check it against the database's. */
async function withKeys<T>(flags: { db?: string | undefined; dataDir?: string | undefined }, fn: (keys: KeyService, database: Database) => Promise<T>): Promise<T> {
  const config = serverConfig({ db: flags.db, dataDir: flags.dataDir });
  const database = await openDatabase(config.databaseUrl);
  try {
    await migrate(database);
    const secret = loadServerSecret({ value: config.secret, file: config.secretFile, dataDir: config.dataDir ?? defaultDataDir() });
    await checkSecretMatches(database, secret);
    return await fn(new KeyService(database, new ChangeFeed(database), secret), database);
  } finally {
    await database.close();
  }
}

const cliActor = (): Principal => {
  const name = `cli:${userInfo().username}`;
  return { name, person: name, scopes: ['admin'], credential: 'cli' };
};

const dbOption = () => new Option('--db <url>', 'database: postgres://... or sqlite:PATH (default: DATABASE_URL, else a SQLite file in the data directory)');
const dataDirOption = () => new Option('--data-dir <dir>', 'the data directory, where the server secret lives unless PROMPT_REGISTRY_SECRET(_FILE) gives it (default ~/.local/share/prompt-registry)');

// push, pull and diff (cli/sync) are client commands, type-checked in their own project (built after this one): the
// specifier is hidden from tsc by `as string`, and stays a literal for esbuild, which bundles it into the bundled server.
const { syncCommands } = (await import('../cli/sync/commands.js' as string)) as { syncCommands: () => Command[] };
const { evalCommands } = (await import('../cli/eval/commands.js' as string)) as { evalCommands: () => Command[] };

export function buildCli(): Command {
  const program = new Command('prompt-registry').description('Self-hosted registry for LLM prompts').version(VERSION);

  program
    .command('serve')
    .description('Start the registry server')
    .option('--port <port>', 'port to listen on (default 8080, or PORT)')
    .option('--host <host>', 'address to bind (default 127.0.0.1; 0.0.0.0 for all)')
    .addOption(dbOption())
    .option('--data-dir <dir>', 'where the default SQLite file lives (default ~/.local/share/prompt-registry)')
    .option('--sqlite-driver <driver>', 'SQLite driver: node (the runtime\'s node:sqlite), better-sqlite3, or auto (default auto, or PROMPT_REGISTRY_SQLITE_DRIVER)')
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
    .option('--rate-limit <n>', 'requests a second each credential may send before 429, per server process (default 100; 0 no limit; or PROMPT_REGISTRY_RATE_LIMIT)')
    .option('--rate-limit-burst <n>', 'requests a credential may send at once before its rate applies (default 3 x --rate-limit)')
    .option('--render-max-template-chars <n>', 'longest template accepted at publish, in characters (default 200000)')
    .option('--render-max-tags <n>', 'most {{…}} tags in a template (default 5000)')
    .option('--render-max-depth <n>', 'deepest nesting of blocks in a template (default 32)')
    .option('--render-max-iterations <n>', 'most {{#each}} body runs in one render, nested loops included (default 100000)')
    .option('--render-max-output-chars <n>', 'longest rendered text, in characters (default 1000000)')
    .option('--render-timeout-ms <ms>', 'longest a render may run (default 2000)')
    .option('--render-threads <n>', 'worker threads that compile and render (default: CPUs, at most 4)')
    .option('--render-worker-heap-mb <mb>', 'heap each render worker may use, in MB (default 256)')
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
      const db = await openDatabase(databaseUrlFrom(flags));
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
      const db = await openDatabase(databaseUrlFrom(flags));
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
      const db = await openDatabase(databaseUrlFrom(flags));
      try {
        await migrate(db);
        const service = new DeploymentService(db, new ChangeFeed(db), new EnvironmentService(db, environments), 0);
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

  program
    .command('mcp')
    .description('Serve the prompts live in an environment to an MCP host (Claude Desktop, VS Code, Cursor) over stdio; logs go to stderr (docs/mcp.md)')
    .addOption(new Option('--url <url>', 'the registry, e.g. https://prompts.example.com').env('PROMPT_REGISTRY_URL'))
    .addOption(new Option('--api-key <key>', 'an API key (read scope is enough); prefer the environment variable').env('PROMPT_REGISTRY_API_KEY'))
    .option('--environment <env>', 'whose live prompts are served', 'production')
    .option('--log-level <level>', 'pino log level of the stderr log (default info)', 'info')
    .action(async (flags: { url?: string; apiKey?: string; environment: string; logLevel: string }) => {
      if (!flags.url) throw new Error('mcp needs the registry: --url or PROMPT_REGISTRY_URL');
      if (!flags.apiKey) throw new Error('mcp needs an API key: --api-key or PROMPT_REGISTRY_API_KEY');
      const { runStdio } = await import('./mcp/stdio.js');
      await runStdio({ url: flags.url, apiKey: flags.apiKey, environment: flags.environment, logLevel: flags.logLevel });
    });

  const keys = program.command('keys').description('Manage API keys');
  keys
    .command('create')
    .description('Create an API key and print it (shown once)')
    .requiredOption('--name <name>', 'a name for the key; recorded as the author of its changes')
    .option('--owner <person>', 'the person the key belongs to (e.g. an email); approvals compare owners, so one person\'s keys cannot approve each other')
    .requiredOption('--scopes <list>', 'comma-separated: read, write, deploy, deploy:ENV, executions:read, executions:write, admin')
    .option('--expires-in-days <days>', 'the key stops working after this many days (default: never)')
    .addOption(dbOption())
    .addOption(dataDirOption())
    .option('--json', 'print JSON')
    .action(async (flags: { name: string; owner?: string; scopes: string; expiresInDays?: string; db?: string; dataDir?: string; json?: boolean }) => {
      let expiresAt: string | null = null;
      if (flags.expiresInDays !== undefined) {
        const days = Number(flags.expiresInDays);
        if (!Number.isInteger(days) || days < 1 || days > 3650) throw new Error(`invalid --expires-in-days "${flags.expiresInDays}": a whole number of days from 1 to 3650`);
        expiresAt = new Date(Date.now() + days * 86_400_000).toISOString();
      }
      const created = await withKeys(flags, (k) =>
        k.create(cliActor(), flags.name, flags.scopes.split(',').map((s) => s.trim()).filter(Boolean), { expiresAt, owner: flags.owner }),
      );
      process.stdout.write(flags.json ? `${JSON.stringify(created)}\n` : `${created.key}\n`);
      if (!flags.json) process.stderr.write(`created key "${created.name}" (${created.id}) with scopes ${created.scopes.join(', ')}; it is shown only now\n`);
    });
  keys
    .command('list')
    .description('List API keys (never the keys themselves)')
    .addOption(dbOption())
    .addOption(dataDirOption())
    .option('--all', 'include revoked keys')
    .option('--json', 'print JSON')
    .action(async (flags: { db?: string; dataDir?: string; all?: boolean; json?: boolean }) => {
      const list = await withKeys(flags, (k) => k.list({ includeRevoked: Boolean(flags.all), limit: 10_000 }));
      if (flags.json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else
        for (const k of list) {
          process.stdout.write(`${k.id}  ${k.name.padEnd(24)} ${k.key_prefix ? `${k.key_prefix}…` : '(given)    '}  ${k.owner ? `owner ${k.owner}  ` : ''}${k.scopes.join(',').padEnd(24)} ${k.revoked_at ? `revoked ${k.revoked_at}` : `created ${k.created_at}`}${k.expires_at ? `  expires ${k.expires_at}` : ''}${k.last_used_at ? `  last used ${k.last_used_at}` : ''}\n`);
        }
    });
  keys
    .command('revoke')
    .description('Revoke an API key by id or name')
    .argument('<key>', 'the key id or name')
    .addOption(dbOption())
    .addOption(dataDirOption())
    .action(async (key: string, flags: { db?: string; dataDir?: string }) => {
      const revoked = await withKeys(flags, (k) => k.revoke(cliActor(), key));
      process.stdout.write(`revoked "${revoked.name}" (${revoked.id})\n`);
    });

  for (const command of syncCommands()) program.addCommand(command);
  // eval has its own --version (the prompt version): the program's --version counts only before the command.
  program.enablePositionalOptions();
  for (const command of evalCommands()) program.addCommand(command);

  return program;
}

buildCli()
  .parseAsync(process.argv)
  .catch((err: unknown) => {
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`prompt-registry: ${message}\n`);
    process.exit(1);
  });
