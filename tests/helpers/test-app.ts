import 'reflect-metadata';
import { randomBytes, randomInt } from 'node:crypto';
import { DataSource, Logger, QueryRunner } from 'typeorm';
import { startApp, App } from '../../src/app';
import { Config } from '../../src/config';
import { createDataSource, migrate } from '../../src/db/data-source';
import { syncReferenceData } from '../../src/db/reference-data';
import { demoMyNumber } from '../../src/db/demo-data';
import { createLog } from '../../src/log';
import { Channel, Role } from '../../src/schema/enums';
import { municipalityCheckDigit } from '../../src/validation/identifiers';

export const PASSWORD = 'test-password-123';

export interface GraphQLResponse<T = any> {
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: { code?: string; [key: string]: unknown } }[];
}

// Transaction control, the row-level-security setting and the statement bound are per request, not per row.
// The statistics' compaction runs every 10 s in the background, whatever a test is counting.
const BOOKKEEPING = /^\s*(START TRANSACTION|BEGIN|COMMIT|ROLLBACK|SAVEPOINT|RELEASE SAVEPOINT|SELECT set_config\('vrs\.tenants'|SELECT stats_compact\(\))/i;

export interface Statement {
  query: string;
  parameters: unknown[];
}

/**
 * Counts data statements, so tests can assert that a page costs a constant number of queries, and
 * keeps them with their parameters while a test records them, so it can ask the planner about them.
 */
export class QueryCounter implements Logger {
  count = 0;
  private recording?: Statement[];
  logQuery(query: string, parameters: unknown[] = []): void {
    if (BOOKKEEPING.test(query)) return;
    this.count++;
    this.recording?.push({ query, parameters });
  }
  /** The data statements sent while `work` runs. */
  async record(work: () => Promise<unknown>): Promise<Statement[]> {
    const statements: Statement[] = (this.recording = []);
    try {
      await work();
    } finally {
      this.recording = undefined;
    }
    return statements;
  }
  logQueryError(): void {}
  logQuerySlow(): void {}
  logSchemaBuild(): void {}
  logMigration(): void {}
  log(): void {}
}

export interface Session {
  token: string;
  channel: Channel;
  accountId: string;
  loginId: string;
  municipalityCode: string | null;
  /** Sends a GraphQL request on this session's channel with its token. */
  gql<T = any>(query: string, variables?: Record<string, unknown>): Promise<GraphQLResponse<T>>;
}

/** What an app logs, kept instead of written out: each line as written, and read as the JSON it is. */
export class LogLines {
  readonly text: string[] = [];
  write(line: string): void {
    this.text.push(line);
  }
  get entries(): Record<string, any>[] {
    return this.text.map((line) => JSON.parse(line));
  }
  /** The entries at `level` (error, warn …). */
  at(level: string): Record<string, any>[] {
    return this.entries.filter((entry) => entry.level === level);
  }
}

let serial = 0;
const SERIAL_BASE = randomInt(1e6);

/**
 * A real server on both channels over the test database, with factories that create a fresh
 * municipality per call so tests never clean up and always have a neighbour tenant to leak into.
 */
export class TestApp {
  readonly queries = new QueryCounter();
  /** The server's log (src/log.ts) while this app runs. */
  readonly log = new LogLines();
  app: App;
  /** An owner connection for test setup and inspection; the app itself runs as the non-owner role. */
  db: DataSource;
  /**
   * The client address this app's requests come from, as a trusted proxy on the loopback forwards
   * it: detection counts are shared through the database, so each app's failures stay its own.
   */
  readonly address = `198.18.${randomInt(256)}.${randomInt(1, 255)}`;

  static async start(overrides: Partial<Config> = {}): Promise<TestApp> {
    const t = new TestApp();
    const config: Config = {
      internetPort: 0,
      lgwanPort: 0,
      host: '127.0.0.1',
      lgwanHost: '127.0.0.1',
      databaseUrl: process.env.DATABASE_URL,
      dataDir: '.data',
      embeddedPgPort: 0,
      masterKey: randomBytes(32),
      tokenSecret: randomBytes(32),
      tokenTtlSeconds: 900,
      maxFailedLogins: 5,
      lockoutMinutes: 30,
      production: false,
      trustedProxies: ['loopback'],
      // The operation log's targets are indexed when a test says so: a background pass would add
      // statements to the counts tests take (a search finds events not yet indexed all the same).
      auditIndexSeconds: 0,
      ...overrides,
    };
    const appDb = createDataSource(config.databaseUrl!, { logger: t.queries, poolSize: 10, asApp: true, connectionWaitMs: (config.connectionWaitSeconds ?? 10) * 1000 });
    await appDb.initialize();
    t.db = createDataSource(config.databaseUrl!, { poolSize: 3 });
    await t.db.initialize();
    t.app = await startApp(config, appDb, createLog(config.logLevel, t.log));
    return t;
  }

  /**
   * An app on a database of the test file's own beside the shared one, migrated and holding the
   * reference data: for what a test must see alone, or settings (`setUp`, SQL run on it first, such
   * as ALTER DATABASE … SET) that must reach no other test. `stop()` drops it.
   */
  static async startOnOwnDatabase(name: string, setUp: string[] = []): Promise<TestApp> {
    const admin = createDataSource(process.env.DATABASE_URL!, { poolSize: 1 });
    await admin.initialize();
    await admin.query(`DROP DATABASE IF EXISTS ${name}`);
    await admin.query(`CREATE DATABASE ${name}`);
    for (const sql of setUp) await admin.query(sql);
    const url = new URL(process.env.DATABASE_URL!);
    url.pathname = `/${name}`;
    const own = createDataSource(url.toString(), { poolSize: 1 });
    await own.initialize();
    await migrate(own);
    await syncReferenceData(own);
    await own.destroy();
    const t = await TestApp.start({ databaseUrl: url.toString() });
    t.dropOnStop = async () => {
      await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await admin.destroy();
    };
    return t;
  }

  private dropOnStop: (() => Promise<void>) | null = null;

  async stop(): Promise<void> {
    await this.app.stop();
    await this.app.services.db.destroy();
    await this.db.destroy();
    await this.dropOnStop?.();
  }

  url(channel: Channel): string {
    return `${channel === Channel.LGWAN ? this.app.listeners.lgwanUrl : this.app.listeners.internetUrl}/graphql`;
  }

  async request<T = any>(channel: Channel, query: string, variables?: Record<string, unknown>, token?: string): Promise<GraphQLResponse<T>> {
    const response = await fetch(this.url(channel), {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-forwarded-for': this.address, ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return (await response.json()) as GraphQLResponse<T>;
  }

  /**
   * A new municipality with a valid, unused code (outside the real list), as its own tenant. Its
   * number within the prefecture is any from 001 to 998 that no municipality has, picked at random
   * by the database among the free ones: the suite makes over 500 in Tokyo, and picking among
   * 500–998 alone, retrying until one was free, had run out of codes and retried for ever. Numbers
   * ending in 999 (e.g. 479993) stay free, for tests that need a municipality that does not exist,
   * and 100 (Tokyo's wards taken together, in some statistics) is not used.
   */
  async createMunicipality(prefectureCode = '13'): Promise<string> {
    const bases = Array.from({ length: 998 }, (_, i) => `${prefectureCode}${String(i + 1).padStart(3, '0')}`).filter((base) => !base.endsWith('100'));
    const candidates = bases.map((base) => `${base}${municipalityCheckDigit(base)}`);
    // The other test process may take the same code at the same moment: then it is asked again.
    for (let attempt = 0; attempt < 10; attempt++) {
      const rows = await this.db.query(
        `INSERT INTO municipality (code, prefecture_code, name, name_kana)
         SELECT c, $2, 'Test city ' || c, 'テストシ' FROM unnest($1::text[]) c
         WHERE NOT EXISTS (SELECT FROM municipality m WHERE m.code = c)
         ORDER BY random() LIMIT 1
         ON CONFLICT (code) DO NOTHING RETURNING code`,
        [candidates, prefectureCode],
      );
      if (rows.length > 0) return rows[0].code;
    }
    throw new Error(`no municipality code of prefecture ${prefectureCode} is left free for a test`);
  }

  async createAccount(role: Role, scope: { municipalityCode?: string; prefectureCode?: string } = {}): Promise<{ id: string; loginId: string }> {
    const loginId = `${role.toLowerCase()}-${process.pid}-${++serial}-${randomInt(1e9)}`;
    const account = await this.app.services.accounts.create(
      { requestId: 'test', channel: 'CLI', actor: null },
      { loginId, password: PASSWORD, role, displayName: loginId, ...scope },
      { chosenByHolder: true },
    );
    return { id: account.id, loginId };
  }

  async login(channel: Channel, loginId: string, password = PASSWORD): Promise<GraphQLResponse> {
    return this.request(channel, 'mutation($l: String!, $p: String!) { login(loginId: $l, password: $p) { accessToken viewer { role } } }', { l: loginId, p: password });
  }

  /** Creates an account and signs it in on the given channel. */
  async session(role: Role, channel: Channel, scope: { municipalityCode?: string; prefectureCode?: string } = {}): Promise<Session> {
    const account = await this.createAccount(role, scope);
    const result = await this.login(channel, account.loginId);
    const token = result.data?.login?.accessToken;
    if (!token) throw new Error(`login failed: ${JSON.stringify(result.errors)}`);
    return this.sessionFor(token, channel, account, scope.municipalityCode ?? null);
  }

  sessionFor(token: string, channel: Channel, account: { id: string; loginId: string }, municipalityCode: string | null): Session {
    return {
      token,
      channel,
      accountId: account.id,
      loginId: account.loginId,
      municipalityCode,
      gql: (query, variables) => this.request(channel, query, variables, token),
    };
  }

  /** A municipality with an LG-WAN officer session, in the prefecture given (Tokyo's codes unless told). */
  async tenant(prefectureCode?: string): Promise<{ code: string; officer: Session }> {
    const code = await this.createMunicipality(prefectureCode);
    return { code, officer: await this.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code }) };
  }
}

export const REGISTER = `mutation($input: RegisterResidentInput!) {
  registerResident(input: $input) { resident { id addresseeNumber status } userErrors { field code message } }
}`;

export function residentInput(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  // Unique within this process (a tenant's residents are all made by one), apart across runs.
  const n = SERIAL_BASE + ++serial;
  return {
    addresseeNumber: `A${process.pid}${n}`.slice(0, 20),
    myNumber: demoMyNumber(n + process.pid * 1000),
    familyName: '山田',
    givenName: '花子',
    familyNameKana: 'ヤマダ',
    givenNameKana: 'ハナコ',
    birthDate: '1980-04-01',
    sex: 'FEMALE',
    ...overrides,
  };
}

/** Registers a resident through the API and returns its id. */
export async function registerResident(officer: Session, overrides: Record<string, unknown> = {}): Promise<{ id: string; input: Record<string, unknown> }> {
  const input = residentInput(overrides);
  const result = await officer.gql(REGISTER, { input });
  const payload = result.data?.registerResident;
  if (!payload?.resident) throw new Error(`register failed: ${JSON.stringify(result.errors ?? payload?.userErrors)}`);
  return { id: payload.resident.id, input };
}

/**
 * Writes `count` active residents of `code` straight into the table, as a city's registry arrives
 * faster than the API registers it, and as the planner has not counted them yet.
 */
export async function insertResidents(db: DataSource, code: string, count: number): Promise<void> {
  await db.query(
    `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
       family_name_kana, given_name_kana, birth_date, sex)
     SELECT $1::text, gen_random_uuid(), 'B' || i, '\\x00'::bytea, decode(md5($1::text || i) || md5($1::text || 'x' || i), 'hex'), 1, '山田', '太郎', 'ヤマダ', 'タロウ',
            date '1940-01-01' + (i % 25000), 'MALE'
     FROM generate_series(1, $2::int) AS i`,
    [code, count],
  );
}

/** The error codes of a response, e.g. ['FORBIDDEN']. */
export const codes = (r: GraphQLResponse) => (r.errors ?? []).map((e) => e.extensions?.code);

/** Runs `call` as on a server whose clock is `skew` ms off the database's (the test app runs in this process). */
export async function onServerOff<T>(skew: number, call: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({ now: Date.now() + skew, doNotFake: ['hrtime', 'nextTick', 'performance', 'queueMicrotask', 'setImmediate', 'clearImmediate', 'setInterval', 'clearInterval', 'setTimeout', 'clearTimeout'] });
  try {
    return await call();
  } finally {
    jest.useRealTimers();
  }
}


/**
 * Waits until `count` statements matching `pattern` wait on a lock that `holder`, a transaction of
 * the test's own, holds, or on one that a statement waiting on it holds. Other test files share the
 * database: a wait only counts when it leads to `holder`.
 */
export async function blockedBy(db: DataSource, holder: QueryRunner, pattern = '%', count = 1): Promise<void> {
  const [{ pid }] = await holder.query('SELECT pg_backend_pid() AS pid');
  for (let i = 0; i < 400; i++) {
    const [{ n }] = await db.query(
      `SELECT count(*)::int AS n FROM pg_stat_activity a WHERE a.query ILIKE $2
         AND ($1 = ANY(pg_blocking_pids(a.pid)) OR EXISTS (SELECT FROM unnest(pg_blocking_pids(a.pid)) b WHERE $1 = ANY(pg_blocking_pids(b))))`,
      [pid, pattern],
    );
    if (n >= count) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no statement like ${pattern} waits on the test's lock`);
}
