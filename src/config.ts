import { randomBytes } from 'node:crypto';
import { accessSync, constants, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { isIP } from 'node:net';
import path from 'node:path';
import proxyaddr from 'proxy-addr';
import { LOG_LEVELS, LogLevel } from './log';
import { parseDoseIntervals } from './validation/dose-intervals';

const DEV_SECRETS = 'dev-secrets.json';

export interface Config {
  /** Port of the internet-facing listener (tablets, integrators, internet-channel officers). */
  internetPort: number;
  /** Port of the LG-WAN listener (municipal, prefectural, national and operator terminals). */
  lgwanPort: number;
  /** Address the internet listener binds to. */
  host: string;
  /** Address the LG-WAN listener binds to (the LG-WAN interface in production). */
  lgwanHost: string;
  /** Set for an external PostgreSQL; absent means an embedded one under dataDir. */
  databaseUrl?: string;
  dataDir: string;
  embeddedPgPort: number;
  /** 32-byte key that wraps every municipality's data key. */
  masterKey: Buffer;
  /** The master key being replaced, while `npm run cli -- rotate-master-key` runs. */
  previousMasterKey?: Buffer;
  /** Secret that signs access tokens. */
  tokenSecret: Buffer;
  tokenTtlSeconds: number;
  /** Failed logins in a row before an account locks, and for how long. */
  maxFailedLogins: number;
  lockoutMinutes: number;
  production: boolean;
  /** Eligibility checks one integrator may make in any minute, across every process. */
  integratorRequestsPerMinute?: number;
  /** Minimum interval before each dose, e.g. "2:18d,3:3m" (the last entry applies to every later dose). */
  doseIntervals?: string;
  /** Statistics: counts below this are suppressed (default 10). */
  statisticsThreshold?: number;
  /** Statistics: how often the summary deltas are folded into the summary tables (0 = never). */
  statisticsCompactSeconds?: number;
  /** Operation log: how often the targets of newly committed events are indexed for searching (0 = never). */
  auditIndexSeconds?: number;
  /** Reverse proxies or load balancers whose X-Forwarded-For names the client (src/http/client-address.ts). */
  trustedProxies?: string[];
  /** Connections silent this long are closed on both listeners; an LG-WAN request may otherwise take as long as it needs. */
  idleSeconds?: number;
  /** How long operation-log events stay in the live table before archive-audit moves them. */
  auditRetentionDays?: number;
  /** How long a GraphQL request's statement may run, or wait on a lock, before the request is answered DATABASE_TIMEOUT. */
  statementTimeoutSeconds?: number;
  /** How long anything waits for one of the pool's database connections, or for a new one to open. */
  connectionWaitSeconds?: number;
  /** Least severe level the server's log writes (default info). */
  logLevel?: LogLevel;
}

/** A whole number within bounds: a value that would switch a protection off (a lockout of 0 minutes, say) is refused. */
function int(name: string, fallback: number, min: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw}"`);
  return value;
}

/** Addresses spread over the public space: a list trusting all of one family trusts every client. */
const PUBLIC_SAMPLES = [['1.2.3.4', '61.1.2.3', '126.1.2.3', '153.1.2.3', '200.1.2.3', '223.1.2.3'], ['2001:4860::1', '2400:4050::1', '2a00:1450::1', '3fff::1']];

/** A range of no fixed bits (0.0.0.0/0, ::/0, 10.0.0.0/0.0.0.0), which proxy-addr refuses as merely invalid. */
function everyAddress(entry: string): boolean {
  const [address, range, ...rest] = entry.split('/');
  if (range === undefined || rest.length > 0 || isIP(address) === 0) return false;
  return /^0+$/.test(range) || (isIP(range) !== 0 && /^[0.:]+$/.test(range));
}

/** Trusted proxies; a list holding every address (0.0.0.0/0, two halves of it, ::ffff:0:0/96 …) would let any client name its own. */
function proxies(name: string): string[] {
  const entries = (process.env[name] ?? '').split(',').map((entry) => entry.trim()).filter((entry) => entry !== '');
  let trust: (address: string, hop: number) => boolean;
  if (entries.some(everyAddress)) throw new Error(`${name} must not trust every address: list the proxies themselves`);
  try {
    trust = proxyaddr.compile(entries);
  } catch (error) {
    throw new Error(`${name} must list IP addresses or CIDR ranges separated by commas: ${(error as Error).message}`);
  }
  if (PUBLIC_SAMPLES.some((family) => family.every((address) => trust(address, 0)))) {
    throw new Error(`${name} must not trust every address: list the proxies themselves`);
  }
  return entries;
}

/** Whether a listener bound to `host` would listen on every interface: 0.0.0.0, ::, [::], and their other spellings (0, ::0 …). */
function isWildcard(host: string): boolean {
  const bare = host.replace(/^\[(.*)\]$/, '$1');
  try {
    const { hostname } = new URL(`http://${bare.includes(':') ? `[${bare}]` : bare}`);
    return hostname === '0.0.0.0' || hostname === '[::]' || hostname === '[::ffff:0:0]';
  } catch {
    return false;
  }
}

