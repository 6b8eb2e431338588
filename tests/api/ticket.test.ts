import { insertDose } from '../helpers/statistics';
import { lockRegistry } from '../../src/db/registry-lock';
import { blockedBy, codes, insertResidents, registerResident, TestApp } from '../helpers/test-app';
import { countAnotherCity, doseInput, freshTicketNumber, ISSUE, REGISTER_DOSE, residentWithTicket, SCAN, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const LIST = `query($filter: TicketFilter, $first: Int, $after: String) {
  tickets(filter: $filter, first: $first, after: $after) { nodes { id ticketNumber series voidedOn voidReason residentId } pageInfo { hasNextPage endCursor } }
}`;
const BY_NUMBER = 'query($n: String!) { ticketByNumber(ticketNumber: $n) { id ticketNumber voidedOn } }';
const VOID = 'mutation($id: ID!, $reason: String!) { voidTicket(id: $id, reason: $reason) { ticket { id voidedOn voidReason } userErrors { field code message } } }';

describe('tickets', () => {
  it('issues in bulk to every active resident without an open ticket of the series, each number unique', async () => {
    const { code, officer } = await t.tenant();
    for (let i = 0; i < 5; i++) await registerResident(officer);
    const dead = await registerResident(officer);
    await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { userErrors { code } } }', { id: dead.id });
    const first = await officer.gql(ISSUE, { input: { series: '1-2', allActiveResidents: true } });
    expect(first.data.issueTickets).toMatchObject({ issuedCount: 5, userErrors: [] });
    // A second run issues nothing new for the same series, but a new series gets its own tickets.
    expect((await officer.gql(ISSUE, { input: { series: '1-2', allActiveResidents: true } })).data.issueTickets.issuedCount).toBe(0);
    // The same series written another way is the same series, and one overlapping it gives nobody a second ticket for a dose.
    expect((await officer.gql(ISSUE, { input: { series: '01-02', allActiveResidents: true } })).data.issueTickets.issuedCount).toBe(0);
    expect((await officer.gql(ISSUE, { input: { series: '2-3', allActiveResidents: true } })).data.issueTickets.issuedCount).toBe(0);
    expect((await officer.gql(ISSUE, { input: { series: '3', allActiveResidents: true } })).data.issueTickets.issuedCount).toBe(5);
    const rows = await t.db.query('SELECT ticket_number, resident_id FROM ticket WHERE municipality_code = $1', [code]);
    expect(rows).toHaveLength(10);
    expect(new Set(rows.map((r: any) => r.ticket_number)).size).toBe(10);
    for (const r of rows) expect(r.ticket_number).toMatch(/^\d{10}$/);
    expect(rows.map((r: any) => r.resident_id)).not.toContain(dead.id);
    // The operation log names every ticket issued, after the series, then the run's total.
    const logged = await t.db.query(
      `SELECT target_ids, actor_id FROM audit_event WHERE municipality_code = $1 AND operation = 'ticket.issue' AND target_ids[1] = 'series:3' ORDER BY id`, [code]);
    const series3 = await t.db.query(`SELECT id FROM ticket WHERE municipality_code = $1 AND series = '3'`, [code]);
    expect(logged.map((e: any) => ({ ...e, target_ids: [e.target_ids[0], ...e.target_ids.slice(1).sort()] }))).toEqual([
      { target_ids: ['series:3', ...series3.map((r: any) => r.id).sort()], actor_id: officer.accountId },
      { target_ids: ['series:3', 'count:5'], actor_id: officer.accountId },
    ]);
    // A series stored in another form, as imports once kept the file's text, covers nothing comparable: it stops no issuance.
    await t.db.query(`UPDATE ticket SET series = '第1期' WHERE municipality_code = $1 AND series = '3' AND resident_id = (SELECT resident_id FROM ticket WHERE municipality_code = $1 AND series = '3' LIMIT 1)`, [code]);
    expect((await officer.gql(ISSUE, { input: { series: '3', allActiveResidents: true } })).data.issueTickets).toMatchObject({ issuedCount: 1, userErrors: [] });
  });

  it('issues to a whole city the planner has not counted yet without reading the city\'s tickets once per resident', async () => {
    // The planner's counts leave the city out (they hold another city's residents and tickets): it
    // reckons one resident, and one ticket. Read by its municipality alone, a resident's open tickets
    // are every ticket of the city, and a round's check then reads 50,000 tickets 50,000 times (minutes,
    // where it takes about a second).
    await countAnotherCity(t);
    const { code, officer } = await t.tenant();
    const CITY = 50_000;
    await insertResidents(t.db, code, CITY);
    for (const [series, issuedCount] of [['1-2', CITY], ['3', CITY], ['1-2', 0]] as const) {
      expect((await officer.gql(ISSUE, { input: { series, allActiveResidents: true } })).data.issueTickets).toMatchObject({ issuedCount, userErrors: [] });
    }
    expect(await t.db.query('SELECT count(DISTINCT resident_id)::int AS residents, count(*)::int AS tickets FROM ticket WHERE municipality_code = $1', [code]))
      .toEqual([{ residents: CITY, tickets: 2 * CITY }]);
  }, 60_000);

  it('issues in bulk around a resident deleted while it reads them, instead of failing', async () => {
    const { code, officer } = await t.tenant();
    const residents = [];
    for (let i = 0; i < 3; i++) residents.push(await registerResident(officer));
    // A deletion that has not committed yet when the issuance reads the residents (an officer's takes
    // the registry lock and is refused meanwhile; this one, made in the database, does not).
    const deleting = t.db.createQueryRunner();
    await deleting.connect();
    await deleting.startTransaction();
    try {
      await deleting.query('DELETE FROM resident WHERE municipality_code = $1 AND id = $2', [code, residents[0].id]);
      const issuing = officer.gql(ISSUE, { input: { series: '1-2', allActiveResidents: true } });
      await blockedBy(t.db, deleting, '%INSERT INTO ticket%');
      await deleting.commitTransaction();
      expect((await issuing).data.issueTickets).toMatchObject({ issuedCount: 2, userErrors: [] });
    } finally {
      if (deleting.isTransactionActive) await deleting.rollbackTransaction();
      await deleting.release();
    }
    const rows = await t.db.query('SELECT resident_id FROM ticket WHERE municipality_code = $1', [code]);
    expect(rows.map((r: any) => r.resident_id).sort()).toEqual([residents[1].id, residents[2].id].sort());
  });

  it('issues listed tickets with given or assigned numbers, and refuses bad input per field', async () => {
    const { officer } = await t.tenant();
    const a = await registerResident(officer);
    const b = await registerResident(officer);
    const number = freshTicketNumber();
    const ok = await officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2024-03-01', tickets: [{ residentId: a.id, ticketNumber: number }, { residentId: b.id }] } });
    expect(ok.data.issueTickets.userErrors).toEqual([]);
    const [ta, tb] = ok.data.issueTickets.tickets;
    expect(ta).toMatchObject({ ticketNumber: number, series: '1-2', residentId: a.id, voidedOn: null });
    expect(tb.ticketNumber).toMatch(/^\d{10}$/);
    expect(ta.ocrLine).toBe(`11${officer.municipalityCode}${number}`);

    const c = await registerResident(officer);
    const bad = await officer.gql(ISSUE, { input: { series: '2-1', issuedOn: '2999-01-01', tickets: [{ residentId: c.id, ticketNumber: '12345' }] } });
    expect(bad.data.issueTickets.userErrors).toEqual([
      { field: ['input', 'series'], code: 'INVALID_SERIES', message: expect.any(String) },
      { field: ['input', 'issuedOn'], code: 'DATE_IN_FUTURE', message: 'must not be in the future' },
      { field: ['input', 'tickets', '0', 'ticketNumber'], code: 'INVALID_FORMAT', message: expect.any(String) },
    ]);
    const early = await officer.gql(ISSUE, { input: { series: '3', issuedOn: '1900-01-01', tickets: [{ residentId: c.id }] } });
    expect(early.data.issueTickets.userErrors).toEqual([{ field: ['input', 'issuedOn'], code: 'INVALID_DATE', message: 'must not be before 2021-02-17, when vaccination began' }]);
    // A date given empty (a form's cleared field) is refused, not read as left out, which would issue the list dated today.
    for (const issuedOn of ['', ' ']) {
      const empty = await officer.gql(ISSUE, { input: { series: '3', issuedOn, tickets: [{ residentId: c.id }] } });
      expect(empty.data.issueTickets).toMatchObject({ tickets: null, userErrors: [
        { field: ['input', 'issuedOn'], code: 'INVALID_DATE', message: 'must be a real date written YYYY-MM-DD' },
      ] });
      const emptyToAll = await officer.gql(ISSUE, { input: { series: '3', issuedOn, allActiveResidents: true } });
      expect(emptyToAll.data.issueTickets).toMatchObject({ issuedCount: null, userErrors: [{ field: ['input', 'issuedOn'], code: 'INVALID_DATE' }] });
    }
    const taken = await officer.gql(ISSUE, { input: { series: '3', tickets: [{ residentId: c.id, ticketNumber: number }] } });
    expect(taken.data.issueTickets.userErrors).toEqual([{ field: ['input', 'tickets', '0', 'ticketNumber'], code: 'DUPLICATE', message: 'another ticket of this municipality has this number' }]);
    const again = await officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: a.id }] } });
    expect(again.data.issueTickets.userErrors[0]).toMatchObject({ field: ['input', 'tickets', '0', 'residentId'], code: 'DUPLICATE' });
    // One open ticket for any dose: a series overlapping the open one is refused, naming the one held.
    const overlapping = await officer.gql(ISSUE, { input: { series: '2-3', tickets: [{ residentId: a.id }] } });
    expect(overlapping.data.issueTickets.userErrors).toEqual([
      { field: ['input', 'tickets', '0', 'residentId'], code: 'DUPLICATE', message: 'resident already holds an open ticket of series 1-2' },
    ]);
  });

  it('refuses a listed ticket dated before the resident was born, issuing none of the list; bulk skips the resident until then', async () => {
    const { code, officer } = await t.tenant();
    const born = await registerResident(officer, { birthDate: '2024-03-01' });
    const older = await registerResident(officer);
    const early = await officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2021-03-01', tickets: [{ residentId: older.id }, { residentId: born.id }] } });
    expect(early.data.issueTickets).toMatchObject({ issuedCount: null, tickets: null, userErrors: [
      { field: ['input', 'tickets', '1', 'residentId'], code: 'DATE_BEFORE_BIRTH', message: 'resident was born after issuedOn (2021-03-01)' },
    ] });
    expect(await t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1', [code])).toEqual([]);
    // The day of birth itself is fine.
    const onTheDay = await officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2024-03-01', tickets: [{ residentId: born.id }] } });
    expect(onTheDay.data.issueTickets).toMatchObject({ issuedCount: 1, userErrors: [] });

    const bulk = await t.tenant();
    const baby = await registerResident(bulk.officer, { birthDate: '2023-05-01' });
    const adult = await registerResident(bulk.officer);
    const before = await bulk.officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2022-01-01', allActiveResidents: true } });
    expect(before.data.issueTickets).toMatchObject({ issuedCount: 1, userErrors: [] });
    expect(await t.db.query('SELECT resident_id, to_char(issued_on, \'YYYY-MM-DD\') AS issued_on FROM ticket WHERE municipality_code = $1', [bulk.code]))
      .toEqual([{ resident_id: adult.id, issued_on: '2022-01-01' }]);
    // Once born, a later run issues the ticket.
    const after = await bulk.officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2023-05-01', allActiveResidents: true } });
    expect(after.data.issueTickets).toMatchObject({ issuedCount: 1, userErrors: [] });
    expect((await t.db.query('SELECT resident_id FROM ticket WHERE municipality_code = $1', [bulk.code])).map((r: any) => r.resident_id).sort())
      .toEqual([adult.id, baby.id].sort());
  });

  it('refuses a resident listed twice on the later entry, as a number listed twice, in whatever case the id is written', async () => {
    const { code, officer } = await t.tenant();
    const a = await registerResident(officer);
    const number = freshTicketNumber();
    const twice = await officer.gql(ISSUE, { input: { series: '1-2', tickets: [
      { residentId: a.id, ticketNumber: number }, { residentId: a.id }, { residentId: a.id.toUpperCase(), ticketNumber: number },
    ] } });
    expect(twice.data.issueTickets.userErrors).toEqual([
      { field: ['input', 'tickets', '1', 'residentId'], code: 'DUPLICATE', message: 'appears twice in this list' },
      { field: ['input', 'tickets', '2', 'residentId'], code: 'DUPLICATE', message: 'appears twice in this list' },
      { field: ['input', 'tickets', '2', 'ticketNumber'], code: 'DUPLICATE', message: 'appears twice in this list' },
    ]);
    expect(await t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1', [code])).toEqual([]);
    // Written in upper case, the id names the same resident.
    const upper = await officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: a.id.toUpperCase() }] } });
    expect(upper.data.issueTickets).toMatchObject({ issuedCount: 1, tickets: [{ residentId: a.id }], userErrors: [] });
  });

  it('names every problem of a list in one answer: format, registry and series together', async () => {
    const { code, officer } = await t.tenant();
    const neighbour = await t.tenant();
    const fine = await registerResident(officer);
    const dead = await registerResident(officer);
    await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { userErrors { code } } }', { id: dead.id });
    const young = await registerResident(officer, { birthDate: '2024-03-01' });
    const holder = await residentWithTicket(officer);
    const theirs = await registerResident(neighbour.officer);
    const tickets = [
      { residentId: 'not-a-uuid' }, { residentId: dead.id }, { residentId: theirs.id }, { residentId: young.id },
      { residentId: holder.residentId, ticketNumber: holder.ticketNumber }, { residentId: fine.id, ticketNumber: '12' },
    ];
    const expected = [
      { field: ['input', 'tickets', '0', 'residentId'], code: 'NOT_FOUND', message: 'not found or no access' },
      { field: ['input', 'tickets', '5', 'ticketNumber'], code: 'INVALID_FORMAT', message: expect.any(String) },
      { field: ['input', 'tickets', '1', 'residentId'], code: 'RESIDENT_DECEASED', message: 'resident is recorded as deceased' },
      { field: ['input', 'tickets', '2', 'residentId'], code: 'NOT_FOUND', message: 'not found or no access' },
      { field: ['input', 'tickets', '3', 'residentId'], code: 'DATE_BEFORE_BIRTH', message: 'resident was born after issuedOn (2021-03-01)' },
      { field: ['input', 'tickets', '4', 'residentId'], code: 'DUPLICATE', message: 'resident already holds an open ticket of series 1-2' },
      { field: ['input', 'tickets', '4', 'ticketNumber'], code: 'DUPLICATE', message: 'another ticket of this municipality has this number' },
    ];
    const all = await officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2021-03-01', tickets } });
    expect(all.data.issueTickets.userErrors).toEqual(expected);
    // A bad series is named beside them; the overlap with an open ticket needs a series, so it is left out.
    const badSeries = await officer.gql(ISSUE, { input: { series: '2-1', issuedOn: '2021-03-01', tickets } });
    expect(badSeries.data.issueTickets.userErrors).toEqual([
      { field: ['input', 'series'], code: 'INVALID_SERIES', message: expect.any(String) },
      ...expected.filter((e) => e.message !== 'resident already holds an open ticket of series 1-2'),
    ]);

    // While an import or another issuance holds the registry, a list with faults is still told them;
    // only a list that would be issued is asked to wait.
    const importing = t.db.createQueryRunner();
    await importing.connect();
    await importing.startTransaction();
    try {
      await lockRegistry(importing, code);
      expect((await officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2021-03-01', tickets } })).data.issueTickets.userErrors).toEqual(expected);
      expect((await officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: fine.id }] } })).data.issueTickets.userErrors)
        .toEqual([{ field: ['input'], code: 'INVALID_STATE', message: expect.any(String) }]);
    } finally {
      await importing.rollbackTransaction();
      await importing.release();
    }
    expect(await t.db.query('SELECT resident_id FROM ticket WHERE municipality_code = $1', [code])).toEqual([{ resident_id: holder.residentId }]);
  });

  it('takes its turn behind another issuance of the municipality that is moments from its end, instead of being refused', async () => {
    const { code, officer } = await t.tenant();
    const residents = [await registerResident(officer), await registerResident(officer)];
    // Another counter's issuance holds the registry for half a second.
    const other = t.db.createQueryRunner();
    await other.connect();
    await other.startTransaction();
    await lockRegistry(other, code);
    const released = new Promise((resolve) => setTimeout(resolve, 500)).then(() => other.commitTransaction()).finally(() => other.release());
    const issued = await Promise.all(residents.map((r) => officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: r.id }] } })));
    await released;
    expect(issued.map((answer) => answer.data.issueTickets)).toEqual([
      expect.objectContaining({ issuedCount: 1, userErrors: [] }), expect.objectContaining({ issuedCount: 1, userErrors: [] }),
    ]);
    expect(await t.db.query('SELECT count(*)::int AS n FROM ticket WHERE municipality_code = $1', [code])).toEqual([{ n: 2 }]);
  });

  it('refuses a series starting after dose 9, which the OCR line\'s one dose digit cannot print; a range reaching past it is one ticket', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const refused = [{ field: ['input', 'series'], code: 'INVALID_SERIES', message: 'must start at dose 9 at the latest: the ticket\'s OCR line has one digit for the dose' }];
    for (const series of ['10', '10-12', '１２', '21']) {
      expect((await officer.gql(ISSUE, { input: { series, tickets: [{ residentId: id }] } })).data.issueTickets.userErrors).toEqual(refused);
    }
    expect((await officer.gql(ISSUE, { input: { series: '10', allActiveResidents: true } })).data.issueTickets.userErrors).toEqual(refused);
    // A range ending past the last dose a record takes is told so, not that it is no range of doses.
    const tooLong = [{ field: ['input', 'series'], code: 'INVALID_SERIES', message: 'must end at dose 20 at the latest: no dose is numbered higher' }];
    for (const series of ['1-99', '9-21', '１－２１']) {
      expect((await officer.gql(ISSUE, { input: { series, tickets: [{ residentId: id }] } })).data.issueTickets.userErrors).toEqual(tooLong);
    }
    expect((await officer.gql(ISSUE, { input: { series: '1-99', allActiveResidents: true } })).data.issueTickets.userErrors).toEqual(tooLong);
    expect(await t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1', [code])).toEqual([]);

    // The dose digit is the series' first dose; a site registers its later doses by the same OCR line.
    const { residentId, ticketNumber, ocrLine } = await residentWithTicket(officer, { series: '8-12' });
    expect(ocrLine).toBe(`18${code}${ticketNumber}`);
    for (let dose = 1; dose <= 9; dose++) await insertDose(t, code, residentId, { doseNumber: dose, vaccinatedOn: `2022-0${dose}-01` });
    const site = await tablet(t, code);
    expect((await site.gql(SCAN, { ticket: { ocrLine } })).data.scanTicket).toMatchObject({ status: 'VALID', series: '8-12', nextDoseNumber: 10 });
    const registered = await site.gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber, { ticket: { ocrLine }, doseNumber: 10 }) });
    expect(registered.data.registerDose).toMatchObject({ receipt: { status: 'RECORDED', doseNumber: 10 }, userErrors: [] });
  });

  it('asks for a list of tickets or allActiveResidents, and refuses both at once', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const errorsOf = async (input: Record<string, unknown>) => (await officer.gql(ISSUE, { input: { series: '1-2', ...input } })).data.issueTickets.userErrors;
    const neither = [{ field: ['input', 'tickets'], code: 'REQUIRED', message: 'give a list of tickets or allActiveResidents: true' }];
    expect(await errorsOf({})).toEqual(neither);
    expect(await errorsOf({ allActiveResidents: false })).toEqual(neither);
    const both = [{ field: ['input', 'tickets'], code: 'INVALID_FORMAT', message: 'give a list of tickets or allActiveResidents: true, not both' }];
    expect(await errorsOf({ tickets: [{ residentId: id }], allActiveResidents: true })).toEqual(both);
    expect(await errorsOf({ tickets: [], allActiveResidents: true })).toEqual(both);
    expect(await t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1', [code])).toEqual([]);
  });

  it('cannot issue to, list, look up or void another municipality\'s tickets', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const theirs = await residentWithTicket(b.officer);
    const resident = await registerResident(b.officer);
    const issue = await a.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: resident.id }] } });
    expect(issue.data.issueTickets.userErrors).toEqual([{ field: ['input', 'tickets', '0', 'residentId'], code: 'NOT_FOUND', message: 'not found or no access' }]);
    expect((await a.officer.gql(LIST, {})).data.tickets.nodes).toEqual([]);
    expect((await a.officer.gql(BY_NUMBER, { n: theirs.ticketNumber })).data.ticketByNumber).toBeNull();
    const voided = await a.officer.gql(VOID, { id: theirs.ticketId, reason: 'x' });
    expect(voided.data.voidTicket.userErrors).toEqual([{ field: ['id'], code: 'NOT_FOUND', message: 'not found or no access' }]);
    expect((await b.officer.gql(BY_NUMBER, { n: theirs.ticketNumber })).data.ticketByNumber).toEqual({ id: theirs.ticketId, ticketNumber: theirs.ticketNumber, voidedOn: null });
  });

  it('lists with filters and pages, looks up by number, voids with a reason once', async () => {
    const { officer } = await t.tenant();
    const one = await residentWithTicket(officer);
    const two = await residentWithTicket(officer, { series: '3' });
    const page = await officer.gql(LIST, { first: 1 });
    expect(page.data.tickets.pageInfo.hasNextPage).toBe(true);
    const rest = await officer.gql(LIST, { first: 1, after: page.data.tickets.pageInfo.endCursor });
    expect([page.data.tickets.nodes[0].id, rest.data.tickets.nodes[0].id].sort()).toEqual([one.ticketId, two.ticketId].sort());
    // An empty cursor is no cursor the API handed out, not a request for the first page.
    expect(codes(await officer.gql(LIST, { first: 1, after: '' }))).toEqual(['BAD_USER_INPUT']);
    // Nor is another municipality's: neither its start nor its end.
    const other = await t.tenant();
    await residentWithTicket(other.officer);
    const theirs = (await other.officer.gql(LIST, { first: 1 })).data.tickets.pageInfo.endCursor;
    expect(codes(await officer.gql(LIST, { first: 1, after: theirs }))).toEqual(['BAD_USER_INPUT']);
    expect((await officer.gql(LIST, { filter: { series: '3' } })).data.tickets.nodes.map((n: any) => n.id)).toEqual([two.ticketId]);
    for (const series of ['01-02', '１－２', '1〜2']) {
      expect((await officer.gql(LIST, { filter: { series } })).data.tickets.nodes.map((n: any) => n.id)).toEqual([one.ticketId]);
    }
    // A series no ticket can be issued for could match nothing: refused as issuance refuses it, not an empty list.
    // An empty one too: it is no missing filter, which would answer every ticket.
    for (const [series, message, reason] of [
      ['x', 'must be a dose number or a range of doses, e.g. "3" or "1-2"', 'INVALID_SERIES'],
      ['2-1', 'must be a dose number or a range of doses, e.g. "3" or "1-2"', 'INVALID_SERIES'],
      ['10', 'must start at dose 9 at the latest: the ticket\'s OCR line has one digit for the dose', 'INVALID_SERIES'],
      ['', 'must not be empty', 'REQUIRED'],
      ['  ', 'must not be empty', 'REQUIRED'],
    ]) {
      const badSeries = await officer.gql(LIST, { filter: { series } });
      expect(badSeries.data).toBeNull();
      expect(badSeries.errors!.map((e) => [e.message, e.extensions])).toEqual([[
        `filter.series: ${message}`,
        { code: 'BAD_USER_INPUT', field: ['filter', 'series'], reason },
      ]]);
    }
    expect((await officer.gql(LIST, { filter: { residentId: one.residentId } })).data.tickets.nodes.map((n: any) => n.id)).toEqual([one.ticketId]);
    expect(codes(await officer.gql(BY_NUMBER, { n: '12' }))).toEqual(['BAD_USER_INPUT']);
    // A resident id of no shape the API hands out could match nothing: refused, not an empty list.
    // An empty one too: it is no missing filter, which would answer every ticket.
    for (const residentId of ['zz', '']) {
      const badId = await officer.gql(LIST, { filter: { residentId } });
      expect(badId.data).toBeNull();
      expect(badId.errors!.map((e) => [e.message, e.extensions])).toEqual([[
        'filter.residentId: must be a resident id as the API hands them out (a UUID)',
        expect.objectContaining({ code: 'BAD_USER_INPUT', field: ['filter', 'residentId'], reason: 'INVALID_FORMAT' }),
      ]]);
    }

    expect((await officer.gql(VOID, { id: one.ticketId, reason: ' ' })).data.voidTicket.userErrors[0]).toMatchObject({ field: ['reason'], code: 'REQUIRED' });
    expect((await officer.gql(VOID, { id: one.ticketId, reason: 'lost\u0007' })).data.voidTicket.userErrors).toEqual([
      { field: ['reason'], code: 'INVALID_FORMAT', message: 'must not contain control characters other than tabs and line breaks' },
    ]);
    const voided = await officer.gql(VOID, { id: one.ticketId, reason: 'lost,\nreissued' });
    expect(voided.data.voidTicket).toEqual({ ticket: { id: one.ticketId, voidedOn: expect.stringMatching(/^\d{4}-\d{2}-\d{2}$/), voidReason: 'lost,\nreissued' }, userErrors: [] });
    expect((await officer.gql(VOID, { id: one.ticketId, reason: 'again' })).data.voidTicket.userErrors[0].code).toBe('TICKET_VOID');
    expect((await officer.gql(LIST, { filter: { open: true } })).data.tickets.nodes.map((n: any) => n.id)).toEqual([two.ticketId]);
  });

  it('counts a void reason in characters, as it is stored: 𠮷 is one', async () => {
    const { officer } = await t.tenant();
    const { ticketId } = await residentWithTicket(officer);
    expect((await officer.gql(VOID, { id: ticketId, reason: '𠮷'.repeat(201) })).data.voidTicket.userErrors).toEqual([
      { field: ['reason'], code: 'INVALID_FORMAT', message: 'must be at most 200 characters' },
    ]);
    const voided = await officer.gql(VOID, { id: ticketId, reason: '𠮷'.repeat(200) });
    expect(voided.data.voidTicket).toMatchObject({ ticket: { id: ticketId, voidReason: '𠮷'.repeat(200) }, userErrors: [] });
  });

  it.each([
    ['markResidentMovedOut', 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { userErrors { code } } }', 'moved out'],
    ['markResidentDeceased', 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-06-01") { userErrors { code } } }', 'deceased'],
  ])('%s voids the open tickets in the same transaction', async (_name, mutation, reason) => {
    const { code, officer } = await t.tenant();
    const { residentId, ticketId } = await residentWithTicket(officer);
    expect((await officer.gql(mutation, { id: residentId })).data).toBeTruthy();
    const [row] = await t.db.query('SELECT voided_on, void_reason FROM ticket WHERE municipality_code = $1 AND id = $2', [code, ticketId]);
    expect(row.void_reason).toBe(reason);
    expect(row.voided_on).not.toBeNull();
    const audit = await t.db.query(`SELECT target_ids FROM audit_event WHERE municipality_code = $1 AND operation = 'ticket.void'`, [code]);
    expect(audit).toEqual([{ target_ids: [ticketId] }]);
  });
});
