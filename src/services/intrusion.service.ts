import { DataSource } from 'typeorm';
import { Actor } from '../auth/actor';
import type { Context } from '../context';
import { AlertKind, SecurityAlert } from '../entities/security-alert.entity';
import { checkPageSize } from '../errors';
import { applyScope, scopeOf } from '../policies/scope';

export interface DetectionLimits {
  windowMinutes: number;
  /** Failed logins from one address within the window before that address is throttled. */
  loginFailuresPerAddress: number;
  /** Refused operations by one account within the window before an alert. */
  denialsPerActor: number;
  /** Scans of unknown tickets by one tablet within the window before an alert. */
  unknownTicketScansPerActor: number;
  /** Eligibility checks of one ticket by one integrator that found nothing, before the ticket answers nothing else. */
  eligibilityMissesPerTicket: number;
}

export const DEFAULT_DETECTION: DetectionLimits = {
  windowMinutes: 15, loginFailuresPerAddress: 20, denialsPerActor: 20, unknownTicketScansPerActor: 30, eligibilityMissesPerTicket: 5,
};

const eligibilityKey = (actor: Actor, ticket: string) => `eligibility:${actor.accountId}:${ticket}`;
/** Event times kept per key: far more than any limit, so a flood cannot grow a row without bound. */
const KEPT_EVENTS = 1000;

/**
 * Notices repeated failures and unusual access and reports them as security alerts (queryable by
 * the operator) and as a log line. Counters are sliding windows kept in the database, so that
 * every API process counts the same events; concurrent events of one key take turns on its row,
 * so each count is reached, and alerted on, exactly once.
 */
export class IntrusionDetector {
  constructor(private readonly db: DataSource, private readonly limits: DetectionLimits = DEFAULT_DETECTION) {}

  /** How many events of `key` fall within the window, after recording `events` more. */
  private async count(key: string, events: number): Promise<number> {
    if (events === 0) {
      const [{ n }] = await this.db.query(
        `SELECT count(*)::int AS n FROM detection_window w, unnest(w.events) e
         WHERE w.key = $1 AND e > clock_timestamp() - make_interval(mins => $2)`,
        [key, this.limits.windowMinutes],
      );
      return n;
    }
    const [{ n }] = await this.db.query(
      `INSERT INTO detection_window AS w (key, events) VALUES ($1, array_fill(clock_timestamp(), ARRAY[$3::int]))
       ON CONFLICT (key) DO UPDATE SET events = excluded.events || ARRAY(
         SELECT e FROM unnest(w.events) e WHERE e > clock_timestamp() - make_interval(mins => $2) ORDER BY e DESC LIMIT $4)
       RETURNING cardinality(events) AS n`,
      [key, this.limits.windowMinutes, events, KEPT_EVENTS],
    );
    return n;
  }

  /** Removes the keys whose events have all left the window; returns how many. */
  async sweep(): Promise<number> {
    const [, removed] = await this.db.query(
      `DELETE FROM detection_window w
       WHERE NOT EXISTS (SELECT FROM unnest(w.events) e WHERE e > clock_timestamp() - make_interval(mins => $1))`,
      [this.limits.windowMinutes],
    );
    return removed;
  }

  /** Sweeps once per window; returns the function that stops it. */
  startSweeping(): () => void {
    const timer = setInterval(() => {
      this.sweep().catch((error: unknown) => console.error('detection sweep failed:', error instanceof Error ? error.message : error));
    }, this.limits.windowMinutes * 60_000);
    timer.unref();
    return () => clearInterval(timer);
  }

  async isThrottled(address: string): Promise<boolean> {
    return (await this.count(`login:${address}`, 0)) >= this.limits.loginFailuresPerAddress;
  }

  async loginFailed(address: string): Promise<void> {
    if ((await this.count(`login:${address}`, 1)) === this.limits.loginFailuresPerAddress) {
      await this.alert('LOGIN_THROTTLED', { sourceAddress: address }, `${this.limits.loginFailuresPerAddress} failed logins within ${this.limits.windowMinutes} min`);
    }
  }

  accountLocked(accountId: string, municipalityCode: string | null, address: string): Promise<void> {
    return this.alert('ACCOUNT_LOCKED', { actorId: accountId, municipalityCode, sourceAddress: address }, 'account locked after repeated failed logins');
  }

  async denied(actor: Actor, address: string, refusals: number): Promise<void> {
    const total = await this.count(`denied:${actor.accountId}`, refusals);
    const limit = this.limits.denialsPerActor;
    if (total >= limit && total - refusals < limit) {
      await this.alert('REPEATED_DENIALS', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${total} refused operations within ${this.limits.windowMinutes} min`);
    }
  }

  async unknownTicketScanned(actor: Actor, address: string): Promise<void> {
    if ((await this.count(`scan:${actor.accountId}`, 1)) === this.limits.unknownTicketScansPerActor) {
      await this.alert('UNKNOWN_TICKET_SCANS', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${this.limits.unknownTicketScansPerActor} unknown tickets scanned within ${this.limits.windowMinutes} min`);
    }
  }

  /**
   * Whether an integrator has missed on this ticket (`municipalityCode:ticketNumber`) too often:
   * its checks then find nothing, even with the right birth date, until the window has passed.
   */
  async eligibilityBlocked(actor: Actor, ticket: string): Promise<boolean> {
    return (await this.count(eligibilityKey(actor, ticket), 0)) >= this.limits.eligibilityMissesPerTicket;
  }

  async eligibilityMissed(actor: Actor, address: string, ticket: string): Promise<void> {
    if ((await this.count(eligibilityKey(actor, ticket), 1)) === this.limits.eligibilityMissesPerTicket) {
      await this.alert('ELIGIBILITY_GUESSING', { actorId: actor.accountId, sourceAddress: address },
        `${this.limits.eligibilityMissesPerTicket} eligibility checks of one ticket found nothing within ${this.limits.windowMinutes} min; it answers NOT_FOUND until then`);
    }
  }

  private async alert(kind: AlertKind, who: Partial<Pick<SecurityAlert, 'actorId' | 'municipalityCode' | 'sourceAddress'>>, detail: string): Promise<void> {
    const row = { kind, actorId: who.actorId ?? null, municipalityCode: who.municipalityCode ?? null, sourceAddress: who.sourceAddress ?? null, detail };
    console.warn(JSON.stringify({ level: 'warn', event: 'security_alert', ...row }));
    await this.db.getRepository(SecurityAlert).insert(row);
  }

  async list(ctx: Context, first: number): Promise<SecurityAlert[]> {
    checkPageSize(first, 500);
    const scope = scopeOf(ctx.ability, 'read', 'SecurityAlert');
    if (!scope) return [];
    return applyScope((await ctx.session.manager()).getRepository(SecurityAlert).createQueryBuilder('a'), scope)
      .orderBy('a.id', 'DESC').limit(first).getMany();
  }
}
