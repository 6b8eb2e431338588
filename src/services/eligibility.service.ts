import { GraphQLError } from 'graphql';
import { Context, keepWrite } from '../context';
import { badArgument, ErrorCode, forbidden, identifierError } from '../errors';
import { EligibilityStatus, TicketEligibility } from '../resolvers/integrator.types';
import { isIsoDate, normaliseDate } from '../validation/dates';
import { earliestDate, Interval, parseDoseIntervals } from '../validation/dose-intervals';
import { checkMunicipalityCode } from '../validation/identifiers';
import { checkTicketNumber, parseSeries, seriesCovers } from '../validation/tickets';
import { writeAudit } from './audit.service';


type Row = { ticket_id: string; matched: boolean; series: string; voided: boolean; status: string; doses: number; last_on: string | null };

const NOT_FOUND: TicketEligibility = { status: EligibilityStatus.NOT_FOUND, nextDoseNumber: null, nextDoseAllowedFrom: null };

/**
 * Ticket eligibility for reservation-system integrators (DESIGN.md §1). Ticket number AND birth
 * date must match, in a municipality that contracted the caller; every other case, including
 * a wrong birth date or a municipality without a contract, is the same NOT_FOUND, from the
 * same single query.
 */
export class EligibilityService {
  private readonly requestsPerMinute: number;
  private readonly intervals: Interval[];

  constructor(options: { requestsPerMinute?: number; doseIntervals?: string } = {}) {
    this.requestsPerMinute = options.requestsPerMinute ?? 120;
    this.intervals = parseDoseIntervals(options.doseIntervals);
  }

  async check(ctx: Context, municipalityCode: string, ticketNumber: string, birthDate: string): Promise<TicketEligibility> {
    const accountId = ctx.actor?.accountId;
    if (!accountId || !ctx.ability.can('check', 'Eligibility')) {
      throw forbidden();
    }
    if (!(await ctx.services.detector.withinRate(`eligibility:${accountId}`, this.requestsPerMinute))) {
      throw new GraphQLError('Too many eligibility checks: slow down and retry in a few seconds', { extensions: { code: 'RATE_LIMITED' } });
    }
    const code = checkMunicipalityCode(municipalityCode);
    if (!code.ok) throw badArgument(['municipalityCode'], code.message, identifierError(code.reason));
    const number = checkTicketNumber(ticketNumber);
    if (!number.ok) throw badArgument(['ticketNumber'], number.message, ErrorCode.INVALID_FORMAT);
    const born = normaliseDate(birthDate);
    if (!isIsoDate(born)) throw badArgument(['birthDate'], 'must be a real date written YYYY-MM-DD', ErrorCode.INVALID_DATE);

    // Birth dates cannot be guessed: after a few misses on one ticket, even the right one finds nothing for a while.
    const ticket = `${code.value}:${number.value}`;
    const place = await ctx.services.detector.eligibilityCheckStarted(ctx.actor!, ticket);
    // A blocked check still looks the ticket up, without its birth date, so that the log names the ticket guessed at.
    const row = await this.lookUp(ctx, accountId, code.value, number.value, place === null ? null : born);
    const ticketId = row?.ticket_id ?? '-';
    if (place === null) {
      // Refused whatever the birth date, as a locked account is: DENIED, kept should the request be rolled back.
      await keepWrite(ctx, await ctx.session.manager(), (db) => writeAudit(db, ctx, [{
        operation: 'eligibility.check.blocked', municipalityCode: code.value, targetIds: [ticketId], outcome: 'DENIED',
      }]));
      await ctx.services.detector.eligibilityMissed(ctx.actor!, ctx.sourceAddress, code.value, null, null);
      return NOT_FOUND;
    }
    const found = row?.matched ? row : null;
    ctx.audit.note(found ? 'eligibility.check' : 'eligibility.check.notFound', code.value, ticketId);
    if (!found) {
      await ctx.services.detector.eligibilityMissed(ctx.actor!, ctx.sourceAddress, code.value, row?.ticket_id ?? null, place);
      return NOT_FOUND;
    }
    await ctx.services.detector.eligibilityFound(ctx.actor!, ticket);
    // A reservation system tells a person who moved away to get the new municipality's ticket; a death is not its business.
    if (found.status === 'MOVED_OUT') return { status: EligibilityStatus.MOVED_OUT, nextDoseNumber: null, nextDoseAllowedFrom: null };
    if (found.voided || found.status !== 'ACTIVE') return { status: EligibilityStatus.VOID, nextDoseNumber: null, nextDoseAllowedFrom: null };
    const next = found.doses + 1;
    // A ticket for a later dose than the person is due for cannot book anything yet.
    if (next < (parseSeries(found.series)?.first ?? 1)) return { status: EligibilityStatus.VOID, nextDoseNumber: null, nextDoseAllowedFrom: null };
    if (!seriesCovers(found.series, next)) return { status: EligibilityStatus.COMPLETED, nextDoseNumber: null, nextDoseAllowedFrom: null };
    return { status: EligibilityStatus.VALID, nextDoseNumber: next, nextDoseAllowedFrom: found.last_on ? earliestDate(this.intervals, next, found.last_on) : null };
  }

  /**
   * The ticket of that number in that municipality, if it contracted the integrator, and whether
   * `born` is its resident's birth date; a null `born` compares nothing (= NULL is never true).
   */
  private async lookUp(ctx: Context, accountId: string, municipalityCode: string, ticketNumber: string, born: string | null): Promise<Row | undefined> {
    // Widened to the one municipality asked about; the contract join below still decides whether anything is found.
    const rows: Row[] = await ctx.session.widen([municipalityCode], (tx) => tx.query(
      `SELECT t.id AS ticket_id, r.id IS NOT NULL AS matched, t.series, t.voided_on IS NOT NULL AS voided, r.status,
              (SELECT count(*)::int FROM vaccination_record v WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED') AS doses,
              (SELECT to_char(max(v.vaccinated_on), 'YYYY-MM-DD') FROM vaccination_record v
                WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED') AS last_on
       FROM integrator_contract c
       JOIN ticket t ON t.municipality_code = c.municipality_code AND t.ticket_number = $3
       LEFT JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id AND r.birth_date = $4::date
       WHERE c.integrator_account_id = $1 AND c.municipality_code = $2`,
      [accountId, municipalityCode, ticketNumber, born],
    ));
    return rows[0];
  }
}
