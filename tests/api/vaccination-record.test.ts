import { randomUUID } from 'node:crypto';
import { Channel, Role } from '../../src/schema/enums';
import { insertRecord, NewRecord } from '../../src/services/dose-store';
import { vaccineByCode } from '../../src/validation/vaccines';
import { baseUrl } from '../helpers/registry-csv';
import { blockedBy, codes, registerResident, TestApp } from '../helpers/test-app';
import { doseInput, freshTicketNumber, ISSUE, REGISTER_DOSE, RESIDENT_DOSES, residentWithTicket, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const RECORD = `mutation($input: RecordDoseInput!) {
  recordDose(input: $input) { record { id doseNumber vaccinatedOn source siteMunicipalityCode status recordedBy } userErrors { field code message } }
}`;
const CORRECT = `mutation($id: ID!, $input: CorrectRecordInput!) {
  correctVaccinationRecord(id: $id, input: $input) { record { id vaccinatedOn vaccineCode lotNumber status siteMunicipalityCode source } userErrors { field code message } }
}`;
const DELETE = `mutation($id: ID!, $reason: String!) {
  deleteVaccinationRecord(id: $id, reason: $reason) { record { id status statusReason statusChangedAt statusChangedBy } userErrors { field code message } }
}`;

const entry = (residentId: string, overrides: Record<string, unknown> = {}) => ({
  residentId, doseNumber: 1, vaccinatedOn: '2023-10-01', vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: '000123A', ...overrides,
});

describe('officer entry', () => {
  it('records doses from paper forms with the same rules as the tablet', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer, { birthDate: '1950-01-01' });
    const first = await officer.gql(RECORD, { input: entry(id) });
    expect(first.data.recordDose).toEqual({
      record: { id: expect.any(String), doseNumber: 1, vaccinatedOn: '2023-10-01', source: 'OFFICER', siteMunicipalityCode: code, status: 'COMPLETED', recordedBy: officer.accountId },
      userErrors: [],
    });
    const elsewhere = await officer.gql(RECORD, { input: entry(id, { doseNumber: 2, vaccinatedOn: '2023-11-01', siteMunicipalityCode: '141003' }) });
    expect(elsewhere.data.recordDose.record.siteMunicipalityCode).toBe('141003');
    const codesOf = async (overrides: Record<string, unknown>) => (await officer.gql(RECORD, { input: entry(id, overrides) })).data.recordDose.userErrors.map((e: any) => e.code);
    expect(await codesOf({ doseNumber: 4, vaccinatedOn: '2024-01-01' })).toEqual(['DOSE_NOT_NEXT']);
    expect(await codesOf({ doseNumber: 3, vaccinatedOn: '2023-10-15' })).toEqual(['DATE_BEFORE_PREVIOUS_DOSE']);
    expect(await codesOf({ doseNumber: 3, vaccinatedOn: '2024-01-01', siteMunicipalityCode: '141004' })).toEqual(['INVALID_CHECK_DIGIT']);
    expect(await codesOf({ doseNumber: 3, vaccinatedOn: '2024-01-01', vaccineCode: 'X', lotNumber: '' })).toEqual(['UNKNOWN_VACCINE', 'INVALID_LOT_NUMBER']);
    // A site in a ward (横浜市鶴見区) is in its designated city, one municipality, as a tablet there records it.
    const ward = await officer.gql(RECORD, { input: entry(id, { doseNumber: 3, vaccinatedOn: '2024-01-01', siteMunicipalityCode: '141011' }) });
    expect(ward.data.recordDose).toMatchObject({ record: { siteMunicipalityCode: '141003' }, userErrors: [] });
    const audit = await t.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccination.record'`, [code]);
    expect(audit[0].n).toBe(3);
  });

  it('keeps the venue and doctor of a paper form; a correction changes or removes them, and keeps them when omitted', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const WITH_VENUE = `mutation($input: RecordDoseInput!) { recordDose(input: $input) { record { id venue doctorName } userErrors { field code message } } }`;
    const recorded = (await officer.gql(WITH_VENUE, { input: entry(id, { venue: '保健センター', doctorName: '佐藤 花子' }) })).data.recordDose.record;
    expect(recorded).toMatchObject({ venue: '保健センター', doctorName: '佐藤 花子' });
    const FIX = `mutation($id: ID!, $input: CorrectRecordInput!) { correctVaccinationRecord(id: $id, input: $input) {
      record { id lotNumber venue doctorName } userErrors { field code message } } }`;
    const renamed = (await officer.gql(FIX, { id: recorded.id, input: { venue: '第二保健センター', reason: 'venue mistyped' } })).data.correctVaccinationRecord.record;
    expect(renamed).toMatchObject({ venue: '第二保健センター', doctorName: '佐藤 花子' });
    const kept = (await officer.gql(FIX, { id: renamed.id, input: { lotNumber: 'ZZ9', reason: 'lot misread' } })).data.correctVaccinationRecord.record;
    expect(kept).toMatchObject({ lotNumber: 'ZZ9', venue: '第二保健センター', doctorName: '佐藤 花子' });
    const removed = (await officer.gql(FIX, { id: kept.id, input: { doctorName: '', reason: 'not the doctor' } })).data.correctVaccinationRecord.record;
    expect(removed).toMatchObject({ venue: '第二保健センター', doctorName: null });
    expect((await officer.gql(FIX, { id: removed.id, input: { venue: '第二保健センター', reason: 'same' } })).data.correctVaccinationRecord.userErrors)
      .toEqual([{ field: ['input'], code: 'INVALID_STATE', message: 'nothing to correct: every field is as recorded' }]);
  });

  it('counts the venue and doctor in characters, as the database does: a character beyond the BMP (𠮷) is one', async () => {
    const { officer } = await t.tenant();
    const WITH_VENUE = `mutation($input: RecordDoseInput!) { recordDose(input: $input) { record { venue doctorName } userErrors { field code message } } }`;
    const tooLong = await officer.gql(WITH_VENUE, { input: entry((await registerResident(officer)).id, { venue: '𠮷'.repeat(101), doctorName: '𠮷'.repeat(51) }) });
    expect(tooLong.data.recordDose.userErrors).toEqual([
      { field: ['input', 'venue'], code: 'INVALID_FORMAT', message: 'must be at most 100 characters' },
      { field: ['input', 'doctorName'], code: 'INVALID_FORMAT', message: 'must be at most 50 characters' },
    ]);
    const longest = { venue: '𠮷'.repeat(100), doctorName: '𠮷'.repeat(50) };
    const kept = await officer.gql(WITH_VENUE, { input: entry((await registerResident(officer)).id, longest) });
    expect(kept.data.recordDose).toEqual({ record: longest, userErrors: [] });
  });

  it('refuses a dose after the resident moved out, but accepts one given before', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer);
    await officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-01-01") { userErrors { code } } }', { id });
    expect((await officer.gql(RECORD, { input: entry(id, { vaccinatedOn: '2024-02-01' }) })).data.recordDose.userErrors[0].code).toBe('RESIDENT_MOVED_OUT');
    expect((await officer.gql(RECORD, { input: entry(id, { vaccinatedOn: '2023-12-01' }) })).data.recordDose.userErrors).toEqual([]);
  });

  it('records the ticket a paper form names, once it is the resident\'s own and covers the dose', async () => {
    const { code, officer } = await t.tenant();
    const neighbour = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(officer, { series: '1-2' });
    const other = await residentWithTicket(officer, { series: '1-2' });
    const elsewhere = await residentWithTicket(neighbour.officer, { series: '1-2' });
    const errorsOf = async (overrides: Record<string, unknown>) => (await officer.gql(RECORD, { input: entry(residentId, overrides) })).data.recordDose.userErrors;
    const missing = [{ field: ['input', 'ticketNumber'], code: 'NOT_FOUND', message: 'not found or no access' }];
    // Another resident's ticket, here or in another municipality, reads exactly as a number never issued.
    expect(await errorsOf({ ticketNumber: other.ticketNumber })).toEqual(missing);
    expect(await errorsOf({ ticketNumber: elsewhere.ticketNumber })).toEqual(missing);
    expect(await errorsOf({ ticketNumber: freshTicketNumber() })).toEqual(missing);
    expect(await errorsOf({ ticketNumber: '12345' })).toEqual([{ field: ['input', 'ticketNumber'], code: 'INVALID_FORMAT', message: 'must be 10 digits' }]);
    expect(await errorsOf({ ticketNumber })).toEqual([]);

    // Dose 3 is not in the series of the resident's ticket; a ticket of series 3 is.
    await officer.gql(RECORD, { input: entry(residentId, { doseNumber: 2, vaccinatedOn: '2023-11-01', ticketNumber: `  ${ticketNumber} ` }) });
    expect(await errorsOf({ doseNumber: 3, vaccinatedOn: '2024-01-10', ticketNumber })).toEqual([
      { field: ['input', 'ticketNumber'], code: 'DOSE_NOT_IN_SERIES', message: 'is for series 1-2, which does not cover dose 3' },
    ]);
    const third = (await officer.gql(ISSUE, { input: { series: '3', tickets: [{ residentId, ticketNumber: freshTicketNumber() }] } })).data.issueTickets.tickets[0];
    // A ticket voided on 10 January stands for a dose given that day, not for one after.
    await t.db.query(`UPDATE ticket SET voided_on = '2024-01-10', void_reason = 'lost' WHERE municipality_code = $1 AND id = $2`, [code, third.id]);
    expect(await errorsOf({ doseNumber: 3, vaccinatedOn: '2024-01-11', ticketNumber: third.ticketNumber })).toEqual([
      { field: ['input', 'ticketNumber'], code: 'TICKET_VOID', message: 'was voided on 2024-01-10, before this dose was given' },
    ]);
    expect(await errorsOf({ doseNumber: 3, vaccinatedOn: '2024-01-10', ticketNumber: third.ticketNumber })).toEqual([]);

    // The ledger download carries the ticket number of each dose.
    const csv = await (await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } })).text();
    const doses = csv.trimEnd().split('\n').slice(1).map((l) => l.split(',')).map((c) => [c[1], c[4]]);
    expect(doses).toEqual([['1', ticketNumber], ['2', ticketNumber], ['3', third.ticketNumber]]);
  });

  it('cannot record for another municipality\'s resident', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(b.officer);
    expect((await a.officer.gql(RECORD, { input: entry(id) })).data.recordDose.userErrors).toEqual([{ field: ['input', 'residentId'], code: 'NOT_FOUND', message: 'not found or no access' }]);
  });
});

