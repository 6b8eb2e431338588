import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { Context } from '../context';
import { PendingDose, PendingDoseStatus } from '../entities/pending-dose.entity';
import { badArgument, badCursor, checkPageSize, ErrorCode, ErrorCollector, InputError, notFoundOrNoAccess, UserError } from '../errors';
import { applyScope, scopeOf } from '../policies/scope';
import { MAX_PAGE } from '../resolvers/resident.types';
import { shareRegistryLockOrRetry } from '../db/registry-lock';
import { isUuid } from '../validation/identifiers';
import { checkTicketNumber } from '../validation/tickets';
import { checkReason } from '../validation/reasons';
import { vaccineByCode } from '../validation/vaccines';
import { AUDIT_BATCH, AuditSource, writeAudit } from './audit.service';
import { checkDoseHistory, CheckedDose } from './dose-rules';
import { insertRecords, LockedResident, lockedResident, lockedResidents, NewRecord } from './dose-store';


function doseOf(p: PendingDose): CheckedDose {
  return { doseNumber: p.doseNumber, vaccinatedOn: p.vaccinatedOn, vaccine: vaccineByCode(p.vaccineCode)!, lotNumber: p.lotNumber, venue: p.venue, doctorName: p.doctorName };
}

/**
 * A broken dose rule as a sentence of its own. The rules word their messages to follow the input
 * field they name ("doseNumber: would leave a gap…"); a pending dose has no input fields, so the
 * sentence names the dose or its date instead.
 */
function sentenceOf(error: UserError, pending: PendingDose): string {
  const field = error.field[error.field.length - 1];
  if (field === 'doseNumber') return /^dose \d/.test(error.message) ? error.message : `dose ${pending.doseNumber} ${error.message}`;
  if (field === 'vaccinatedOn') return `the vaccination date ${pending.vaccinatedOn} ${error.message}`;
  return error.message;
}

/**
 * Doses registered on a ticket the municipality had not registered yet (接種対象者登録待ち):
 * matched automatically when the ticket is issued, otherwise listed for the municipality to
 * assign to a resident or dismiss.
 */
export class PendingDoseService {

  /**
   * The record a pending dose becomes if every dose rule holds for the resident (and it joins the
   * resident's history, for the next dose checked), else the rules it breaks.
   */
  private check(pending: PendingDose, resident: LockedResident, ticket: { id: string; series: string } | null, requireActive: boolean): NewRecord | UserError[] {
    const errors = new ErrorCollector();
    const dose = doseOf(pending);
    checkDoseHistory(errors, resident, resident.history, dose, (f) => [f], { series: ticket?.series, requireActive });
    if (errors.errors.length) return errors.errors;
    const record: NewRecord = {
      municipalityCode: pending.municipalityCode, id: randomUUID(), residentId: resident.id, ticketId: ticket?.id ?? null, dose,
      siteMunicipalityCode: pending.siteMunicipalityCode, source: 'TABLET', recordedBy: pending.recordedBy, idempotencyKey: pending.idempotencyKey,
    };
    resident.history.push({ id: record.id, doseNumber: dose.doseNumber, vaccinatedOn: dose.vaccinatedOn, vaccineCode: dose.vaccine.code });
    return record;
  }

  /** Writes the records pending doses became, marks the doses matched and logs the matches: a few statements, however many. */
  private async attach(tx: EntityManager, source: AuditSource, municipalityCode: string, matches: { pending: PendingDose; record: NewRecord }[], by: string | null): Promise<void> {
    if (!matches.length) return;
    await insertRecords(tx, matches.map((m) => m.record));
    await tx.query(
      `UPDATE pending_dose p SET status = 'MATCHED', vaccination_record_id = m.record_id, resolved_at = now(), resolved_by = $2, match_problem = NULL
       FROM unnest($3::uuid[], $4::uuid[]) AS m(id, record_id)
       WHERE p.municipality_code = $1 AND p.id = m.id`,
      [municipalityCode, by, matches.map((m) => m.pending.id), matches.map((m) => m.record.id)],
    );
    // Each event names pending doses and their records in pairs, up to AUDIT_BATCH ids, as an import
    // logs what it wrote: events are linked into their chain one at a time at commit, and 48,000 of
    // them, one a match, took 85 s to commit.
    const pairs = AUDIT_BATCH / 2;
    await writeAudit(tx, source, Array.from({ length: Math.ceil(matches.length / pairs) }, (_e, i) => ({
      operation: 'pendingDose.match', municipalityCode, outcome: 'SUCCESS' as const,
      targetIds: matches.slice(i * pairs, (i + 1) * pairs).flatMap((m) => [m.pending.id, m.record.id]),
    })));
  }

