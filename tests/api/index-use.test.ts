import { randomInt, randomUUID } from 'node:crypto';
import * as csvCopy from '../../src/db/csv-copy';
import { APP_ROLE } from '../../src/db/data-source';
import { setTenants } from '../../src/db/tenant-session';
import { Channel, Role } from '../../src/schema/enums';
import { encodeCursor } from '../../src/resolvers/cursor';
import { writeAudit } from '../../src/services/audit.service';
import { baseUrl, importFile, registryCsv, registryRow } from '../helpers/registry-csv';
import { doseInput, freshTicketNumber, ISSUE, REGISTER_DOSE, residentWithTicket, SCAN, tablet } from '../helpers/vaccination';
import { registerResident, Session, Statement, TestApp } from '../helpers/test-app';

/**
 * The searches a municipality of millions depends on reach their rows through an index on what
 * they search, not by reading the municipality. Each search is sent through the API, and the
 * planner is asked about the very statement the API sent, as the application role, under the row-
 * level security the request had. The municipality is given a few thousand residents, tickets, doses,
 * pending doses and operation-log events, among ten times as many events of other municipalities,
 * and sequential scans are ruled out: a search whose expression no longer matches its index then
 * reads the whole municipality (or the nation's log) through another index, and fails here.
 */

interface PlanNode {
  'Index Name'?: string;
  'Index Cond'?: string;
  Plans?: PlanNode[];
}

let t: TestApp;
let code: string;
let officer: Session;
let site: Session;
let integrator: Session;
let operator: Session;
let resident: { id: string; input: Record<string, unknown> };
let ticket: { residentId: string; ticketNumber: string; ocrLine: string };
/** A dose the tablet registered, which the tests send again as a retry. */
let registered: Record<string, unknown>;
/** Residents without a ticket, for the tests to issue one to. */
let unissued: string[];
/** The addressee numbers of the few residents marked deceased, in order. */
let deceased: string[];
const RARE_SERIES = '7';
/**
 * A municipality last in code order, after every code of the national list (whose last are Okinawa's,
 * 47xxxx), and the addressee and ticket numbers, each in order, of its few residents searched for:
 * deceased, of the rare series, named ヌマタ, born 1931-02-28.
 */
let last: { code: string; officer: Session; few: string[]; fewTickets: string[] };

const pick = (values: string[]) => values[randomInt(values.length)];

