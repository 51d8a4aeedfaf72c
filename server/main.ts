import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import type { Logger } from 'pino';
import { createApp, type Registry } from './app.js';
import type { ServerConfig } from './config.js';
import { describeDatabaseUrl, openDatabase, type Database } from './db/index.js';
import { migrate } from './db/migrate.js';
import type { CreatedKey } from './keys/service.js';

export interface RunningServer {
  url: string;
  registry: Registry;
  db: Database;
  server: Server;
  /** The admin key made on a first start, to show once. */
  bootstrapKey: CreatedKey | undefined;
  /** Stops accepting, lets requests in flight finish (up to `graceMs`), closes the database. */
  close(graceMs?: number): Promise<void>;
}

/** Opens and migrates the database, ensures an admin key, and listens. */
export async function startServer(config: ServerConfig, logger: Logger): Promise<RunningServer> {
  const db = await openDatabase(config.databaseUrl, { sqliteDriver: config.sqliteDriver });
  try {
    const applied = await migrate(db);
    if (applied.length) logger.info({ migrations: applied.map((m) => `${m.version}_${m.name}`) }, 'applied migrations');
    const registry = await createApp(db, logger, config);
    const bootstrapKey = await registry.services.keys.bootstrap(config.adminKey, config.adminKeyName);
    const server = registry.app.listen(config.port, config.host);
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    server.keepAliveTimeout = 65_000; // outlive common load balancers' idle timeouts
    const { port } = server.address() as AddressInfo;
    const host = config.host.includes(':') ? `[${config.host}]` : config.host;
    const url = `http://${host === '0.0.0.0' ? '127.0.0.1' : host}:${port}`;
    logger.info({ url, database: describeDatabaseUrl(config.databaseUrl), driver: db.driver, environments: config.environments }, 'prompt registry listening');
    logger.flush(); // whoever started us (the VS Code extension) reads this line for the URL
    registry.services.retention.start(config.retentionIntervalMinutes, logger);
    // Read the identity provider's discovery document now, so a misconfiguration shows in the log at start-up
    // rather than on the first sign-in; the server runs either way (bearer requests retry it).
    registry.services.oidc?.discover().then(
      ({ doc }) => logger.info({ issuer: doc.issuer, jwks_uri: doc.jwks_uri }, 'OpenID Connect issuer discovered'),
      (err: unknown) => logger.warn({ issuer: config.oidc?.issuer, reason: (err as Error).message }, 'OpenID Connect issuer not reachable yet'),
    );

    let closing: Promise<void> | undefined;
    const close = (graceMs = 10_000) =>
      (closing ??= (async () => {
        registry.services.feed.shutdown(); // ends event streams, which would otherwise hold the server open
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(timer);
        await registry.services.retention.stop(); // a purge in progress stops after its current batch
        await db.close();
      })());
    return { url, registry, db, server, bootstrapKey, close };
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
}
