import 'reflect-metadata';
import { DataSource } from 'typeorm';
import { startApp, openDatabase } from './app';
import { Config, loadConfig } from './config';
import { TenantKeyring } from './crypto/tenant-keyring';
import { DEMO_PASSWORD, demoAccountLines, loadDemoData, openDemoAccounts } from './db/demo-data';
import { createLog, Log } from './log';

/** What a server checks before it serves; it refuses to start, saying why, when one fails. */
async function checkBeforeServing(config: Config, db: DataSource, log: Log): Promise<void> {
  // A data key no configured master key opens (PREVIOUS_MASTER_KEY removed before the re-wrap, say)
  // would otherwise show only when that municipality's My Numbers are read.
  const underPrevious = await new TenantKeyring(config.masterKey, config.previousMasterKey).checkMasterKeys(db.manager).catch((error: Error) => {
    throw new Error(`The server does not start: ${error.message}`);
  });
  if (underPrevious.length) {
    log.warn({ municipalities: underPrevious.length }, `Data keys of ${underPrevious.length} municipalities open only with PREVIOUS_MASTER_KEY: run \`npm run cli -- rotate-master-key\` before removing it.`);
  }
  // Demo accounts share one published password: never in production, whatever the database.
  if (config.production) {
    const demo = await openDemoAccounts(db);
    if (demo.length) throw new Error(`NODE_ENV=production refuses to serve while demo accounts can sign in (${demo.join(', ')}): disable them, or start from an empty database`);
  }
}

/**
 * Starts the server; the function returned stops it, as SIGINT, SIGTERM and SIGHUP do before the
 * process exits. What people read at the terminal (the endpoints, the demo accounts) is printed;
 * everything else goes to the log (src/log.ts).
 */
export async function main(): Promise<void> {
  const config = loadConfig();
  const log = createLog(config.logLevel);
  const database = await openDatabase(config, { log });
  await checkBeforeServing(config, database.db, log).catch(async (error) => {
    await database.close();
    throw error;
  });
  const app = await startApp(config, database.db, log).catch(async (error) => {
    await database.close();
    throw error;
  });
  // The command opens the embedded database itself, which this process holds while it serves.
  if (database.embedded && config.production) {
    const [{ operators }] = await database.db.query(`SELECT count(*)::int AS operators FROM account WHERE role = 'OPERATOR' AND disabled_at IS NULL`);
    if (operators === 0) console.log('NODE_ENV=production: no demo data is loaded. To create the first operator, stop the server, run `npm run cli -- create-operator <loginId>`, then start the server again.');
  }
  else if (database.embedded) {
    const loaded = await loadDemoData(database.db, app.services);
    console.log(loaded ? 'Loaded demo data into the embedded database.' : 'Using existing embedded database.');
    console.log(`Demo accounts (password "${DEMO_PASSWORD}"):`);
    for (const line of demoAccountLines()) console.log(line);
  }
  console.log(`Internet channel: ${app.listeners.internetUrl}/graphql`);
  console.log(`LG-WAN channel:   ${app.listeners.lgwanUrl}/graphql`);

  let stopped: Promise<void> | undefined;
  // Two lines tell a clean stop from a crash in the server's log.
  const stop = (signal: NodeJS.Signals) => (stopped ??= (async () => {
    log.info({ signal }, `${signal}: stopping; requests and downloads under way get up to 20 s, running imports up to a minute, to finish`);
    await app.stop();
    await database.close();
    log.info('Stopped.');
  })());
  // The embedded database stops on these signals by itself (src/db/embedded-postgres.ts), which
  // would cut a running import off: the server's own stop waits for it, then closes the database.
  // Its exit handler stays, for a process that ends any other way.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, () => void stop(signal).then(() => process.exit(0)));
  }
}

if (require.main === module) {
  main().catch((error) => {
    // One plain line for whoever starts the server: the log itself may be what is misconfigured (LOG_LEVEL).
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  });
}