beforeAll(async () => {
  t = await TestApp.start();
  ({ code, officer } = await t.tenant());
  site = await tablet(t, code);
  // Names and birth dates unlike the searched ones, which no other test file uses either.
  const rows = Array.from({ length: 3000 }, () => registryRow({
    familyKana: pick(['サトウ', 'スズキ', 'タカハシ', 'タナカ', 'イトウ']),
    givenKana: pick(['ハルト', 'ソウタ', 'ユイ', 'アオイ', 'メイ']),
    birth: `${randomInt(1940, 2010)}-0${randomInt(1, 10)}-1${randomInt(0, 10)}`,
  }));
  // A series issued to a few, as a campaign for a small group would be.
  rows.slice(0, 5).forEach((row) => (row.series = RARE_SERIES));
  expect(await importFile(t, officer, registryCsv(rows))).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 3000, ticketsInserted: 3000 });
  await writeAudit(t.db, { requestId: 'test', channel: 'CLI', actor: null },
    rows.map(() => ({ operation: 'resident.read', municipalityCode: code, targetIds: [randomUUID()], outcome: 'SUCCESS' })));
  // A dose for each resident, all registered by the one site, and as many doses pending on tickets not issued.
  const dose = `'PFIZER-COMIRNATY', 'Pfizer', 'Comirnaty', 'FA1234', $1, $2`;
  await t.db.query(`INSERT INTO vaccination_record (municipality_code, id, resident_id, dose_number, vaccinated_on, vaccine_code, manufacturer,
      product, lot_number, site_municipality_code, recorded_by, source)
    SELECT municipality_code, gen_random_uuid(), id, 1, DATE '2021-06-01' + (random() * 700)::int, ${dose}, 'TABLET' FROM resident WHERE municipality_code = $1`,
  [code, site.accountId]);
  await t.db.query(`INSERT INTO pending_dose (municipality_code, id, ticket_number, dose_number, vaccinated_on, vaccine_code, manufacturer,
      product, lot_number, site_municipality_code, recorded_by)
    SELECT $1, gen_random_uuid(), lpad((random() * 1e9)::bigint::text, 10, '0'), 1, DATE '2021-06-01', ${dose} FROM generate_series(1, 3000)`,
  [code, site.accountId]);
  resident = await registerResident(officer, { familyNameKana: 'ヌマタ', givenNameKana: 'ミノル', birthDate: '1931-02-28' });
  ticket = await residentWithTicket(officer, { birthDate: '1931-03-01' });
  unissued = [(await registerResident(officer)).id, (await registerResident(officer)).id];
  registered = doseInput(code, (await residentWithTicket(officer)).ticketNumber);
  expect((await site.gql(REGISTER_DOSE, { input: registered })).data.registerDose.receipt.status).toBe('RECORDED');
  integrator = await t.session(Role.INTEGRATOR, Channel.INTERNET);
  operator = await t.session(Role.OPERATOR, Channel.LGWAN);
  const contract = await operator.gql(`mutation($a: ID!, $m: String!) { createIntegratorContract(integratorAccountId: $a, municipalityCode: $m) { userErrors { code } } }`,
    { a: integrator.accountId, m: code });
  expect(contract.data.createIntegratorContract.userErrors).toEqual([]);
  // The nation's operation log around the municipality's, two years of it: other municipalities' events,
  // a third of them the integrator's (who works for many), and a few of the integrator's in this one.
  await t.db.query(`INSERT INTO audit_event (request_id, actor_id, role, channel, municipality_code, operation, target_ids, outcome, occurred_at)
    SELECT 'index-use', CASE WHEN i % 3 = 0 THEN $2::uuid END, CASE WHEN i % 3 = 0 THEN 'INTEGRATOR' END, 'INTERNET', m.codes[1 + i % cardinality(m.codes)],
      (ARRAY['resident.read', 'resident.register', 'eligibility.check'])[1 + i % 3], ARRAY[gen_random_uuid()::text], 'SUCCESS', now() - i * interval '10 minutes'
    FROM (SELECT array_agg(code) AS codes FROM (SELECT code FROM municipality WHERE code <> $1 ORDER BY code LIMIT 300) c) m, generate_series(1, 100000) i
    UNION ALL
    SELECT 'index-use', CASE WHEN i % 3 = 0 THEN $2::uuid END, CASE WHEN i % 3 = 0 THEN 'INTEGRATOR' END, 'INTERNET', $1,
      (ARRAY['resident.read', 'resident.register', 'eligibility.check'])[1 + i % 3], ARRAY[gen_random_uuid()::text], 'SUCCESS', now() - i * interval '2 days'
    FROM generate_series(1, 300) i`,
  [code, integrator.accountId]);
  // The nation's accounts: officers and sites of 300 municipalities, one in 500 disabled, among which the
  // operators the test files sharing this database create are few.
  await t.db.query(`INSERT INTO account (id, login_id, password_hash, role, municipality_code, display_name, disabled_at)
    SELECT gen_random_uuid(), 'index-use-' || i, 'x', CASE WHEN i % 2 = 0 THEN 'MUNICIPALITY' ELSE 'VACCINATION_SITE' END,
      m.codes[1 + i % cardinality(m.codes)], 'x', CASE WHEN i % 500 = 0 THEN now() END
    FROM (SELECT array_agg(code) AS codes FROM (SELECT code FROM municipality WHERE code <> $1 ORDER BY code LIMIT 300) c) m, generate_series(1, 20000) i`,
  [code]);
  // A few deceased among the living, their addressee numbers in order for the cursor of a later page.
  const markDeceased = async (municipality: string, addressees: string[]): Promise<string[]> => (await t.db.query(
    `UPDATE resident SET status = 'DECEASED', deceased_on = DATE '2024-01-10'
     WHERE municipality_code = $1 AND addressee_number = ANY($2) RETURNING addressee_number`, [municipality, addressees]))[0]
    .map((r: { addressee_number: string }) => r.addressee_number).sort();
  deceased = await markDeceased(code, rows.slice(-5).map((r) => r.addressee));
  expect(deceased).toHaveLength(5);
  // The municipality last in code order: a later page's cursor names the highest code of all.
  const { code: lastCode, officer: lastOfficer } = await t.tenant('47');
  const lastRows = Array.from({ length: 3000 }, () => registryRow({
    familyKana: pick(['サトウ', 'スズキ', 'タカハシ', 'タナカ', 'イトウ']),
    birth: `${randomInt(1940, 2010)}-0${randomInt(1, 10)}-1${randomInt(0, 10)}`,
  }));
  // Spread through the registry: a later page read in page order would walk the residents between them.
  const few = lastRows.filter((_, i) => i % 600 === 599);
  few.forEach((row) => Object.assign(row, { familyKana: 'ヌマタ', birth: '1931-02-28', series: RARE_SERIES }));
  expect(await importFile(t, lastOfficer, registryCsv(lastRows))).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 3000 });
  last = { code: lastCode, officer: lastOfficer, few: await markDeceased(lastCode, few.map((r) => r.addressee)), fewTickets: few.map((r) => r.ticket!).sort() };
  expect(last.few).toHaveLength(5);
  await t.db.query('ANALYZE resident, ticket, vaccination_record, pending_dose, audit_event, audit_event_target, account');
}, 120_000);
afterAll(() => t.stop());

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/** The index scans of a statement's plan, as the application role plans it for the municipality (the first, unless told). */
async function indexScans(statement: Statement, municipality = code): Promise<{ index?: string; on?: string }[]> {
  const runner = t.db.createQueryRunner();
  await runner.startTransaction();
  try {
    await runner.query('SET LOCAL enable_seqscan = off');
    await runner.query(`SET LOCAL ROLE ${APP_ROLE}`);
    await setTenants(runner, [municipality]);
    const [row] = await runner.query(`EXPLAIN (FORMAT JSON) ${statement.query}`, statement.parameters);
    return nodes(row['QUERY PLAN'][0].Plan).filter((n) => n['Index Name']).map((n) => ({ index: n['Index Name'], on: n['Index Cond'] }));
  } finally {
    await runner.rollbackTransaction();
    await runner.release();
  }
}

