import type { AddressInfo } from 'node:net';
import { createServer, type Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from 'pino';
import { createApp, type Registry } from './app.js';
import { defaultDataDir, operations, type ServerConfig } from './config.js';
import type { OperatorMetrics } from './http/prometheus.js';
import { describeDatabaseUrl, openDatabase, type Database } from './db/index.js';
import { migrate } from './db/migrate.js';
import type { CreatedKey } from './keys/service.js';
import { checkSecretMatches, loadServerSecret, type ServerSecret } from './secret.js';

export interface RunningServer {
  url: string;
  registry: Registry;
  db: Database;
  server: Server;
  /** The management port's Prometheus endpoint (`.../metrics`), when one was asked for. */
  metricsUrl: string | undefined;
  /** The admin key made on a first start, to show once. */
  bootstrapKey: CreatedKey | undefined;
  /**
   * Fails readiness and ends event streams (with a retry hint), keeps serving for the shutdown delay
   * (load balancers see /readyz fail and stop sending), stops accepting, lets requests in flight finish
   * (up to `graceMs`), closes the database.
   */
  close(graceMs?: number): Promise<void>;
}

function announceSecret(secret: ServerSecret, db: Database, logger: Logger): void {
  if (secret.source !== 'generated') return;
  if (db.sql.shared) {
    // Another replica with its own secret would refuse every key this one hashes (checkSecretMatches stops it starting).
    logger.warn(
      { path: secret.path },
      'generated a server secret for this server alone: replicas on one Postgres must share one; set PROMPT_REGISTRY_SECRET or PROMPT_REGISTRY_SECRET_FILE on every replica (docs/operations.md, "Server secret")',
    );
  } else {
    logger.info({ path: secret.path }, 'generated a server secret (API key hashes are keyed with it): back it up with the database');
  }
}

function urlOf(server: Server, bound: string): string {
  const { port } = server.address() as AddressInfo;
  const host = bound.includes(':') ? `[${bound}]` : bound;
  return `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
}

async function listening(server: Server): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    server.once('listening', resolve);
    server.once('error', reject);
  });
}

/**
 * The management port: Prometheus metrics at /metrics, nothing else. A port of its own rather than a path
 * on the API, whose /metrics is the evaluation metrics API; it has no credential, so it binds loopback
 * unless told otherwise (docs/operations.md).
 */
async function metricsServer(metrics: OperatorMetrics, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || (req.url !== '/metrics' && !req.url?.startsWith('/metrics?'))) {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('the management port serves GET /metrics only\n');
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { 'Content-Type': metrics.registry.contentType }).end(text),
      (err: unknown) => res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${(err as Error).message}\n`),
    );
  });
  server.listen(port, host);
  await listening(server);
  return server;
}

/** Opens and migrates the database, ensures an admin key, and listens. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const ops = operations(config);
  const db = await openDatabase(config.databaseUrl, {
    sqliteDriver: config.sqliteDriver,
    postgres: { max: ops.dbPoolSize, connectTimeoutMs: ops.dbConnectTimeoutMs, statementTimeoutMs: ops.dbStatementTimeoutMs },
  });
  let management: Server | undefined;
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, 'applied migrations');
    const secret = loadServerSecret({ value: config.secret, file: config.secretFile, dataDir: config.dataDir ?? defaultDataDir() });
    announceSecret(secret, db, logger);
    await checkSecretMatches(db, secret);
    const registry = await createApp(db, logger, secret, { ...config, operatorMetrics: config.metricsPort !== undefined });
    const bootstrapKey = await registry.services.keys.bootstrap(config.adminKey, config.adminKeyName);
    if (registry.operatorMetrics && config.metricsPort !== undefined) management = await metricsServer(registry.operatorMetrics, config.metricsPort, ops.metricsHost);
    const metricsUrl = management && `${urlOf(management, ops.metricsHost)}/metrics`;
    const server = createServer(registry.handler).listen(config.port, config.host);
    await listening(server);
    server.keepAliveTimeout = 65_000; // outlive common load balancers' idle timeouts
    const url = urlOf(server, config.host);
    logger.info({ url, metrics: metricsUrl, database: describeDatabaseUrl(config.databaseUrl), driver: db.driver, environments: config.environments }, 'prompt registry listening');
    logger.flush(); // whoever started us (the VS Code extension) reads this line for the URL
    registry.services.retention.start(config.retentionIntervalMinutes, logger);
    registry.services.webhooks.worker.start();
    registry.services.experiments.start(); // and takes up experiments a stopped server left
    // Read the identity provider's discovery document now, so a misconfiguration shows in the log at start-up
    // rather than on the first sign-in; the server runs either way (bearer requests retry it).
    registry.services.oidc?.discover().then(
      ({ doc }) => logger.info({ issuer: doc.issuer, jwks_uri: doc.jwks_uri }, 'OpenID Connect issuer discovered'),
      (err: unknown) => logger.warn({ issuer: config.oidc?.issuer, reason: (err as Error).message }, 'OpenID Connect issuer not reachable yet'),
    );

    let closing: Promise<void> | undefined;
    const close = (graceMs = ops.shutdownGraceMs) =>
      (closing ??= (async () => {
        registry.lifecycle.draining = true;
        registry.services.feed.shutdown(); // ends event streams, which would otherwise hold the server open
        if (ops.shutdownDelayMs > 0) {
          logger.info({ delay_ms: ops.shutdownDelayMs }, 'readiness failing; still serving until load balancers notice');
          await sleep(ops.shutdownDelayMs);
          registry.services.feed.shutdown(); // streams opened meanwhile
        }
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(timer);
        await registry.services.retention.stop(); // a purge in progress stops after its current batch
        await registry.services.webhooks.worker.stop(); // attempts in flight are recorded (each within its timeout)
        await registry.services.experiments.stop(); // runs in flight are cancelled; the next server runs their items
        await registry.services.templates.close();
        if (management) {
          const stopped = new Promise<void>((resolve) => management!.close(() => resolve()));
          management.closeAllConnections(); // a scraper's keep-alive connection
          await stopped;
        }
        await db.close();
      })());
    return { url, metricsUrl, registry, db, server, bootstrapKey, close };
  } catch (err) {
    management?.close();
    await db.close().catch(() => undefined);
    throw err;
  }
}
