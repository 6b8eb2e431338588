import { subject } from '@casl/ability';
import { GraphQLError } from 'graphql';
import { createHash, randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { Context, keepWrite } from '../context';
import { PlatformFunction } from '../entities/function-suspension.entity';
import { badArgument, ErrorCode, ErrorCollector, identifierError, InputError } from '../errors';
import { ownMunicipalityFor } from '../policies/scope';
import {
  DoseReceipt, DoseSummary, RegisterDoseInput, RegistrationStatus, TicketReference, TicketScan, TicketScanStatus,
} from '../resolvers/vaccination.types';
import { ResidentStatus } from '../schema/enums';
import { checkMunicipalityCode, isUuid } from '../validation/identifiers';
import { checkTicketNumber, parseOcrLine, parseSeries, seriesCovers } from '../validation/tickets';
import { vaccineByCode } from '../validation/vaccines';
import { writeAudit } from './audit.service';
import { checkDateOrder, checkDoseHistory, checkDoseInput, CheckedDose } from './dose-rules';
import { prepared } from '../db/pg-client';
import { tryShareRegistryLock } from '../db/registry-lock';
import { insertRecord, TicketWithResident, ticketWithResident } from './dose-store';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9._:-]{8,100}$/;

interface ParsedReference {
  municipalityCode: string;
  ticketNumber: string;
  /** The dose digit of the OCR line, when the ticket was read by OCR. */
  doseDigit: number | null;
}

/** Misreads caught by the municipality code's check digit or by the OCR line's shape. */
function parseReference(errors: ErrorCollector, ref: TicketReference | undefined, path: string[]): ParsedReference | null {
  if (ref?.ocrLine) {
    const parsed = parseOcrLine(ref.ocrLine);
    if (!parsed.ok) {
      errors.add([...path, 'ocrLine'], parsed.reason === 'checkDigit' ? ErrorCode.INVALID_CHECK_DIGIT : parsed.part === 'doseDigit' ? ErrorCode.DOSE_DIGIT_MISMATCH : ErrorCode.INVALID_FORMAT, parsed.message);
      return null;
    }
    // Both readings of one ticket (the OCR line and the printed code and number) must agree.
    const { municipalityCode, ticketNumber } = parsed.value;
    const before = errors.errors.length;
    const given = [['municipalityCode', ref.municipalityCode, checkMunicipalityCode, municipalityCode], ['ticketNumber', ref.ticketNumber, checkTicketNumber, ticketNumber]] as const;
    for (const [field, value, check, read] of given) {
      const checked = value ? check(value) : null;
      if (checked && (!checked.ok || checked.value !== read)) errors.add([...path, field], ErrorCode.INVALID_FORMAT, 'does not match the OCR line: misread?');
    }
    return errors.errors.length > before ? null : { municipalityCode, ticketNumber, doseDigit: parsed.value.doseDigit };
  }
  if (!ref?.municipalityCode || !ref.ticketNumber) {
    const missing = ref?.municipalityCode ? 'ticketNumber' : ref?.ticketNumber ? 'municipalityCode' : 'ocrLine';
    errors.add([...path, missing], ErrorCode.REQUIRED, 'give the OCR line, or both municipalityCode and ticketNumber');
    return null;
  }
  const code = checkMunicipalityCode(ref.municipalityCode);
  if (!code.ok) errors.add([...path, 'municipalityCode'], identifierError(code.reason), code.message);
  const number = checkTicketNumber(ref.ticketNumber);
  if (!number.ok) errors.add([...path, 'ticketNumber'], ErrorCode.INVALID_FORMAT, number.message);
  return code.ok && number.ok ? { municipalityCode: code.value, ticketNumber: number.value, doseDigit: null } : null;
}

const digitMismatch = (path: string[], digit: number, series: string) =>
  InputError.of([...path, 'ocrLine'], ErrorCode.DOSE_DIGIT_MISMATCH, `the dose digit (${digit}) does not belong to this ticket's series (${series}): misread?`);

