import { randomUUID } from 'node:crypto';
import { lockKeyVersions, lockRegistry } from '../../src/db/registry-lock';
import { Channel, Role } from '../../src/schema/enums';
import { RESUME, SUSPEND } from '../helpers/operations';
import { codes, registerResident, TestApp } from '../helpers/test-app';
import { doseInput, freshTicketNumber, ISSUE, pagedPendingDoses, REGISTER_DOSE, RESIDENT_DOSES, residentWithTicket, SCAN, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const userErrors = (r: any) => r.data.registerDose.userErrors;
const ENTERED_IN_ERROR = 'mutation($id: ID!) { deleteVaccinationRecord(id: $id, reason: "wrong person") { userErrors { code } } }';
/** A retry of a dose its municipality has since removed. */
const removed = [{ field: ['input', 'idempotencyKey'], code: 'IDEMPOTENCY_KEY_REUSED', message: 'was already used for a dose its municipality has since removed: use a new key per dose' }];

describe('tablet: scan', () => {
  it('tells a site the ticket is valid and shows the dose history, nothing identifying', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    const { ticketNumber, ocrLine } = await residentWithTicket(home.officer);
    const site = await tablet(t, siteCode);
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    const scan = await site.gql(SCAN, { ticket: { ocrLine } });
    expect(scan.data.scanTicket).toEqual({
      status: 'VALID', message: 'Valid: register dose 2.', municipalityCode: home.code, ticketNumber, series: '1-2', nextDoseNumber: 2,
      doses: [{ doseNumber: 1, vaccinatedOn: '2024-05-01', manufacturer: 'Pfizer' }],
    });
    // Same answer from the two fields instead of the OCR line.
    expect((await site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber } })).data).toEqual(scan.data);
    const audit = await t.db.query(`SELECT actor_id, outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'ticket.scan'`, [home.code]);
    expect(audit).toEqual([{ actor_id: site.accountId, outcome: 'SUCCESS' }, { actor_id: site.accountId, outcome: 'SUCCESS' }]);
  });

  it('catches misreads: check digit, dose digit, shape, unknown municipality', async () => {
    const home = await t.tenant();
    const { ticketNumber } = await residentWithTicket(home.officer, { series: '1-2' });
    const site = await tablet(t, home.code);
    const wrongCheck = `${home.code.slice(0, 5)}${(Number(home.code[5]) + 1) % 10}`;
    const cases: [Record<string, string>, string, string[]][] = [
      [{ ocrLine: `13${wrongCheck}${ticketNumber}` }, 'INVALID_CHECK_DIGIT', ['ocrLine']],
      [{ ocrLine: `13${home.code}${ticketNumber}` }, 'DOSE_DIGIT_MISMATCH', ['ocrLine']],
      [{ ocrLine: `10${home.code}${ticketNumber}` }, 'DOSE_DIGIT_MISMATCH', ['ocrLine']],
      [{ ocrLine: `11${home.code}${ticketNumber.slice(1)}` }, 'INVALID_FORMAT', ['ocrLine']],
      [{ municipalityCode: wrongCheck, ticketNumber }, 'INVALID_CHECK_DIGIT', ['municipalityCode']],
      [{ municipalityCode: '479993', ticketNumber }, 'UNKNOWN_MUNICIPALITY', ['municipalityCode']],
      [{ municipalityCode: home.code, ticketNumber: '123' }, 'INVALID_FORMAT', ['ticketNumber']],
      // Two readings of one ticket that disagree, or half of one: refused, naming the part.
      [{ ocrLine: `11${home.code}${ticketNumber}`, ticketNumber: '0000000001' }, 'INVALID_FORMAT', ['ticketNumber']],
      [{ municipalityCode: home.code }, 'REQUIRED', ['ticketNumber']],
    ];
    for (const [ticket, reason, field] of cases) {
      const result = await site.gql(SCAN, { ticket });
      expect(result.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['ticket', ...field], reason });
    }
    expect((await site.gql(SCAN, { ticket: { ocrLine: `11${home.code}${ticketNumber}` } })).data.scanTicket.status).toBe('VALID');
    // Both readings given and agreeing, as a tablet that fills every field from the QR code sends them.
    expect((await site.gql(SCAN, { ticket: { ocrLine: `11${home.code}${ticketNumber}`, municipalityCode: home.code, ticketNumber } })).data.scanTicket.status).toBe('VALID');
    // Every misread is in the operation log, so a site that keeps misreading can be found.
    const [{ misreads }] = await t.db.query(
      `SELECT count(*)::int AS misreads FROM audit_event WHERE actor_id = $1 AND operation = 'ticket.scan.misread' AND outcome = 'FAILURE'`,
      [site.accountId],
    );
    expect(misreads).toBe(cases.length);
  });

  it('reads an OCR line typed with Japanese input: full-width digits, spaces and hyphens, a dash or the long-vowel mark for a hyphen', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const { ticketNumber, ocrLine } = await residentWithTicket(home.officer);
    const wide = (text: string) => text.replace(/[0-9]/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
    const [head, code, number] = [ocrLine.slice(0, 2), ocrLine.slice(2, 8), ocrLine.slice(8)];
    for (const typed of [`${head}-${code}-${number}`, wide(`${head}　${code}　${number}`), wide(`${head}－${code}－${number}`), wide(`${head}ー${code}ー${number}`), `${head}‐${code}ｰ${number}`]) {
      const scan = await site.gql(SCAN, { ticket: { ocrLine: typed } });
      expect({ typed, answer: scan.data?.scanTicket ?? scan.errors }).toEqual({ typed, answer: expect.objectContaining({ status: 'VALID', municipalityCode: home.code, ticketNumber }) });
    }
    const registered = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { ticket: { ocrLine: wide(`${head}－${code}－${number}`) } }) });
    expect(registered.data.registerDose.receipt).toMatchObject({ status: 'RECORDED', municipalityCode: home.code, ticketNumber });
  });

  it('refuses a dose digit beyond the next dose as registration does, instead of proposing a dose it would refuse', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const { ticketNumber } = await residentWithTicket(home.officer, { series: '1-2' });
    const misread = `12${home.code}${ticketNumber}`;
    const scan = await site.gql(SCAN, { ticket: { ocrLine: misread } });
    expect(scan.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['ticket', 'ocrLine'], reason: 'DOSE_DIGIT_MISMATCH' });
    expect(scan.errors?.[0].message).toBe('ticket.ocrLine: the dose digit (2) is for a later dose than this ticket\'s next one (1): misread?');
    expect(userErrors(await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { ticket: { ocrLine: misread } }) })).map((e: any) => e.code))
      .toEqual(['DOSE_DIGIT_MISMATCH']);
    // Once dose 1 is recorded, the same line is a ticket used for its next dose.
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    const next = await site.gql(SCAN, { ticket: { ocrLine: misread } });
    expect(next.data.scanTicket).toMatchObject({ status: 'VALID', nextDoseNumber: 2 });
    const second = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { ticket: { ocrLine: misread }, doseNumber: 2, vaccinatedOn: '2024-06-01' }) });
    expect(second.data.registerDose.receipt.status).toBe('RECORDED');
    // A ticket printed for a later dose than the person is due for is no misread: it does not cover that dose.
    const early = await residentWithTicket(home.officer, { series: '3' });
    expect((await site.gql(SCAN, { ticket: { ocrLine: early.ocrLine } })).data.scanTicket.status).toBe('NOT_IN_SERIES');
  });

  it('says why a ticket is not usable', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const moved = await residentWithTicket(home.officer);
    await home.officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { userErrors { code } } }', { id: moved.residentId });
    const dead = await residentWithTicket(home.officer);
    await home.officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { userErrors { code } } }', { id: dead.residentId });
    const voided = await residentWithTicket(home.officer);
    await home.officer.gql('mutation($id: ID!) { voidTicket(id: $id, reason: "lost") { userErrors { code } } }', { id: voided.ticketId });
    const done = await residentWithTicket(home.officer, { series: '3' });
    await home.officer.gql('mutation($i: RecordDoseInput!) { recordDose(input: $i) { userErrors { code } } }', {
      i: { residentId: done.residentId, doseNumber: 1, vaccinatedOn: '2023-01-01', vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: 'L1' },
    });
    await home.officer.gql('mutation($i: RecordDoseInput!) { recordDose(input: $i) { userErrors { code } } }', {
      i: { residentId: done.residentId, doseNumber: 2, vaccinatedOn: '2023-02-01', vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: 'L1' },
    });
    const statusOf = async (n: string) => (await site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber: n } })).data.scanTicket.status;
    expect(await statusOf(moved.ticketNumber)).toBe('RESIDENT_MOVED_OUT');
    expect(await statusOf(dead.ticketNumber)).toBe('RESIDENT_DECEASED');
    expect(await statusOf(voided.ticketNumber)).toBe('VOID');
    expect(await statusOf(freshTicketNumber())).toBe('NOT_REGISTERED');
    // Doses 1 and 2 recorded, ticket for dose 3: valid for 3.
    expect(await statusOf(done.ticketNumber)).toBe('VALID');
    const early = await residentWithTicket(home.officer, { series: '3' });
    expect(await statusOf(early.ticketNumber)).toBe('NOT_IN_SERIES');
    const full = await residentWithTicket(home.officer, { series: '1' });
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, full.ticketNumber) });
    expect(await statusOf(full.ticketNumber)).toBe('SERIES_COMPLETED');
  });

  it('refuses to scan with FUNCTION_SUSPENDED while registration is stopped for the ticket\'s or the site\'s municipality', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    const site = await tablet(t, siteCode);
    const { ticketNumber, ocrLine } = await residentWithTicket(home.officer);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const scanAndRegister = async () => [
      await site.gql(SCAN, { ticket: { ocrLine } }),
      await site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber: freshTicketNumber() } }),
      await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) }),
    ];
    // A scan that says "register dose 1" while registerDose refuses would send the site to do what cannot work.
    for (const stopped of [home.code, siteCode]) {
      expect((await operator.gql(SUSPEND, { f: 'TABLET_REGISTRATION', m: stopped, r: 'records under review' })).data.suspendFunction.userErrors).toEqual([]);
      try {
        const answers = await scanAndRegister();
        for (const answer of answers) {
          expect(codes(answer)).toEqual(['FUNCTION_SUSPENDED']);
          expect(answer.errors?.[0].extensions).toMatchObject({ code: 'FUNCTION_SUSPENDED', function: 'TABLET_REGISTRATION' });
        }
      } finally {
        await operator.gql(RESUME, { f: 'TABLET_REGISTRATION', m: stopped });
      }
    }
    // A stop elsewhere does not concern this site or this ticket.
    const elsewhere = await t.createMunicipality();
    await operator.gql(SUSPEND, { f: 'TABLET_REGISTRATION', m: elsewhere, r: 'records under review' });
    try {
      expect((await site.gql(SCAN, { ticket: { ocrLine } })).data.scanTicket).toMatchObject({ status: 'VALID', message: 'Valid: register dose 1.' });
    } finally {
      await operator.gql(RESUME, { f: 'TABLET_REGISTRATION', m: elsewhere });
    }
  });

  describe('never reveals personal data by any path', () => {
    const paths = {
      field: 'query($t: TicketReference!) { scanTicket(ticket: $t) { familyName } }',
      nestedDose: 'query($t: TicketReference!) { scanTicket(ticket: $t) { doses { birthDate } } }',
      alias: 'query($t: TicketReference!) { scanTicket(ticket: $t) { name: familyName } }',
      fragmentOnResident: 'query($id: ID!) { resident(id: $id) { ...F } } fragment F on Resident { familyName birthDate }',
      aliasResident: 'query($id: ID!) { r: resident(id: $id) { n: givenName } }',
      inlineFragment: 'query($id: ID!) { resident(id: $id) { ... on Resident { myNumber } } }',
      residentList: '{ residents { nodes { familyName vaccinations { id } } } }',
      records: 'query($id: ID!) { vaccinationRecord(id: $id) { id residentId } }',
      tickets: '{ tickets { nodes { residentId } } }',
    };
    it.each(Object.entries(paths))('%s', async (_name, query) => {
      const home = await t.tenant();
      const { residentId, ticketNumber } = await residentWithTicket(home.officer);
      const site = await tablet(t, home.code);
      const registered = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
      const recordId = (await t.db.query('SELECT id FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [home.code, residentId]))[0].id;
      expect(registered.data.registerDose.receipt.status).toBe('RECORDED');
      const result = await site.gql(query, { t: { municipalityCode: home.code, ticketNumber }, id: query.includes('vaccinationRecord') ? recordId : residentId });
      const text = JSON.stringify(result);
      expect(Object.values(result.data ?? {}).every((v) => v === null)).toBe(true);
      expect(codes(result).some((c) => c === 'FORBIDDEN' || c === 'GRAPHQL_VALIDATION_FAILED')).toBe(true);
      for (const value of ['山田', '花子', '1980-04-01', residentId]) expect(text).not.toContain(value);
    });
  });
});

