import { randomInt } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { platform, userInfo } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { clusterProcess, ended, firstLine, nodeProcess } from '../helpers/node-process';

const MODULE = JSON.stringify(path.resolve(__dirname, '../../src/db/embedded-postgres.ts'));
const PUBLISHED_PASSWORD = 'vrs-local-only';
const PASSWORD_FILE = 'vrs_owner.password';

// Inside the checkout, which the postgres OS user reaches when tests run as root (as .data/test-pg).
const dirs: string[] = [];
function folder(): string {
  const dir = path.resolve('.data', `embedded-${randomInt(1e9)}`);
  dirs.push(dir);
  return dir;
}
// Clusters a test leaves running on purpose (their process killed), stopped whatever the test's outcome.
const postmasters: number[] = [];
afterAll(() => {
  for (const pid of postmasters) {
    try {
      process.kill(pid, 'SIGQUIT');
    } catch {
      // ended already
    }
  }
  dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true }));
});

/** The pid of the postgres running on `dir`, from its lock file. */
function postmaster(dir: string): number {
  const pid = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  postmasters.push(pid);
  return pid;
}

function running(pid: number): boolean {
  return existsSync(`/proc/${pid}/cmdline`) && readFileSync(`/proc/${pid}/cmdline`, 'utf8') !== '';
}

const cluster = (dir: string) => clusterProcess(dir, { persistent: true });

/** A start on `dir` expected to fail: its exit code and message. */
async function refusedStart(dir: string): Promise<{ code: number | null; err: string }> {
  const { code, err } = await ended(nodeProcess(`
    const { freePort, startEmbeddedPostgres } = require(${MODULE});
    freePort().then((port) => startEmbeddedPostgres(${JSON.stringify(dir)}, port, { persistent: true }))
      .then(() => process.exit(0), (error) => { console.error(error.message); process.exit(1); });
  `));
  return { code, err: err.trim() };
}

async function rows(url: string, sql: string): Promise<unknown[]> {
  const client = new Client(url);
  await client.connect();
  try {
    return (await client.query(sql)).rows;
  } finally {
    await client.end();
  }
}

async function connectionError(url: string): Promise<string | undefined> {
  const client = new Client(url);
  try {
    await client.connect();
    await client.end();
    return undefined;
  } catch (error) {
    return (error as { code?: string }).code;
  }
}

function withPassword(url: string, password: string): string {
  const u = new URL(url);
  u.password = password;
  return u.toString();
}

/** What a later start reads: the stored password, its file's mode. */
function stored(dir: string): { password: string; mode: string } {
  const file = path.join(dir, PASSWORD_FILE);
  return { password: readFileSync(file, 'utf8').trim(), mode: (statSync(file).mode & 0o777).toString(8) };
}

