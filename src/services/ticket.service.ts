import { randomInt, randomUUID } from 'node:crypto';
import { EntityManager } from 'typeorm';
import { Context } from '../context';
import { applyCursor, encodeCursor } from '../resolvers/cursor';
import { Ticket } from '../entities/ticket.entity';
import { badArgument, checkPageSize, ErrorCode, ErrorCollector, InputError, notFoundOrNoAccess } from '../errors';
import { applyScope, ownMunicipalityFor, scopeOf } from '../policies/scope';
import { MAX_PAGE } from '../resolvers/resident.types';
import { IssueTicketsInput, MAX_EXPLICIT_TICKETS, TicketConnection, TicketFilter } from '../resolvers/ticket.types';
import { FIRST_VACCINATION_DAY, isFuture, isIsoDate, normaliseDate, todayInJapan } from '../validation/dates';
import { isUuid } from '../validation/identifiers';
import { checkReason } from '../validation/reasons';
import { checkIssuedSeries, checkTicketNumber } from '../validation/tickets';
import { tryLockRegistry } from '../db/registry-lock';
import { AuditSource, auditSourceParams, loggedInBatches, writeAudit } from './audit.service';
import { PendingDoseService } from './pending-dose.service';


/** Issuance holds the registry lock, so a site never files a pending dose beside it unseen. */
async function lockIssuance(tx: EntityManager, municipalityCode: string): Promise<void> {
  if (!(await tryLockRegistry(tx, municipalityCode))) {
    throw InputError.of(['input'], ErrorCode.INVALID_STATE, 'tickets of this municipality are being imported or issued right now: issue these once that has finished');
  }
}

/** A 10-digit number; the unique key and the pending-dose check below keep it unambiguous. */
const randomTicketNumber = () => String(randomInt(0, 1e10)).padStart(10, '0');

/**
 * Voids a resident's open tickets when they move out or die. Runs inside the caller's
 * transaction (ResidentService.markMovedOut / markDeceased) so the two commit together.
 */
export async function voidOpenTickets(tx: EntityManager, source: AuditSource, municipalityCode: string, residentId: string, reason: string): Promise<string[]> {
  const [rows] = await tx.query(
    `UPDATE ticket SET voided_on = $3, void_reason = $4
     WHERE municipality_code = $1 AND resident_id = $2 AND voided_on IS NULL RETURNING id`,
    [municipalityCode, residentId, todayInJapan(), reason],
  );
  const ids = (rows as { id: string }[]).map((r) => r.id);
  if (ids.length) await writeAudit(tx, source, [{ operation: 'ticket.void', municipalityCode, targetIds: ids, outcome: 'SUCCESS' }]);
  return ids;
}

export class TicketService {
  constructor(private readonly pending: PendingDoseService) {}

  async list(ctx: Context, filter: TicketFilter = {}, first = 50, after?: string | null): Promise<TicketConnection> {
    checkPageSize(first, MAX_PAGE);
    const scope = scopeOf(ctx.ability, 'read', 'Ticket');
    // A resident id of no shape the API hands out could match no ticket: refused, not answered with an empty list.
    if (filter.residentId != null && !isUuid(filter.residentId)) {
      throw badArgument(['filter', 'residentId'], 'must be a resident id as the API hands them out (a UUID)', ErrorCode.INVALID_FORMAT);
    }
    // Nor could a series issuance refuses (every ticket's series passed that check); an empty one is no missing filter either.
    if (filter.series?.trim() === '') throw badArgument(['filter', 'series'], 'must not be empty', ErrorCode.REQUIRED);
    const series = filter.series == null ? null : checkIssuedSeries(filter.series);
    if (series && !series.ok) throw badArgument(['filter', 'series'], series.message, ErrorCode.INVALID_SERIES);
    if (!scope) return { nodes: [], pageInfo: { hasNextPage: false, endCursor: null } };
    const query = applyScope((await ctx.session.manager()).getRepository(Ticket).createQueryBuilder('t'), scope);
    if (filter.residentId != null) {
      query.andWhere('t.residentId = :residentId', { residentId: filter.residentId });
    }
    if (series?.ok) query.andWhere('t.series = :series', { series: series.value });
    if (filter.open === true) query.andWhere('t.voided_on IS NULL');
    if (filter.open === false) query.andWhere('t.voided_on IS NOT NULL');
    if (after != null) applyCursor(query, scope, 'ticket_number', after);
    const rows = await query.orderBy('t.municipality_code').addOrderBy('t.ticket_number').limit(first + 1).getMany();
    const nodes = rows.slice(0, first);
    for (const t of nodes) ctx.audit.note('ticket.read', t.municipalityCode, t.id);
    return { nodes, pageInfo: { hasNextPage: rows.length > first, endCursor: nodes.length ? encodeCursor([nodes[nodes.length - 1].municipalityCode, nodes[nodes.length - 1].ticketNumber]) : null } };
  }