/**
 * The LG-WAN listener serves My Number: in production it binds only where LGWAN_HOST says, never
 * by falling back to HOST (0.0.0.0 in most containers) and never on every interface.
 */
function lgwanHost(production: boolean, host: string): string {
  const explicit = process.env.LGWAN_HOST;
  if (production && (!explicit || isWildcard(explicit))) {
    throw new Error(`LGWAN_HOST must name the LG-WAN interface's address with NODE_ENV=production${explicit ? `, not "${explicit}", which listens on every interface` : ''}: the LG-WAN listener serves My Number`);
  }
  return explicit || host;
}

/** One of the log's levels, in any case; a misspelt one is refused rather than taken for another. */
function logLevel(): LogLevel {
  const raw = process.env.LOG_LEVEL;
  if (raw === undefined || raw === '') return 'info';
  const level = raw.trim().toLowerCase();
  if (!(LOG_LEVELS as readonly string[]).includes(level)) throw new Error(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${raw}"`);
  return level as LogLevel;
}

/** Parsed here too, so that a value the eligibility service would refuse stops start-up with the reason. */
function doseIntervals(): string | undefined {
  const raw = process.env.DOSE_INTERVALS || undefined;
  parseDoseIntervals(raw);
  return raw;
}

/** A key from the environment; one set but empty (\`MASTER_KEY=\` in an env file) is refused as such, not taken for missing. */
function key(name: string, raw: string | undefined): Buffer | undefined {
  if (raw === undefined) return undefined;
  if (raw.trim() === '') throw new Error(`${name} is set but empty: it must be 32 bytes encoded in base64`);
  const value = Buffer.from(raw, 'base64');
  if (value.length !== 32) throw new Error(`${name} must be 32 bytes encoded in base64`);
  return value;
}

/** Creates DATA_DIR if need be; a path that cannot be the data folder is refused naming DATA_DIR. */
export function ensureDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true });
    accessSync(dataDir, constants.W_OK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EEXIST' ? 'is not a folder' : `cannot be created or written (${code ?? (error as Error).message})`;
    throw new Error(`DATA_DIR ${dataDir} ${why}: set DATA_DIR to a folder this server may write to`);
  }
}

/**
 * Outside production, with an embedded database, the secrets are generated once into the data
 * folder, so a developer gets a working server without configuring anything. In production, or
 * with an external database, they must come from the environment: a master key kept beside the
 * database it protects protects nothing, and a production secret never lives next to the code.
 */
function devSecrets(dataDir: string): { masterKey: string; tokenSecret: string } {
  const file = path.join(dataDir, DEV_SECRETS);
  if (existsSync(file)) {
    const unusable = (why: string) =>
      new Error(`${file} ${why}: restore it, or delete it with ${path.join(dataDir, 'pg')} to start again with new keys and an empty database`);
    let stored: { masterKey?: unknown; tokenSecret?: unknown };
    try {
      stored = JSON.parse(readFileSync(file, 'utf8'));
    } catch (error) {
      throw unusable(`cannot be read as the generated development keys (${(error as Error).message})`);
    }
    const valid = (value: unknown) => typeof value === 'string' && Buffer.from(value, 'base64').length === 32;
    if (!valid(stored?.masterKey) || !valid(stored?.tokenSecret)) {
      throw unusable('does not hold the generated development keys (masterKey and tokenSecret, 32 bytes in base64 each)');
    }
    return stored as { masterKey: string; tokenSecret: string };
  }
  ensureDataDir(dataDir);
  const secrets = { masterKey: randomBytes(32).toString('base64'), tokenSecret: randomBytes(32).toString('base64') };
  writeFileSync(file, JSON.stringify(secrets), { mode: 0o600 });
  return secrets;
}

/**
 * MASTER_KEY, TOKEN_SECRET and PREVIOUS_MASTER_KEY as the environment gives them, checked before
 * any other setting; one missing is generated later (see `devSecrets`) only where that is allowed.
 */
function environmentKeys(dataDir: string, databaseUrl: string | undefined, production: boolean) {
  const masterKey = key('MASTER_KEY', process.env.MASTER_KEY);
  const tokenSecret = key('TOKEN_SECRET', process.env.TOKEN_SECRET);
  // Optional: emptied in an env file is how it is removed once a change of master key is done.
  const previousMasterKey = key('PREVIOUS_MASTER_KEY', process.env.PREVIOUS_MASTER_KEY || undefined);
  if ((databaseUrl || production) && (!masterKey || !tokenSecret)) {
    const generated = path.join(dataDir, DEV_SECRETS);
    // A server that ran in production before generated its keys there, and an embedded database
    // beside them holds what they encrypted: they must move, not be replaced.
    const moving = production && existsSync(generated) && existsSync(path.join(dataDir, 'pg'))
      ? `; set them from the keys in ${generated} and move that file off this machine: a new MASTER_KEY would open no data key` : '';
    throw new Error(`MASTER_KEY and TOKEN_SECRET (32 bytes, base64) are required ${production ? 'with NODE_ENV=production, whatever the database' : 'when DATABASE_URL is set'}${moving}`);
  }
  return { masterKey, tokenSecret, previousMasterKey };
}

