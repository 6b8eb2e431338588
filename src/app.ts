import path from 'node:path';
import { DataSource } from 'typeorm';
import { Config, ensureDataDir } from './config';
import { createDataSource, migrate } from './db/data-source';
import { EmbeddedDatabase, startEmbeddedPostgres } from './db/embedded-postgres';
import { syncReferenceData } from './db/reference-data';
import { Listeners, startListeners } from './http/server';
import { createLog, Log } from './log';
import { createServices, Services } from './services';
import { indexAuditTargets } from './services/audit.service';
import { repeatEvery } from './services/background';

export interface Database {
  /** The application's connections, as the non-owner role under row-level security (unless opened `asOwner`). */
  db: DataSource;
  embedded?: EmbeddedDatabase;
  close(): Promise<void>;
}

/**
 * Connects to DATABASE_URL, or starts the embedded PostgreSQL; then migrates and loads reference
 * data. `asOwner` keeps the owner's connections, for the maintenance the application role may
 * not do (archiving the operation log). `asIs` applies no migration and loads nothing, for
 * revert-migrations: migrating first would apply again what an earlier revert took away, then
 * revert it once more. An embedded database's later failures go to `log`.
 */
export async function openDatabase(
  config: Config,
  { asOwner = false, asIs = false, log = createLog(config.logLevel) }: { asOwner?: boolean; asIs?: boolean; log?: Log } = {},
): Promise<Database> {
  if (!config.databaseUrl) ensureDataDir(config.dataDir);
  const embedded = config.databaseUrl
    ? undefined
    : await startEmbeddedPostgres(path.join(config.dataDir, 'pg'), config.embeddedPgPort, { persistent: true, log });
  const url = config.databaseUrl ?? embedded!.url;
  const owner = createDataSource(url, { poolSize: 2 });
  await owner.initialize().catch((error: Error) => {
    if (!config.databaseUrl) throw error;
    // The URL itself is not repeated: it may carry the password.
    throw new Error(`cannot connect to the database DATABASE_URL names: ${error.message}`);
  });
  try {
    if (!asIs) {
      await migrate(owner, log);
      await syncReferenceData(owner);
    }
  } finally {
    await owner.destroy();
  }
  const db = createDataSource(url, { asApp: !asOwner, connectionWaitMs: (config.connectionWaitSeconds ?? 10) * 1000 });
  // Initializing opens the first connection, which is refused if it does not open as vrs_app.
  await db.initialize();
  return {
    db,
    embedded,
    async close() {
      await db.destroy();
      await embedded?.stop();
    },
  };
}

export interface App {
  services: Services;
  listeners: Listeners;
  stop(): Promise<void>;
}

/** A listener that could not start, named by its setting, with what to do. */
function listenFailure(config: Config, error: NodeJS.ErrnoException & { port?: number; address?: string; hostname?: string }): Error {
  const address = error.address ?? error.hostname;
  const on = (port: number, host: string) => address === host && (error.port === undefined || error.port === port);
  const lgwan = on(config.lgwanPort, config.lgwanHost) && !on(config.internetPort, config.host);
  const [port, host] = lgwan ? ['LGWAN_PORT', 'LGWAN_HOST'] : ['INTERNET_PORT', 'INTERNET_HOST (or HOST)'];
  const where = `${lgwan ? config.lgwanPort : config.internetPort} on ${lgwan ? config.lgwanHost : config.host}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new Error(`${port} ${where} is already in use (another server running?): stop what listens there, or set ${port} to a free port`);
    case 'EACCES':
      return new Error(`${port} ${where} may not be listened on by this user (ports below 1024 need privileges): set ${port} to a port from 1024`);
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new Error(`${host} ${lgwan ? config.lgwanHost : config.host} is no address of this machine: set it to one of its interfaces' addresses`);
    default:
      return new Error(`the listener of ${port} ${where} did not start: ${error.message}`);
  }
}

/** Serves `config`'s listeners over `db`, writing the server's log to `log`. */
export async function startApp(config: Config, db: DataSource, log: Log = createLog(config.logLevel)): Promise<App> {
  const services = createServices(db, config, log);
  await services.imports.failStale(null);
  const listeners = await startListeners(services, { internet: config.internetPort, lgwan: config.lgwanPort, host: config.host, lgwanHost: config.lgwanHost }).catch((error) => {
    throw listenFailure(config, error);
  });
  const stopCompaction = services.statistics.startCompaction(config.statisticsCompactSeconds ?? 10);
  const stopSweeping = services.detector.startSweeping();
  const stopIndexing = repeatEvery(config.auditIndexSeconds ?? 2, 'operation-log indexing', () => indexAuditTargets(db), log);
  return {
    services,
    listeners,
    stop: async () => {
      // A pass under way ends before the database goes.
      const background = Promise.all([stopCompaction(), stopSweeping(), stopIndexing()]);
      await listeners.close();
      // Uploads were cut off with their connections: their jobs record that they failed.
      await services.imports.drain();
      await background;
      await services.detector.close();
    },
  };
}