/** A ticket printed for dose N is used for dose N or a later one of its series: an earlier dose means a misread digit. */
function assertDoseAfterDigit(ref: ParsedReference, dose: CheckedDose): void {
  if (ref.doseDigit !== null && dose.doseNumber < ref.doseDigit) {
    throw InputError.of(['input', 'doseNumber'], ErrorCode.DOSE_DIGIT_MISMATCH, `dose ${dose.doseNumber} does not match the ticket's dose digit (${ref.doseDigit}): misread?`);
  }
}

/**
 * The doses already pending on an unregistered ticket are its history as far as anyone knows: a
 * dose number is pending once, and the dates follow the dose numbers, so that the doses can all
 * be matched once the ticket is registered.
 */
function checkPendingOrder(dose: CheckedDose, pending: { doseNumber: number; vaccinatedOn: string }[]): void {
  const field = (f: string) => ['input', f];
  if (pending.some((p) => p.doseNumber === dose.doseNumber)) {
    throw InputError.of(field('doseNumber'), ErrorCode.DUPLICATE_DOSE, `dose ${dose.doseNumber} on this ticket is already recorded pending registration`);
  }
  // Dose numbers pending may leave gaps (the doses between were given elsewhere): the nearest ones count.
  const byNumber = [...pending].sort((a, b) => a.doseNumber - b.doseNumber);
  const errors = new ErrorCollector();
  checkDateOrder(errors, dose, byNumber.filter((p) => p.doseNumber < dose.doseNumber).pop(), byNumber.find((p) => p.doseNumber > dose.doseNumber),
    field('vaccinatedOn'), ', recorded pending registration on this ticket');
  errors.throwIfAny();
}

const summaries = (found: TicketWithResident): DoseSummary[] =>
  found.resident.history.map((h) => ({ doseNumber: h.doseNumber, vaccinatedOn: h.vaccinatedOn, manufacturer: h.manufacturer ?? '' }));

/** Thrown inside the registering transaction when the request key was used before: roll back, answer the first result. */
class AlreadyRegistered extends Error {}

/**
 * The vaccination-site tablet: scan a ticket, register a dose, read the receipt back. This is
 * the ONE place where an account reaches another municipality's tenant (接種地 ≠ 住所地), and
 * only by exact ticket reference (municipality code + ticket number), never by search.
 */
/** Whether this site already registered a dose under this idempotency key. */
async function registeredBefore(db: EntityManager, accountId: string, key: string): Promise<boolean> {
  return (await db.query('SELECT 1 FROM tablet_registration WHERE account_id = $1 AND idempotency_key = $2', [accountId, key])).length > 0;
}

export class VaccinationService {

  private async knownMunicipality(ctx: Context, code: string, field: string[]): Promise<void> {
    if (!(await ctx.loaders.municipality.load(code))) throw InputError.of(field, ErrorCode.UNKNOWN_MUNICIPALITY, 'is not a municipality in the national list (misread?)');
  }