/** The one statement that `reads` matches among those the request sent. */
async function sent(session: Session, query: string, variables: Record<string, unknown>, reads: RegExp): Promise<Statement> {
  let errors: unknown;
  const statements = await t.queries.record(async () => ({ errors } = await session.gql(query, variables)));
  expect(errors).toBeUndefined();
  const matching = statements.filter((s) => reads.test(s.query));
  expect(matching).toHaveLength(1);
  return matching[0];
}

const EVENTS = 'query($filter: AuditEventFilter) { auditEvents(filter: $filter) { nodes { id } } }';

/**
 * A later page of a search for a few, in the municipality last in code order. A cursor compared as
 * a row, (municipality_code, key) > (its code, ...), is estimated from its first column alone, and
 * no row has a code after the last: such a page was planned as matching nearly nothing.
 */
function laterPagesOfTheLast() {
  const page = (search: string, reads: RegExp, list: string, filter: string, after: () => string, index: string, on: RegExp) => ({
    search: `a later page of ${search} in the municipality last in code order`, session: () => last.officer, reads, uses: [[index, on]],
    query: `query($after: String) { ${list}(filter: ${filter}, first: 2, after: $after) { nodes { id } } }`, variables: () => ({ after: after() }),
  });
  const residentsAfter = () => encodeCursor([last.code, last.few[1]]);
  const after = /municipality_code = .*addressee_number >/;
  return [
    page('residents by a rare status', /FROM "resident"/, 'residents', '{ status: DECEASED }', residentsAfter, 'resident_status_idx', new RegExp(`status = .*${after.source}`)),
    page('residents by kana prefix', /FROM "resident"/, 'residents', '{ kanaPrefix: "ヌマ" }', residentsAfter, 'resident_kana_idx', /search_kana ~>=~/),
    page('residents by birth date', /FROM "resident"/, 'residents', '{ birthDate: "1931-02-28" }', residentsAfter, 'resident_birth_date_idx', /birth_date =/),
    page('tickets by a rare series', /FROM "ticket"/, 'tickets', `{ series: "${RARE_SERIES}" }`, () => encodeCursor([last.code, last.fewTickets[1]]),
      'ticket_series_idx', /municipality_code = .* AND .*series =/),
    // Unfiltered, a later page starts at the cursor in the page-order index itself.
    page('residents', /FROM "resident"/, 'residents', '{}', residentsAfter, 'resident_addressee_number_key', after),
    page('tickets', /FROM "ticket"/, 'tickets', '{}', () => encodeCursor([last.code, last.fewTickets[1]]), 'ticket_number_key', /municipality_code = .*ticket_number >/),
  ];
}