  /** A resident's tickets, through the request's loader. */
  async ofResident(ctx: Context, residentId: string): Promise<Ticket[]> {
    const tickets = await ctx.loaders.ticketsByResident.load(residentId);
    for (const t of tickets) ctx.audit.note('ticket.read', t.municipalityCode, t.id);
    return tickets;
  }

  /** A ticket of the caller's own municipality by its number; another's is simply not found. */
  async byNumber(ctx: Context, ticketNumber: string): Promise<Ticket | null> {
    const checked = checkTicketNumber(ticketNumber);
    if (!checked.ok) {
      throw badArgument(['ticketNumber'], checked.message, ErrorCode.INVALID_FORMAT);
    }
    const scope = scopeOf(ctx.ability, 'read', 'Ticket');
    if (!scope) return null;
    const ticket = await applyScope((await ctx.session.manager()).getRepository(Ticket).createQueryBuilder('t'), scope)
      .andWhere('t.ticketNumber = :n', { n: checked.value }).getOne();
    if (ticket) ctx.audit.note('ticket.read', ticket.municipalityCode, ticket.id);
    return ticket;
  }

  async issue(ctx: Context, input: IssueTicketsInput): Promise<{ issuedCount: number; tickets: Ticket[] | null; matchedPendingDoses: number }> {
    const municipalityCode = ownMunicipalityFor(ctx, 'create', 'Ticket');
    const errors = new ErrorCollector();
    const checked = checkIssuedSeries(input.series ?? '');
    const series = checked.ok ? checked.value : null;
    if (!checked.ok) errors.add(['input', 'series'], ErrorCode.INVALID_SERIES, checked.message);
    // Only a date left out is today: one given empty is refused like any other that is no date.
    const issuedOn = input.issuedOn != null ? normaliseDate(input.issuedOn) : todayInJapan();
    const before = errors.errors.length;
    if (!isIsoDate(issuedOn)) errors.add(['input', 'issuedOn'], ErrorCode.INVALID_DATE, 'must be a real date written YYYY-MM-DD');
    else if (isFuture(issuedOn)) errors.add(['input', 'issuedOn'], ErrorCode.DATE_IN_FUTURE, 'must not be in the future');
    else if (issuedOn < FIRST_VACCINATION_DAY) errors.add(['input', 'issuedOn'], ErrorCode.INVALID_DATE, `must not be before ${FIRST_VACCINATION_DAY}, when vaccination began`);
    const dateOk = errors.errors.length === before;
    const explicit = input.tickets ?? null;
    if (explicit && input.allActiveResidents) {
      errors.add(['input', 'tickets'], ErrorCode.INVALID_FORMAT, 'give a list of tickets or allActiveResidents: true, not both');
    } else if (!explicit && !input.allActiveResidents) {
      errors.add(['input', 'tickets'], ErrorCode.REQUIRED, 'give a list of tickets or allActiveResidents: true');
    } else if (explicit && (explicit.length === 0 || explicit.length > MAX_EXPLICIT_TICKETS)) {
      errors.add(['input', 'tickets'], ErrorCode.INVALID_FORMAT, `must hold 1 to ${MAX_EXPLICIT_TICKETS} tickets`);
    } else if (explicit) {
      // The entries are checked beside a bad series or date, so one answer names every problem of the list.
      return this.issueList(ctx, municipalityCode, errors, series, dateOk ? issuedOn : null, explicit);
    }
    errors.throwIfAny();
    return this.issueToAll(ctx, municipalityCode, series!, issuedOn);
  }

