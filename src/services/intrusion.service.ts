import { QueryResult, QueryResultRow } from 'pg';
import { DataSource } from 'typeorm';
import { Actor } from '../auth/actor';
import type { Context } from '../context';
import { connectionLost, WaitingPool } from '../db/pg-client';
import { AlertKind, SecurityAlert } from '../entities/security-alert.entity';
import { badCursor, checkPageSize } from '../errors';
import { throttledClientOf } from '../http/client-address';
import { Log, outsideRequests } from '../log';
import { applyScope, scopeOf } from '../policies/scope';
import { checkRowCursor } from '../resolvers/cursor';
import { repeatEvery } from './background';
import { checkActorFilter } from './audit.service';

export interface DetectionLimits {
  windowMinutes: number;
  /** Failed logins from one client (an IPv4 address, or an IPv6 /64: throttledClientOf) within the window before it is throttled. */
  loginFailuresPerAddress: number;
  /** Refused requests by one account within the window before an alert (a request counts once, however many of its fields were refused). */
  denialsPerActor: number;
  /** Scans of unknown tickets by one tablet within the window before an alert. */
  unknownTicketScansPerActor: number;
  /** Scans of registered tickets by one tablet within the window before an alert: far more than one desk vaccinates. */
  ticketScansPerActor: number;
  /** Eligibility checks of one ticket by one integrator that found nothing, with no pause of the window between them, before the ticket answers nothing else. */
  eligibilityMissesPerTicket: number;
  /** Eligibility checks by one integrator that found nothing, over any tickets, within the window before an alert. */
  eligibilityMissesPerActor: number;
  /**
   * My Numbers read by one account (shown, or looked up by number) within the window before an alert:
   * far more than a desk reads, far fewer than a city's registry. At most KEPT_EVENTS, so that an
   * account that stays over it is alerted once.
   */
  myNumbersPerActor: number;
}

export const DEFAULT_DETECTION: DetectionLimits = {
  windowMinutes: 15, loginFailuresPerAddress: 20, denialsPerActor: 20, unknownTicketScansPerActor: 30, ticketScansPerActor: 150, eligibilityMissesPerTicket: 5,
  eligibilityMissesPerActor: 30, myNumbersPerActor: 1000,
};

const eligibilityKey = (actor: Actor, ticket: string) => `eligibility:${actor.accountId}:${ticket}`;
/** The login throttle's keys are the client's IPv4 address or IPv6 /64: rotating addresses within it escapes neither. */
const loginKey = (kind: 'login' | 'login-throttled', address: string) => `${kind}:${throttledClientOf(address)}`;
/** Event times kept per key: far more than any limit, so a flood cannot grow a row without bound. */
const KEPT_EVENTS = 1000;

/**
 * Notices repeated failures and unusual access and reports them as security alerts (queryable by
 * the operator) and as a log line. Counters are sliding windows kept in the database, so that
 * every API process counts the same events; concurrent events of one key take turns on its row,
 * so each count is reached, and alerted on, exactly once. Events are written on the detector's
 * own few connections, outside the request's transaction: they count even when the request
 * fails, and a request holding one of the main pool's connections never waits for a second.
 */
export class IntrusionDetector {
  private pool: WaitingPool | null = null;
  /** Set by `close`: a request still running after the server's grace counts nothing, and opens no connection again. */
  private closed = false;

  constructor(private readonly db: DataSource, private readonly log: Log, private readonly limits: DetectionLimits = DEFAULT_DETECTION) {}

  private query<T extends QueryResultRow = QueryResultRow>(sql: string, params: unknown[]): Promise<QueryResult<T>> {
    if (this.closed) return Promise.reject(new Error('intrusion detection\'s connections are closed: the server is stopping; the event was not counted'));
    if (!this.pool) {
      const { url, extra } = this.db.options as { url?: string; extra?: Record<string, unknown> };
      this.pool = new WaitingPool({ ...extra, connectionString: url, max: 4 });
      // An idle connection's failure is no fault of the request that opened it; one the database cut
      // (a failover, a restart) is no fault at all: the pool opens another when it is next needed.
      this.pool.on('error', (error) => outsideRequests(() => (connectionLost(error)
        ? this.log.warn({ cause: error.message }, 'detection connection closed by the database; another is opened when needed')
        : this.log.error({ err: error }, 'detection connection failed'))));
    }
    return this.pool.query<T>(sql, params);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.pool?.end();
  }