describe('tablet: register', () => {
  it('keeps the venue and the doctor a site gives, through a pending registration too, and refuses them malformed', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const REGISTER = `mutation($input: RegisterDoseInput!) { registerDose(input: $input) {
      receipt { id status venue doctorName } userErrors { field code message } } }`;
    const given = { venue: ' 区民会館 ホールA ', doctorName: '山田 一郎' };
    const { residentId, ticketNumber } = await residentWithTicket(home.officer);
    const recorded = await site.gql(REGISTER, { input: doseInput(home.code, ticketNumber, given) });
    expect(recorded.data.registerDose.receipt).toMatchObject({ status: 'RECORDED', venue: '区民会館 ホールA', doctorName: '山田 一郎' });
    const READ = `query($id: ID!) { resident(id: $id) { vaccinations { doseNumber venue doctorName } } }`;
    expect((await home.officer.gql(READ, { id: residentId })).data.resident.vaccinations).toEqual([{ doseNumber: 1, venue: '区民会館 ホールA', doctorName: '山田 一郎' }]);
    // Without them, a dose is recorded as before.
    const bare = await site.gql(REGISTER, { input: doseInput(home.code, (await residentWithTicket(home.officer)).ticketNumber, { venue: '  ' }) });
    expect(bare.data.registerDose.receipt).toMatchObject({ status: 'RECORDED', venue: null, doctorName: null });

    const pendingNumber = freshTicketNumber();
    const pending = await site.gql(REGISTER, { input: doseInput(home.code, pendingNumber, { venue: '臨時会場' }) });
    expect(pending.data.registerDose.receipt).toMatchObject({ status: 'PENDING_REGISTRATION', venue: '臨時会場', doctorName: null });
    const { id: holder } = await registerResident(home.officer);
    expect((await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: holder, ticketNumber: pendingNumber }] } })).data.issueTickets.matchedPendingDoses).toBe(1);
    expect((await home.officer.gql(READ, { id: holder })).data.resident.vaccinations).toEqual([{ doseNumber: 1, venue: '臨時会場', doctorName: null }]);

    const refused = await site.gql(REGISTER, { input: doseInput(home.code, freshTicketNumber(), { venue: 'x'.repeat(101), doctorName: '山田\n一郎' }) });
    expect(refused.data.registerDose.userErrors).toEqual([
      { field: ['input', 'venue'], code: 'INVALID_FORMAT', message: 'must be at most 100 characters' },
      { field: ['input', 'doctorName'], code: 'INVALID_FORMAT', message: expect.stringMatching(/control characters/) },
    ]);
  });

  it('records a dose for a resident of another municipality in that municipality, with the site recorded', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { residentId, ticketNumber, ticketId } = await residentWithTicket(b.officer);
    const site = await tablet(t, a.code);
    const result = await site.gql(REGISTER_DOSE, { input: doseInput(b.code, ticketNumber, { lotNumber: 'fa-1234' }) });
    expect(result.data.registerDose).toEqual({
      receipt: {
        id: expect.any(String), status: 'RECORDED', message: 'Recorded.', municipalityCode: b.code, ticketNumber, doseNumber: 1, vaccinatedOn: '2024-05-01',
        vaccineCode: 'PFIZER-COMIRNATY', manufacturer: 'Pfizer', product: 'Comirnaty', lotNumber: 'FA-1234', siteMunicipalityCode: a.code, registeredAt: expect.any(String),
      },
      userErrors: [],
    });
    const rows = await t.db.query('SELECT municipality_code, site_municipality_code, source, recorded_by, ticket_id FROM vaccination_record WHERE resident_id = $1', [residentId]);
    expect(rows).toEqual([{ municipality_code: b.code, site_municipality_code: a.code, source: 'TABLET', recorded_by: site.accountId, ticket_id: ticketId }]);

    // B's officer sees it with site = A; A's officer cannot read it at all.
    const seen = await b.officer.gql(RESIDENT_DOSES, { id: residentId });
    expect(seen.data.resident.vaccinations).toEqual([expect.objectContaining({ doseNumber: 1, siteMunicipalityCode: a.code, source: 'TABLET', status: 'COMPLETED' })]);
    const recordId = seen.data.resident.vaccinations[0].id;
    expect((await a.officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident).toBeNull();
    expect((await a.officer.gql('query($id: ID!) { vaccinationRecord(id: $id) { id } }', { id: recordId })).data.vaccinationRecord).toBeNull();
    expect((await b.officer.gql('query($id: ID!) { vaccinationRecord(id: $id) { id siteMunicipalityCode } }', { id: recordId })).data.vaccinationRecord)
      .toEqual({ id: recordId, siteMunicipalityCode: a.code });

    const audit = await t.db.query(`SELECT municipality_code, actor_id, target_ids, outcome FROM audit_event WHERE operation = 'vaccination.register' AND actor_id = $1`, [site.accountId]);
    expect(audit).toEqual([{ municipality_code: b.code, actor_id: site.accountId, target_ids: [recordId], outcome: 'SUCCESS' }]);
  });

  it('reads back its own receipt by id, and no other tablet can', async () => {
    const home = await t.tenant();
    const { ticketNumber } = await residentWithTicket(home.officer);
    const site = await tablet(t, home.code);
    const other = await tablet(t, home.code);
    const receipt = (await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) })).data.registerDose.receipt;
    const READ = 'query($id: ID!) { doseReceipt(id: $id) { id status doseNumber municipalityCode ticketNumber lotNumber } }';
    expect((await site.gql(READ, { id: receipt.id })).data.doseReceipt).toEqual({
      id: receipt.id, status: 'RECORDED', doseNumber: 1, municipalityCode: home.code, ticketNumber, lotNumber: 'FA1234',
    });
    expect((await other.gql(READ, { id: receipt.id })).data.doseReceipt).toBeNull();
    expect(codes(await home.officer.gql(READ, { id: receipt.id }))).toEqual(['FORBIDDEN']);
  });

  it('records one of the same dose sent at once by several tablets, and tells the others it is a duplicate', async () => {
    const home = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(home.officer);
    const sites = await Promise.all(Array.from({ length: 4 }, () => tablet(t, home.code)));
    const results = await Promise.all(sites.map((site) => site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) })));
    expect(results.map((r) => r.errors)).toEqual([undefined, undefined, undefined, undefined]);
    const outcomes = results.map((r) => r.data.registerDose.receipt?.status ?? r.data.registerDose.userErrors.map((e: any) => e.code).join());
    expect(outcomes.sort()).toEqual(['DUPLICATE_DOSE', 'DUPLICATE_DOSE', 'DUPLICATE_DOSE', 'RECORDED']);
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [home.code, residentId]);
    expect(count).toBe(1);
  });

  it('returns the first result for a retried key, also when retried concurrently, and writes nothing more', async () => {
    const home = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(home.officer);
    const site = await tablet(t, home.code);
    const input = doseInput(home.code, ticketNumber);
    const results = await Promise.all(Array.from({ length: 5 }, () => site.gql(REGISTER_DOSE, { input })));
    const receipts = results.map((r) => r.data.registerDose.receipt);
    for (const r of results) expect(r.data.registerDose.userErrors).toEqual([]);
    expect(new Set(receipts.map((r) => r.id)).size).toBe(1);
    const later = await site.gql(REGISTER_DOSE, { input });
    expect(later.data.registerDose.receipt).toEqual(receipts[0]);
    // Each answer from the first result reads a record back, and is logged as such a read is.
    const reads = await t.db.query(`SELECT target_ids FROM audit_event WHERE actor_id = $1 AND operation = 'vaccination.receipt.read'`, [site.accountId]);
    expect(reads).toHaveLength(5);
    for (const read of reads) expect(read.target_ids).toEqual([receipts[0].id]);
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [home.code, residentId]);
    expect(count).toBe(1);
    // The same key for a different dose is a client bug, not a retry.
    const reused = await site.gql(REGISTER_DOSE, { input: { ...input, doseNumber: 2, vaccinatedOn: '2024-06-01' } });
    expect(userErrors(reused)).toEqual([{ field: ['input', 'idempotencyKey'], code: 'IDEMPOTENCY_KEY_REUSED', message: expect.any(String) }]);
    // Once the municipality has entered the dose in error, a retry is told so.
    const [{ id: recordId }] = (await home.officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations;
    expect((await home.officer.gql(ENTERED_IN_ERROR, { id: recordId })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    expect(userErrors(await site.gql(REGISTER_DOSE, { input }))).toEqual(removed);
  });

  it('answers for a dose entered in error as for one removed, and for a corrected one with the receipt as registered', async () => {
    const home = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(home.officer);
    const site = await tablet(t, home.code);
    const READ = 'query($id: ID!) { doseReceipt(id: $id) { id status lotNumber } }';
    const first = doseInput(home.code, ticketNumber);
    const second = doseInput(home.code, ticketNumber, { doseNumber: 2, vaccinatedOn: '2024-06-01' });
    const one = (await site.gql(REGISTER_DOSE, { input: first })).data.registerDose.receipt;
    const two = (await site.gql(REGISTER_DOSE, { input: second })).data.registerDose.receipt;
    const recordOf = async (doseNumber: number) => (await home.officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations
      .find((v: { doseNumber: number; status: string }) => v.doseNumber === doseNumber && v.status === 'COMPLETED').id;
    const scan = async () => (await site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber } })).data.scanTicket.message;

    // Dose 2 was another person's: the site is told so, as the scan tells it to register dose 2 again.
    expect((await home.officer.gql(ENTERED_IN_ERROR, { id: await recordOf(2) })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    expect(await scan()).toBe('Valid: register dose 2.');
    expect(userErrors(await site.gql(REGISTER_DOSE, { input: second }))).toEqual(removed);
    expect((await site.gql(READ, { id: two.id })).data.doseReceipt).toBeNull();

    // Dose 1's lot was misread: corrected, it still stands, and its receipt is the one the site was given.
    const CORRECT = 'mutation($id: ID!) { correctVaccinationRecord(id: $id, input: { lotNumber: "ZZ9", reason: "lot misread" }) { record { id } userErrors { code } } }';
    expect((await home.officer.gql(CORRECT, { id: await recordOf(1) })).data.correctVaccinationRecord.userErrors).toEqual([]);
    expect((await site.gql(REGISTER_DOSE, { input: first })).data.registerDose).toEqual({ receipt: one, userErrors: [] });
    expect((await site.gql(READ, { id: one.id })).data.doseReceipt).toEqual({ id: one.id, status: 'RECORDED', lotNumber: 'FA1234' });
    expect(await scan()).toBe('Valid: register dose 2.');

    // Then the corrected dose is entered in error too: the dose the site registered is gone.
    expect((await home.officer.gql(ENTERED_IN_ERROR, { id: await recordOf(1) })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    expect(await scan()).toBe('Valid: register dose 1.');
    expect(userErrors(await site.gql(REGISTER_DOSE, { input: first }))).toEqual(removed);
    expect((await site.gql(READ, { id: one.id })).data.doseReceipt).toBeNull();
    // A new key registers the dose again.
    expect((await site.gql(REGISTER_DOSE, { input: { ...first, idempotencyKey: `key-${randomUUID()}` } })).data.registerDose.receipt.status).toBe('RECORDED');
  });

  it('applies every dose rule with its own code and field', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const { ticketNumber } = await residentWithTicket(home.officer, { birthDate: '2000-01-01' });
    const ok = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { vaccinatedOn: '2024-05-01' }) });
    expect(userErrors(ok)).toEqual([]);
    const expectError = async (overrides: Record<string, unknown>, field: string[], code: string) => {
      const result = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, overrides) });
      expect(userErrors(result)).toEqual([{ field, code, message: expect.any(String) }]);
      expect(result.data.registerDose.receipt).toBeNull();
    };
    await expectError({ doseNumber: 3, vaccinatedOn: '2024-06-01' }, ['input', 'doseNumber'], 'DOSE_NOT_NEXT');
    await expectError({ doseNumber: 1, vaccinatedOn: '2024-06-01' }, ['input', 'doseNumber'], 'DOSE_NOT_NEXT');
    await expectError({ doseNumber: 1, vaccinatedOn: '2024-05-01' }, ['input', 'doseNumber'], 'DUPLICATE_DOSE');
    await expectError({ doseNumber: 2, vaccinatedOn: '2999-01-01' }, ['input', 'vaccinatedOn'], 'DATE_IN_FUTURE');
    await expectError({ doseNumber: 2, vaccinatedOn: '2024-04-30' }, ['input', 'vaccinatedOn'], 'DATE_BEFORE_PREVIOUS_DOSE');
    await expectError({ doseNumber: 2, vaccinatedOn: '2024-02-30' }, ['input', 'vaccinatedOn'], 'INVALID_DATE');
    await expectError({ doseNumber: 2, vaccinatedOn: '2024-06-01', lotNumber: 'FA 12/34' }, ['input', 'lotNumber'], 'INVALID_LOT_NUMBER');
    await expectError({ doseNumber: 2, vaccinatedOn: '2024-06-01', vaccineCode: 'SPUTNIK-V' }, ['input', 'vaccineCode'], 'UNKNOWN_VACCINE');
    await expectError({ doseNumber: 3, vaccinatedOn: '2024-06-01' }, ['input', 'doseNumber'], 'DOSE_NOT_NEXT');
    await expectError({ idempotencyKey: 'short' }, ['input', 'idempotencyKey'], 'INVALID_FORMAT');

    const young = await residentWithTicket(home.officer, { birthDate: '2022-06-01' });
    const early = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, young.ticketNumber, { vaccinatedOn: '2022-05-31' }) });
    expect(userErrors(early)).toEqual([{ field: ['input', 'vaccinatedOn'], code: 'DATE_BEFORE_BIRTH', message: 'must not be before the birth date' }]);
    const beforeVaccination = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber: 2, vaccinatedOn: '2021-02-16' }) });
    expect(userErrors(beforeVaccination)).toEqual([{ field: ['input', 'vaccinatedOn'], code: 'INVALID_DATE', message: 'must not be before 2021-02-17, when vaccination began' }]);
    // A dose bound to fail does not say whether its date is before the birth date: a site cannot search for it.
    const probes = [];
    for (const vaccinatedOn of ['2022-05-31', '2022-06-01']) {
      const probe = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, young.ticketNumber, { doseNumber: 2, vaccinatedOn }) });
      expect(userErrors(probe)).toEqual([{ field: ['input', 'doseNumber'], code: 'DOSE_NOT_NEXT', message: expect.any(String) }]);
      probes.push(probe);
    }
    expect(probes[0]).toEqual(probes[1]);

    // Series 1-2: dose 3 needs a new ticket.
    await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber: 2, vaccinatedOn: '2024-06-01' }) });
    await expectError({ doseNumber: 3, vaccinatedOn: '2024-09-01' }, ['input', 'doseNumber'], 'DOSE_NOT_IN_SERIES');

    const failures = await t.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE actor_id = $1 AND operation = 'vaccination.register' AND outcome = 'FAILURE'`, [site.accountId]);
    expect(failures[0].n).toBeGreaterThanOrEqual(10);
  });

  it('refuses void tickets, moved-out and deceased residents, unknown municipalities', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const voided = await residentWithTicket(home.officer);
    await home.officer.gql('mutation($id: ID!) { voidTicket(id: $id, reason: "reissued") { userErrors { code } } }', { id: voided.ticketId });
    const moved = await residentWithTicket(home.officer);
    await home.officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { userErrors { code } } }', { id: moved.residentId });
    const dead = await residentWithTicket(home.officer);
    await home.officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-01-01") { userErrors { code } } }', { id: dead.residentId });
    const first = async (n: string, code = home.code) => userErrors(await site.gql(REGISTER_DOSE, { input: doseInput(code, n) }))[0];
    expect(await first(voided.ticketNumber)).toMatchObject({ field: ['input', 'ticket'], code: 'TICKET_VOID' });
    expect(await first(moved.ticketNumber)).toMatchObject({ field: ['input', 'ticket'], code: 'RESIDENT_MOVED_OUT' });
    expect(await first(dead.ticketNumber)).toMatchObject({ field: ['input', 'ticket'], code: 'RESIDENT_DECEASED' });
    expect(await first(freshTicketNumber(), '479993')).toMatchObject({ field: ['input', 'ticket', 'municipalityCode'], code: 'UNKNOWN_MUNICIPALITY' });
    const ocr = await site.gql(REGISTER_DOSE, { input: { ...doseInput(home.code, voided.ticketNumber), ticket: { ocrLine: `1x${home.code}` } } });
    expect(userErrors(ocr)[0]).toMatchObject({ field: ['input', 'ticket', 'ocrLine'], code: 'INVALID_FORMAT' });
  });

  it('logs a registration refused before any ticket was found under the site\'s municipality, as a misread scan is', async () => {
    const siteHome = await t.tenant();
    const ticketHome = await t.tenant();
    const site = await tablet(t, siteHome.code);
    const { ticketNumber, ticketId } = await residentWithTicket(ticketHome.officer);
    const wrongCheck = `${ticketHome.code.slice(0, 5)}${(Number(ticketHome.code[5]) + 1) % 10}`;
    const refusals: [Record<string, unknown>, string][] = [
      [{ ticket: { ocrLine: `11${wrongCheck}${ticketNumber}` } }, 'INVALID_CHECK_DIGIT'],
      [{ ticket: { municipalityCode: '479993', ticketNumber } }, 'UNKNOWN_MUNICIPALITY'],
      [{ vaccinatedOn: '2099-01-01' }, 'DATE_IN_FUTURE'],
    ];
    for (const [overrides, code] of refusals) {
      expect(userErrors(await site.gql(REGISTER_DOSE, { input: doseInput(ticketHome.code, ticketNumber, overrides) }))[0].code).toBe(code);
    }
    // Refused on the ticket itself: under the ticket's municipality, naming it.
    expect(userErrors(await site.gql(REGISTER_DOSE, { input: doseInput(ticketHome.code, ticketNumber, { doseNumber: 2 }) }))[0].code).toBe('DOSE_NOT_NEXT');

    const EVENTS = `query($filter: AuditEventFilter) { auditEvents(filter: $filter) { nodes { municipalityCode targetIds outcome } } }`;
    const filter = { operation: 'vaccination.register', actorId: site.accountId };
    const failure = (municipalityCode: string, targetIds: string[]) => ({ municipalityCode, targetIds, outcome: 'FAILURE' });
    // The site's municipality sees its tablet's misreads; the operator finds them under it too.
    expect((await siteHome.officer.gql(EVENTS, { filter })).data.auditEvents.nodes).toEqual([failure(siteHome.code, ['-']), failure(siteHome.code, ['-']), failure(siteHome.code, ['-'])]);
    expect((await ticketHome.officer.gql(EVENTS, { filter })).data.auditEvents.nodes).toEqual([failure(ticketHome.code, [ticketId])]);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const bySite = await operator.gql(EVENTS, { filter: { ...filter, municipalityCode: siteHome.code } });
    expect(bySite.data.auditEvents.nodes).toHaveLength(3);
    const [{ n }] = await t.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE actor_id = $1 AND operation = 'vaccination.register'`, [site.accountId]);
    expect(n).toBe(4);
  });
});