  /**
   * Every active resident born by `issuedOn` without an open ticket of the series, numbers drawn in
   * SQL; one born later is not eligible yet and is skipped like one moved out. The
   * operation log names every ticket issued (up to AUDIT_BATCH an event), then the total.
   */
  private async issueToAll(ctx: Context, municipalityCode: string, series: string, issuedOn: string) {
    // About 5 s a 200,000 residents on two cores: a city of millions takes minutes. Waiting for a
    // lock, the registry's first, stays bounded. Whole-city statements join by hash, never row by row:
    // the planner's counts lag a registry that grew by SQL or faster than autovacuum counts it, and
    // reckoning one resident and one ticket where there are 100,000 of each, it read every ticket of
    // the city once per resident (minutes).
    return (await ctx.session.manager()).transaction((tx) => ctx.session.runLong(tx, async () => {
      await lockIssuance(tx, municipalityCode);
      let issued = 0;
      // A drawn number that collides is skipped by ON CONFLICT; the next round retries those residents.
      // The residents are locked as they are read (the ticket's key check locks them anyway, only later):
      // one deleted meanwhile is skipped rather than failing the whole issuance.
      for (let round = 0; round < 5; round++) {
        const [{ count }] = await tx.query(
          `WITH issued AS (INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on)
           SELECT x.municipality_code, gen_random_uuid(), x.id, x.n, $2, $3 FROM (
             SELECT r.municipality_code, r.id, lpad((floor(random() * 1e10))::bigint::text, 10, '0') AS n
             FROM resident r
             WHERE r.municipality_code = $1 AND r.status = 'ACTIVE' AND r.birth_date <= $3::date
               AND NOT EXISTS (SELECT 1 FROM ticket t WHERE t.municipality_code = r.municipality_code
                               AND t.resident_id = r.id AND series_range(t.series) && series_range($2) AND t.voided_on IS NULL)
             FOR KEY SHARE OF r
           ) x
           -- As char(10), the column's type: under row-level security only a leakproof condition reaches
           -- pending_dose_ticket_idx, and a cast of the column to text is none (each resident read every pending dose).
           WHERE NOT EXISTS (SELECT 1 FROM pending_dose p WHERE p.municipality_code = x.municipality_code AND p.ticket_number = x.n::char(10)
                             AND p.status = 'PENDING')
           ON CONFLICT (municipality_code, ticket_number) DO NOTHING RETURNING id),
           logged AS (${loggedInBatches(`SELECT 'ticket.issue' AS operation, id FROM issued`, '$1', `ARRAY['series:' || $2]`, '$4, $5, $6, $7')})
           SELECT count(*)::int AS count FROM issued`,
          [municipalityCode, series, issuedOn, ...auditSourceParams(ctx)],
        );
        issued += count;
        if (count === 0) break;
      }
      await writeAudit(tx, ctx, [{ operation: 'ticket.issue', municipalityCode, targetIds: [`series:${series}`, `count:${issued}`], outcome: 'SUCCESS' }]);
      return { issuedCount: issued, tickets: null, matchedPendingDoses: 0 };
    }, { enable_nestloop: 'off' }));
  }

