import DataLoader from 'dataloader';
import { GraphQLError } from 'graphql';
import { Context, keepWrite } from '../context';
import { badArgument, ErrorCode, forbidden, identifierError } from '../errors';
import { EligibilityStatus, TicketEligibility } from '../resolvers/integrator.types';
import { isIsoDate, normaliseDate } from '../validation/dates';
import { earliestDate, Interval, parseDoseIntervals } from '../validation/dose-intervals';
import { checkMunicipalityCode } from '../validation/identifiers';
import { checkTicketNumber, parseSeries, seriesCovers } from '../validation/tickets';
import { writeAudit } from './audit.service';


/** One check as asked (an alias of the request). */
interface Question { municipalityCode: string; ticketNumber: string; birthDate: string }
/** A check counted and ready to be looked up; `born` is null once its ticket is blocked, `place` its place among the ticket's misses. */
interface Started { municipalityCode: string; ticketNumber: string; born: string | null; ticket: string; place: number | null }

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

  /** The checks of each request: its aliases are answered together, with one look-up of all their tickets. */
  private readonly batches = new WeakMap<Context, DataLoader<Question, TicketEligibility>>();

  check(ctx: Context, municipalityCode: string, ticketNumber: string, birthDate: string): Promise<TicketEligibility> {
    let batch = this.batches.get(ctx);
    if (!batch) {
      // Not cached: the same ticket asked twice is two checks, each counted.
      batch = new DataLoader((questions) => this.answer(ctx, questions), { cache: false });
      this.batches.set(ctx, batch);
    }
    return batch.load({ municipalityCode, ticketNumber, birthDate });
  }

  /** Each check counted as before, one by one; the tickets looked up in one statement; each answered or refused on its own. */
  private async answer(ctx: Context, questions: readonly Question[]): Promise<(TicketEligibility | Error)[]> {
    const started = await Promise.all(questions.map((q) => this.start(ctx, q).catch((error: Error) => error)));
    const rows = await this.lookUp(ctx, started.filter((s): s is Started => !(s instanceof Error)));
    return Promise.all(started.map((s) => (s instanceof Error ? s : this.finish(ctx, s, rows.get(s)).catch((error: Error) => error))));
  }

  private async start(ctx: Context, { municipalityCode, ticketNumber, birthDate }: Question): Promise<Started> {
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
    return { municipalityCode: code.value, ticketNumber: number.value, born: place === null ? null : born, ticket, place };
  }

  private async finish(ctx: Context, { municipalityCode, ticket, place }: Started, row: Row | undefined): Promise<TicketEligibility> {
    const ticketId = row?.ticket_id ?? '-';
    if (place === null) {
      // Refused whatever the birth date, as a locked account is: DENIED, kept should the request be rolled back.
      await keepWrite(ctx, await ctx.session.manager(), (db) => writeAudit(db, ctx, [{
        operation: 'eligibility.check.blocked', municipalityCode, targetIds: [ticketId], outcome: 'DENIED',
      }]));
      await ctx.services.detector.eligibilityMissed(ctx.actor!, ctx.sourceAddress, municipalityCode, null, null);
      return NOT_FOUND;
    }
    const found = row?.matched ? row : null;
    ctx.audit.note(found ? 'eligibility.check' : 'eligibility.check.notFound', municipalityCode, ticketId);
    if (!found) {
      await ctx.services.detector.eligibilityMissed(ctx.actor!, ctx.sourceAddress, municipalityCode, row?.ticket_id ?? null, place);
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
   * For each check, the ticket of that number in that municipality, if it contracted the
   * integrator, and whether `born` is its resident's birth date; a null `born` compares nothing
   * (= NULL is never true). One statement for every check of the request.
   */
  private async lookUp(ctx: Context, checks: Started[]): Promise<Map<Started, Row>> {
    if (checks.length === 0) return new Map();
    // Widened to the municipalities asked about; the contract join below still decides whether anything is found.
    const rows: (Row & { i: string })[] = await ctx.session.widen(checks.map((c) => c.municipalityCode), (tx) => tx.query(
      `SELECT q.i, x.* FROM unnest($2::char(6)[], $3::char(10)[], $4::date[]) WITH ORDINALITY AS q(municipality_code, ticket_number, born, i)
       CROSS JOIN LATERAL (
         SELECT t.id AS ticket_id, r.id IS NOT NULL AS matched, t.series, t.voided_on IS NOT NULL AS voided, r.status,
                (SELECT count(*)::int FROM vaccination_record v WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED') AS doses,
                (SELECT to_char(max(v.vaccinated_on), 'YYYY-MM-DD') FROM vaccination_record v
                  WHERE v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED') AS last_on
         FROM integrator_contract c
         JOIN ticket t ON t.municipality_code = c.municipality_code AND t.ticket_number = q.ticket_number
         LEFT JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id AND r.birth_date = q.born
         WHERE c.integrator_account_id = $1 AND c.municipality_code = q.municipality_code
       ) x`,
      [ctx.actor!.accountId, checks.map((c) => c.municipalityCode), checks.map((c) => c.ticketNumber), checks.map((c) => c.born)],
    ));
    return new Map(rows.map((row) => [checks[Number(row.i) - 1], row]));
  }
}
