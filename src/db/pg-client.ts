import { AsyncLocalStorage } from 'node:async_hooks';
import pg, { PoolClient } from 'pg';
import { DataSource } from 'typeorm';

/** Set while work runs `patiently`. */
const patience = new AsyncLocalStorage<true>();

/**
 * Runs `work` with every connection it takes from a `WaitingPool` waited for in the pool's queue as
 * long as it takes, not at most the pool's connectionTimeoutMillis (DB_CONNECTION_WAIT_SECONDS):
 * for work no client is waiting on (an import's job, a background pass) or that must not be cut
 * once the client has had its rows (a finished export's log line). Opening a new connection stays
 * bounded: a database that does not answer fails the work rather than hold it for ever.
 */
export function patiently<T>(work: () => Promise<T>): Promise<T> {
  return patience.run(true, work);
}

/** pg-pool's error for a wait in its queue that outlasted connectionTimeoutMillis. */
const QUEUE_TIMEOUT = 'timeout exceeded when trying to connect';

type ConnectCallback = (error: Error | undefined, client: PoolClient | undefined, release: (error?: Error | boolean) => void) => void;

/** Statement texts `prepared` names: the hot path's (a tablet's dose), run many times on every connection. */
const preparedTexts = new Map<string, string>();

/**
 * Marks `sql` to be prepared once per connection and run by name after, so that PostgreSQL plans it
 * a few times and then keeps its plan, instead of parsing and planning it again at every request
 * (row-level security makes the plan of a join of tenant tables cost more than running it). For
 * statements of fixed text whose best plan does not depend on the values given: equality on keys.
 */
export function prepared(sql: string): string {
  if (!preparedTexts.has(sql)) preparedTexts.set(sql, `vrs_${preparedTexts.size + 1}`);
  return sql;
}

/** A connection that runs the statements marked `prepared` by name. */
class PreparingClient extends pg.Client {
  query(config: unknown, ...rest: unknown[]): any {
    const name = typeof config === 'string' ? preparedTexts.get(config) : undefined;
    return (super.query as (...args: unknown[]) => unknown)(name ? { name, text: config } : config, ...rest);
  }
}

/** node-postgres's pool, whose bound on waiting in its queue does not hold for work run `patiently`: the wait is asked again. */
export class WaitingPool extends pg.Pool {
  constructor(config?: pg.PoolConfig) {
    super({ ...config, Client: PreparingClient });
    const connect = pg.Pool.prototype.connect.bind(this) as () => Promise<PoolClient>;
    const waiting = (): Promise<PoolClient> =>
      connect().catch((error: Error) => (error.message === QUEUE_TIMEOUT ? waiting() : Promise.reject(error)));
    this.connect = ((callback?: ConnectCallback) => {
      const taken = patience.getStore() ? waiting() : connect();
      // TypeORM asks with a callback, as pg-pool's own callers may.
      if (!callback) return taken;
      taken.then((client) => callback(undefined, client, client.release), (error: Error) => callback(error, undefined, () => undefined));
    }) as typeof this.connect;
  }
}

/** What /readyz answers of the database. */
export type Readiness = 'ready' | 'database unavailable' | 'database not answering';

/** The readiness check under way on each database, which every probe that comes meanwhile shares. */
const checks = new WeakMap<DataSource, Promise<Readiness>>();

/**
 * Whether the database answers `SELECT 1` within `ms`, asked on a connection of its own rather than
 * the pool's, which is closed at once, answered or not: probes of a database that hangs (or of a
 * network gone silent) never hold more than that one connection, however often they come, and none
 * is left waiting for TCP to give up once the database is back.
 */
export function readiness(db: DataSource, ms: number): Promise<Readiness> {
  let check = checks.get(db);
  if (!check) {
    check = checkOnce(db, ms).finally(() => checks.delete(db));
    checks.set(db, check);
  }
  return check;
}

async function checkOnce(db: DataSource, ms: number): Promise<Readiness> {
  const { url, extra } = db.options as { url?: string; extra?: Record<string, unknown> };
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<Readiness>((resolve) => (timer = setTimeout(() => resolve('database not answering'), ms)));
  // connectionTimeoutMillis destroys a connection whose start-up is not answered; end() one whose query is not.
  const client = new pg.Client({ ...extra, connectionString: url, connectionTimeoutMillis: ms });
  client.on('error', () => undefined);
  const answered = client.connect().then(() => client.query('SELECT 1')).then((): Readiness => 'ready', (): Readiness => 'database unavailable');
  const answer = await Promise.race([answered, late]);
  clearTimeout(timer);
  client.end().catch(() => undefined);
  return answer;
}

