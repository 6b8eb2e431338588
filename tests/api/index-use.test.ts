import { randomInt, randomUUID } from 'node:crypto';
import { APP_ROLE } from '../../src/db/data-source';
import { setTenants } from '../../src/db/tenant-session';
import { writeAudit } from '../../src/services/audit.service';
import { importFile, registryCsv, registryRow } from '../helpers/registry-csv';
import { residentWithTicket, SCAN, tablet } from '../helpers/vaccination';
import { registerResident, Session, Statement, TestApp } from '../helpers/test-app';

/**
 * The searches a municipality of millions depends on reach their rows through an index on what
 * they search, not by reading the municipality. Each search is sent through the API, and the
 * planner is asked about the very statement the API sent, as the application role, under the row-
 * level security the request had. The municipality is given a few thousand residents, tickets and
 * operation-log events, and sequential scans are ruled out: a search whose expression no longer
 * matches its index then reads the whole municipality through another index, and fails here.
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
let resident: { id: string; input: Record<string, unknown> };
let ticket: { ticketNumber: string; ocrLine: string };

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
  expect(await importFile(t, officer, registryCsv(rows))).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 3000, ticketsInserted: 3000 });
  await writeAudit(t.db, { requestId: 'test', channel: 'CLI', actor: null },
    rows.map(() => ({ operation: 'resident.read', municipalityCode: code, targetIds: [randomUUID()], outcome: 'SUCCESS' })));
  resident = await registerResident(officer, { familyNameKana: 'ヌマタ', givenNameKana: 'ミノル', birthDate: '1931-02-28' });
  ticket = await residentWithTicket(officer);
  await t.db.query('ANALYZE resident, ticket, audit_event, audit_event_target');
}, 120_000);
afterAll(() => t.stop());

const nodes = (plan: PlanNode): PlanNode[] => [plan, ...(plan.Plans ?? []).flatMap(nodes)];

/** The index scans of a statement's plan, as the application role plans it for the municipality. */
async function indexScans(statement: Statement): Promise<{ index?: string; on?: string }[]> {
  const runner = t.db.createQueryRunner();
  await runner.startTransaction();
  try {
    await runner.query('SET LOCAL enable_seqscan = off');
    await runner.query(`SET LOCAL ROLE ${APP_ROLE}`);
    await setTenants(runner, [code]);
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

/** Each search: the request, the statement of it to plan, and each index it must use with a condition on what it searches. */
const searches = [
  {
    search: 'residents by kana prefix', session: () => officer, reads: /FROM "resident"/, uses: [['resident_kana_idx', /search_kana ~>=~/]],
    query: 'query($kana: String!) { residents(filter: { kanaPrefix: $kana }) { nodes { id } } }', variables: () => ({ kana: 'ヌマ' }),
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
    // The index of targets, and each chain's events past its mark (not yet indexed) by their sequence.
    uses: [['audit_event_target_pkey', /target_id =/], ['audit_event_chain_idx', /seq >/], ['audit_event_pk', /\bid = ANY/]],
    query: 'query($id: String!) { auditEvents(filter: { targetId: $id }) { nodes { id } } }', variables: () => ({ id: resident.id }),
  },
] as const;

it.each(searches)('finds $search through its index', async ({ session, query, variables, reads, uses }) => {
  const scans = await indexScans(await sent(session(), query, variables(), reads));
  for (const [index, on] of uses) expect(scans).toContainEqual({ index, on: expect.stringMatching(on) });
});