  /**
   * Called inside the issuing transaction: pending doses on these ticket numbers become records.
   * An import may bring the tickets of tens of thousands, so they are matched in a few statements
   * rather than a few each: every holder locked in one, their histories read in one, the records
   * written in one. The doses are checked in dose and date order, each against the history the
   * ones before it made; a dose that breaks a rule keeps its problem, in a sentence.
   */
  async matchIssuedTickets(tx: EntityManager, source: AuditSource, municipalityCode: string, tickets: { id: string; ticketNumber: string; residentId: string; series: string }[]): Promise<number> {
    if (!tickets.length) return 0;
    const pending = await tx.getRepository(PendingDose).createQueryBuilder('p')
      .where('p.municipalityCode = :m', { m: municipalityCode })
      // One array parameter: an import may match more tickets than a statement takes parameters.
      .andWhere('p.ticketNumber = ANY(CAST(:numbers AS char(10)[]))', { numbers: tickets.map((t) => t.ticketNumber) })
      .andWhere("p.status = 'PENDING'")
      .orderBy('p.doseNumber').addOrderBy('p.vaccinatedOn')
      .setLock('pessimistic_write').getMany();
    const byNumber = new Map(tickets.map((t) => [t.ticketNumber, t]));
    const residents = await lockedResidents(tx, municipalityCode, [...new Set(pending.map((p) => byNumber.get(p.ticketNumber)!.residentId))]);
    const matches: { pending: PendingDose; record: NewRecord }[] = [];
    const problems: { id: string; text: string }[] = [];
    for (const p of pending) {
      const ticket = byNumber.get(p.ticketNumber)!;
      const resident = residents.get(ticket.residentId);
      if (!resident) continue;
      const outcome = this.check(p, resident, ticket, true);
      if (Array.isArray(outcome)) problems.push({ id: p.id, text: outcome.map((e) => `${e.code}: ${sentenceOf(e, p)}`).join('; ') });
      else matches.push({ pending: p, record: outcome });
    }
    await this.attach(tx, source, municipalityCode, matches, null);
    if (problems.length) {
      await tx.query(
        `UPDATE pending_dose p SET match_problem = m.problem FROM unnest($2::uuid[], $3::text[]) AS m(id, problem) WHERE p.municipality_code = $1 AND p.id = m.id`,
        [municipalityCode, problems.map((m) => m.id), problems.map((m) => m.text)],
      );
    }
    return matches.length;
  }

  /** A page of the caller's pending doses, oldest first; `after` is the last dose of the previous page. */
  async list(ctx: Context, options: { status: PendingDoseStatus; first: number; after: string | null; ticketNumber: string | null }): Promise<PendingDose[]> {
    const { status, first, after } = options;
    checkPageSize(first, MAX_PAGE);
    let ticketNumber: string | null = null;
    if (options.ticketNumber !== null) {
      const checked = checkTicketNumber(options.ticketNumber);
      if (!checked.ok) throw badArgument(['ticketNumber'], checked.message, ErrorCode.INVALID_FORMAT);
      ticketNumber = checked.value;
    }
    if (after !== null && !isUuid(after)) throw badCursor();
    const scope = scopeOf(ctx.ability, 'read', 'PendingDose');
    if (!scope) return [];
    const query = applyScope((await ctx.session.manager()).getRepository(PendingDose).createQueryBuilder('p'), scope)
      .andWhere('p.status = :status', { status });
    if (ticketNumber) query.andWhere('p.ticketNumber = :ticketNumber', { ticketNumber });
    if (after) {
      // The dose named must be one the caller can see; any other id is not a cursor of this list.
      // Its time is read as text: created_at holds microseconds, which a JavaScript date would drop.
      const last = await applyScope((await ctx.session.manager()).getRepository(PendingDose).createQueryBuilder('p'), scope)
        .select('p.created_at::text', 'at').andWhere('p.id = :after', { after }).getRawOne<{ at: string }>();
      if (!last) throw badCursor();
      query.andWhere('(p.created_at, p.id) > (CAST(:at AS timestamptz), :after)', { at: last.at, after });
    }
    const doses = await query.orderBy('p.createdAt').addOrderBy('p.id').limit(first).getMany();
    for (const p of doses) ctx.audit.note('pendingDose.read', p.municipalityCode, p.id);
    return doses;
  }