describe('one completed record per dose', () => {
  it('answers a second record of the same dose, however it got past the resident\'s lock, as DUPLICATE_DOSE', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const record = (): NewRecord => ({
      municipalityCode: code, id: randomUUID(), residentId, ticketId: null,
      dose: { doseNumber: 1, vaccinatedOn: '2023-10-01', vaccine: vaccineByCode('MODERNA-SPIKEVAX')!, lotNumber: '000123A', venue: null, doctorName: null },
      siteMunicipalityCode: code, source: 'OFFICER', recordedBy: null, idempotencyKey: null,
    });
    await insertRecord(t.db.manager, record());
    await expect(insertRecord(t.db.manager, record())).rejects.toMatchObject({
      errors: [{ field: ['input', 'doseNumber'], code: 'DUPLICATE_DOSE', message: 'this dose is already recorded' }],
    });
  });
});

describe('corrections keep history', () => {
  it('checks a correction against a dose whose registration held the resident while the correction waited', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const recordId = (await officer.gql(RECORD, { input: entry(residentId) })).data.recordDose.record.id;
    // A registration of dose 2 is under way: it holds the resident, as every dose writer does.
    const other = t.db.createQueryRunner();
    await other.connect();
    await other.startTransaction();
    try {
      await other.query('SELECT 1 FROM resident WHERE municipality_code = $1 AND id = $2 FOR UPDATE', [code, residentId]);
      await other.query(
        `INSERT INTO vaccination_record (municipality_code, id, resident_id, dose_number, vaccinated_on, vaccine_code, manufacturer, product, lot_number, site_municipality_code, source, status)
         VALUES ($1, gen_random_uuid(), $2, 2, '2023-12-01', 'MODERNA-SPIKEVAX', 'モデルナ', 'スパイクバックス', '000124A', $1, 'TABLET', 'COMPLETED')`,
        [code, residentId],
      );
      const correcting = officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-12-15', reason: 'typo' } });
      await blockedBy(t.db, other, '%FOR UPDATE%');
      await other.commitTransaction();
      // The correction, once it holds the resident, sees dose 2 and may not move dose 1 past it.
      expect((await correcting).data.correctVaccinationRecord.userErrors).toEqual([
        { field: ['input', 'vaccinatedOn'], code: 'DATE_AFTER_NEXT_DOSE', message: 'must be before dose 2 (2023-12-01)' },
      ]);
    } finally {
      if (other.isTransactionActive) await other.rollbackTransaction();
      await other.release();
    }
  });


  it('keeps a corrected date within the days its ticket stood for, as officer entry does', async () => {
    const { code, officer } = await t.tenant();
    const { residentId, ticketId, ticketNumber } = await residentWithTicket(officer, { series: '1-2' });
    const recordId = (await officer.gql(RECORD, { input: entry(residentId, { ticketNumber }) })).data.recordDose.record.id;
    // The ticket was lost and voided on 10 October: it stands for no dose given after that day.
    await t.db.query(`UPDATE ticket SET voided_on = '2023-10-10', void_reason = 'lost' WHERE municipality_code = $1 AND id = $2`, [code, ticketId]);
    const moved = await officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-10-20', reason: 'date misread' } });
    expect(moved.data.correctVaccinationRecord).toEqual({
      record: null,
      userErrors: [{ field: ['input', 'vaccinatedOn'], code: 'TICKET_VOID', message: 'is after the dose\'s ticket was voided (2023-10-10)' }],
    });
    const onTheDay = await officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-10-10', reason: 'date misread' } });
    expect(onTheDay.data.correctVaccinationRecord).toMatchObject({ record: { vaccinatedOn: '2023-10-10' }, userErrors: [] });
  });

  it('counts a reason in characters, as the database does: a character beyond the BMP (𠮷) is one', async () => {
    const { officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const recordId = (await officer.gql(RECORD, { input: entry(residentId) })).data.recordDose.record.id;
    const tooLong = await officer.gql(DELETE, { id: recordId, reason: '𠮷'.repeat(501) });
    expect(tooLong.data.deleteVaccinationRecord.userErrors).toEqual([{ field: ['reason'], code: 'INVALID_FORMAT', message: 'must be at most 500 characters' }]);
    const corrected = await officer.gql(CORRECT, { id: recordId, input: { lotNumber: 'B2', reason: `${'𠮷'.repeat(499)}田` } });
    expect(corrected.data.correctVaccinationRecord.userErrors).toEqual([]);
    const deleted = await officer.gql(DELETE, { id: corrected.data.correctVaccinationRecord.record.id, reason: '𠮷'.repeat(500) });
    expect(deleted.data.deleteVaccinationRecord).toMatchObject({ record: { status: 'ENTERED_IN_ERROR', statusReason: '𠮷'.repeat(500) }, userErrors: [] });
  });

  it('tells a corrected record from a deleted one when either is corrected or deleted again', async () => {
    const { officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const first = (await officer.gql(RECORD, { input: entry(residentId) })).data.recordDose.record.id;
    const second = (await officer.gql(CORRECT, { id: first, input: { lotNumber: 'B2', reason: 'lot misread' } })).data.correctVaccinationRecord.record.id;
    const third = (await officer.gql(CORRECT, { id: second, input: { lotNumber: 'C3', reason: 'lot misread again' } })).data.correctVaccinationRecord.record.id;
    const refusal = (message: string) => [{ field: ['id'], code: 'INVALID_STATE', message }];
    const correct = async (id: string) => (await officer.gql(CORRECT, { id, input: { lotNumber: 'D4', reason: 'x' } })).data.correctVaccinationRecord.userErrors;
    const remove = async (id: string) => (await officer.gql(DELETE, { id, reason: 'x' })).data.deleteVaccinationRecord.userErrors;
    // Corrected twice: the record to act on is the one standing now, not the first replacement.
    expect(await correct(first)).toEqual(refusal(`the record was corrected; correct the record that replaced it (${third})`));
    expect(await remove(first)).toEqual(refusal(`the record was corrected; delete the record that replaced it (${third})`));
    expect(await remove(third)).toEqual([]);
    expect(await correct(third)).toEqual(refusal('the record was entered in error (deleted); record the dose again instead'));
    expect(await remove(third)).toEqual(refusal('the record was already deleted (entered in error)'));
    expect(await correct(first)).toEqual(refusal('the record was corrected and its correction deleted (entered in error); record the dose again instead'));
    expect(await remove(second)).toEqual(refusal('the record was corrected and its correction already deleted (entered in error)'));
  });

  it('supersedes the old record with reason, time and officer, and deletes as entered-in-error', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const recordId = (await officer.gql(RECORD, { input: entry(residentId) })).data.recordDose.record.id;
    await officer.gql(RECORD, { input: entry(residentId, { doseNumber: 2, vaccinatedOn: '2023-12-01' }) });

    expect((await officer.gql(CORRECT, { id: recordId, input: { lotNumber: 'X1', reason: '  ' } })).data.correctVaccinationRecord.userErrors)
      .toEqual([{ field: ['input', 'reason'], code: 'REQUIRED', message: 'must not be empty' }]);
    // A correction may not move dose 1 past dose 2.
    const tooLate = await officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-12-02', reason: 'typo' } });
    expect(tooLate.data.correctVaccinationRecord.userErrors).toEqual([{ field: ['input', 'vaccinatedOn'], code: 'DATE_AFTER_NEXT_DOSE', message: 'must be before dose 2 (2023-12-01)' }]);
    // Every field's problem is named at once, in the input's order, the reason's with the others.
    const manyWrong = await officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-02-30', lotNumber: 'lot #1', reason: ' ' } });
    expect(manyWrong.data.correctVaccinationRecord).toEqual({ record: null, userErrors: [
      { field: ['input', 'vaccinatedOn'], code: 'INVALID_DATE', message: 'must be a real date written YYYY-MM-DD' },
      { field: ['input', 'lotNumber'], code: 'INVALID_LOT_NUMBER', message: 'must be 1 to 20 letters, digits or hyphens as printed on the vial' },
      { field: ['input', 'reason'], code: 'REQUIRED', message: 'must not be empty' },
    ] });
    const lateAndUnsaid = await officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-12-02', reason: 'a\u0007b' } });
    expect(lateAndUnsaid.data.correctVaccinationRecord.userErrors).toEqual([
      { field: ['input', 'vaccinatedOn'], code: 'DATE_AFTER_NEXT_DOSE', message: 'must be before dose 2 (2023-12-01)' },
      { field: ['input', 'reason'], code: 'INVALID_FORMAT', message: 'must not contain control characters other than tabs and line breaks' },
    ]);
    const corrected = await officer.gql(CORRECT, { id: recordId, input: { vaccinatedOn: '2023-10-02', lotNumber: 'ab-9', reason: 'date misread on the form' } });
    const replacement = corrected.data.correctVaccinationRecord.record;
    expect(replacement).toEqual({ id: expect.any(String), vaccinatedOn: '2023-10-02', vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: 'AB-9', status: 'COMPLETED', siteMunicipalityCode: code, source: 'OFFICER' });
    expect(replacement.id).not.toBe(recordId);

    // The superseded record cannot be corrected again; the replacement can.
    expect((await officer.gql(CORRECT, { id: recordId, input: { lotNumber: 'X1', reason: 'again' } })).data.correctVaccinationRecord.userErrors).toEqual([
      { field: ['id'], code: 'INVALID_STATE', message: `the record was corrected; correct the record that replaced it (${replacement.id})` },
    ]);
    // Dose 1 cannot be deleted while dose 2 stands.
    expect((await officer.gql(DELETE, { id: replacement.id, reason: 'x' })).data.deleteVaccinationRecord.userErrors[0].code).toBe('INVALID_STATE');

    const history = (await officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations;
    const dose2 = history.find((h: any) => h.doseNumber === 2);
    const deleted = await officer.gql(DELETE, { id: dose2.id, reason: 'entered for the wrong person' });
    expect(deleted.data.deleteVaccinationRecord).toEqual({
      record: { id: dose2.id, status: 'ENTERED_IN_ERROR', statusReason: 'entered for the wrong person', statusChangedAt: expect.any(String), statusChangedBy: officer.accountId },
      userErrors: [],
    });
    const after = (await officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations;
    expect(after.map((r: any) => [r.doseNumber, r.status, r.supersededBy, r.statusReason])).toEqual([
      [1, 'SUPERSEDED', replacement.id, 'date misread on the form'],
      [1, 'COMPLETED', null, null],
      [2, 'ENTERED_IN_ERROR', null, 'entered for the wrong person'],
    ]);
    const current = await officer.gql('query($id: ID!) { resident(id: $id) { vaccinations { id } } }', { id: residentId });
    expect(current.data.resident.vaccinations).toEqual([{ id: replacement.id }]);
    const ops = await t.db.query(`SELECT operation, target_ids FROM audit_event WHERE municipality_code = $1 AND operation IN ('vaccination.correct', 'vaccination.delete') ORDER BY id`, [code]);
    expect(ops).toEqual([
      { operation: 'vaccination.correct', target_ids: [recordId, replacement.id] },
      { operation: 'vaccination.delete', target_ids: [dose2.id] },
    ]);
  });

  it('the resident\'s municipality corrects a dose a site elsewhere gave; the site\'s municipality cannot', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(b.officer);
    const site = await tablet(t, a.code);
    await site.gql(REGISTER_DOSE, { input: doseInput(b.code, ticketNumber) });
    const recordId = (await b.officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations[0].id;

    for (const [query, vars] of [[CORRECT, { input: { lotNumber: 'Z9', reason: 'label' } }], [DELETE, { reason: 'wrong' }]] as const) {
      const byA = await a.officer.gql(query, { id: recordId, ...vars });
      const missing = await a.officer.gql(query, { id: '00000000-0000-4000-8000-000000000000', ...vars });
      expect(JSON.stringify(byA)).toBe(JSON.stringify(missing));
      expect(JSON.stringify(byA)).toContain('not found or no access');
      expect(codes(await site.gql(query, { id: recordId, ...vars }))).toEqual(['FORBIDDEN']);
    }
    const fixed = await b.officer.gql(CORRECT, { id: recordId, input: { lotNumber: 'Z9', reason: 'label' } });
    expect(fixed.data.correctVaccinationRecord.record).toMatchObject({ lotNumber: 'Z9', siteMunicipalityCode: a.code, source: 'TABLET' });
  });
});

describe('resident view', () => {
  it('loads a page of 100 residents with tickets and records in a constant number of statements', async () => {
    const { officer } = await t.tenant();
    const PAGE = `{ residents(first: 100) { nodes { id
      tickets { ticketNumber series }
      vaccinations { doseNumber vaccinatedOn manufacturer siteMunicipalityCode }
    } } }`;
    const ids: string[] = [];
    for (let i = 0; i < 100; i++) ids.push((await registerResident(officer)).id);
    const measure = async () => {
      const start = t.queries.count;
      const result = await officer.gql(PAGE);
      return { result, statements: t.queries.count - start };
    };
    const empty = await measure();
    await officer.gql(ISSUE, { input: { series: '1-2', allActiveResidents: true } });
    for (const id of ids.slice(0, 30)) {
      await officer.gql(RECORD, { input: entry(id) });
      await officer.gql(RECORD, { input: entry(id, { doseNumber: 2, vaccinatedOn: '2023-11-01' }) });
    }
    expect(empty.result.errors).toBeUndefined();
    const full = await measure();
    const nodes = full.result.data.residents.nodes;
    expect(nodes).toHaveLength(100);
    expect(nodes.every((n: any) => n.tickets.length === 1)).toBe(true);
    expect(nodes.filter((n: any) => n.vaccinations.length === 2)).toHaveLength(30);
    // Whatever the page holds: the token's account look-up (every request), then residents,
    // tickets, records and the read-audit line.
    expect(full.statements).toBe(empty.statements);
    expect(full.statements - 1).toBeLessThanOrEqual(4);
  });

  it('another municipality sees neither tickets nor records of a resident, by any query', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { residentId, ticketId } = await residentWithTicket(b.officer);
    expect((await b.officer.gql(RECORD, { input: entry(residentId) })).data.recordDose.userErrors).toEqual([]);
    const RESIDENT = 'query($id: ID!) { resident(id: $id) { tickets { id } vaccinations { id } } }';
    // Its own municipality sees both, so what another is answered below is a refusal, not an empty resident.
    const own = (await b.officer.gql(RESIDENT, { id: residentId })).data.resident;
    expect({ tickets: own.tickets.map((x: { id: string }) => x.id), vaccinations: own.vaccinations.length }).toEqual({ tickets: [ticketId], vaccinations: 1 });
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: a.code });
    for (const s of [a.officer, internet]) {
      expect(await s.gql(RESIDENT, { id: residentId })).toEqual({ data: { resident: null } });
      expect((await s.gql('{ residents(first: 100) { nodes { id } } }')).data.residents.nodes).toEqual([]);
    }
  });
});
