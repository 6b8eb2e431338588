import { GraphQLError } from 'graphql';
import { Context } from '../context';
import { badArgument, ErrorCode, forbidden, identifierError } from '../errors';
import { EligibilityStatus, TicketEligibility } from '../resolvers/integrator.types';
import { isIsoDate } from '../validation/dates';
import { earliestDate, Interval, parseDoseIntervals } from '../validation/dose-intervals';
import { checkMunicipalityCode, normaliseDigits } from '../validation/identifiers';
import { checkTicketNumber, parseSeries, seriesCovers } from '../validation/tickets';


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
    const born = normaliseDigits(birthDate);
    if (!isIsoDate(born)) throw badArgument(['birthDate'], 'must be a real date written YYYY-MM-DD', ErrorCode.INVALID_DATE);

    // Birth dates cannot be guessed: after a few misses on one ticket, even the right one finds nothing for a while.
    const ticket = `${code.value}:${number.value}`;
    const place = await ctx.services.detector.eligibilityCheckStarted(ctx.actor!, ticket);
    if (place === null) {
      ctx.audit.note('eligibility.check.blocked', code.value, '-');
      await ctx.services.detector.eligibilityMissed(ctx.actor!, ctx.sourceAddress, code.value, null);
      return NOT_FOUND;
    }
    type Row = { ticket_id: string; series: string; voided: boolean; status: string; doses: number; last_on: string | null };
    // Widened to the one municipality asked about; the contract join below still decides whether anything is found.
    const rows: Row[] = await ctx.session.widen([code.value], (tx) => tx.query(
      `SELECT t.id AS ticket_id, t.series, t.voided_on IS NOT NULL AS voided, r.status,
              (SELECT count(*)::int FROM vaccination_record v WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED') AS doses,
              (SELECT to_char(max(v.vaccinated_on), 'YYYY-MM-DD') FROM vaccination_record v
                WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED') AS last_on
       FROM integrator_contract c
       JOIN ticket t ON t.municipality_code = c.municipality_code AND t.ticket_number = $3
       JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id AND r.birth_date = $4::date
       WHERE c.integrator_account_id = $1 AND c.municipality_code = $2`,
      [accountId, code.value, number.value, born],
    ));
    const row = rows[0];
    ctx.audit.note(row ? 'eligibility.check' : 'eligibility.check.notFound', code.value, row?.ticket_id ?? '-');
    if (!row) {
      await ctx.services.detector.eligibilityMissed(ctx.actor!, ctx.sourceAddress, code.value, place);
      return NOT_FOUND;
    }
    await ctx.services.detector.eligibilityFound(ctx.actor!, ticket);
    // A reservation system tells a person who moved away to get the new municipality's ticket; a death is not its business.
    if (row.status === 'MOVED_OUT') return { status: EligibilityStatus.MOVED_OUT, nextDoseNumber: null, nextDoseAllowedFrom: null };
    if (row.voided || row.status !== 'ACTIVE') return { status: EligibilityStatus.VOID, nextDoseNumber: null, nextDoseAllowedFrom: null };
    const next = row.doses + 1;
    // A ticket for a later dose than the person is due for cannot book anything yet.
    if (next < (parseSeries(row.series)?.first ?? 1)) return { status: EligibilityStatus.VOID, nextDoseNumber: null, nextDoseAllowedFrom: null };
    if (!seriesCovers(row.series, next)) return { status: EligibilityStatus.COMPLETED, nextDoseNumber: null, nextDoseAllowedFrom: null };
    return { status: EligibilityStatus.VALID, nextDoseNumber: next, nextDoseAllowedFrom: row.last_on ? earliestDate(this.intervals, next, row.last_on) : null };
  }
}