/**
 * The operation log, newest first, a page at a time: an officer's (its municipality's) and the
 * operator's (the nation's), by actor (one who works for many municipalities) and by operation, with
 * dates or without. The dates are a month of last year's: a window of dates is a range of the index,
 * however many newer events there are.
 */
function auditSearches() {
  const lastYear = () => ({ from: new Date(Date.now() - 400 * 86_400_000).toISOString(), to: new Date(Date.now() - 370 * 86_400_000).toISOString() });
  const search = (search: string, session: () => Session, filter: () => Record<string, unknown>, index: string, on: RegExp) =>
    ({ search, session, reads: /FROM "audit_event"/, uses: [[index, on]], query: EVENTS, variables: () => ({ filter: filter() }) });
  const byActor = () => ({ actorId: integrator.accountId });
  const byOperation = () => ({ operation: 'resident.register' });
  // Across the nation a common operation is rightly read newest first through the index of every
  // event's time, as the other test files sharing this database write thousands: the operator's
  // index is for a rare one.
  const byRareOperation = () => ({ operation: 'resident.clearStatus' });
  const within = /occurred_at >= .* AND .*occurred_at </;
  return [
    search("an officer's operation log", () => officer, () => ({}), 'audit_event_municipality_time_idx', /municipality_code =/),
    search("an officer's operation log within dates", () => officer, lastYear, 'audit_event_municipality_time_idx', new RegExp(`municipality_code = .*${within.source}`)),
    search("an officer's operation log by actor", () => officer, byActor, 'audit_event_municipality_actor_time_idx', /municipality_code = .* AND .*actor_id =/),
    search("an officer's operation log by actor within dates", () => officer, () => ({ ...byActor(), ...lastYear() }), 'audit_event_municipality_actor_time_idx', new RegExp(`actor_id = .*${within.source}`)),
    search("an officer's operation log by operation", () => officer, byOperation, 'audit_event_municipality_operation_time_idx', /municipality_code = .* AND .*operation =/),
    search("an officer's operation log by operation within dates", () => officer, () => ({ ...byOperation(), ...lastYear() }), 'audit_event_municipality_operation_time_idx', new RegExp(`operation = .*${within.source}`)),
    search("the operator's operation log of one municipality", () => operator, () => ({ municipalityCode: code }), 'audit_event_municipality_time_idx', /municipality_code =/),
    search("the operator's operation log within dates", () => operator, lastYear, 'audit_event_time_idx', within),
    search("the operator's operation log by actor", () => operator, byActor, 'audit_event_actor_time_idx', /actor_id =/),
    search("the operator's operation log by actor within dates", () => operator, () => ({ ...byActor(), ...lastYear() }), 'audit_event_actor_time_idx', new RegExp(`actor_id = .*${within.source}`)),
    search("the operator's operation log by operation", () => operator, byRareOperation, 'audit_event_operation_time_idx', /operation =/),
    search("the operator's operation log by operation within dates", () => operator, () => ({ ...byRareOperation(), ...lastYear() }), 'audit_event_operation_time_idx', new RegExp(`operation = .*${within.source}`)),
  ];
}

const ACCOUNTS = 'query($filter: AccountFilter, $after: String) { accounts(filter: $filter, after: $after) { nodes { id } } }';