  private async find(ctx: Context, tx: EntityManager, id: string): Promise<PendingDose> {
    const scope = scopeOf(ctx.ability, 'update', 'PendingDose');
    const pending = scope && isUuid(id)
      ? await applyScope(tx.getRepository(PendingDose).createQueryBuilder('p'), scope).andWhere('p.id = :id', { id }).setLock('pessimistic_write').getOne()
      : null;
    if (!pending) throw notFoundOrNoAccess(['id']);
    if (pending.status !== PendingDoseStatus.PENDING) throw InputError.of(['id'], ErrorCode.INVALID_STATE, `is already ${pending.status.toLowerCase()}`);
    return pending;
  }

  /**
   * Records a pending dose for the resident the officer names. Once its ticket number has been
   * issued, the dose belongs to that ticket's holder: it is recorded on the ticket, and another
   * resident is refused.
   */
  async assign(ctx: Context, id: string, residentId: string): Promise<PendingDose> {
    return (await ctx.session.manager()).transaction(async (tx) => {
      const pending = await this.find(ctx, tx, id);
      // An issuance or import under way may be giving the number to someone: wait until it has.
      // Asked before the resident is locked, as issuance locks residents after this lock.
      await shareRegistryLockOrRetry(tx, pending.municipalityCode, ['id']);
      const resident = isUuid(residentId) ? await lockedResident(tx, pending.municipalityCode, residentId) : null;
      if (!resident) throw notFoundOrNoAccess(['residentId']);
      const [ticket]: { id: string; resident_id: string; series: string }[] = await tx.query(
        'SELECT id, resident_id, series FROM ticket WHERE municipality_code = $1 AND ticket_number = $2',
        [pending.municipalityCode, pending.ticketNumber],
      );
      if (ticket && ticket.resident_id !== resident.id) {
        throw InputError.of(['residentId'], ErrorCode.INVALID_STATE, `the dose's ticket number ${pending.ticketNumber} is issued to another resident`);
      }
      // The officer knows the person was vaccinated: one who has since moved out or died still
      // gets a dose given before (the dates are checked), as without a ticket.
      const outcome = this.check(pending, resident, ticket ? { id: ticket.id, series: ticket.series } : null, false);
      // Each broken rule keeps its own code; the field it concerns is the pending dose's.
      if (Array.isArray(outcome)) throw new InputError(outcome.map((e) => ({ ...e, field: ['id'], message: `cannot be recorded for this resident: ${sentenceOf(e, pending)}` })));
      await this.attach(tx, ctx, pending.municipalityCode, [{ pending, record: outcome }], ctx.actor!.accountId);
      return tx.getRepository(PendingDose).findOneByOrFail({ municipalityCode: pending.municipalityCode, id: pending.id });
    });
  }

  async dismiss(ctx: Context, id: string, reason: string): Promise<PendingDose> {
    const text = checkReason(reason);
    return (await ctx.session.manager()).transaction(async (tx) => {
      const pending = await this.find(ctx, tx, id);
      await tx.query(
        `UPDATE pending_dose SET status = 'DISMISSED', resolved_at = now(), resolved_by = $3, resolution_reason = $4
         WHERE municipality_code = $1 AND id = $2`,
        [pending.municipalityCode, pending.id, ctx.actor!.accountId, text],
      );
      await writeAudit(tx, ctx, [{ operation: 'pendingDose.dismiss', municipalityCode: pending.municipalityCode, targetIds: [pending.id], outcome: 'SUCCESS' }]);
      return tx.getRepository(PendingDose).findOneByOrFail({ municipalityCode: pending.municipalityCode, id: pending.id });
    });
  }
}
