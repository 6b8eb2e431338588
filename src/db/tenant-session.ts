import { DataSource, EntityManager, QueryRunner } from 'typeorm';
import { connectionLost } from './pg-client';

/** Municipalities a transaction may see in tenant tables. */
export type Tenants = readonly string[];

/**
 * Row-level security's setting for the current transaction: the tenant tables show these
 * municipalities only. With `statementTimeoutMs`, bounds its statements too, in the same round trip.
 */
export async function setTenants(db: { query(sql: string, params?: unknown[]): Promise<unknown> }, tenants: Tenants, statementTimeoutMs?: number): Promise<void> {
  if (!statementTimeoutMs) await db.query(`SELECT set_config('vrs.tenants', $1, true)`, [tenants.join(',')]);
  else await db.query(`SELECT set_config('vrs.tenants', $1, true), set_config('statement_timeout', $2, true)`, [tenants.join(','), String(statementTimeoutMs)]);
}

/** Runs `work` in its own transaction that sees exactly `tenants` (for jobs outside a request). */
export function asTenants<T>(db: DataSource, tenants: Tenants, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return db.transaction(async (tx) => {
    await setTenants(tx, tenants);
    return work(tx);
  });
}

/**
 * Root fields resolve concurrently, all on the request's one connection: its queries are sent one
 * after another, in the order they were asked for, rather than piled onto the connection (which
 * the pg client only tolerates until its next major version).
 */
function queueQueries(runner: QueryRunner): void {
  const query = runner.query.bind(runner);
  let last: Promise<unknown> = Promise.resolve();
  runner.query = ((...args: Parameters<typeof query>) => {
    const next = last.then(() => query(...args));
    last = next.catch(() => undefined);
    return next;
  }) as typeof runner.query;
}

/**
 * One database transaction per request, opened on first use, scoped to the actor's own
 * municipalities. Services run every query of the request through it, so row-level security
 * applies to all of them, and a request never needs a second pooled connection. With
 * `statementTimeoutMs`, each statement of it (its commit included) is cancelled after that long,
 * running or waiting on a lock a stuck transaction holds: the request is answered instead of
 * holding its connection for ever.
 */
export class RequestSession {
  private runner?: QueryRunner;
  private opening?: Promise<EntityManager>;
  /** Municipalities widened into right now, with how many widenings hold each. */
  private readonly widened = new Map<string, number>();

  constructor(private readonly db: DataSource, private readonly own: Tenants, private readonly statementTimeoutMs?: number) {}

  /** A session of its own for the same actor, with the same bound. */
  another(): RequestSession {
    return new RequestSession(this.db, this.own, this.statementTimeoutMs);
  }

  private get tenants(): Tenants {
    return [...new Set([...this.own, ...this.widened.keys()])];
  }

  manager(): Promise<EntityManager> {
    if (!this.opening) {
      const runner = this.db.createQueryRunner();
      queueQueries(runner);
      this.begin(runner, runner.connect());
    }
    return this.opening!;
  }

  /** Begins the session's transaction on `runner`, once `connected`. */
  private begin(runner: QueryRunner, connected: Promise<unknown>): void {
    this.runner = runner;
    this.opening = (async () => {
      await connected;
      await runner.startTransaction();
      await setTenants(runner.manager, this.tenants, this.statementTimeoutMs);
      return runner.manager;
    })();
  }

  /**
   * Runs `work`, long by nature (a city's whole ticket issuance), with `settings` of its own: its
   * statements may run as long as they need, while each wait for a lock stays bounded. They are put
   * back once the work is done: left for the transaction, the mutations a document asks for after a
   * city's issuance would run unbounded and planned as it is (without nested loops), each ticket
   * voided reading every resident of the city. A failed work is rolled back to its savepoint,
   * settings and all, so call this inside one.
   */
  async runLong<T>(tx: EntityManager, work: () => Promise<T>, settings: Record<string, string> = {}): Promise<T> {
    const own = this.statementTimeoutMs ? { ...settings, statement_timeout: '0', lock_timeout: String(this.statementTimeoutMs) } : settings;
    const names = Object.keys(own);
    if (names.length === 0) return work();
    const set = (values: string[]) => tx.query('SELECT set_config(n, v, true) FROM unnest($1::text[], $2::text[]) AS s(n, v)', [names, values]);
    const [{ before }]: { before: string[] }[] = await tx.query(
      'SELECT array_agg(current_setting(n) ORDER BY i) AS before FROM unnest($1::text[]) WITH ORDINALITY AS s(n, i)', [names]);
    await set(names.map((name) => own[name]));
    const result = await work();
    await set(before);
    return result;
  }

  /**
   * Lets `work` also see `extra` municipalities, then narrows back. Only services whose policy
   * allowed a cross-municipality operation call this (e.g. a site registering a dose for another
   * municipality's resident).
   */
  async widen<T>(extra: readonly string[], work: (tx: EntityManager) => Promise<T>): Promise<T> {
    const tx = await this.manager();
    const codes = [...new Set(extra)];
    // Counted rather than saved and restored: root fields resolve concurrently on this one
    // connection, and widenings that end in another order than they began must still narrow back.
    for (const code of codes) this.widened.set(code, (this.widened.get(code) ?? 0) + 1);
    await setTenants(tx, this.tenants);
    try {
      return await work(tx);
    } finally {
      for (const code of codes) {
        const left = this.widened.get(code)! - 1;
        if (left === 0) this.widened.delete(code);
        else this.widened.set(code, left);
      }
      await setTenants(tx, this.tenants);
    }
  }

  /**
   * Rolls back, and goes on in a transaction of its own on the same connection, for what is written
   * although the request was undone (its log of reads, its refused attempts): a busy pool cannot
   * then refuse it a second connection. A session that never opened, or whose connection cannot go
   * on, gives way to a new one.
   */
  async undo(): Promise<RequestSession> {
    const next = this.another();
    const runner = this.runner;
    if (!runner) return next;
    this.runner = undefined;
    try {
      await this.opening;
      if (runner.isTransactionActive) await runner.rollbackTransaction();
    } catch {
      await runner.release();
      return next;
    }
    next.begin(runner, Promise.resolve());
    return next;
  }

  /** Commits (or rolls back) and returns the connection; a no-op if the request never used the database. */
  async finish(commit: boolean): Promise<void> {
    const runner = this.runner;
    if (!runner) return;
    this.runner = undefined;
    let lost: unknown = null;
    try {
      await this.opening;
      if (runner.isTransactionActive) {
        if (commit) await runner.commitTransaction();
        // A connection lost under the request was released by TypeORM: its transaction went with it.
        else if (!runner.isReleased) await runner.rollbackTransaction();
      }
    } catch (error) {
      if (connectionLost(error)) lost = error;
      throw error;
    } finally {
      // A connection the database cut goes back with its error, which closes it: returned as it is, before
      // its socket's end is seen, the pool handed it to the next request, which failed on it too.
      if (lost) await (runner as unknown as { releasePostgresConnection(err: unknown): Promise<void> }).releasePostgresConnection(lost);
      else await runner.release();
    }
  }
}
