import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, createServer, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openDatabase } from '../../src/app';
import { loadConfig } from '../../src/config';
import { demoAccountLines } from '../../src/db/demo-data';
import { ended } from '../helpers/node-process';

/** A fresh data folder for the embedded database, and an environment that gives it no keys. */
function embeddedWithoutKeys(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'vrs-config-'));
  process.env.DATA_DIR = dir;
  delete process.env.DATABASE_URL;
  delete process.env.MASTER_KEY;
  delete process.env.TOKEN_SECRET;
  return dir;
}

describe('configuration', () => {
  const saved = { ...process.env };
  beforeEach(() => {
    process.env.DATABASE_URL = 'postgres://vrs@localhost/vrs';
    process.env.MASTER_KEY = randomBytes(32).toString('base64');
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    delete process.env.IDLE_SECONDS;
    delete process.env.LGWAN_IDLE_SECONDS;
    delete process.env.TRUSTED_PROXIES;
    delete process.env.LGWAN_HOST;
    delete process.env.INTERNET_HOST;
    delete process.env.DOSE_INTERVALS;
    delete process.env.LOG_LEVEL;
  });
  afterEach(() => {
    process.env = { ...saved };
  });

  it('reads the idle limit as IDLE_SECONDS, or under its former name LGWAN_IDLE_SECONDS', () => {
    expect(loadConfig().idleSeconds).toBe(120);
    process.env.LGWAN_IDLE_SECONDS = '300';
    expect(loadConfig().idleSeconds).toBe(300);
    process.env.IDLE_SECONDS = '45';
    expect(loadConfig().idleSeconds).toBe(45);
  });

  it('refuses settings that would switch a protection off, naming the setting and its range', () => {
    for (const [name, value, range] of [
      ['LOCKOUT_MINUTES', '0', '1 to 10080'], ['MAX_FAILED_LOGINS', '2147483648', '1 to 100'], ['TOKEN_TTL_SECONDS', '1e21', '60 to 86400'],
      ['IDLE_SECONDS', '0', '1 to 3600'], ['STATS_SUPPRESSION_THRESHOLD', '0', '1 to 1000'], ['LGWAN_PORT', '70000', '0 to 65535'],
      // Checked when the server starts, not only when the archiving job runs.
      ['AUDIT_RETENTION_DAYS', '0', '1 to 36500'],
      // A request bound of 0 would be PostgreSQL's and node-postgres's "no bound at all".
      ['DB_STATEMENT_TIMEOUT_SECONDS', '0', '1 to 3600'], ['DB_CONNECTION_WAIT_SECONDS', '0', '1 to 600'],
    ]) {
      process.env[name] = value;
      expect(() => loadConfig()).toThrow(`${name} must be a whole number from ${range}, got "${value}"`);
      delete process.env[name];
    }
    process.env.TRUSTED_PROXIES = '10.0.0.0/8,10.0.0.0/33';
    expect(() => loadConfig()).toThrow(/TRUSTED_PROXIES must list IP addresses or CIDR ranges/);
    // A /0 is refused as what it is, not as a typo; so are lists that add up to every address of a family.
    for (const everyone of ['0.0.0.0/0', '10.0.0.0/8,::/0', '192.168.0.1/0.0.0.0', '0.0.0.0/1,128.0.0.0/1', '::ffff:0:0/96', '::/1,8000::/1']) {
      process.env.TRUSTED_PROXIES = everyone;
      expect(() => loadConfig()).toThrow('TRUSTED_PROXIES must not trust every address: list the proxies themselves');
    }
    process.env.TRUSTED_PROXIES = '10.0.0.0/8,loopback,203.0.113.5';
    expect(loadConfig().trustedProxies).toEqual(['10.0.0.0/8', 'loopback', '203.0.113.5']);
  });

  it('refuses DOSE_INTERVALS that give one dose two intervals, or are not intervals', () => {
    process.env.DOSE_INTERVALS = '2:18d,3:3m,2:21d';
    expect(() => loadConfig()).toThrow('DOSE_INTERVALS: dose 2 is given more than one interval');
    process.env.DOSE_INTERVALS = '2:18d,3:3x';
    expect(() => loadConfig()).toThrow('DOSE_INTERVALS: "3:3x" is not like "2:18d" or "3:3m"');
    process.env.DOSE_INTERVALS = '3:6m,2:21d';
    expect(loadConfig().doseIntervals).toBe('3:6m,2:21d');
  });

  it('reads LOG_LEVEL as one of the log\'s levels, in any case, and refuses any other naming it', () => {
    expect(loadConfig().logLevel).toBe('info');
    process.env.LOG_LEVEL = 'WARN';
    expect(loadConfig().logLevel).toBe('warn');
    for (const value of ['verbose', 'warning', '30']) {
      process.env.LOG_LEVEL = value;
      expect(() => loadConfig()).toThrow(`LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "${value}"`);
    }
  });

  it('refuses one port for both listeners on one host: the listener decides the channel', () => {
    process.env.INTERNET_PORT = '4500';
    process.env.LGWAN_PORT = '4500';
    expect(() => loadConfig()).toThrow('INTERNET_PORT and LGWAN_PORT must differ on the same host (both 4500 on 127.0.0.1)');
    process.env.LGWAN_HOST = '10.0.0.5';
    expect(loadConfig()).toMatchObject({ internetPort: 4500, lgwanPort: 4500, lgwanHost: '10.0.0.5' });
  });

  it('names DATABASE_URL when the database it names cannot be reached, without repeating the URL', async () => {
    process.env.DATABASE_URL = 'postgres://someone:secret-password@127.0.0.1:1/none';
    const refused = openDatabase(loadConfig());
    await expect(refused).rejects.toThrow(/^cannot connect to the database DATABASE_URL names: .*ECONNREFUSED/);
    await expect(refused).rejects.not.toThrow(/secret-password/);
  });

  /**
   * The test database behind a relay that drops the `options` start-up parameter of the connections
   * opened while `strips()` is true and passes on the rest, as PgBouncer does with
   * ignore_startup_parameters = options. DATABASE_URL names the relay until `close`.
   */
  async function optionsDroppingRelay(strips: () => boolean): Promise<{ close(): void }> {
    const database = new URL(saved.DATABASE_URL!);
    const sockets = new Set<Socket>();
    const relay = createServer((socket) => {
      const stripped = strips();
      const upstream = connect(Number(database.port || 5432), database.hostname);
      for (const each of [socket, upstream]) {
        sockets.add(each);
        each.on('error', () => undefined);
      }
      let head = Buffer.alloc(0);
      const startup = (chunk: Buffer) => {
        head = Buffer.concat([head, chunk]);
        if (head.length < 4 || head.length < head.readInt32BE(0)) return;
        socket.off('data', startup);
        const length = head.readInt32BE(0);
        const fields = head.subarray(8, length - 2).toString().split('\0');
        let kept = '';
        for (let i = 0; i < fields.length; i += 2) if (!stripped || fields[i] !== 'options') kept += `${fields[i]}\0${fields[i + 1]}\0`;
        const message = Buffer.concat([Buffer.alloc(8), Buffer.from(`${kept}\0`)]);
        message.writeInt32BE(message.length, 0);
        message.writeInt32BE(head.readInt32BE(4), 4);
        upstream.write(Buffer.concat([message, head.subarray(length)]));
        socket.pipe(upstream).pipe(socket);
      };
      socket.on('data', startup);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const url = new URL(database);
    url.host = `127.0.0.1:${(relay.address() as { port: number }).port}`;
    process.env.DATABASE_URL = url.toString();
    return {
      close() {
        relay.close();
        for (const socket of sockets) socket.destroy();
      },
    };
  }

  const droppedOptions = (owner: string) => new RegExp(`^the database's connections open as ${owner} with datestyle [^:]+, not as vrs_app with ISO, YMD: `
    + 'the options start-up parameter that sets them did not reach PostgreSQL \\(a connection pooler in between drops it, as PgBouncer does '
    + 'with ignore_startup_parameters = options\\)\\. Row-level security would not apply, so the server refuses the connection, and does not start on it: point DATABASE_URL '
    + 'at PostgreSQL itself, or at a pooler that passes options on$');

  it('refuses to start when its connections\' start-up settings do not reach PostgreSQL, rather than work as the owner past row-level security', async () => {
    const relay = await optionsDroppingRelay(() => true);
    try {
      await expect(openDatabase(loadConfig())).rejects.toThrow(droppedOptions(new URL(saved.DATABASE_URL!).username));
    } finally {
      relay.close();
    }
  });

  it('refuses a later connection that opens without its start-up settings, rather than run a request on it as the owner', async () => {
    // The connections the server starts with keep their settings; those opened after lose them.
    let started = false;
    const relay = await optionsDroppingRelay(() => started);
    try {
      const database = await openDatabase(loadConfig());
      started = true;
      try {
        const first = database.db.createQueryRunner();
        await first.startTransaction();
        try {
          expect(await first.query('SELECT current_user AS role')).toEqual([{ role: 'vrs_app' }]);
          // The first connection is busy, so this asks for another.
          await expect(database.db.query('SELECT current_user AS role')).rejects.toThrow(droppedOptions(new URL(saved.DATABASE_URL!).username));
        } finally {
          await first.rollbackTransaction();
          await first.release();
        }
      } finally {
        await database.close();
      }
    } finally {
      relay.close();
    }
  });

  it('lists each demo account with every channel its role signs in on', () => {
    expect(demoAccountLines()).toEqual(expect.arrayContaining([
      expect.stringMatching(/^ {2}chiyoda-officer +MUNICIPALITY +on LGWAN or INTERNET$/),
      expect.stringMatching(/^ {2}chiyoda-site +VACCINATION_SITE +on INTERNET$/),
      expect.stringMatching(/^ {2}national +NATIONAL +on LGWAN$/),
    ]));
  });

  it('binds each listener to HOST, or to its own address', () => {
    delete process.env.HOST;
    expect([loadConfig().host, loadConfig().lgwanHost]).toEqual(['127.0.0.1', '127.0.0.1']);
    process.env.HOST = '0.0.0.0';
    process.env.LGWAN_HOST = '10.1.2.3';
    expect([loadConfig().host, loadConfig().lgwanHost]).toEqual(['0.0.0.0', '10.1.2.3']);
  });

  it('in production takes MASTER_KEY and TOKEN_SECRET from the environment, never from beside the embedded database', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-config-'));
    const generated = path.join(dir, 'dev-secrets.json');
    process.env.DATA_DIR = dir;
    delete process.env.DATABASE_URL;
    const masterKey = process.env.MASTER_KEY!;
    delete process.env.MASTER_KEY;
    process.env.NODE_ENV = 'production';
    expect(() => loadConfig()).toThrow(/^MASTER_KEY and TOKEN_SECRET \(32 bytes, base64\) are required with NODE_ENV=production, whatever the database$/);
    expect(existsSync(generated)).toBe(false);
    // Keys a production server generated before are to be moved out, not replaced by new ones that open nothing;
    // without a database beside them they encrypted nothing, and are not offered.
    writeFileSync(generated, '{}');
    expect(() => loadConfig()).toThrow(/^MASTER_KEY and TOKEN_SECRET \(32 bytes, base64\) are required with NODE_ENV=production, whatever the database$/);
    mkdirSync(path.join(dir, 'pg'));
    expect(() => loadConfig()).toThrow(`whatever the database; set them from the keys in ${generated} and move that file off this machine: a new MASTER_KEY would open no data key`);
    process.env.MASTER_KEY = masterKey;
    delete process.env.TOKEN_SECRET;
    expect(() => loadConfig()).toThrow('MASTER_KEY and TOKEN_SECRET (32 bytes, base64) are required with NODE_ENV=production');
    rmSync(generated);
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    process.env.LGWAN_HOST = '10.1.2.3';
    expect(loadConfig().masterKey.toString('base64')).toBe(masterKey);
    expect(existsSync(generated)).toBe(false);
  });

  it('outside production generates the embedded database\'s secrets into the data folder, once', () => {
    const dir = embeddedWithoutKeys();
    const config = loadConfig();
    const stored = JSON.parse(readFileSync(path.join(dir, 'dev-secrets.json'), 'utf8'));
    expect(Buffer.from(stored.masterKey, 'base64')).toEqual(config.masterKey);
    expect(loadConfig().masterKey).toEqual(config.masterKey);
  });

  it('in production binds the LG-WAN listener only to an address LGWAN_HOST names, never to every interface', () => {
    process.env.NODE_ENV = 'production';
    process.env.HOST = '0.0.0.0';
    const required = 'LGWAN_HOST must name the LG-WAN interface\'s address with NODE_ENV=production';
    expect(() => loadConfig()).toThrow(`${required}: the LG-WAN listener serves My Number`);
    for (const everywhere of ['0.0.0.0', '::', '[::]', '0', '::0', '::ffff:0.0.0.0']) {
      process.env.LGWAN_HOST = everywhere;
      expect(() => loadConfig()).toThrow(`${required}, not "${everywhere}", which listens on every interface: the LG-WAN listener serves My Number`);
    }
    process.env.LGWAN_HOST = '10.1.2.3';
    expect([loadConfig().host, loadConfig().lgwanHost]).toEqual(['0.0.0.0', '10.1.2.3']);
    process.env.LGWAN_HOST = 'fd00::4';
    expect(loadConfig().lgwanHost).toBe('fd00::4');
  });

  it('names a key set but empty, instead of asking for it as if unset', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-config-'));
    process.env.DATA_DIR = dir;
    delete process.env.DATABASE_URL;
    for (const name of ['MASTER_KEY', 'TOKEN_SECRET']) {
      const value = process.env[name];
      process.env[name] = '';
      expect(() => loadConfig()).toThrow(`${name} is set but empty: it must be 32 bytes encoded in base64`);
      process.env[name] = value;
    }
    // Emptying it is how PREVIOUS_MASTER_KEY is removed once a change of master key is done.
    process.env.PREVIOUS_MASTER_KEY = '';
    expect(loadConfig().previousMasterKey).toBeUndefined();
    expect(existsSync(path.join(dir, 'dev-secrets.json'))).toBe(false);
  });

  it('refuses PREVIOUS_MASTER_KEY equal to MASTER_KEY: a change of master key needs the old key and a new one', () => {
    process.env.PREVIOUS_MASTER_KEY = process.env.MASTER_KEY;
    expect(() => loadConfig()).toThrow('PREVIOUS_MASTER_KEY is the same key as MASTER_KEY: while changing the master key, MASTER_KEY is the new key and PREVIOUS_MASTER_KEY the old one; otherwise leave PREVIOUS_MASTER_KEY unset');
    process.env.PREVIOUS_MASTER_KEY = randomBytes(32).toString('base64');
    expect(loadConfig().previousMasterKey).toEqual(Buffer.from(process.env.PREVIOUS_MASTER_KEY, 'base64'));
  });

  it('writes no development keys when the start is refused for another setting', () => {
    const dir = embeddedWithoutKeys();
    process.env.INTERNET_PORT = 'abc';
    expect(() => loadConfig()).toThrow('INTERNET_PORT must be a whole number from 0 to 65535, got "abc"');
    expect(existsSync(path.join(dir, 'dev-secrets.json'))).toBe(false);
    // Nor when the environment gives both keys.
    delete process.env.INTERNET_PORT;
    process.env.MASTER_KEY = randomBytes(32).toString('base64');
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    loadConfig();
    expect(existsSync(path.join(dir, 'dev-secrets.json'))).toBe(false);
  });

  it('names the development keys\' file when it cannot be read, and what to do', () => {
    const dir = embeddedWithoutKeys();
    const file = path.join(dir, 'dev-secrets.json');
    const advice = `restore it, or delete it with ${path.join(dir, 'pg')} to start again with new keys and an empty database`;
    writeFileSync(file, '{masterKey');
    expect(() => loadConfig()).toThrow(new RegExp(`^${file} cannot be read as the generated development keys \\(.*JSON.*\\): ${advice}$`));
    writeFileSync(file, '{"masterKey":"short"}');
    expect(() => loadConfig()).toThrow(`${file} does not hold the generated development keys (masterKey and tokenSecret, 32 bytes in base64 each): ${advice}`);
  });

  it('names DATA_DIR when it cannot be the data folder', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'vrs-config-'));
    const file = path.join(dir, 'a-file');
    writeFileSync(file, '');
    delete process.env.DATABASE_URL;
    process.env.DATA_DIR = file;
    // Given both keys, the embedded database is the first to need the folder.
    await expect(openDatabase(loadConfig())).rejects.toThrow(`DATA_DIR ${file} is not a folder: set DATA_DIR to a folder this server may write to`);
    delete process.env.MASTER_KEY;
    expect(() => loadConfig()).toThrow(`DATA_DIR ${file} is not a folder: set DATA_DIR to a folder this server may write to`);
    process.env.DATA_DIR = '/sys/vrs-data';
    expect(() => loadConfig()).toThrow(/^DATA_DIR \/sys\/vrs-data cannot be created or written \((EPERM|EACCES|EROFS)\): set DATA_DIR to a folder this server may write to$/);
  });

  it('refuses a DATABASE_URL that is no PostgreSQL URL, without repeating it', () => {
    for (const malformed of ['not-a-url', 'localhost:5432/vrs', 'http://vrs:secret@db/vrs']) {
      process.env.DATABASE_URL = malformed;
      expect(() => loadConfig()).toThrow('DATABASE_URL is not a PostgreSQL URL: it must read like postgres://user:password@host:5432/database');
    }
    for (const url of ['postgresql://vrs:secret@db:5432/vrs', 'socket:/var/run/postgresql?db=vrs', '/var/run/postgresql vrs']) {
      process.env.DATABASE_URL = url;
      expect(loadConfig().databaseUrl).toBe(url);
    }
  });

  it('names the setting of a listener whose port is taken', async () => {
    const busy = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    // A database of its own: the shared one holds other suites' data keys, under their master keys.
    const admin = new Client(saved.DATABASE_URL);
    await admin.connect();
    const database = `vrs_ports_${process.pid}`;
    await admin.query(`CREATE DATABASE ${database}`);
    const url = new URL(saved.DATABASE_URL!);
    url.pathname = `/${database}`;
    try {
      for (const [name, other] of [['INTERNET_PORT', 'LGWAN_PORT'], ['LGWAN_PORT', 'INTERNET_PORT']]) {
        const env = { ...process.env, DATABASE_URL: url.toString(), [name]: String(port), [other]: '0' };
        const server = spawn(process.execPath, ['-r', path.resolve('tests/helpers/run-typescript.js'), 'src/main.ts'], { env });
        const { code, err } = await ended(server);
        expect(code).toBe(1);
        expect(err).toContain(`${name} ${port} on 127.0.0.1 is already in use (another server running?): stop what listens there, or set ${name} to a free port\n`);
      }
    } finally {
      busy.close();
      await admin.query(`DROP DATABASE ${database} WITH (FORCE)`);
      await admin.end();
    }
  }, 60_000);
});