  async scan(ctx: Context, ref: TicketReference): Promise<TicketScan> {
    const siteCode = ownMunicipalityFor(ctx, 'scan', 'Ticket');
    /** The registered ticket read, once found. */
    let scanned: { municipalityCode: string; ticketId: string } | null = null;
    try {
      const errors = new ErrorCollector();
      const parsed = parseReference(errors, ref, ['ticket']);
      errors.throwIfAny();
      const { municipalityCode, ticketNumber, doseDigit } = parsed!;
      await this.knownMunicipality(ctx, municipalityCode, ['ticket', ref.ocrLine ? 'ocrLine' : 'municipalityCode']);
      // The scan answers what the site may do next: while registerDose would be refused (stopped
      // for the site's or the ticket's municipality), so is the scan, rather than say "register".
      await ctx.services.suspensions.assertAvailable(await ctx.session.manager(), PlatformFunction.TABLET_REGISTRATION, siteCode, municipalityCode);
      // The policy lets a site read one ticket of any municipality by exact reference: widen to that one.
      const found = await ctx.session.widen([municipalityCode], (tx) => ticketWithResident(tx, municipalityCode, ticketNumber, false));
      const base = { municipalityCode, ticketNumber };
      if (!found) {
        ctx.audit.note('ticket.scan.unregistered', municipalityCode, '-');
        await ctx.services.detector.unknownTicketScanned(ctx.actor!, ctx.sourceAddress);
        return {
          ...base, status: TicketScanStatus.NOT_REGISTERED, series: null, nextDoseNumber: null, doses: [],
          message: 'This ticket is not registered by its municipality yet. A dose registered now is kept pending registration (接種対象者登録待ち).',
        };
      }
      // Counted before the dose digit is checked: a refusal still tells the site the ticket exists.
      scanned = { municipalityCode, ticketId: found.ticketId };
      await ctx.services.detector.ticketScanned(ctx.actor!, ctx.sourceAddress);
      if (doseDigit !== null && !seriesCovers(found.series, doseDigit)) throw digitMismatch(['ticket'], doseDigit, found.series);
      const next = found.resident.history.length + 1;
      // Registration refuses a dose before the dose digit as a misread: the scan does not propose one.
      if (doseDigit !== null && doseDigit > next && seriesCovers(found.series, next)) {
        throw InputError.of(['ticket', 'ocrLine'], ErrorCode.DOSE_DIGIT_MISMATCH, `the dose digit (${doseDigit}) is for a later dose than this ticket's next one (${next}): misread?`);
      }
      ctx.audit.note('ticket.scan', municipalityCode, found.ticketId);
      const [status, message] = this.usability(found, next);
      return { ...base, status, message, series: found.series, nextDoseNumber: status === TicketScanStatus.VALID ? next : null, doses: summaries(found) };
    } catch (error) {
      if (!(error instanceof InputError)) throw error;
      // A misread is logged under the site's municipality, as the code it read may not exist; one
      // of a registered ticket under the ticket's, naming it, as a refused registration is.
      await keepWrite(ctx, await ctx.session.manager(), (db) => writeAudit(db, ctx, [{
        operation: 'ticket.scan.misread', municipalityCode: scanned?.municipalityCode ?? siteCode, targetIds: scanned ? [scanned.ticketId] : [], outcome: 'FAILURE',
      }]));
      const [first] = error.errors;
      throw badArgument(first.field, first.message, first.code);
    }
  }

  private usability(found: TicketWithResident, next: number): [TicketScanStatus, string] {
    if (found.resident.status === ResidentStatus.MOVED_OUT) return [TicketScanStatus.RESIDENT_MOVED_OUT, 'The holder has moved out of the issuing municipality: this ticket can no longer be used.'];
    if (found.resident.status === ResidentStatus.DECEASED) return [TicketScanStatus.RESIDENT_DECEASED, 'The holder is recorded as deceased: check the ticket.'];
    if (found.voidedOn) return [TicketScanStatus.VOID, `This ticket was voided on ${found.voidedOn}.`];
    const series = parseSeries(found.series);
    if (series && next < series.first) return [TicketScanStatus.NOT_IN_SERIES, `The next dose for this person is ${next}, which this ticket (series ${found.series}) does not cover.`];
    if (!seriesCovers(found.series, next)) return [TicketScanStatus.SERIES_COMPLETED, `Every dose of this ticket's series (${found.series}) is recorded.`];
    return [TicketScanStatus.VALID, `Valid: register dose ${next}.`];
  }