  /** How many events of `key` fall within the window, after recording `events` more. */
  private async count(key: string, events: number): Promise<number> {
    if (events === 0) {
      const { rows } = await this.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM detection_window w, unnest(w.events) e
         WHERE w.key = $1 AND e > clock_timestamp() - make_interval(mins => $2)`,
        [key, this.limits.windowMinutes],
      );
      return rows[0].n;
    }
    const { rows } = await this.query<{ n: number }>(
      `INSERT INTO detection_window AS w (key, events) VALUES ($1, array_fill(clock_timestamp(), ARRAY[$3::int]))
       ON CONFLICT (key) DO UPDATE SET events = excluded.events || ARRAY(
         SELECT e FROM unnest(w.events) e WHERE e > clock_timestamp() - make_interval(mins => $2) ORDER BY e DESC LIMIT $4)
       RETURNING cardinality(events) AS n`,
      [key, this.limits.windowMinutes, events, KEPT_EVENTS],
    );
    return rows[0].n;
  }

  /**
   * How many events of `key` there have been since it last went a whole window without one,
   * after recording one more: a run that keeps going never ages out, however slowly it goes.
   */
  private async countRun(key: string): Promise<number> {
    const { rows } = await this.query<{ n: number }>(
      `INSERT INTO detection_window AS w (key, events) VALUES ($1, ARRAY[clock_timestamp()])
       ON CONFLICT (key) DO UPDATE SET events = (excluded.events || CASE
         WHEN (SELECT max(e) FROM unnest(w.events) e) > clock_timestamp() - make_interval(mins => $2) THEN w.events ELSE '{}' END)[1:$3]
       RETURNING cardinality(events) AS n`,
      [key, this.limits.windowMinutes, KEPT_EVENTS],
    );
    return rows[0].n;
  }

  /**
   * Serves a request of `client` if it has been served fewer than `perMinute` times in the last
   * minute, in every process together. Only served requests are recorded: a client that keeps
   * asking faster than the limit still gets the limit's worth of answers in any minute.
   */
  async withinRate(client: string, perMinute: number): Promise<boolean> {
    // The row lock of ON CONFLICT serialises concurrent requests of one client; a refused one updates nothing.
    const { rowCount } = await this.query(
      `INSERT INTO detection_window AS w (key, events) VALUES ($1, ARRAY[clock_timestamp()])
       ON CONFLICT (key) DO UPDATE SET events = excluded.events || ARRAY(
         SELECT e FROM unnest(w.events) e WHERE e > clock_timestamp() - interval '1 minute' ORDER BY e DESC LIMIT $2)
       WHERE (SELECT count(*) FROM unnest(w.events) e WHERE e > clock_timestamp() - interval '1 minute') < $2`,
      [`rate:${client}`, perMinute],
    );
    return rowCount === 1;
  }

  /** Removes the keys whose events have all left the window; returns how many. */
  async sweep(): Promise<number> {
    const { rowCount } = await this.query(
      `DELETE FROM detection_window w
       WHERE NOT EXISTS (SELECT FROM unnest(w.events) e WHERE e > clock_timestamp() - make_interval(mins => $1))`,
      [this.limits.windowMinutes],
    );
    return rowCount ?? 0;
  }

  /** Sweeps once per window; returns the function that stops it (see repeatEvery). */
  startSweeping(): () => Promise<void> {
    return repeatEvery(this.limits.windowMinutes * 60, 'detection sweep', () => this.sweep(), this.log);
  }

  /**
   * Counts a login attempt from `address` as a failure before its password is checked, so that
   * attempts sent at once cannot all pass the limit: its place among the address's recent
   * failures, or null once the address is over the limit (it is refused, and counted).
   */
  async loginStarted(address: string): Promise<number | null> {
    const failures = await this.count(loginKey('login', address), 1);
    if (failures <= this.limits.loginFailuresPerAddress) return failures;
    // Refused without a password check: not counted, so the throttle lifts a window after the last real failure.
    await this.loginSucceeded(address);
    return null;
  }

  /** The attempt signed in (or was refused unchecked): it is no failure after all. */
  async loginSucceeded(address: string): Promise<void> {
    await this.uncount(loginKey('login', address));
  }

  /**
   * The attempt failed; alerted by the attempt that reached the limit. An address kept at the limit
   * reaches it again each time one of its failures leaves the window (the throttle lets one more
   * through): alerted once for such a run, until it pauses for the window.
   */
  async loginFailed(address: string, place: number): Promise<void> {
    if (place === this.limits.loginFailuresPerAddress && (await this.countRun(loginKey('login-throttled', address))) === 1) {
      await this.alert('LOGIN_THROTTLED', { sourceAddress: address }, `${this.limits.loginFailuresPerAddress} failed logins within ${this.limits.windowMinutes} min`);
    }
  }

  accountLocked(accountId: string, municipalityCode: string | null, address: string): Promise<void> {
    return this.alert('ACCOUNT_LOCKED', { actorId: accountId, municipalityCode, sourceAddress: address }, 'account locked after repeated failed logins');
  }

  /** A request of the account's was refused (counted once per request: see countRefusal). */
  async denied(actor: Actor, address: string): Promise<void> {
    if ((await this.count(`denied:${actor.accountId}`, 1)) === this.limits.denialsPerActor) {
      await this.alert('REPEATED_DENIALS', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${this.limits.denialsPerActor} refused requests within ${this.limits.windowMinutes} min`);
    }
  }

  /** A registered ticket scanned: a tablet reading many, fast, is walking through ticket numbers. */
  async ticketScanned(actor: Actor, address: string): Promise<void> {
    if ((await this.count(`scan:${actor.accountId}`, 1)) === this.limits.ticketScansPerActor) {
      await this.alert('TICKET_SCAN_SWEEP', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${this.limits.ticketScansPerActor} registered tickets scanned within ${this.limits.windowMinutes} min`);
    }
  }

  async unknownTicketScanned(actor: Actor, address: string): Promise<void> {
    if ((await this.count(`unknown-scan:${actor.accountId}`, 1)) === this.limits.unknownTicketScansPerActor) {
      await this.alert('UNKNOWN_TICKET_SCANS', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${this.limits.unknownTicketScansPerActor} unknown tickets scanned within ${this.limits.windowMinutes} min`);
    }
  }

  /**
   * A request read `count` My Numbers (ReadAudit.myNumbersRead): an account reading many, fast, is
   * copying its city's residents out. Alerted once by the request that reaches the limit; the officer
   * is not stopped, as that would stop the desk's work: the operator decides.
   */
  async myNumbersRead(actor: Actor, address: string, count: number): Promise<void> {
    const read = await this.count(`my-number:${actor.accountId}`, count);
    if (read - count < this.limits.myNumbersPerActor && read >= this.limits.myNumbersPerActor) {
      await this.alert('MY_NUMBER_SWEEP', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${read} My Numbers read within ${this.limits.windowMinutes} min (residents' numbers shown, and look-ups by number)`);
    }
  }

  /**
   * Counts an integrator's check of a ticket (`municipalityCode:ticketNumber`) as a miss before
   * it is looked up, so that checks sent at once (aliases, parallel requests) cannot all pass:
   * returns the check's place among the misses since that integrator's checks of the ticket last
   * paused for the window, or null once there have been too many. The ticket then finds nothing
   * for that integrator, even with the right birth date, until its checks pause for the window:
   * each refused check counts too, so checks at any pace shorter than the window stay refused.
   */
  async eligibilityCheckStarted(actor: Actor, ticket: string): Promise<number | null> {
    const misses = await this.countRun(eligibilityKey(actor, ticket));
    return misses > this.limits.eligibilityMissesPerTicket ? null : misses;
  }

  /** The check found the ticket: it is no miss after all. */
  async eligibilityFound(actor: Actor, ticket: string): Promise<void> {
    await this.uncount(eligibilityKey(actor, ticket));
  }

  /**
   * The check answered NOT_FOUND, after a look-up (`place`) or refused without one (null). Alerted
   * once by the check that reached the ticket's limit, naming the municipality and the ticket's id
   * (null when no ticket of that number is there for the integrator to check; never its number,
   * nor a birth date), and once by the miss that reached the integrator's limit over any tickets:
   * birth dates tried a few at a time on many tickets. The integrator is not throttled for it: its
   * reservation site passes on what the public types in, so anyone could stop every booking; each
   * ticket's own limit still holds, and the operator decides.
   */
  async eligibilityMissed(actor: Actor, address: string, municipalityCode: string, ticketId: string | null, place: number | null): Promise<void> {
    if ((await this.count(`eligibility-miss:${actor.accountId}`, 1)) === this.limits.eligibilityMissesPerActor) {
      await this.alert('ELIGIBILITY_MISSES', { actorId: actor.accountId, municipalityCode, sourceAddress: address },
        `${this.limits.eligibilityMissesPerActor} eligibility checks found nothing within ${this.limits.windowMinutes} min, over any tickets`);
    }
    if (place === this.limits.eligibilityMissesPerTicket) {
      const which = ticketId ? `ticket ${ticketId}` : 'one ticket number (no ticket the integrator may check)';
      await this.alert('ELIGIBILITY_GUESSING', { actorId: actor.accountId, municipalityCode, sourceAddress: address },
        `${this.limits.eligibilityMissesPerTicket} eligibility checks of ${which} found nothing, none ${this.limits.windowMinutes} min after the last; it answers NOT_FOUND until its checks pause for ${this.limits.windowMinutes} min`);
    }
  }

  /** Takes the newest event of `key` back: the attempt it counted turned out not to be a failure. */
  private async uncount(key: string): Promise<void> {
    await this.query('UPDATE detection_window SET events = events[2:] WHERE key = $1', [key]);
  }

  private async alert(kind: AlertKind, who: Partial<Pick<SecurityAlert, 'actorId' | 'municipalityCode' | 'sourceAddress'>>, detail: string): Promise<void> {
    const row = { kind, actorId: who.actorId ?? null, municipalityCode: who.municipalityCode ?? null, sourceAddress: who.sourceAddress ?? null, detail };
    this.log.warn({ event: 'security_alert', ...row }, `security alert ${kind}`);
    await this.query(
      'INSERT INTO security_alert (kind, actor_id, municipality_code, source_address, detail) VALUES ($1, $2, $3, $4, $5)',
      [row.kind, row.actorId, row.municipalityCode, row.sourceAddress, row.detail],
    );
  }

  /**
   * A page of alerts, newest first, after the alert `after` (its id), of one kind or about one
   * account: every alert stays reachable however many come after it, and a flood of one kind
   * cannot hide another.
   */
  async list(ctx: Context, filter: { kind?: AlertKind; actorId?: string }, first: number, after: string | null | undefined): Promise<SecurityAlert[]> {
    checkPageSize(first, 500);
    if (after !== undefined && after !== null && !/^\d{1,18}$/.test(after)) throw badCursor();
    const scope = scopeOf(ctx.ability, 'read', 'SecurityAlert');
    if (!scope) return [];
    const db = await ctx.session.manager();
    // An id no account has would match no alert: refused, as the operation log refuses it, not "no alerts".
    const actorId = await checkActorFilter(db, filter.actorId);
    const query = applyScope(db.getRepository(SecurityAlert).createQueryBuilder('a'), scope);
    if (filter.kind) query.andWhere('a.kind = :kind', { kind: filter.kind });
    if (actorId) query.andWhere('a.actorId = :actor', { actor: actorId });
    if (after) {
      await checkRowCursor(db, SecurityAlert, scope, after);
      query.andWhere('a.id < :after', { after });
    }
    return query.orderBy('a.id', 'DESC').limit(first).getMany();
  }
}
