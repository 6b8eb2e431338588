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

/**
 * Notices repeated failures and unusual access and reports them as security alerts (queryable by
 * the operator) and as a log line. Counters are sliding windows in this process's memory: with
 * several processes each watches its own traffic, which still catches a sustained attack.
 */
export class IntrusionDetector {
  private readonly windows = new Map<string, number[]>();

  constructor(private readonly db: DataSource, private readonly limits: DetectionLimits = DEFAULT_DETECTION) {}

  /** Records one event under `key` and returns how many fell within the window. */
  private count(key: string, record: boolean): number {
    const now = Date.now();
    const since = now - this.limits.windowMinutes * 60_000;
    const recent = (this.windows.get(key) ?? []).filter((t) => t > since);
    if (record) recent.push(now);
    if (recent.length > 0) this.windows.set(key, recent);
    else this.windows.delete(key);
    if (this.windows.size > 50_000) this.sweep(since);
    return recent.length;
  }

  private sweep(since: number): void {
    for (const [key, times] of this.windows) if (!times.some((t) => t > since)) this.windows.delete(key);
  }

  isThrottled(address: string): boolean {
    return this.count(`login:${address}`, false) >= this.limits.loginFailuresPerAddress;
  }

  async loginFailed(address: string): Promise<void> {
    if (this.count(`login:${address}`, true) === this.limits.loginFailuresPerAddress) {
      await this.alert('LOGIN_THROTTLED', { sourceAddress: address }, `${this.limits.loginFailuresPerAddress} failed logins within ${this.limits.windowMinutes} min`);
    }
  }

  accountLocked(accountId: string, municipalityCode: string | null, address: string): Promise<void> {
    return this.alert('ACCOUNT_LOCKED', { actorId: accountId, municipalityCode, sourceAddress: address }, 'account locked after repeated failed logins');
  }

  async denied(actor: Actor, address: string, refusals: number): Promise<void> {
    const key = `denied:${actor.accountId}`;
    let total = 0;
    for (let i = 0; i < refusals; i++) total = this.count(key, true);
    const limit = this.limits.denialsPerActor;
    if (total >= limit && total - refusals < limit) {
      await this.alert('REPEATED_DENIALS', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${total} refused operations within ${this.limits.windowMinutes} min`);
    }
  }

  async unknownTicketScanned(actor: Actor, address: string): Promise<void> {
    if (this.count(`scan:${actor.accountId}`, true) === this.limits.unknownTicketScansPerActor) {
      await this.alert('UNKNOWN_TICKET_SCANS', { actorId: actor.accountId, municipalityCode: actor.municipalityCode, sourceAddress: address },
        `${this.limits.unknownTicketScansPerActor} unknown tickets scanned within ${this.limits.windowMinutes} min`);
    }
  }

  /**
   * Whether an integrator has missed on this ticket (`municipalityCode:ticketNumber`) too often:
   * its checks then find nothing, even with the right birth date, until the window has passed.
   */
  eligibilityBlocked(actor: Actor, ticket: string): boolean {
    return this.count(eligibilityKey(actor, ticket), false) >= this.limits.eligibilityMissesPerTicket;
  }

  async eligibilityMissed(actor: Actor, address: string, ticket: string): Promise<void> {
    if (this.count(eligibilityKey(actor, ticket), true) === this.limits.eligibilityMissesPerTicket) {
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