  async register(ctx: Context, input: RegisterDoseInput): Promise<DoseReceipt> {
    const siteCode = ownMunicipalityFor(ctx, 'register', 'VaccinationRecord');
    let ref: ParsedReference | null = null;
    /** Set once the ticket was looked up: its id, or null for a number its municipality has not registered. */
    let looked: { ticketId: string | null } | null = null;
    try {
      const errors = new ErrorCollector();
      ref = parseReference(errors, input.ticket, ['input', 'ticket']);
      const dose = checkDoseInput(errors, input, (f) => ['input', f]);
      if (!IDEMPOTENCY_KEY.test(input.idempotencyKey ?? '')) errors.add(['input', 'idempotencyKey'], ErrorCode.INVALID_FORMAT, 'must be 8 to 100 of A-Z a-z 0-9 . _ : -');
      errors.throwIfAny();
      const checked = ref!;
      const requestHash = createHash('sha256')
        .update(JSON.stringify([checked.municipalityCode, checked.ticketNumber, dose!.doseNumber, dose!.vaccinatedOn, dose!.vaccine.code, dose!.lotNumber,
          // Only when given, so that the keys of registrations sent before these fields existed still compare.
          ...(dose!.venue || dose!.doctorName ? [dose!.venue, dose!.doctorName] : [])]))
        .digest('base64url');
      try {
        const db = await ctx.session.manager();
        // Stopped if registration is suspended platform-wide, for the site's or for the resident's municipality.
        await ctx.services.suspensions.assertAvailable(db, PlatformFunction.TABLET_REGISTRATION, siteCode, checked.municipalityCode).catch(async (error) => {
          // A retry of a registration made before the stop writes nothing: it gets its first receipt,
          // or a site that lost the answer would take a recorded dose for one never made.
          if (!(error instanceof GraphQLError) || error.extensions.code !== 'FUNCTION_SUSPENDED') throw error;
          throw (await registeredBefore(db, ctx.actor!.accountId, input.idempotencyKey)) ? new AlreadyRegistered() : error;
        });
        // The record lands in the ticket's municipality: the one cross-tenant write the policy allows a site.
        const receipt = await ctx.session.widen([checked.municipalityCode], (tx) =>
          tx.transaction((inner) => this.registerIn(inner, ctx, siteCode, checked, dose!, input.idempotencyKey, requestHash, (ticketId) => (looked = { ticketId }))),
        );
        // A dose kept pending told the site what a NOT_REGISTERED scan would: it counts as one, or
        // registrations would probe ticket numbers unseen, filing a pending dose for every miss.
        // A retry answered from its first result tells nothing new and is not counted again.
        if (receipt.status === RegistrationStatus.PENDING_REGISTRATION) await ctx.services.detector.unknownTicketScanned(ctx.actor!, ctx.sourceAddress);
        return receipt;
      } catch (error) {
        if (error instanceof AlreadyRegistered) return await this.replay(ctx, input.idempotencyKey, requestHash);
        throw error;
      }
    } catch (error) {
      // Refused registrations are logged too: repeated misreads at one site are worth seeing. As a
      // scan, one refused before its ticket was looked up is logged under the site's municipality
      // (the code it read may be none, or no ticket of it was reached); after, under the ticket's.
      if (error instanceof InputError) {
        const lookup = looked as { ticketId: string | null } | null;
        const ticketId = lookup?.ticketId ?? null;
        const municipalityCode = lookup ? ref!.municipalityCode : siteCode;
        await keepWrite(ctx, await ctx.session.manager(), (db) =>
          writeAudit(db, ctx, [{ operation: 'vaccination.register', municipalityCode, targetIds: [ticketId ?? '-'], outcome: 'FAILURE' }]));
        // A refused registration told the site what a scan would have: it counts as one, or
        // registrations that fail on purpose would sweep tickets unseen by the scan limits.
        if (lookup) {
          if (ticketId) await ctx.services.detector.ticketScanned(ctx.actor!, ctx.sourceAddress);
          else await ctx.services.detector.unknownTicketScanned(ctx.actor!, ctx.sourceAddress);
        }
      }
      throw error;
    }
  }