describe('embedded PostgreSQL', () => {
  it('gives the owner, a superuser any local user can reach, a random password kept where only this OS user reads it', async () => {
    const dir = folder();
    const db = await cluster(dir);
    try {
      const password = new URL(db.url).password;
      expect(password).toMatch(/^[\w-]{32}$/);
      expect(stored(dir)).toEqual({ password, mode: '600' });
      expect(await connectionError(withPassword(db.url, PUBLISHED_PASSWORD))).toBe('28P01');
      expect(await connectionError(db.url)).toBeUndefined();
    } finally {
      await db.stop();
    }
  });

  it('moves a cluster made with the password the source once published to a random one at its next start, keeping its data', async () => {
    const dir = folder();
    let db = await cluster(dir);
    const client = new Client(db.url);
    await client.connect();
    await client.query(`ALTER ROLE vrs_owner PASSWORD '${PUBLISHED_PASSWORD}'`);
    await client.query('CREATE TABLE kept AS SELECT 1 AS n');
    await client.end();
    await db.stop();
    rmSync(path.join(dir, PASSWORD_FILE));

    db = await cluster(dir);
    try {
      const password = new URL(db.url).password;
      expect(password).not.toBe(PUBLISHED_PASSWORD);
      expect(stored(dir)).toEqual({ password, mode: '600' });
      expect(await connectionError(withPassword(db.url, PUBLISHED_PASSWORD))).toBe('28P01');
      const after = new Client(db.url);
      await after.connect();
      expect((await after.query('SELECT n FROM kept')).rows).toEqual([{ n: 1 }]);
      await after.end();
    } finally {
      await db.stop();
    }
    // And the next start uses the stored one.
    db = await cluster(dir);
    await db.stop();
    expect(new URL(db.url).password).toBe(stored(dir).password);
  });

  it("keeps running when a terminal's Ctrl-C reaches the process group, until the process that started it stops it", async () => {
    // As the server does: its own handler, which still uses the database before stopping it.
    const child = nodeProcess(`
      const { Client } = require('pg');
      const { freePort, startEmbeddedPostgres } = require(${MODULE});
      (async () => {
        const db = await startEmbeddedPostgres(${JSON.stringify(folder())}, await freePort(), { persistent: false });
        process.removeAllListeners('SIGINT');
        process.on('SIGINT', async () => {
          await new Promise((resolve) => setTimeout(resolve, 500));
          const client = new Client(db.url);
          const answer = await client.connect().then(() => client.query('SELECT 1 AS one')).then((r) => 'answered ' + r.rows[0].one, (e) => 'refused: ' + e.message);
          console.log(answer);
          await client.end().catch(() => undefined);
          await db.stop();
          process.exit(0);
        });
        console.log('ready');
      })().catch((error) => { console.error(error.message); process.exit(1); });
    `, { detached: true });
    const done = ended(child);
    expect(await firstLine(child)).toBe('ready');
    process.kill(-child.pid!, 'SIGINT');
    const { code, out } = await done;
    expect({ code, out: out.split('\n')[1] }).toEqual({ code: 0, out: 'answered 1' });
  });

  it('says so at once when its PostgreSQL ends without being stopped', async () => {
    const dir = folder();
    const child = nodeProcess(`
      const { freePort, startEmbeddedPostgres } = require(${MODULE});
      (async () => {
        const db = await startEmbeddedPostgres(${JSON.stringify(dir)}, await freePort(), { persistent: false });
        console.log('ready');
        process.stdin.on('end', () => db.stop().then(() => process.exit(0))).resume();
      })().catch((error) => { console.error(error.message); process.exit(1); });
    `);
    const done = ended(child);
    expect(await firstLine(child)).toBe('ready');
    const pid = Number(readFileSync(path.join(dir, 'postmaster.pid'), 'utf8').split('\n')[0]);
    process.kill(pid, 'SIGINT');
    for (let i = 0; i < 200 && existsSync(path.join(dir, 'postmaster.pid')); i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 200));
    child.stdin!.end();
    const { code, err } = await done;
    expect(code).toBe(0);
    // A line of the server's log, on standard error.
    expect(JSON.parse(err.trim())).toMatchObject({
      level: 'error', msg: expect.stringContaining(`embedded PostgreSQL in ${dir} stopped unexpectedly (exit code 0): requests needing the database fail until this process is restarted`),
    });
  });

  it('stops with a process that does not handle Ctrl-C itself (the command line, a bench)', async () => {
    const dir = folder();
    const child = nodeProcess(`
      const { freePort, startEmbeddedPostgres } = require(${MODULE});
      freePort().then((port) => startEmbeddedPostgres(${JSON.stringify(dir)}, port, { persistent: true })).then(() => console.log('ready'));
    `, { detached: true });
    const done = ended(child);
    expect(await firstLine(child)).toBe('ready');
    process.kill(-child.pid!, 'SIGINT');
    expect((await done).code).toBe(130);
    expect(existsSync(path.join(dir, 'postmaster.pid'))).toBe(false);
  });

  (platform() === 'linux' ? it : it.skip)('stops the cluster a killed process left running at the next start, keeping its data', async () => {
    const dir = folder();
    const first = await cluster(dir);
    await rows(first.url, 'CREATE TABLE kept AS SELECT 1 AS n');
    const orphan = postmaster(dir);
    expect((await first.kill()).signal).toBe('SIGKILL');
    // What a crash leaves: the cluster still serving, its folder held.
    expect(await rows(first.url, 'SELECT n FROM kept')).toEqual([{ n: 1 }]);

    const second = await cluster(dir);
    try {
      expect(running(orphan)).toBe(false);
      expect(postmaster(dir)).not.toBe(orphan);
      expect(await rows(second.url, 'SELECT n FROM kept')).toEqual([{ n: 1 }]);
    } finally {
      const { err } = await second.stop();
      expect(JSON.parse(err.trim())).toMatchObject({ level: 'warn', msg: `embedded PostgreSQL in ${dir}: the database left running by a process that ended (pid ${first.pid}) was stopped` });
    }
  });

  (platform() === 'linux' ? it : it.skip)('refuses a second start on a folder whose cluster the process that started it still uses, naming that process', async () => {
    const dir = folder();
    const db = await cluster(dir);
    try {
      const pid = postmaster(dir);
      expect(await refusedStart(dir)).toEqual({
        code: 1,
        err: `embedded PostgreSQL in ${dir} is in use by another process (pid ${db.pid}) of this server: stop it, or set DATA_DIR or DATABASE_URL`,
      });
      expect(running(pid)).toBe(true);
      expect(await rows(db.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    } finally {
      await db.stop();
    }
  });

  it('starts on a folder whose lock file names a process that has ended (PostgreSQL replaces it)', async () => {
    const dir = folder();
    let db = await cluster(dir);
    const lock = readFileSync(path.join(dir, 'postmaster.pid'), 'utf8');
    await db.stop();
    // A pid no process has: above the kernel's largest.
    writeFileSync(path.join(dir, 'postmaster.pid'), lock.replace(/^\d+/, '4194305'));
    db = await cluster(dir);
    expect(await rows(db.url, 'SELECT 1 AS one')).toEqual([{ one: 1 }]);
    await db.stop();
  });

  (userInfo().uid === 0 ? it : it.skip)('under root, refuses a data folder the postgres OS user cannot reach, saying what to do', async () => {
    const locked = folder();
    mkdirSync(locked, { recursive: true });
    chmodSync(locked, 0o700);
    const child = nodeProcess(`
      require(${MODULE}).startEmbeddedPostgres(${JSON.stringify(path.join(locked, 'data', 'pg'))}, 1, { persistent: true })
        .catch((error) => { console.error(error.message); process.exit(1); });
    `);
    const { code, err } = await ended(child);
    expect({ code, err: err.trim() }).toEqual({
      code: 1,
      err: `the embedded PostgreSQL runs as the OS user postgres, which cannot reach ${locked}/data: set DATA_DIR to a folder the postgres user can reach, e.g. DATA_DIR=/var/lib/vrs, or set DATABASE_URL`,
    });
  });
});