describe('tablet: pending registration (接種対象者登録待ち)', () => {
  it('keeps a dose on an unregistered ticket pending, and matches it when the ticket is issued', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    const site = await tablet(t, siteCode);
    const ticketNumber = freshTicketNumber();
    const input = doseInput(home.code, ticketNumber);
    const result = await site.gql(REGISTER_DOSE, { input });
    const receipt = result.data.registerDose.receipt;
    expect(receipt).toMatchObject({ status: 'PENDING_REGISTRATION', municipalityCode: home.code, ticketNumber, siteMunicipalityCode: siteCode });
    expect(receipt.message).toContain('pending registration');

    // Dose 1 on the same unregistered ticket again, from another tablet: a duplicate, not a second pending dose.
    const again = await (await tablet(t, siteCode)).gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    expect(userErrors(again)).toEqual([{ field: ['input', 'doseNumber'], code: 'DUPLICATE_DOSE', message: expect.any(String) }]);

    const PENDING = '{ pendingDoses { id ticketNumber doseNumber siteMunicipalityCode status } }';
    const listed = (await home.officer.gql(PENDING)).data.pendingDoses;
    expect(listed).toEqual([{ id: expect.any(String), ticketNumber, doseNumber: 1, siteMunicipalityCode: siteCode, status: 'PENDING' }]);
    // Reading them is logged like any read of personal data.
    const [read] = await t.db.query(`SELECT target_ids FROM audit_event WHERE actor_id = $1 AND operation = 'pendingDose.read'`, [home.officer.accountId]);
    expect(read.target_ids).toEqual([listed[0].id]);
    const neighbour = await t.tenant();
    expect((await neighbour.officer.gql(PENDING)).data.pendingDoses).toEqual([]);

    // Issuing that ticket number matches the dose to the resident.
    const { id: residentId } = await registerResident(home.officer);
    const issued = await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId, ticketNumber }] } });
    expect(issued.data.issueTickets).toMatchObject({ matchedPendingDoses: 1, userErrors: [] });
    expect((await home.officer.gql(PENDING)).data.pendingDoses).toEqual([]);
    const doses = (await home.officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations;
    expect(doses).toEqual([expect.objectContaining({ doseNumber: 1, siteMunicipalityCode: siteCode, source: 'TABLET' })]);
    const READ = 'query($id: ID!) { doseReceipt(id: $id) { status ticketNumber } }';
    expect((await site.gql(READ, { id: receipt.id })).data.doseReceipt).toEqual({ status: 'RECORDED', ticketNumber });
    // A retry of the original request still answers with the same receipt, and writes nothing.
    const retry = await site.gql(REGISTER_DOSE, { input });
    expect(retry.data.registerDose).toEqual({ receipt: { ...receipt, status: 'RECORDED', message: 'Recorded.' }, userErrors: [] });
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [home.code, residentId]);
    expect(count).toBe(1);
  });

  it('answers for a pending dose whose record is gone, or that was dismissed, as for a recorded dose since removed', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const READ = 'query($id: ID!) { doseReceipt(id: $id) { status message } }';
    const file = async (ticketNumber = freshTicketNumber()) => {
      const input = doseInput(home.code, ticketNumber);
      const receipt = (await site.gql(REGISTER_DOSE, { input })).data.registerDose.receipt;
      expect(receipt.status).toBe('PENDING_REGISTRATION');
      return { input, receipt, ticketNumber };
    };
    // Matched when its ticket is issued, then the record entered in error.
    const matchedNumber = freshTicketNumber();
    const matched = await file(matchedNumber);
    const { id: residentId } = await registerResident(home.officer);
    expect((await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId, ticketNumber: matchedNumber }] } })).data.issueTickets.matchedPendingDoses).toBe(1);
    expect((await site.gql(READ, { id: matched.receipt.id })).data.doseReceipt.status).toBe('RECORDED');
    const MATCHED = 'query($n: String) { pendingDoses(status: MATCHED, ticketNumber: $n) { status vaccinationRecordId } }';
    const [{ vaccinationRecordId: recordId }] = (await home.officer.gql(MATCHED, { n: matchedNumber })).data.pendingDoses;
    expect((await home.officer.gql(ENTERED_IN_ERROR, { id: recordId })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    expect(userErrors(await site.gql(REGISTER_DOSE, { input: matched.input }))).toEqual(removed);
    expect((await site.gql(READ, { id: matched.receipt.id })).data.doseReceipt).toBeNull();
    // The resident keeps the record, so the matched dose keeps pointing at it.
    const DELETE_RESIDENT = 'mutation($id: ID!) { deleteResident(id: $id) { userErrors { code } } }';
    expect((await home.officer.gql(DELETE_RESIDENT, { id: residentId })).data.deleteResident.userErrors).toEqual([{ code: 'INVALID_STATE' }]);
    expect((await home.officer.gql(MATCHED, { n: matchedNumber })).data.pendingDoses).toEqual([{ status: 'MATCHED', vaccinationRecordId: recordId }]);
    expect((await home.officer.gql('query($id: ID!) { vaccinationRecord(id: $id) { status } }', { id: recordId })).data.vaccinationRecord).toEqual({ status: 'ENTERED_IN_ERROR' });
    // Dismissed by its municipality: nothing will match it any more.
    const dismissed = await file();
    const [{ id }] = (await home.officer.gql('query($n: String) { pendingDoses(ticketNumber: $n) { id } }', { n: dismissed.ticketNumber })).data.pendingDoses;
    const DISMISS = 'mutation($id: ID!) { dismissPendingDose(id: $id, reason: "not given at this site") { userErrors { code } } }';
    expect((await home.officer.gql(DISMISS, { id })).data.dismissPendingDose.userErrors).toEqual([]);
    expect(userErrors(await site.gql(REGISTER_DOSE, { input: dismissed.input }))).toEqual(removed);
    expect((await site.gql(READ, { id: dismissed.receipt.id })).data.doseReceipt).toBeNull();
    // One still waiting keeps its answer.
    const waiting = await file();
    expect((await site.gql(REGISTER_DOSE, { input: waiting.input })).data.registerDose.receipt).toEqual(waiting.receipt);
    expect((await site.gql(READ, { id: waiting.receipt.id })).data.doseReceipt.status).toBe('PENDING_REGISTRATION');
  });

  it('keeps the doses pending on one ticket in date order, so that they can all be matched', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const ticketNumber = freshTicketNumber();
    const register = (doseNumber: number, vaccinatedOn: string) => site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber, vaccinatedOn }) });
    expect((await register(2, '2024-06-01')).data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    for (const vaccinatedOn of ['2024-05-01', '2024-06-01']) {
      expect(userErrors(await register(3, vaccinatedOn))).toEqual([
        { field: ['input', 'vaccinatedOn'], code: 'DATE_BEFORE_PREVIOUS_DOSE', message: 'must be after dose 2 (2024-06-01), recorded pending registration on this ticket' },
      ]);
    }
    expect(userErrors(await register(1, '2024-07-01'))).toEqual([
      { field: ['input', 'vaccinatedOn'], code: 'DATE_AFTER_NEXT_DOSE', message: 'must be before dose 2 (2024-06-01), recorded pending registration on this ticket' },
    ]);
    expect((await register(1, '2024-04-01')).data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    expect((await register(3, '2024-11-01')).data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    // Issued, the ticket's three doses become its holder's records at once.
    const { id: residentId } = await registerResident(home.officer);
    const issued = await home.officer.gql(ISSUE, { input: { series: '1-3', tickets: [{ residentId, ticketNumber }] } });
    expect(issued.data.issueTickets).toMatchObject({ matchedPendingDoses: 3, userErrors: [] });
  });

  it('asks for a retry while the ticket\'s municipality is issuing tickets, instead of leaving the dose pending unmatched', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const { id: residentId } = await registerResident(home.officer);
    const ticketNumber = freshTicketNumber();
    const input = doseInput(home.code, ticketNumber);
    const pendingInput = doseInput(home.code, freshTicketNumber());
    const pendingBefore = (await site.gql(REGISTER_DOSE, { input: pendingInput })).data.registerDose.receipt;
    expect(pendingBefore.status).toBe('PENDING_REGISTRATION');
    // An issuance in flight: the ticket is written, its pending doses matched, the commit not yet made.
    const issuing = t.db.createQueryRunner();
    await issuing.connect();
    try {
      await issuing.startTransaction();
      await lockRegistry(issuing, home.code);
      await issuing.query(
        `INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on) VALUES ($1, gen_random_uuid(), $2, $3, '1-2', '2024-04-01')`,
        [home.code, residentId, ticketNumber],
      );
      expect(userErrors(await site.gql(REGISTER_DOSE, { input }))).toEqual([
        { field: ['input', 'ticket'], code: 'INVALID_STATE', message: 'its municipality is registering tickets right now: register the dose again in a minute' },
      ]);
      // A registration already kept pending is no new one: its retry gets the first receipt meanwhile.
      expect((await site.gql(REGISTER_DOSE, { input: pendingInput })).data.registerDose).toEqual({ receipt: pendingBefore, userErrors: [] });
      // An officer's issuance waits its turn the same way.
      const issued = await home.officer.gql(ISSUE, { input: { series: '3', allActiveResidents: true } });
      expect(issued.data.issueTickets.userErrors).toEqual([expect.objectContaining({ field: ['input'], code: 'INVALID_STATE' })]);
      await issuing.commitTransaction();
    } finally {
      if (issuing.isTransactionActive) await issuing.rollbackTransaction();
      await issuing.release();
    }
    expect((await site.gql(REGISTER_DOSE, { input })).data.registerDose.receipt).toMatchObject({ status: 'RECORDED', ticketNumber });
    expect(await t.db.query('SELECT 1 FROM pending_dose WHERE municipality_code = $1 AND ticket_number = $2', [home.code, ticketNumber])).toEqual([]);
  });

  it('files a pending dose while the municipality\'s residents are being re-encrypted: that holds no ticket back', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const batch = t.db.createQueryRunner();
    await batch.connect();
    try {
      await batch.startTransaction();
      await lockKeyVersions(batch, home.code);
      const result = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, freshTicketNumber()) });
      expect(result.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
      await batch.commitTransaction();
    } finally {
      await batch.release();
    }
  });

  it('leaves an unmatched dose for the municipality to assign or dismiss', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const one = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, freshTicketNumber(), { vaccinatedOn: '2024-05-02' }) });
    const two = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, freshTicketNumber()) });
    expect(one.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    expect(two.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    const pending = (await home.officer.gql('{ pendingDoses { id vaccinatedOn } }')).data.pendingDoses;
    const [p1, p2] = [pending.find((p: any) => p.vaccinatedOn === '2024-05-02'), pending.find((p: any) => p.vaccinatedOn === '2024-05-01')];
    const { id: residentId } = await registerResident(home.officer);
    const ASSIGN = 'mutation($id: ID!, $r: ID!) { assignPendingDose(id: $id, residentId: $r) { pendingDose { status vaccinationRecordId } userErrors { field code message } } }';
    const assigned = await home.officer.gql(ASSIGN, { id: p1.id, r: residentId });
    expect(assigned.data.assignPendingDose).toEqual({ pendingDose: { status: 'MATCHED', vaccinationRecordId: expect.any(String) }, userErrors: [] });
    // The second is dose 1 again for the same person: refused with the rule that failed.
    const conflict = await home.officer.gql(ASSIGN, { id: p2.id, r: residentId });
    expect(conflict.data.assignPendingDose.userErrors).toEqual([
      { field: ['id'], code: 'DOSE_NOT_NEXT', message: 'cannot be recorded for this resident: dose 1 is already recorded (on 2024-05-02); the next dose is 2' },
    ]);
    const LONG = 'mutation($id: ID!, $reason: String!) { dismissPendingDose(id: $id, reason: $reason) { pendingDose { status } userErrors { field code message } } }';
    // A reason too long is refused, not cut short.
    expect((await home.officer.gql(LONG, { id: p2.id, reason: 'x'.repeat(501) })).data.dismissPendingDose).toEqual({
      pendingDose: null, userErrors: [{ field: ['reason'], code: 'INVALID_FORMAT', message: 'must be at most 500 characters' }],
    });
    const DISMISS = 'mutation($id: ID!) { dismissPendingDose(id: $id, reason: "duplicate entry at the site") { pendingDose { status resolutionReason } userErrors { code } } }';
    expect((await home.officer.gql(DISMISS, { id: p2.id })).data.dismissPendingDose).toEqual({ pendingDose: { status: 'DISMISSED', resolutionReason: 'duplicate entry at the site' }, userErrors: [] });
    expect((await home.officer.gql('{ pendingDoses { id } }')).data.pendingDoses).toEqual([]);
    // Another municipality can neither see nor resolve them.
    const other = await t.tenant();
    expect((await other.officer.gql(DISMISS, { id: p1.id })).data.dismissPendingDose.userErrors).toEqual([{ code: 'NOT_FOUND' }]);
  });

  it('says in a sentence why an issued ticket did not match its pending dose', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const [outside, unborn] = [freshTicketNumber(), freshTicketNumber()];
    const filed = [];
    for (const number of [outside, unborn]) {
      const input = doseInput(home.code, number);
      const { receipt } = (await site.gql(REGISTER_DOSE, { input })).data.registerDose;
      expect(receipt.status).toBe('PENDING_REGISTRATION');
      filed.push({ input, receipt });
    }
    const { id: a } = await registerResident(home.officer);
    const { id: b } = await registerResident(home.officer, { birthDate: '2024-06-01' });
    const issued = await home.officer.gql(ISSUE, { input: { series: '3', tickets: [{ residentId: a, ticketNumber: outside }] } });
    expect(issued.data.issueTickets).toMatchObject({ matchedPendingDoses: 0, userErrors: [] });
    const late = await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: b, ticketNumber: unborn }] } });
    expect(late.data.issueTickets).toMatchObject({ matchedPendingDoses: 0, userErrors: [] });
    const problems = (await home.officer.gql('{ pendingDoses { ticketNumber matchProblem } }')).data.pendingDoses;
    expect(Object.fromEntries(problems.map((p: any) => [p.ticketNumber, p.matchProblem]))).toEqual({
      [outside]: 'DOSE_NOT_IN_SERIES: dose 1 is not covered by this ticket (series 3)',
      [unborn]: 'DATE_BEFORE_BIRTH: the vaccination date 2024-05-01 must not be before the birth date',
    });
    // The site, reading its receipt or sending the registration again, is told the dose waits for the
    // municipality, not for a ticket that is registered now; never why it did not match (a birth date).
    const waiting = 'Recorded pending registration (接種対象者登録待ち): the ticket is registered now, but the dose could not be matched to its holder; it is kept pending for the municipality to resolve.';
    for (const { input, receipt } of filed) {
      expect((await site.gql(REGISTER_DOSE, { input })).data.registerDose).toEqual({ receipt: { ...receipt, message: waiting }, userErrors: [] });
      expect((await site.gql('query($id: ID!) { doseReceipt(id: $id) { status message } }', { id: receipt.id })).data.doseReceipt)
        .toEqual({ status: 'PENDING_REGISTRATION', message: waiting });
    }
  });

  it('tells the site its dose waits for a ticket again once the resident the ticket went to is deleted, and matches it when the number is issued anew', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const ticketNumber = freshTicketNumber();
    const input = doseInput(home.code, ticketNumber);
    const { receipt } = (await site.gql(REGISTER_DOSE, { input })).data.registerDose;
    // The number goes to a resident registered by mistake, born after the dose: it does not match.
    const { id: mistaken } = await registerResident(home.officer, { birthDate: '2024-06-01' });
    expect((await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: mistaken, ticketNumber }] } })).data.issueTickets)
      .toMatchObject({ matchedPendingDoses: 0, userErrors: [] });
    const READ = 'query($id: ID!) { doseReceipt(id: $id) { status message } }';
    expect((await site.gql(READ, { id: receipt.id })).data.doseReceipt.message).toContain('the ticket is registered now');
    // Deleted with the ticket: the number is registered nowhere, as a scan of it says.
    const deleted = await home.officer.gql('mutation($id: ID!) { deleteResident(id: $id) { userErrors { code } } }', { id: mistaken });
    expect(deleted.data.deleteResident.userErrors).toEqual([]);
    expect((await site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber } })).data.scanTicket.status).toBe('NOT_REGISTERED');
    const waiting = { status: 'PENDING_REGISTRATION', message: receipt.message };
    expect((await site.gql(READ, { id: receipt.id })).data.doseReceipt).toEqual(waiting);
    expect((await site.gql(REGISTER_DOSE, { input })).data.registerDose).toEqual({ receipt, userErrors: [] });
    // Issued to the right resident, the dose is theirs.
    const { id: holder } = await registerResident(home.officer);
    expect((await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: holder, ticketNumber }] } })).data.issueTickets)
      .toMatchObject({ matchedPendingDoses: 1, userErrors: [] });
    expect((await site.gql(READ, { id: receipt.id })).data.doseReceipt).toEqual({ status: 'RECORDED', message: 'Recorded.' });
  });

  it('matches the pending doses of many tickets in as many statements as one ticket\'s, each dose against those matched before it', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    // Doses 1, 2 and 3 on each ticket: under series 1-2, doses 1 and 2 are matched (dose 2 after
    // the dose 1 matched with it) and dose 3 stays pending with its problem.
    const file = async () => {
      const ticketNumber = freshTicketNumber();
      for (const [doseNumber, vaccinatedOn] of [[1, '2024-05-01'], [2, '2024-06-01'], [3, '2024-11-01']] as const) {
        const filed = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber, vaccinatedOn }) });
        expect(filed.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
      }
      return { ticketNumber, residentId: (await registerResident(home.officer)).id };
    };
    const issue = async (tickets: { ticketNumber: string; residentId: string }[]) => {
      const before = t.queries.count;
      const issued = await home.officer.gql(ISSUE, { input: { series: '1-2', tickets } });
      expect(issued.data.issueTickets).toMatchObject({ matchedPendingDoses: 2 * tickets.length, userErrors: [] });
      return t.queries.count - before;
    };
    const one = [await file()];
    const three = [await file(), await file(), await file()];
    expect(await issue(three)).toBe(await issue(one));
    // One event an issuance, naming each of its matches (up to 500 an event).
    const events = await t.db.query(`SELECT cardinality(target_ids) AS ids FROM audit_event WHERE municipality_code = $1 AND operation = 'pendingDose.match' ORDER BY id`, [home.code]);
    expect(events).toEqual([{ ids: 12 }, { ids: 4 }]);
    for (const { ticketNumber, residentId } of [...one, ...three]) {
      const doses = (await home.officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations;
      expect(doses.map((d: any) => [d.doseNumber, d.vaccinatedOn, d.source, d.status])).toEqual([[1, '2024-05-01', 'TABLET', 'COMPLETED'], [2, '2024-06-01', 'TABLET', 'COMPLETED']]);
      const MATCHED = 'query($n: String) { pendingDoses(status: MATCHED, ticketNumber: $n) { id doseNumber vaccinationRecordId } }';
      const matched = (await home.officer.gql(MATCHED, { n: ticketNumber })).data.pendingDoses;
      expect(matched.map((p: any) => [p.doseNumber, p.vaccinationRecordId]).sort()).toEqual(doses.map((d: any) => [d.doseNumber, d.id]));
      // Each match is logged: the pending dose, then the record it became.
      const logged = await t.db.query(`SELECT target_ids FROM audit_event WHERE municipality_code = $1 AND operation = 'pendingDose.match' AND target_ids && $2::text[]`,
        [home.code, matched.map((p: any) => p.id)]);
      const pairs = logged.flatMap((e: any) => e.target_ids.flatMap((id: string, i: number) => (i % 2 ? [] : [[id, e.target_ids[i + 1]]])));
      expect(pairs.filter(([id]: string[]) => matched.some((p: any) => p.id === id)).sort()).toEqual(matched.map((p: any) => [p.id, p.vaccinationRecordId]).sort());
      const waiting = (await home.officer.gql('query($n: String) { pendingDoses(ticketNumber: $n) { doseNumber matchProblem } }', { n: ticketNumber })).data.pendingDoses;
      expect(waiting).toEqual([{ doseNumber: 3, matchProblem: 'DOSE_NOT_IN_SERIES: dose 3 is not covered by this ticket (series 1-2)' }]);
    }
  });

  it('assigns a pending dose whose ticket has since been issued to that ticket\'s holder only, on the ticket', async () => {
    const home = await t.tenant();
    const site = await tablet(t, home.code);
    const ticketNumber = freshTicketNumber();
    // Dose 2 given on a ticket not yet registered: when the ticket is issued, its holder has no dose 1, so it stays pending.
    const filed = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber: 2, vaccinatedOn: '2024-06-01' }) });
    expect(filed.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    const { id: holder } = await registerResident(home.officer);
    const issued = await home.officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: holder, ticketNumber }] } });
    expect(issued.data.issueTickets).toMatchObject({ matchedPendingDoses: 0, userErrors: [] });
    const [pending] = (await home.officer.gql('{ pendingDoses { id matchProblem } }')).data.pendingDoses;
    expect(pending.matchProblem).toBe('DOSE_NOT_NEXT: dose 2 would leave a gap: the next dose for this person is 1');
    const ASSIGN = 'mutation($id: ID!, $r: ID!) { assignPendingDose(id: $id, residentId: $r) { pendingDose { status } userErrors { field code message } } }';
    expect((await home.officer.gql(ASSIGN, { id: pending.id, r: holder })).data.assignPendingDose.userErrors).toEqual([
      { field: ['id'], code: 'DOSE_NOT_NEXT', message: 'cannot be recorded for this resident: dose 2 would leave a gap: the next dose for this person is 1' },
    ]);
    const { id: someoneElse } = await registerResident(home.officer);
    expect((await home.officer.gql(ASSIGN, { id: pending.id, r: someoneElse })).data.assignPendingDose.userErrors).toEqual([
      { field: ['residentId'], code: 'INVALID_STATE', message: `the dose's ticket number ${ticketNumber} is issued to another resident` },
    ]);
    // Once the holder's dose 1 is entered from the paper form, the dose is theirs, on their ticket.
    const first = await home.officer.gql('mutation($i: RecordDoseInput!) { recordDose(input: $i) { userErrors { code } } }', {
      i: { residentId: holder, doseNumber: 1, vaccinatedOn: '2024-05-01', vaccineCode: 'PFIZER-COMIRNATY', lotNumber: 'FA1234' },
    });
    expect(first.data.recordDose.userErrors).toEqual([]);
    // The holder has moved away since (the ticket is void now): a dose given before still is theirs.
    const moved = await home.officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-07-01") { userErrors { code } } }', { id: holder });
    expect(moved.data.markResidentMovedOut.userErrors).toEqual([]);
    // An issuance under way holds the registry and locks its residents: the assignment asks for a
    // retry rather than wait for the holder (the issuance would go on to wait for the pending dose).
    const issuing = t.db.createQueryRunner();
    await issuing.connect();
    await issuing.startTransaction();
    try {
      await lockRegistry(issuing, home.code);
      await issuing.query('SELECT 1 FROM resident WHERE municipality_code = $1 AND id = $2 FOR UPDATE', [home.code, holder]);
      expect((await home.officer.gql(ASSIGN, { id: pending.id, r: holder })).data.assignPendingDose.userErrors).toEqual([
        { field: ['id'], code: 'INVALID_STATE', message: 'tickets of this municipality are being issued or imported right now: try again in a minute' },
      ]);
    } finally {
      await issuing.rollbackTransaction();
      await issuing.release();
    }
    expect((await home.officer.gql(ASSIGN, { id: pending.id, r: holder })).data.assignPendingDose).toEqual({ pendingDose: { status: 'MATCHED' }, userErrors: [] });
    const [record] = await t.db.query(`SELECT t.ticket_number FROM vaccination_record v JOIN ticket t ON t.municipality_code = v.municipality_code AND t.id = v.ticket_id
      WHERE v.municipality_code = $1 AND v.resident_id = $2 AND v.dose_number = 2`, [home.code, holder]);
    expect(record).toEqual({ ticket_number: ticketNumber });
  });

  it('pages through every pending dose, oldest first, and finds one ticket\'s', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const numbers = Array.from({ length: 5 }, () => freshTicketNumber());
    for (const n of numbers) expect((await site.gql(REGISTER_DOSE, { input: doseInput(home.code, n) })).data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    // The second and third were filed at the same instant: the id orders them, across a page boundary.
    await t.db.query(`UPDATE pending_dose SET created_at = (SELECT created_at FROM pending_dose WHERE municipality_code = $1 AND ticket_number = $2)
      WHERE municipality_code = $1 AND ticket_number = $3`, [home.code, numbers[1], numbers[2]]);
    const order = (await t.db.query('SELECT ticket_number FROM pending_dose WHERE municipality_code = $1 ORDER BY created_at, id', [home.code])).map((r: any) => r.ticket_number);
    expect(new Set(order)).toEqual(new Set(numbers));
    const PAGE = 'query($after: ID, $n: String) { pendingDoses(first: 2, after: $after, ticketNumber: $n) { id ticketNumber } }';
    expect(await pagedPendingDoses(home.officer)).toEqual(order);
    expect((await home.officer.gql(PAGE, { n: numbers[3] })).data.pendingDoses.map((p: any) => p.ticketNumber)).toEqual([numbers[3]]);
    // Another municipality's dose is no cursor of this list, nor is anything else; a bad ticket number is named.
    const neighbour = await t.tenant();
    const refused = async (variables: Record<string, unknown>) => (await neighbour.officer.gql(PAGE, variables)).errors?.map((e: any) => e.extensions.field);
    expect(await refused({ after: (await home.officer.gql(PAGE, {})).data.pendingDoses[0].id })).toEqual([['after']]);
    expect(await refused({ after: 'x' })).toEqual([['after']]);
    expect(await refused({ n: '12' })).toEqual([['ticketNumber']]);
  });

  it('tablets of any municipality are refused for officer operations', async () => {
    const home = await t.tenant();
    const site = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: home.code });
    const { residentId } = await residentWithTicket(home.officer);
    const result = await site.gql('mutation($i: RecordDoseInput!) { recordDose(input: $i) { userErrors { code } } }', {
      i: { residentId, doseNumber: 1, vaccinatedOn: '2024-01-01', vaccineCode: 'PFIZER-COMIRNATY', lotNumber: 'A1' },
    });
    expect(codes(result)).toEqual(['FORBIDDEN']);
  });
});
