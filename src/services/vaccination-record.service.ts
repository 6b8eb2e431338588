import { randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { Context } from '../context';
import { VaccinationRecord } from '../entities/vaccination-record.entity';
import { ErrorCode, ErrorCollector, identifierError, InputError, notFoundOrNoAccess } from '../errors';
import { Action } from '../policies/ability';
import { applyScope, ownMunicipalityFor, scopeOf } from '../policies/scope';
import { CorrectRecordInput, RecordDoseInput } from '../resolvers/vaccination-record.types';
import { checkMunicipalityCode, isUuid } from '../validation/identifiers';
import { municipalityOfCode } from '../validation/own-codes';
import { checkTicketNumber, seriesCovers } from '../validation/tickets';
import { checkReason, collectReason } from '../validation/reasons';
import { writeAudit } from './audit.service';
import { checkDoseHistory, checkDoseInput, CheckedDose } from './dose-rules';
import { insertRecord, lockedResident } from './dose-store';

interface RecordTicket {
  id: string;
  series: string;
  voidedOn: string | null;
}

/**
 * The ticket a paper form names must cover the dose. A form may arrive after its ticket was voided
 * (the resident moved out or died, or the ticket was lost and replaced): the ticket stands for a
 * dose given until the day it was voided, as a moved-out resident's dose does until the move.
 */
function checkTicketFor(errors: ErrorCollector, ticket: RecordTicket, dose: CheckedDose): void {
  if (!seriesCovers(ticket.series, dose.doseNumber)) {
    errors.add(['input', 'ticketNumber'], ErrorCode.DOSE_NOT_IN_SERIES, `is for series ${ticket.series}, which does not cover dose ${dose.doseNumber}`);
  } else if (ticket.voidedOn && dose.vaccinatedOn > ticket.voidedOn) {
    errors.add(['input', 'ticketNumber'], ErrorCode.TICKET_VOID, `was voided on ${ticket.voidedOn}, before this dose was given`);
  }
}

/**
 * Records as the owning municipality keeps them: officer entry from paper forms, corrections and
 * deletions. Nothing is overwritten: a correction supersedes, a deletion marks entered-in-error,
 * each with reason, time and officer. Only the resident's own municipality can do either, also
 * for doses a site elsewhere registered.
 */
export class VaccinationRecordService {

  private async find(ctx: Context, db: EntityManager, action: Action, id: string, lock = false): Promise<VaccinationRecord | null> {
    const scope = scopeOf(ctx.ability, action, 'VaccinationRecord');
    if (!scope || !isUuid(id)) return null;
    const query = applyScope(db.getRepository(VaccinationRecord).createQueryBuilder('v'), scope).andWhere('v.id = :id', { id });
    if (lock) query.setLock('pessimistic_write');
    return query.getOne();
  }

  async get(ctx: Context, id: string): Promise<VaccinationRecord | null> {
    const record = await this.find(ctx, await ctx.session.manager(), 'read', id);
    if (record) ctx.audit.note('vaccination.read', record.municipalityCode, record.id);
    return record;
  }

  /** A resident's records, through the request's loader; with `includeHistory` also superseded and entered-in-error ones. */
  async ofResident(ctx: Context, residentId: string, includeHistory: boolean): Promise<VaccinationRecord[]> {
    const records = (await ctx.loaders.recordsByResident.load(residentId)).filter((r) => includeHistory || r.status === 'COMPLETED');
    for (const r of records) ctx.audit.note('vaccination.read', r.municipalityCode, r.id);
    return records;
  }

  async record(ctx: Context, input: RecordDoseInput): Promise<VaccinationRecord> {
    const municipalityCode = ownMunicipalityFor(ctx, 'create', 'VaccinationRecord');
    const errors = new ErrorCollector();
    const dose = checkDoseInput(errors, input, (f) => ['input', f]);
    let site = municipalityCode;
    if (input.siteMunicipalityCode) {
      const checked = checkMunicipalityCode(input.siteMunicipalityCode);
      if (!checked.ok) errors.add(['input', 'siteMunicipalityCode'], identifierError(checked.reason), checked.message);
      else {
        // A site in a ward is in its designated city, one municipality, as a tablet there records it.
        const city = municipalityOfCode(checked.value);
        if (!(await ctx.loaders.municipality.load(city))) errors.add(['input', 'siteMunicipalityCode'], ErrorCode.UNKNOWN_MUNICIPALITY, 'is not a municipality in the national list');
        else site = city;
      }
    }
    let ticketNumber: string | null = null;
    if (input.ticketNumber?.trim()) {
      const checked = checkTicketNumber(input.ticketNumber.trim());
      if (!checked.ok) errors.add(['input', 'ticketNumber'], identifierError(checked.reason), checked.message);
      else ticketNumber = checked.value;
    }
    errors.throwIfAny();
    return (await ctx.session.manager()).transaction(async (tx) => {
      const resident = isUuid(input.residentId) ? await lockedResident(tx, municipalityCode, input.residentId) : null;
      if (!resident) throw notFoundOrNoAccess(['input', 'residentId']);
      const ticket = ticketNumber ? await this.ticketOf(tx, municipalityCode, resident.id, ticketNumber) : null;
      if (ticketNumber && !ticket) throw notFoundOrNoAccess(['input', 'ticketNumber']);
      checkDoseHistory(errors, resident, resident.history, dose!, (f) => ['input', f], { requireActive: false });
      if (ticket) checkTicketFor(errors, ticket, dose!);
      errors.throwIfAny();
      const id = randomUUID();
      await insertRecord(tx, {
        municipalityCode, id, residentId: resident.id, ticketId: ticket?.id ?? null, dose: dose!,
        siteMunicipalityCode: site, source: 'OFFICER', recordedBy: ctx.actor!.accountId, idempotencyKey: null,
      });
      await writeAudit(tx, ctx, [{ operation: 'vaccination.record', municipalityCode, targetIds: [id], outcome: 'SUCCESS' }]);
      return tx.getRepository(VaccinationRecord).findOneByOrFail({ municipalityCode, id });
    });
  }

  /** The resident's own ticket of that number: another resident's reads as missing. */
  private async ticketOf(tx: EntityManager, municipalityCode: string, residentId: string, ticketNumber: string): Promise<RecordTicket | null> {
    const [ticket]: RecordTicket[] = await tx.query(
      `SELECT id, series, to_char(voided_on, 'YYYY-MM-DD') AS "voidedOn" FROM ticket
       WHERE municipality_code = $1 AND ticket_number = $2 AND resident_id = $3`,
      [municipalityCode, ticketNumber, residentId],
    );
    return ticket ?? null;
  }

  /** The day the record's ticket was voided, if it was: a correction may not date the dose after it, as officer entry may not. */
  private async ticketVoidedOn(tx: EntityManager, record: VaccinationRecord): Promise<string | null> {
    if (!record.ticketId) return null;
    const [ticket]: { voidedOn: string | null }[] = await tx.query(
      `SELECT to_char(voided_on, 'YYYY-MM-DD') AS "voidedOn" FROM ticket WHERE municipality_code = $1 AND id = $2`,
      [record.municipalityCode, record.ticketId],
    );
    return ticket?.voidedOn ?? null;
  }

  /**
   * The refusal to correct or delete a record that is no longer current, saying what to do instead:
   * a corrected record points at the record standing in its place now (corrections may follow one
   * another); a deleted one has nothing in its place.
   */
  private async notCurrent(tx: EntityManager, record: VaccinationRecord, action: 'correct' | 'delete'): Promise<InputError> {
    const refuse = (message: string) => InputError.of(['id'], ErrorCode.INVALID_STATE, message);
    if (record.status === 'ENTERED_IN_ERROR') {
      return refuse(action === 'correct'
        ? 'the record was entered in error (deleted); record the dose again instead'
        : 'the record was already deleted (entered in error)');
    }
    const [latest]: { id: string; status: string }[] = await tx.query(
      `WITH RECURSIVE chain AS (
         SELECT id, status, superseded_by, 0 AS depth FROM vaccination_record WHERE municipality_code = $1 AND id = $2
         UNION ALL
         SELECT v.id, v.status, v.superseded_by, c.depth + 1 FROM chain c
         JOIN vaccination_record v ON v.municipality_code = $1 AND v.id = c.superseded_by
       ) SELECT id, status FROM chain ORDER BY depth DESC LIMIT 1`,
      [record.municipalityCode, record.id],
    );
    if (latest.status === 'ENTERED_IN_ERROR') {
      return refuse(action === 'correct'
        ? 'the record was corrected and its correction deleted (entered in error); record the dose again instead'
        : 'the record was corrected and its correction already deleted (entered in error)');
    }
    return refuse(`the record was corrected; ${action} the record that replaced it (${latest.id})`);
  }

  /** A corrected copy replaces the record; the old one stays, SUPERSEDED, pointing at the new one. */
  async correct(ctx: Context, id: string, input: CorrectRecordInput): Promise<VaccinationRecord> {
    return (await ctx.session.manager()).transaction(async (tx) => {
      const old = await this.find(ctx, tx, 'update', id);
      if (!old) throw notFoundOrNoAccess(['id']);
      const resident = await lockedResident(tx, old.municipalityCode, old.residentId);
      const current = await this.find(ctx, tx, 'update', id, true);
      if (!resident || !current) throw notFoundOrNoAccess(['id']);
      if (current.status !== 'COMPLETED') throw await this.notCurrent(tx, current, 'correct');
      const errors = new ErrorCollector();
      const dose = checkDoseInput(errors, {
        doseNumber: current.doseNumber,
        vaccinatedOn: input.vaccinatedOn ?? current.vaccinatedOn,
        vaccineCode: input.vaccineCode ?? current.vaccineCode,
        lotNumber: input.lotNumber ?? current.lotNumber,
        // Omitted keeps the recorded value; an empty string removes it.
        venue: input.venue ?? current.venue,
        doctorName: input.doctorName ?? current.doctorName,
      }, (f) => ['input', f]);
      if (dose) checkDoseHistory(errors, resident, resident.history, dose, (f) => ['input', f], { requireActive: false, replacing: current.id });
      const voidedOn = await this.ticketVoidedOn(tx, current);
      if (dose && voidedOn && dose.vaccinatedOn > voidedOn) {
        errors.add(['input', 'vaccinatedOn'], ErrorCode.TICKET_VOID, `is after the dose's ticket was voided (${voidedOn})`);
      }
      // The reason is the input's last field: its problem is reported with the others, after them.
      const reason = collectReason(errors, input.reason, 500, ['input', 'reason']);
      errors.throwIfAny();
      const same = (['vaccinatedOn', 'lotNumber', 'venue', 'doctorName'] as const).every((f) => dose![f] === current[f]) && dose!.vaccine.code === current.vaccineCode;
      if (same) {
        throw InputError.of(['input'], ErrorCode.INVALID_STATE, 'nothing to correct: every field is as recorded');
      }
      const newId = randomUUID();
      await tx.query(
        `UPDATE vaccination_record SET status = 'SUPERSEDED', superseded_by = $3, status_reason = $4, status_changed_at = now(), status_changed_by = $5
         WHERE municipality_code = $1 AND id = $2`,
        [current.municipalityCode, current.id, newId, reason, ctx.actor!.accountId],
      );
      await insertRecord(tx, {
        municipalityCode: current.municipalityCode, id: newId, residentId: current.residentId, ticketId: current.ticketId, dose: dose!,
        siteMunicipalityCode: current.siteMunicipalityCode, source: current.source, recordedBy: ctx.actor!.accountId, idempotencyKey: null,
      });
      await writeAudit(tx, ctx, [{ operation: 'vaccination.correct', municipalityCode: current.municipalityCode, targetIds: [current.id, newId], outcome: 'SUCCESS' }]);
      return tx.getRepository(VaccinationRecord).findOneByOrFail({ municipalityCode: current.municipalityCode, id: newId });
    });
  }

  /** Marks a record entered-in-error. Only the latest dose: removing an earlier one would leave a gap. */
  async delete(ctx: Context, id: string, reason: string): Promise<VaccinationRecord> {
    const text = checkReason(reason);
    return (await ctx.session.manager()).transaction(async (tx) => {
      const old = await this.find(ctx, tx, 'delete', id);
      if (!old) throw notFoundOrNoAccess(['id']);
      const resident = await lockedResident(tx, old.municipalityCode, old.residentId);
      const current = await this.find(ctx, tx, 'delete', id, true);
      if (!resident || !current) throw notFoundOrNoAccess(['id']);
      if (current.status !== 'COMPLETED') throw await this.notCurrent(tx, current, 'delete');
      const later = resident.history.find((h) => h.doseNumber > current.doseNumber);
      if (later) throw InputError.of(['id'], ErrorCode.INVALID_STATE, `dose ${later.doseNumber} is recorded after this one: delete or correct the later doses first`);
      await tx.query(
        `UPDATE vaccination_record SET status = 'ENTERED_IN_ERROR', status_reason = $3, status_changed_at = now(), status_changed_by = $4
         WHERE municipality_code = $1 AND id = $2`,
        [current.municipalityCode, current.id, text, ctx.actor!.accountId],
      );
      await writeAudit(tx, ctx, [{ operation: 'vaccination.delete', municipalityCode: current.municipalityCode, targetIds: [current.id], outcome: 'SUCCESS' }]);
      return tx.getRepository(VaccinationRecord).findOneByOrFail({ municipalityCode: current.municipalityCode, id: current.id });
    });
  }
}
