import { randomInt, randomUUID } from 'node:crypto';
import { Channel, Role } from '../../src/schema/enums';
import { insertResidents, registerResident, Session, TestApp } from './test-app';

export const ISSUE = `mutation($input: IssueTicketsInput!) {
  issueTickets(input: $input) { issuedCount matchedPendingDoses tickets { id ticketNumber series ocrLine residentId voidedOn } userErrors { field code message } }
}`;

export const SCAN = `query($ticket: TicketReference!) {
  scanTicket(ticket: $ticket) { status message municipalityCode ticketNumber series nextDoseNumber doses { doseNumber vaccinatedOn manufacturer } }
}`;

export const REGISTER_DOSE = `mutation($input: RegisterDoseInput!) {
  registerDose(input: $input) {
    receipt { id status message municipalityCode ticketNumber doseNumber vaccinatedOn vaccineCode manufacturer product lotNumber siteMunicipalityCode registeredAt }
    userErrors { field code message }
  }
}`;

export const RESIDENT_DOSES = `query($id: ID!) {
  resident(id: $id) { id vaccinations(includeHistory: true) { id doseNumber vaccinatedOn vaccineCode manufacturer lotNumber siteMunicipalityCode source status statusReason supersededBy statusChangedBy } }
}`;

/** A fresh 10-digit ticket number, unlikely to be used anywhere else in the test run. */
export const freshTicketNumber = () => String(randomInt(1e9, 1e10)).padStart(10, '0');

/** Issues one ticket (with a chosen number) to a new resident of the officer's municipality. */
export async function residentWithTicket(
  officer: Session, options: { series?: string; birthDate?: string; ticketNumber?: string } = {},
): Promise<{ residentId: string; ticketId: string; ticketNumber: string; ocrLine: string }> {
  const { id } = await registerResident(officer, options.birthDate ? { birthDate: options.birthDate } : {});
  const ticketNumber = options.ticketNumber ?? freshTicketNumber();
  const result = await officer.gql(ISSUE, { input: { series: options.series ?? '1-2', tickets: [{ residentId: id, ticketNumber }] } });
  const ticket = result.data?.issueTickets?.tickets?.[0];
  if (!ticket) throw new Error(`issue failed: ${JSON.stringify(result)}`);
  return { residentId: id, ticketId: ticket.id, ticketNumber, ocrLine: ticket.ocrLine };
}

export function doseInput(municipalityCode: string, ticketNumber: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    ticket: { municipalityCode, ticketNumber },
    doseNumber: 1,
    vaccinatedOn: '2024-05-01',
    vaccineCode: 'PFIZER-COMIRNATY',
    lotNumber: 'FA1234',
    idempotencyKey: `key-${randomUUID()}`,
    ...overrides,
  };
}

export const tablet = (t: TestApp, municipalityCode: string) => t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode });

/** The ticket numbers of the caller's pending doses, read two a page through the list's cursor. */
export async function pagedPendingDoses(officer: Session): Promise<string[]> {
  const PAGE = 'query($after: ID) { pendingDoses(first: 2, after: $after) { id ticketNumber } }';
  const seen: string[] = [];
  let page: { id: string; ticketNumber: string }[] = [];
  let after: string | null = null;
  for (let i = 0; i < 5 && (i === 0 || page.length === 2); i++) {
    page = (await officer.gql(PAGE, { after })).data.pendingDoses;
    seen.push(...page.map((p) => p.ticketNumber));
    after = page.at(-1)?.id ?? null;
  }
  return seen;
}

/**
 * Leaves the planner's statistics counting another municipality's 5,000 residents and their
 * tickets, and none of a municipality made after: as a city registered faster than autovacuum counts
 * it, which the planner then reckons has one resident and one ticket.
 */
export async function countAnotherCity(t: TestApp): Promise<{ code: string; officer: Session }> {
  const counted = await t.tenant();
  await insertResidents(t.db, counted.code, 5_000);
  await counted.officer.gql(ISSUE, { input: { series: '1-2', allActiveResidents: true } });
  await t.db.query('ANALYZE resident, ticket');
  return counted;
}
