import 'reflect-metadata';
import { startApp, openDatabase } from './app';
import { loadConfig } from './config';
import { DEMO_ACCOUNTS, DEMO_PASSWORD, loadDemoData, openDemoAccounts } from './db/demo-data';

async function main(): Promise<void> {
  const config = loadConfig();
  const database = await openDatabase(config);
  // Demo accounts share one published password: never in production, whatever the database.
  if (config.production) {
    const demo = await openDemoAccounts(database.db);
    if (demo.length) {
      await database.close();
      throw new Error(`NODE_ENV=production refuses to serve while demo accounts can sign in (${demo.join(', ')}): disable them, or start from an empty database`);
    }
  }
  const app = await startApp(config, database.db);
  if (database.embedded && config.production) console.log('NODE_ENV=production: no demo data is loaded; create the first operator with `npm run cli -- create-operator`.');
  else if (database.embedded) {
    const loaded = await loadDemoData(database.db, app.services);
    console.log(loaded ? 'Loaded demo data into the embedded database.' : 'Using existing embedded database.');
    console.log(`Demo accounts (password "${DEMO_PASSWORD}"):`);
    for (const a of DEMO_ACCOUNTS) console.log(`  ${a.loginId.padEnd(18)} ${a.role.padEnd(17)} on ${a.channel}`);
  }
  console.log(`Internet channel: ${app.listeners.internetUrl}/graphql`);
  console.log(`LG-WAN channel:   ${app.listeners.lgwanUrl}/graphql`);

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await app.stop();
    await database.close();
    process.exit(0);
  };
  // The embedded PostgreSQL package stops its database on these signals by itself and exits within
  // 10 s, which would cut a running import off: the server's own stop waits for it, then closes the
  // database. Its exit hook stays, for a process that ends any other way.
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.removeAllListeners(signal);
    process.on(signal, stop);
  }
}

main().catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