/**
 * A dedicated connection from the pool, for COPY streams and long transactions that TypeORM
 * does not model. A connection that failed mid-COPY is discarded rather than handed back.
 */
export async function withClient<T>(db: DataSource, use: (client: PoolClient) => Promise<T>): Promise<T> {
  const pool = (db.driver as unknown as { master?: pg.Pool }).master;
  if (!pool) throw new Error('the database\'s connections are closed: the server is stopping');
  const client = await pool.connect();
  // A connection the database cuts between two statements (a failover, a stop) says so as an 'error'
  // event, which unheard would end the process; the next statement fails with it all the same.
  let cut: Error | null = null;
  const heard = (error: Error) => void (cut = error);
  client.on('error', heard);
  try {
    const result = await use(client);
    client.off('error', heard);
    client.release(cut ?? undefined);
    return result;
  } catch (error) {
    client.off('error', heard);
    client.release(error instanceof Error ? error : new Error(String(error)));
    throw error;
  }
}

/** The client as the query interface `writeAudit` expects, so the audit line joins the client's transaction. */
export const queryable = (client: PoolClient) => ({
  query: async (sql: string, params?: unknown[]) => (await client.query(sql, params)).rows,
});

/** PostgreSQL's SQLSTATE of `error`: the driver's, or TypeORM's wrapping it. */
function sqlState(error: unknown): unknown {
  const e = error as { code?: unknown; driverError?: { code?: unknown } } | null;
  return e?.driverError?.code ?? e?.code;
}

/** PostgreSQL's answers to a transaction that crossed another one: deadlock, serialization failure, lock not available. */
const CROSSED = new Set(['40P01', '40001', '55P03']);

/** Whether `error` says the transaction crossed another one and may simply be run again. */
export function crossedAnother(error: unknown): boolean {
  const code = sqlState(error);
  return typeof code === 'string' && CROSSED.has(code);
}

/**
 * Whether `error` says the database did not serve a request in time: a statement cancelled at its
 * statement_timeout (57014) or lock_timeout (55P03, which requests get only that way: they never
 * ask for a lock with NOWAIT), or no connection had within the pool's connectionTimeoutMillis,
 * which node-postgres says in words only (none free in the pool; a new one not opened in time).
 */
export function outOfTime(error: unknown): boolean {
  const code = sqlState(error);
  const message = (error as { message?: unknown } | null)?.message;
  return code === '57014' || code === '55P03'
    || (typeof message === 'string' && /^(timeout exceeded when trying to connect|Connection terminated due to connection timeout|timeout expired)$/.test(message));
}

/**
 * Node's words for a connection to the database that could not be made or was cut (a failover, a
 * restart, a network that reset it), and node-postgres's for one cut under it.
 */
const SOCKET_FAILURES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
const CUT = /^(Connection terminated( unexpectedly)?|Client has encountered a connection error and is not queryable|Client was closed and is not queryable)$/;
/** TypeORM's errors for a statement asked of a request's connection after its loss released it (nothing else releases it early). */
const RELEASED = new Set(['QueryRunnerAlreadyReleasedError', 'QueryRunnerProviderAlreadyReleasedError']);

/**
 * Whether `error` says the connection to the database was lost or could not be made: a connection
 * exception (SQLSTATE class 08), a backend terminated by an administrator or a shutdown (57P01,
 * 57P02) or refused while the database starts (57P03), or the socket's own failure. The
 * transaction under way, if any, went with the connection, unless it was lost at the commit itself.
 */
export function connectionLost(error: unknown): boolean {
  const code = sqlState(error);
  const { message, name } = (error ?? {}) as { message?: unknown; name?: unknown };
  return (typeof code === 'string' && (code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || SOCKET_FAILURES.has(code)))
    || (typeof message === 'string' && CUT.test(message))
    || (typeof name === 'string' && RELEASED.has(name));
}

/** Whether `error` is PostgreSQL refusing a statement because an earlier one failed the transaction (25P02). */
export function afterAnotherFailed(error: unknown): boolean {
  return sqlState(error) === '25P02';
}

/**
 * Makes the session's statements (all of them, or with `local` its transaction's) end within 5 s
 * of its client going, on PostgreSQL 14 and later on Linux, instead of running to their end: an
 * operator's command stopped by Ctrl-C over a city's log no longer leaves its statement reading
 * for minutes, holding what it locked. Earlier versions do without.
 */
export async function endWithClient(db: { query(sql: string): Promise<unknown> }, local: boolean): Promise<void> {
  await db.query(`DO $$ BEGIN
    PERFORM set_config('client_connection_check_interval', '5s', ${local});
  EXCEPTION WHEN undefined_object THEN NULL; END $$`);
}