  private async registerIn(
    tx: EntityManager, ctx: Context, siteCode: string, ref: ParsedReference, dose: CheckedDose, key: string, requestHash: string, noteLookup: (ticketId: string | null) => void,
  ): Promise<DoseReceipt> {
    const accountId = ctx.actor!.accountId;
    // Locks the resident: doses of one person are written one at a time, and a concurrent retry
    // with the same key waits here and then finds the claim below taken.
    let found = await ticketWithResident(tx, ref.municipalityCode, ref.ticketNumber, true);
    if (!found) {
      // A retry of a registration kept pending gets its first receipt, whatever its municipality is doing now.
      if (await registeredBefore(tx, accountId, key)) throw new AlreadyRegistered();
      // Not issued, or issued by a transaction that has not committed yet: then ask for a retry.
      if (!(await tryShareRegistryLock(tx, ref.municipalityCode))) {
        throw InputError.of(['input', 'ticket'], ErrorCode.INVALID_STATE, 'its municipality is registering tickets right now: register the dose again in a minute');
      }
      found = await ticketWithResident(tx, ref.municipalityCode, ref.ticketNumber, true);
    }
    if (found) noteLookup(found.ticketId);
    const receiptId = randomUUID();
    const targetId = randomUUID();
    const claimed = await tx.query(prepared(
      `INSERT INTO tablet_registration (account_id, idempotency_key, id, request_hash, municipality_code, vaccination_record_id, pending_dose_id)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id, idempotency_key) DO NOTHING RETURNING id`),
      [accountId, key, receiptId, requestHash, ref.municipalityCode, found ? targetId : null, found ? null : targetId],
    );
    if (claimed.length === 0) throw new AlreadyRegistered();

    const errors = new ErrorCollector();
    const path = (f: string) => ['input', f];
    if (!found) {
      await this.knownMunicipality(ctx, ref.municipalityCode, ['input', 'ticket', ref.doseDigit !== null ? 'ocrLine' : 'municipalityCode']);
      // An unknown ticket of a real municipality, as a scan would count it (a misread code is no ticket at all).
      noteLookup(null);
      assertDoseAfterDigit(ref, dose);
      // No resident row to lock: serialise doses on this unregistered ticket number instead.
      await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`pending:${ref.municipalityCode}:${ref.ticketNumber}`]);
      checkPendingOrder(dose, await tx.query(
        `SELECT dose_number AS "doseNumber", to_char(vaccinated_on, 'YYYY-MM-DD') AS "vaccinatedOn" FROM pending_dose
         WHERE municipality_code = $1 AND ticket_number = $2 AND status = 'PENDING'`,
        [ref.municipalityCode, ref.ticketNumber],
      ));
      const createdAt: Date = (await tx.query(
        `INSERT INTO pending_dose (municipality_code, id, ticket_number, dose_number, vaccinated_on, vaccine_code, manufacturer, product,
           lot_number, venue, doctor_name, site_municipality_code, recorded_by, idempotency_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14) RETURNING created_at`,
        [ref.municipalityCode, targetId, ref.ticketNumber, dose.doseNumber, dose.vaccinatedOn, dose.vaccine.code, dose.vaccine.manufacturer,
          dose.vaccine.product, dose.lotNumber, dose.venue, dose.doctorName, siteCode, accountId, key],
      ))[0].created_at;
      await writeAudit(tx, ctx, [{ operation: 'vaccination.register.pending', municipalityCode: ref.municipalityCode, targetIds: [targetId], outcome: 'SUCCESS' }]);
      return this.receipt(receiptId, RegistrationStatus.PENDING_REGISTRATION, ref, dose, siteCode, createdAt);
    }

    if (ref.doseDigit !== null && !seriesCovers(found.series, ref.doseDigit)) throw digitMismatch(['input', 'ticket'], ref.doseDigit, found.series);
    assertDoseAfterDigit(ref, dose);
    if (found.voidedOn && found.resident.status === ResidentStatus.ACTIVE) {
      errors.add(['input', 'ticket'], ErrorCode.TICKET_VOID, `this ticket was voided on ${found.voidedOn}`);
    }
    checkDoseHistory(errors, found.resident, found.resident.history, dose, path, { series: found.series, requireActive: true, birthDateHidden: true });
    for (const e of errors.errors) if (e.field[0] === 'ticket') e.field = ['input', 'ticket'];
    errors.throwIfAny();

    const createdAt = await insertRecord(tx, {
      municipalityCode: ref.municipalityCode, id: targetId, residentId: found.resident.id, ticketId: found.ticketId, dose,
      siteMunicipalityCode: siteCode, source: 'TABLET', recordedBy: accountId, idempotencyKey: key,
    });
    await writeAudit(tx, ctx, [{ operation: 'vaccination.register', municipalityCode: ref.municipalityCode, targetIds: [targetId], outcome: 'SUCCESS' }]);
    return this.receipt(receiptId, RegistrationStatus.RECORDED, ref, dose, siteCode, createdAt);
  }

  /**
   * `unmatched`: the dose waits although its ticket has been issued since, as it broke a dose rule
   * for the holder. The site is told it waits for the municipality, never which rule (a date
   * before the birth date would tell it the birth date).
   */
  private receipt(
    id: string, status: RegistrationStatus, ref: { municipalityCode: string; ticketNumber: string }, dose: CheckedDose, siteCode: string, at: Date, unmatched = false,
  ): DoseReceipt {
    return {
      id,
      status,
      message: status === RegistrationStatus.RECORDED ? 'Recorded.'
        : unmatched ? 'Recorded pending registration (接種対象者登録待ち): the ticket is registered now, but the dose could not be matched to its holder; it is kept pending for the municipality to resolve.'
        : 'Recorded pending registration (接種対象者登録待ち): the ticket is not registered by its municipality yet; the dose will be matched when it is.',
      municipalityCode: ref.municipalityCode,
      ticketNumber: ref.ticketNumber,
      doseNumber: dose.doseNumber,
      vaccinatedOn: dose.vaccinatedOn,
      vaccineCode: dose.vaccine.code,
      manufacturer: dose.vaccine.manufacturer,
      product: dose.vaccine.product,
      lotNumber: dose.lotNumber,
      venue: dose.venue,
      doctorName: dose.doctorName,
      siteMunicipalityCode: siteCode,
      registeredAt: at,
    };
  }

  /** The first result for a request key, or an error if the key came with a different dose. */
  private async replay(ctx: Context, key: string, requestHash: string): Promise<DoseReceipt> {
    const found = await this.readReceipt(ctx, { key });
    // The dose it registered is gone: its municipality entered the record in error, or dismissed the pending dose.
    if (!found) throw InputError.of(['input', 'idempotencyKey'], ErrorCode.IDEMPOTENCY_KEY_REUSED, 'was already used for a dose its municipality has since removed: use a new key per dose');
    if (found.requestHash !== requestHash) {
      throw InputError.of(['input', 'idempotencyKey'], ErrorCode.IDEMPOTENCY_KEY_REUSED, 'was already used for a different dose: use a new key per dose');
    }
    ctx.audit.note('vaccination.receipt.read', found.receipt.municipalityCode, found.receipt.id);
    return found.receipt;
  }

  /** The tablet reads back its own receipt by the id it got, and nothing else. */
  async receiptById(ctx: Context, id: string): Promise<DoseReceipt | null> {
    if (!isUuid(id)) return null;
    const found = await this.readReceipt(ctx, { id });
    if (found) ctx.audit.note('vaccination.receipt.read', found.receipt.municipalityCode, id);
    return found?.receipt ?? null;
  }

  private async readReceipt(ctx: Context, by: { id?: string; key?: string }): Promise<{ receipt: DoseReceipt; requestHash: string } | null> {
    const accountId = ctx.actor?.accountId;
    // Own registrations only: the policy grants a site 'read' on records it recorded, nothing more.
    const own: Record<string, unknown> = { recordedBy: accountId };
    if (!accountId || !ctx.ability.can('read', subject('VaccinationRecord', own))) return null;
    const db = await ctx.session.manager();
    const [registration]: { municipality_code: string }[] = await db.query(
      `SELECT municipality_code FROM tablet_registration WHERE account_id = $1 AND ${by.id ? 'id = $2' : 'idempotency_key = $2'}`,
      [accountId, by.id ?? by.key],
    );
    if (!registration) return null;
    // A receipt is read from the municipality the dose landed in, and only the caller's own.
    const rows = await ctx.session.widen([registration.municipality_code], (tx) => tx.query(
      `SELECT g.id, g.request_hash, g.municipality_code, g.created_at, (p.status = 'PENDING') AS waiting,
              -- Issued since (every issuance tries the match), and not deleted with the resident it went to: the
              -- problem that match left is no answer once the number waits for a ticket again.
              EXISTS (SELECT FROM ticket i WHERE i.municipality_code = p.municipality_code AND i.ticket_number = p.ticket_number) AS unmatched,
              -- Corrections replace a record with another: the dose stands while the last of them is not entered in error.
              (v.id IS NOT NULL AND (
                WITH RECURSIVE chain AS (
                  SELECT c.status, c.superseded_by FROM vaccination_record c WHERE c.municipality_code = v.municipality_code AND c.id = v.id
                  UNION ALL
                  SELECT n.status, n.superseded_by FROM chain
                  JOIN vaccination_record n ON n.municipality_code = v.municipality_code AND n.id = chain.superseded_by
                ) SELECT status <> 'ENTERED_IN_ERROR' FROM chain WHERE superseded_by IS NULL)) AS recorded,
              coalesce(t.ticket_number, p.ticket_number) AS ticket_number,
              coalesce(v.dose_number, p.dose_number) AS dose_number,
              to_char(coalesce(v.vaccinated_on, p.vaccinated_on), 'YYYY-MM-DD') AS vaccinated_on,
              coalesce(v.vaccine_code, p.vaccine_code) AS vaccine_code, coalesce(v.lot_number, p.lot_number) AS lot_number,
              CASE WHEN v.id IS NULL THEN p.venue ELSE v.venue END AS venue, CASE WHEN v.id IS NULL THEN p.doctor_name ELSE v.doctor_name END AS doctor_name,
              coalesce(v.site_municipality_code, p.site_municipality_code) AS site_municipality_code
       FROM tablet_registration g
       LEFT JOIN pending_dose p ON p.municipality_code = g.municipality_code AND p.id = g.pending_dose_id AND p.recorded_by = g.account_id
       -- The record registered, or the one its pending dose was matched to. Under row-level security only a leakproof
       -- condition reaches the index: CASE is one, coalesce() is not, and with it every record of the municipality was read.
       LEFT JOIN vaccination_record v ON v.municipality_code = g.municipality_code AND v.recorded_by = g.account_id
            AND v.id = CASE WHEN g.vaccination_record_id IS NULL THEN p.vaccination_record_id ELSE g.vaccination_record_id END
       LEFT JOIN ticket t ON t.municipality_code = v.municipality_code AND t.id = v.ticket_id
       WHERE g.account_id = $1 AND ${by.id ? 'g.id = $2' : 'g.idempotency_key = $2'}`,
      [accountId, by.id ?? by.key],
    ));
    const [r] = rows;
    // Neither recorded nor waiting: its municipality entered the record in error (also one matched
    // from a pending dose, or the correction that replaced it) or dismissed the pending dose, and
    // nothing will match it any more. A corrected record still reads as registered, as it was sent.
    if (!r || !(r.recorded || r.waiting) || r.ticket_number === null) return null;
    const vaccine = vaccineByCode(r.vaccine_code)!;
    const dose: CheckedDose = { doseNumber: r.dose_number, vaccinatedOn: r.vaccinated_on, vaccine, lotNumber: r.lot_number, venue: r.venue, doctorName: r.doctor_name };
    const status = r.recorded ? RegistrationStatus.RECORDED : RegistrationStatus.PENDING_REGISTRATION;
    const ticket = { municipalityCode: r.municipality_code, ticketNumber: r.ticket_number };
    return { requestHash: r.request_hash, receipt: this.receipt(r.id, status, ticket, dose, r.site_municipality_code, r.created_at, r.unmatched === true) };
  }
}