/** The keys, those the environment does not give generated into DATA_DIR: last, so that a start refused for another setting leaves no key file behind. */
function keys(dataDir: string, fromEnv: ReturnType<typeof environmentKeys>): Pick<Config, 'masterKey' | 'tokenSecret' | 'previousMasterKey'> {
  const dev = fromEnv.masterKey && fromEnv.tokenSecret ? undefined : devSecrets(dataDir);
  const masterKey = fromEnv.masterKey ?? key('MASTER_KEY', dev!.masterKey)!;
  const tokenSecret = fromEnv.tokenSecret ?? key('TOKEN_SECRET', dev!.tokenSecret)!;
  // The same key twice is a slip while changing it: the change would look done with the old key still in use.
  if (fromEnv.previousMasterKey?.equals(masterKey)) {
    throw new Error('PREVIOUS_MASTER_KEY is the same key as MASTER_KEY: while changing the master key, MASTER_KEY is the new key and PREVIOUS_MASTER_KEY the old one; otherwise leave PREVIOUS_MASTER_KEY unset');
  }
  return { masterKey, tokenSecret, previousMasterKey: fromEnv.previousMasterKey };
}

/** The pg driver reads a malformed URL as a host name ("getaddrinfo ENOTFOUND base"): it is refused here, without repeating it (it may carry the password). */
function databaseUrlOf(): string | undefined {
  const raw = process.env.DATABASE_URL || undefined;
  if (raw === undefined || raw.startsWith('/')) return raw;
  let url: URL | undefined;
  try {
    url = new URL(raw);
  } catch {
    url = undefined;
  }
  if (!url || !['postgres:', 'postgresql:', 'socket:'].includes(url.protocol)) {
    throw new Error('DATABASE_URL is not a PostgreSQL URL: it must read like postgres://user:password@host:5432/database');
  }
  return raw;
}

export function loadConfig(): Config {
  const dataDir = path.resolve(process.env.DATA_DIR ?? '.data');
  const databaseUrl = databaseUrlOf();
  const production = process.env.NODE_ENV === 'production';
  const fromEnv = environmentKeys(dataDir, databaseUrl, production);
  const port = (name: string, fallback: number) => int(name, fallback, 0, 65535);
  const host = process.env.HOST || '127.0.0.1';
  const [internetPort, lgwanPort] = [port('INTERNET_PORT', 4000), port('LGWAN_PORT', 4001)];
  const [internetHost, lgwanAddress] = [process.env.INTERNET_HOST || host, lgwanHost(production, host)];
  // A request's channel is the listener it arrives on: two listeners need two addresses.
  if (internetPort !== 0 && internetPort === lgwanPort && internetHost === lgwanAddress) {
    throw new Error(`INTERNET_PORT and LGWAN_PORT must differ on the same host (both ${internetPort} on ${internetHost})`);
  }
  const settings = {
    internetPort,
    lgwanPort,
    host: internetHost,
    lgwanHost: lgwanAddress,
    databaseUrl,
    dataDir,
    embeddedPgPort: port('EMBEDDED_PG_PORT', 54329),
    tokenTtlSeconds: int('TOKEN_TTL_SECONDS', 900, 60, 86_400),
    maxFailedLogins: int('MAX_FAILED_LOGINS', 5, 1, 100),
    lockoutMinutes: int('LOCKOUT_MINUTES', 30, 1, 10_080),
    production,
    integratorRequestsPerMinute: int('INTEGRATOR_REQUESTS_PER_MINUTE', 120, 1, 100_000),
    doseIntervals: doseIntervals(),
    statisticsThreshold: int('STATS_SUPPRESSION_THRESHOLD', 10, 1, 1000),
    statisticsCompactSeconds: int('STATS_COMPACT_SECONDS', 10, 0, 86_400),
    auditIndexSeconds: int('AUDIT_INDEX_SECONDS', 2, 0, 86_400),
    // LGWAN_IDLE_SECONDS is the setting's former name.
    idleSeconds: int('IDLE_SECONDS', int('LGWAN_IDLE_SECONDS', 120, 1, 3600), 1, 3600),
    trustedProxies: proxies('TRUSTED_PROXIES'),
    // A century reaches back before any event; much further, the cutoff leaves the dates PostgreSQL holds.
    auditRetentionDays: int('AUDIT_RETENTION_DAYS', 3653, 1, 36_500),
    statementTimeoutSeconds: int('DB_STATEMENT_TIMEOUT_SECONDS', 30, 1, 3600),
    connectionWaitSeconds: int('DB_CONNECTION_WAIT_SECONDS', 10, 1, 600),
    logLevel: logLevel(),
  };
  return { ...settings, ...keys(dataDir, fromEnv) };
}