  /**
   * Tickets for the listed residents, all or none. Every entry is checked before anything is
   * refused: its format, a resident or number given twice (on the later entry), then the registry.
   * `series` and `issuedOn` are null when refused already; the checks that need them are left out.
   */
  private async issueList(ctx: Context, municipalityCode: string, errors: ErrorCollector, series: string | null, issuedOn: string | null,
    requests: { residentId: string; ticketNumber?: string }[]) {
    const entry = (i: number, field: string) => ['input', 'tickets', String(i), field];
    // A UUID names the same resident in either case; PostgreSQL answers in lower case.
    const ids: (string | null)[] = requests.map((r, i) => {
      if (isUuid(r.residentId)) return r.residentId.toLowerCase();
      errors.add(entry(i, 'residentId'), ErrorCode.NOT_FOUND, 'not found or no access');
      return null;
    });
    const numbers: (string | null)[] = requests.map((r, i) => {
      if (r.ticketNumber === undefined || r.ticketNumber === null) return null;
      const checked = checkTicketNumber(r.ticketNumber);
      if (!checked.ok) errors.add(entry(i, 'ticketNumber'), ErrorCode.INVALID_FORMAT, checked.message);
      return checked.ok ? checked.value : null;
    });
    const firstOf = (values: (string | null)[]) => {
      const first = new Map<string, number>();
      values.forEach((v, i) => { if (v && !first.has(v)) first.set(v, i); });
      return (i: number) => !!values[i] && first.get(values[i]!) === i;
    };
    const firstId = firstOf(ids);
    const firstNumber = firstOf(numbers);
    requests.forEach((_r, i) => {
      if (ids[i] && !firstId(i)) errors.add(entry(i, 'residentId'), ErrorCode.DUPLICATE, 'appears twice in this list');
      if (numbers[i] && !firstNumber(i)) errors.add(entry(i, 'ticketNumber'), ErrorCode.DUPLICATE, 'appears twice in this list');
    });
    // Input already refused issues nothing: the registry is only read, without the issuance lock,
    // so a list is not refused as busy instead of being told its faults.
    const checkOnly = errors.errors.length > 0;

    return (await ctx.session.manager()).transaction(async (tx) => {
      if (!checkOnly) await lockIssuance(tx, municipalityCode);
      const residentIds = [...new Set(ids.filter((id): id is string => !!id))];
      // A resident holds at most one open ticket for any dose: the open one whose series overlaps, if any.
      const residents: { id: string; status: string; birth_date: string; open: string | null }[] = await tx.query(
        `SELECT r.id, r.status, to_char(r.birth_date, 'YYYY-MM-DD') AS birth_date,
                (SELECT t.series FROM ticket t WHERE $3::text IS NOT NULL AND t.municipality_code = r.municipality_code AND t.resident_id = r.id
                 AND series_range(t.series) && series_range($3) AND t.voided_on IS NULL LIMIT 1) AS open
         FROM resident r WHERE r.municipality_code = $1 AND r.id = ANY($2::uuid[])${checkOnly ? '' : ' FOR UPDATE OF r'}`,
        [municipalityCode, residentIds, series],
      );
      const byId = new Map(residents.map((r) => [r.id, r]));
      const given = numbers.filter((n): n is string => !!n);
      // Compared as char(10), the column's own type: as text, the column's cast is no leakproof function, and under
      // row-level security the condition stays out of ticket_number_key's scan, which then reads every ticket of the municipality.
      const taken = new Set<string>((await tx.query(
        'SELECT ticket_number FROM ticket WHERE municipality_code = $1 AND ticket_number = ANY($2::char(10)[])', [municipalityCode, given],
      )).map((r: { ticket_number: string }) => r.ticket_number));
      requests.forEach((_r, i) => {
        if (firstId(i)) {
          const resident = byId.get(ids[i]!);
          const field = entry(i, 'residentId');
          if (!resident) errors.add(field, ErrorCode.NOT_FOUND, 'not found or no access');
          else if (resident.status !== 'ACTIVE') errors.add(field, resident.status === 'DECEASED' ? ErrorCode.RESIDENT_DECEASED : ErrorCode.RESIDENT_MOVED_OUT, `resident is ${resident.status === 'DECEASED' ? 'recorded as deceased' : 'moved out'}`);
          else if (issuedOn && issuedOn < resident.birth_date) errors.add(field, ErrorCode.DATE_BEFORE_BIRTH, `resident was born after issuedOn (${issuedOn})`);
          else if (resident.open) errors.add(field, ErrorCode.DUPLICATE, `resident already holds an open ticket of series ${resident.open}`);
        }
        if (firstNumber(i) && taken.has(numbers[i]!)) errors.add(entry(i, 'ticketNumber'), ErrorCode.DUPLICATE, 'another ticket of this municipality has this number');
      });
      errors.throwIfAny();

      // Assigned numbers avoid every number in use and every number a pending dose waits for (one matched is a ticket's).
      const missing = numbers.filter((n) => !n).length;
      const drawn: string[] = [];
      while (drawn.length < missing) {
        const candidates = Array.from({ length: missing - drawn.length }, randomTicketNumber).filter((n) => !given.includes(n) && !drawn.includes(n));
        const busy = new Set<string>((await tx.query(
          `SELECT ticket_number FROM ticket WHERE municipality_code = $1 AND ticket_number = ANY($2::char(10)[])
           UNION SELECT ticket_number FROM pending_dose WHERE municipality_code = $1 AND ticket_number = ANY($2::char(10)[]) AND status = 'PENDING'`,
          [municipalityCode, candidates],
        )).map((r: { ticket_number: string }) => r.ticket_number));
        drawn.push(...candidates.filter((n) => !busy.has(n)));
      }
      const tickets = requests.map((_r, i) => tx.getRepository(Ticket).create({
        municipalityCode, id: randomUUID(), residentId: ids[i]!, ticketNumber: numbers[i] ?? drawn.pop()!, series: series!, issuedOn: issuedOn!, voidedOn: null, voidReason: null,
      }));
      await tx.getRepository(Ticket).insert(tickets);
      // Only numbers the municipality gave can be the ones a site already used.
      const matched = await this.pending.matchIssuedTickets(tx, ctx, municipalityCode, tickets.filter((_t, i) => numbers[i]));
      await writeAudit(tx, ctx, [{ operation: 'ticket.issue', municipalityCode, targetIds: tickets.map((t) => t.id), outcome: 'SUCCESS' }]);
      return { issuedCount: tickets.length, tickets, matchedPendingDoses: matched };
    });
  }