/**
 * The operator's accounts, twenty thousand of them, in login ID order whatever its case: the next
 * page, and those of one municipality, of one role or disabled, each a range of an index in that order.
 */
function accountSearches() {
  const search = (search: string, variables: () => Record<string, unknown>, index: string, on: RegExp) =>
    ({ search, session: () => operator, reads: /FROM "account" "a"/, uses: [[index, on]], query: ACCOUNTS, variables });
  const after = () => integrator.accountId;
  return [
    search('the next page of accounts', () => ({ after: after() }), 'account_login_id_lower_key', /lower\(login_id\) >/),
    search("a municipality's accounts", () => ({ filter: { municipalityCode: code } }), 'account_municipality_login_idx', /municipality_code =/),
    search('the next page of one role\'s accounts', () => ({ filter: { role: 'OPERATOR' }, after: after() }), 'account_role_login_idx', /role = .* AND .*lower\(login_id\) >/),
    search('the next page of disabled accounts', () => ({ filter: { disabled: true }, after: after() }), 'account_disabled_login_idx', /lower\(login_id\) >/),
  ];
}

/**
 * Each search: the request, the statement of it to plan, and each index it must use with a condition
 * on what it searches (an index given as a pattern: either of two the planner may rightly choose).
 */
const searches = [
  {
    search: 'residents by kana prefix', session: () => officer, reads: /FROM "resident"/, uses: [['resident_kana_idx', /search_kana ~>=~/]],
    query: 'query($kana: String!) { residents(filter: { kanaPrefix: $kana }) { nodes { id } } }', variables: () => ({ kana: 'ヌマ' }),
  },
  {
    // The separators a term may hold (spaces, ・, ＝) are dropped from it, as search_kana drops them from the names.
    search: 'residents by kana prefix typed with separators', session: () => officer, reads: /FROM "resident"/, uses: [['resident_kana_idx', /search_kana ~>=~/]],
    query: 'query($kana: String!) { residents(filter: { kanaPrefix: $kana }) { nodes { id } } }', variables: () => ({ kana: 'ヌマタ・ ミ' }),
  },
  {
    search: 'residents by birth date', session: () => officer, reads: /FROM "resident"/, uses: [['resident_birth_date_idx', /birth_date =/]],
    query: 'query($born: String!) { residents(filter: { birthDate: $born }) { nodes { id } } }', variables: () => ({ born: resident.input.birthDate }),
  },
  {
    search: 'residents by addressee number', session: () => officer, reads: /FROM "resident"/, uses: [['resident_addressee_number_key', /addressee_number =/]],
    query: 'query($n: String!) { residents(filter: { addresseeNumber: $n }) { nodes { id } } }', variables: () => ({ n: resident.input.addresseeNumber }),
  },
  {
    search: 'a resident by My Number, by its keyed hash', session: () => officer, reads: /FROM "resident"/, uses: [['resident_my_number_hmac_key', /my_number_hmac =/]],
    query: 'query($n: String!) { residentByMyNumber(myNumber: $n) { id } }', variables: () => ({ n: resident.input.myNumber }),
  },
  {
    search: 'a ticket by number', session: () => officer, reads: /FROM "ticket"/, uses: [['ticket_number_key', /ticket_number =/]],
    query: 'query($n: String!) { ticketByNumber(ticketNumber: $n) { id } }', variables: () => ({ n: ticket.ticketNumber }),
  },
  {
    search: 'a ticket and its holder by the OCR line the tablet reads', session: () => site, reads: /FROM ticket t/,
    uses: [['ticket_number_key', /ticket_number =/], ['resident_pk', /\bid = t\.resident_id/]],
    query: SCAN, variables: () => ({ ticket: { ocrLine: ticket.ocrLine } }),
  },
  {
    search: 'the operation log by target', session: () => officer, reads: /FROM "audit_event"/,
    // The index of targets, each chain's events past its mark (not yet indexed) by their sequence, then the events by id.
    uses: [['audit_event_target_pkey', /target_id =/], ['audit_event_chain_idx', /seq >/], [/^audit_event_(pk|municipality_id_idx)$/, /\bid = ANY/]],
    query: 'query($id: String!) { auditEvents(filter: { targetId: $id }) { nodes { id } } }', variables: () => ({ id: resident.id }),
  },
  ...auditSearches(),
  ...accountSearches(),
  {
    search: "the ticket, its holder and the holder's doses as the tablet registers a dose", session: () => site, reads: /AS history/,
    uses: [['ticket_number_key', /ticket_number =/], ['resident_pk', /\bid = t\.resident_id/], [/^vaccination_record_(dose_key|resident_idx)$/, /resident_id = r\.id/]],
    query: REGISTER_DOSE, variables: () => ({ input: doseInput(code, ticket.ticketNumber) }),
  },
  {
    search: 'the doses pending on a ticket not issued yet as the tablet registers one more', session: () => site, reads: /FROM pending_dose/,
    uses: [['pending_dose_ticket_idx', /ticket_number =/]],
    query: REGISTER_DOSE, variables: () => ({ input: doseInput(code, freshTicketNumber()) }),
  },
  {
    search: 'the first receipt, when the tablet sends a registration again', session: () => site, reads: /FROM tablet_registration g/,
    uses: [['tablet_registration_pk', /idempotency_key =/], ['pending_dose_pk', /\bid = g\.pending_dose_id/], ['vaccination_record_pk', /\bid = .*g\.vaccination_record_id/]],
    query: REGISTER_DOSE, variables: () => ({ input: registered }),
  },
  {
    search: 'the ticket numbers an officer gives, checked as free', session: () => officer, reads: /^SELECT ticket_number FROM ticket/,
    uses: [['ticket_number_key', /ticket_number = ANY/]],
    query: ISSUE, variables: () => ({ input: { series: '1-2', tickets: [{ residentId: unissued[0], ticketNumber: freshTicketNumber() }] } }),
  },
  {
    search: 'the ticket numbers drawn for an officer, checked as free', session: () => officer, reads: /UNION SELECT ticket_number FROM pending_dose/,
    uses: [['ticket_number_key', /ticket_number = ANY/], ['pending_dose_ticket_idx', /ticket_number = ANY/]],
    query: ISSUE, variables: () => ({ input: { series: '1-2', tickets: [{ residentId: unissued[1] }] } }),
  },
  {
    search: "an integrator's eligibility check, by ticket number and birth date", session: () => integrator, reads: /FROM integrator_contract/,
    uses: [['integrator_contract_pk', /integrator_account_id =/], ['ticket_number_key', /ticket_number =/],
      [/^resident_(pk|birth_date_idx)$/, /\b(id = t\.resident_id|birth_date =)/], [/^vaccination_record_(dose_key|resident_idx)$/, /resident_id = r\.id/]],
    query: 'query($m: String!, $n: String!, $b: String!) { ticketEligibility(municipalityCode: $m, ticketNumber: $n, birthDate: $b) { status } }',
    variables: () => ({ m: code, n: ticket.ticketNumber, b: '1931-03-01' }),
  },
  {
    search: 'residents by a rare status', session: () => officer, reads: /FROM "resident"/, uses: [['resident_status_idx', /status =/]],
    query: 'query { residents(filter: { status: DECEASED }) { nodes { id } } }', variables: () => ({}),
  },
  {
    search: 'a later page of residents by a rare status', session: () => officer, reads: /FROM "resident"/,
    uses: [['resident_status_idx', /status = .*municipality_code = .*addressee_number >/]],
    query: 'query($after: String) { residents(filter: { status: DECEASED }, first: 2, after: $after) { nodes { id } } }',
    variables: () => ({ after: encodeCursor([code, deceased[1]]) }),
  },
  ...laterPagesOfTheLast(),
  {
    search: 'tickets by a rare series', session: () => officer, reads: /FROM "ticket"/, uses: [['ticket_series_idx', /municipality_code = .* AND .*series =/]],
    query: 'query($series: String!) { tickets(filter: { series: $series }) { nodes { id } } }', variables: () => ({ series: RARE_SERIES }),
  },
  {
    search: "a resident's doses", session: () => officer, reads: /FROM "vaccination_record"/, uses: [['vaccination_record_resident_idx', /resident_id =/]],
    query: 'query($id: ID!) { resident(id: $id) { vaccinations(includeHistory: true) { id } } }', variables: () => ({ id: ticket.residentId }),
  },
  {
    search: "a resident's tickets", session: () => officer, reads: /FROM "ticket"/, uses: [['ticket_resident_idx', /resident_id =/]],
    query: 'query($id: ID!) { resident(id: $id) { tickets { id } } }', variables: () => ({ id: ticket.residentId }),
  },
] as const;