  async void(ctx: Context, id: string, reason: string): Promise<Ticket> {
    const municipalityCode = ownMunicipalityFor(ctx, 'update', 'Ticket');
    const text = checkReason(reason, 200);
    return (await ctx.session.manager()).transaction(async (tx) => {
      // The holder is locked before the ticket, in the order of the dose writers and of the move-out
      // and death flags (which void tickets): the other order deadlocks with them.
      if (isUuid(id)) {
        await tx.query(
          `SELECT 1 FROM ticket t JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id
           WHERE t.municipality_code = $1 AND t.id = $2 FOR UPDATE OF r`,
          [municipalityCode, id],
        );
      }
      const scope = scopeOf(ctx.ability, 'update', 'Ticket');
      const ticket = scope && isUuid(id)
        ? await applyScope(tx.getRepository(Ticket).createQueryBuilder('t'), scope).andWhere('t.id = :id', { id }).setLock('pessimistic_write').getOne()
        : null;
      if (!ticket) throw notFoundOrNoAccess(['id']);
      if (ticket.voidedOn) throw InputError.of(['id'], ErrorCode.TICKET_VOID, `ticket is already void since ${ticket.voidedOn}`);
      Object.assign(ticket, { voidedOn: todayInJapan(), voidReason: text });
      await tx.getRepository(Ticket).update({ municipalityCode: ticket.municipalityCode, id: ticket.id }, { voidedOn: ticket.voidedOn, voidReason: text });
      await writeAudit(tx, ctx, [{ operation: 'ticket.void', municipalityCode: ticket.municipalityCode, targetIds: [ticket.id], outcome: 'SUCCESS' }]);
      return ticket;
    });
  }
}