it.each(searches)('finds $search through its index', async ({ session, query, variables, reads, uses }) => {
  const scans = await indexScans(await sent(session(), query, variables(), reads), session().municipalityCode ?? code);
  for (const [index, on] of uses) {
    expect(scans).toContainEqual({ index: typeof index === 'string' ? index : expect.stringMatching(index), on: expect.stringMatching(on) });
  }
});

/** The statement an officer's download of the export sends, with `query` as its query string. */
async function exported(query: string): Promise<Statement> {
  const copy = jest.spyOn(csvCopy, 'copyCsv');
  try {
    const response = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv?${query}`, { headers: { authorization: `Bearer ${officer.token}` } });
    expect(response.status).toBe(200);
    await response.text();
    return { query: copy.mock.calls[0][2], parameters: [] };
  } finally {
    copy.mockRestore();
  }
}

/**
 * The export has no index on its vaccination dates (measured: one would spare a month's download
 * little, as the residents are joined whole), but it reads its own municipality's records, not the nation's.
 */
it("reads an export's records through an index on their municipality", async () => {
  expect(await indexScans(await exported('from=2022-01-01&to=2022-01-31'))).toContainEqual({
    index: expect.stringMatching(/^vaccination_record_/), on: expect.stringMatching(/^\(municipality_code = '\d{6}'/),
  });
});

/**
 * A pull by registration date reads the records registered in its days, those corrected or entered
 * in error in them and the residents changed in them, each through an index on its time, instead of
 * every record of the municipality.
 */
it("reads a day's pull by registration date through an index on each of its times", async () => {
  const scans = await indexScans(await exported('registeredFrom=2023-05-01&registeredTo=2023-05-01'));
  expect(scans).toContainEqual({ index: 'vaccination_record_created_idx', on: expect.stringMatching(/created_at >= .* AND .*created_at </) });
  expect(scans).toContainEqual({ index: 'vaccination_record_status_changed_idx', on: expect.stringMatching(/status_changed_at >= .* AND .*status_changed_at </) });
  expect(scans).toContainEqual({ index: 'resident_updated_idx', on: expect.stringMatching(/updated_at >= .* AND .*updated_at </) });
  // Then each record found, its resident, its ticket and the record it corrected, by their keys.
  expect(scans).toContainEqual({ index: 'vaccination_record_pk', on: expect.stringMatching(/municipality_code = .* AND .*\bid = /) });
  expect(scans).toContainEqual({ index: 'resident_pk', on: expect.stringMatching(/municipality_code = .* AND .*\bid = v\.resident_id/) });
  expect(scans).toContainEqual({ index: 'ticket_pk', on: expect.stringMatching(/municipality_code = .* AND .*\bid = v\.ticket_id/) });
  expect(scans).toContainEqual({ index: 'vaccination_record_superseded_by_key', on: expect.stringMatching(/municipality_code = .* AND .*superseded_by = v\.id/) });
});

/**
 * A server that starts records as FAILED the imports a dead process left unfinished, in every
 * municipality. Import jobs are kept for good, one for every file ever sent: it reads only those
 * still queued or running, not every import ever made.
 */
it('finds the unfinished imports of every municipality, as a server starts, through an index of those alone', async () => {
  const statements = await t.queries.record(() => t.app.services.imports.failStale(null));
  const [stale] = statements.filter((s) => /UPDATE import_job/.test(s.query));
  expect(await indexScans(stale)).toContainEqual({ index: 'import_job_unfinished_idx', on: undefined });
});
