import { createHash, randomBytes } from 'node:crypto';
import path from 'node:path';
import { lockRegistry } from '../../src/db/registry-lock';
import { Channel, Role } from '../../src/schema/enums';
import { QueryRunner } from 'typeorm';
import { insertDose } from '../helpers/statistics';
import { doseInput, freshTicketNumber, ISSUE, REGISTER_DOSE, RESIDENT_DOSES, residentWithTicket, SCAN, tablet } from '../helpers/vaccination';
import { ended, nodeProcess } from '../helpers/node-process';
import { blockedBy, codes, GraphQLResponse, REGISTER, registerResident, residentInput, TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const GET = 'query($id: ID!) { resident(id: $id) { id addresseeNumber familyName status } }';
const UPDATE = `mutation($id: ID!, $input: UpdateResidentInput!) {
  updateResident(id: $id, input: $input) { resident { id familyName birthDate } userErrors { field code message } }
}`;
const DELETE = 'mutation($id: ID!) { deleteResident(id: $id) { deletedResidentId userErrors { field code message } } }';
/** The refusal of a resident with vaccination records, which are history to keep. */
const kept = {
  field: ['id'], code: 'INVALID_STATE',
  message: 'the resident has vaccination records, which are kept: mark the resident moved out or deceased, or correct their details, instead',
};

describe('resident management', () => {
  it('registers, reads, updates and deletes a resident of the own municipality', async () => {
    const { officer } = await t.tenant();
    const { id, input } = await registerResident(officer);
    expect((await officer.gql(GET, { id })).data.resident).toEqual({ id, addresseeNumber: input.addresseeNumber, familyName: '山田', status: 'ACTIVE' });

    const updated = await officer.gql(UPDATE, { id, input: { familyName: '佐藤', birthDate: '１９８０-０５-０１' } });
    expect(updated.data.updateResident).toEqual({ resident: { id, familyName: '佐藤', birthDate: '1980-05-01' }, userErrors: [] });

    expect((await officer.gql(DELETE, { id })).data.deleteResident).toEqual({ deletedResidentId: id, userErrors: [] });
    expect((await officer.gql(GET, { id })).data.resident).toBeNull();
  });

  it('takes a date as Japanese input types it: full-width hyphens, or the long-vowel mark kana mode puts for one', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer, { birthDate: '１９９０－０１－０１' });
    const updated = await officer.gql(UPDATE, { id, input: { birthDate: '１９８０ー０５ー０１' } });
    expect(updated.data.updateResident).toEqual({ resident: { id, familyName: '山田', birthDate: '1980-05-01' }, userErrors: [] });
    const moved = await officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "２０２４－０４－０１") { resident { movedOutOn } userErrors { field code message } } }', { id });
    expect(moved.data.markResidentMovedOut).toEqual({ resident: { movedOutOn: '2024-04-01' }, userErrors: [] });
  });

  it('reads a birth date back as written whatever the server\'s time zone, on a day that zone skipped too', async () => {
    const { officer } = await t.tenant();
    // Kiribati's Line Islands moved from UTC-10 to UTC+14 at the end of 1994: their clocks never showed 1994-12-31.
    const { id } = await registerResident(officer, { birthDate: '1994-12-31' });
    // The server's zone is its process's: this one's is Jest's, so the resident is read by a process of its own.
    const read = await ended(nodeProcess(`
      const { createDataSource } = require(${JSON.stringify(path.resolve(__dirname, '../../src/db/data-source.ts'))});
      const { Resident } = require(${JSON.stringify(path.resolve(__dirname, '../../src/entities/resident.entity.ts'))});
      (async () => {
        const db = await createDataSource(process.env.DATABASE_URL).initialize();
        console.log((await db.getRepository(Resident).findOneByOrFail({ id: ${JSON.stringify(id)} })).birthDate);
        await db.destroy();
      })().catch((error) => { console.error(error.message); process.exit(1); });
    `, { env: { ...process.env, TZ: 'Pacific/Kiritimati' } }));
    expect(read).toEqual({ code: 0, signal: null, out: '1994-12-31\n', err: '' });
  });

  it('deletes a resident without records together with their tickets, naming every one in the operation log', async () => {
    const { code, officer } = await t.tenant();
    const { residentId, ticketId } = await residentWithTicket(officer);
    expect((await officer.gql(DELETE, { id: residentId })).data.deleteResident).toEqual({ deletedResidentId: residentId, userErrors: [] });
    expect(await t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1 AND id = $2', [code, ticketId])).toEqual([]);
    const [event] = await t.db.query(`SELECT target_ids FROM audit_event WHERE municipality_code = $1 AND operation = 'resident.delete'`, [code]);
    expect(event.target_ids).toEqual([residentId, ticketId]);
    const found = await officer.gql('query($id: String!) { auditEvents(filter: { targetId: $id }) { nodes { operation } } }', { id: ticketId });
    expect(found.data.auditEvents.nodes.map((n: { operation: string }) => n.operation).sort()).toEqual(['resident.delete', 'ticket.issue']);
  });

  it.each(['COMPLETED', 'SUPERSEDED', 'ENTERED_IN_ERROR'] as const)('refuses to delete a resident with a %s record, and keeps the resident, tickets and record', async (status) => {
    const { code, officer } = await t.tenant();
    const { residentId, ticketId } = await residentWithTicket(officer);
    const recordId = await insertDose(t, code, residentId, { status });
    expect((await officer.gql(DELETE, { id: residentId })).data.deleteResident).toEqual({ deletedResidentId: null, userErrors: [kept] });
    expect((await officer.gql(GET, { id: residentId })).data.resident).toMatchObject({ id: residentId, status: 'ACTIVE' });
    expect(await t.db.query('SELECT status FROM vaccination_record WHERE municipality_code = $1 AND id = $2', [code, recordId])).toEqual([{ status }]);
    expect(await t.db.query('SELECT 1 FROM ticket WHERE municipality_code = $1 AND id = $2', [code, ticketId])).toHaveLength(1);
    expect(await t.db.query(`SELECT 1 FROM audit_event WHERE municipality_code = $1 AND operation = 'resident.delete'`, [code])).toEqual([]);
    // What the refusal proposes instead still works.
    const DECEASED = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2025-01-02") { resident { status } userErrors { code } } }';
    expect((await officer.gql(DECEASED, { id: residentId })).data.markResidentDeceased).toEqual({ resident: { status: 'DECEASED' }, userErrors: [] });
  });

  it('refuses a resident whose only dose its municipality entered in error through the API', async () => {
    const { code, officer } = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(officer);
    const receipt = (await (await tablet(t, code)).gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) })).data.registerDose.receipt;
    expect(receipt.status).toBe('RECORDED');
    const [{ id: recordId }] = (await officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations;
    const REMOVE = 'mutation($id: ID!) { deleteVaccinationRecord(id: $id, reason: "wrong person") { userErrors { code } } }';
    expect((await officer.gql(REMOVE, { id: recordId })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    expect((await officer.gql(DELETE, { id: residentId })).data.deleteResident).toEqual({ deletedResidentId: null, userErrors: [kept] });
    expect((await officer.gql(RESIDENT_DOSES, { id: residentId })).data.resident.vaccinations).toEqual([expect.objectContaining({ id: recordId, status: 'ENTERED_IN_ERROR' })]);
  });

  describe('while a dose is being registered for the resident', () => {
    /** A transaction of the test's own holding `sql`'s rows, to stop a request at a known point. */
    async function hold(sql: string, params: unknown[]): Promise<QueryRunner> {
      const runner = t.db.createQueryRunner();
      await runner.connect();
      await runner.startTransaction();
      await runner.query(`${sql} FOR UPDATE`, params);
      return runner;
    }
    const release = async (runner: QueryRunner) => {
      await runner.commitTransaction();
      await runner.release();
    };

    it('a deletion asked while the dose is written waits for it, then refuses', async () => {
      const { code, officer } = await t.tenant();
      const { residentId, ticketNumber } = await residentWithTicket(officer);
      const site = await tablet(t, code);
      // The registration has written its record and waits at commit, holding the resident, for the
      // municipality's operation-log head; the deletion then waits for the resident.
      const gate = await hold('SELECT 1 FROM audit_chain WHERE chain = $1', [code]);
      let registering: Promise<GraphQLResponse>;
      let deleting: Promise<GraphQLResponse>;
      try {
        registering = site.gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) });
        await blockedBy(t.db, gate);
        deleting = officer.gql(DELETE, { id: residentId });
        await blockedBy(t.db, gate, '%', 2);
      } finally {
        await release(gate);
      }
      const [registered, deleted] = await Promise.all([registering!, deleting!]);
      expect(registered.data.registerDose.receipt.status).toBe('RECORDED');
      expect(deleted.data.deleteResident).toEqual({ deletedResidentId: null, userErrors: [kept] });
      expect(await t.db.query('SELECT status FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [code, residentId])).toEqual([{ status: 'COMPLETED' }]);
    });

    it('a dose sent while the deletion is under way waits for it, and is kept pending rather than written for a resident gone', async () => {
      const { code, officer } = await t.tenant();
      const { residentId, ticketId, ticketNumber } = await residentWithTicket(officer);
      const site = await tablet(t, code);
      // The deletion has checked for records, holding the resident, and waits to delete the ticket.
      const gate = await hold('SELECT 1 FROM ticket WHERE municipality_code = $1 AND id = $2', [code, ticketId]);
      let registering: Promise<GraphQLResponse>;
      let deleting: Promise<GraphQLResponse>;
      try {
        deleting = officer.gql(DELETE, { id: residentId });
        await blockedBy(t.db, gate);
        registering = site.gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) });
        await blockedBy(t.db, gate, '%', 2);
      } finally {
        await release(gate);
      }
      const [deleted, registered] = await Promise.all([deleting!, registering!]);
      expect(deleted.data.deleteResident).toEqual({ deletedResidentId: residentId, userErrors: [] });
      expect(registered.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
      expect(await t.db.query('SELECT 1 FROM vaccination_record WHERE municipality_code = $1', [code])).toEqual([]);
      expect(await t.db.query(`SELECT status FROM pending_dose WHERE municipality_code = $1 AND ticket_number = $2`, [code, ticketNumber])).toEqual([{ status: 'PENDING' }]);
    });
  });

  it('reports every bad field with its path and reason, and writes nothing', async () => {
    const { code, officer } = await t.tenant();
    const input = residentInput({ myNumber: '123456789019', familyName: ' ', familyNameKana: 'yamada', birthDate: '2023-02-29' });
    const result = await officer.gql(REGISTER, { input });
    expect(result.data.registerResident.resident).toBeNull();
    expect(result.data.registerResident.userErrors).toEqual([
      { field: ['input', 'myNumber'], code: 'INVALID_CHECK_DIGIT', message: 'check digit does not match (mistyped number?)' },
      { field: ['input', 'familyName'], code: 'REQUIRED', message: 'must not be empty' },
      { field: ['input', 'familyNameKana'], code: 'INVALID_FORMAT', message: 'must be written in katakana' },
      { field: ['input', 'birthDate'], code: 'INVALID_DATE', message: 'must be a real date written YYYY-MM-DD' },
    ]);
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM resident WHERE municipality_code = $1', [code]);
    expect(count).toBe(0);
  });

  it('accepts a My Number typed with full-width digits', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer, { myNumber: '１２３４５６７８９０１８' });
    const result = await officer.gql('query($id: ID!) { resident(id: $id) { myNumber } }', { id });
    expect(result.data.resident.myNumber).toBe('123456789018');
  });

  it('refuses a duplicate addressee number or My Number within the municipality, but not across municipalities', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { input } = await registerResident(a.officer);
    const sameAddressee = await a.officer.gql(REGISTER, { input: residentInput({ addresseeNumber: input.addresseeNumber }) });
    expect(sameAddressee.data.registerResident.userErrors).toEqual([
      { field: ['input', 'addresseeNumber'], code: 'DUPLICATE', message: 'another resident of this municipality has this addressee number' },
    ]);
    const sameMyNumber = await a.officer.gql(REGISTER, { input: residentInput({ myNumber: input.myNumber }) });
    expect(sameMyNumber.data.registerResident.userErrors[0]).toMatchObject({ field: ['input', 'myNumber'], code: 'DUPLICATE' });
    // A person who moved keeps their My Number: the other municipality may hold it too.
    const elsewhere = await b.officer.gql(REGISTER, { input: { ...input } });
    expect(elsewhere.data.registerResident.userErrors).toEqual([]);
  });

  it('marks a resident moved out, and refuses a date before birth or in the future', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer, { birthDate: '1990-01-01' });
    const MOVE = `mutation($id: ID!, $on: String!, $to: String) {
      markResidentMovedOut(id: $id, movedOutOn: $on, destinationMunicipalityCode: $to) {
        resident { status movedOutOn movedToMunicipalityCode } userErrors { field code message }
      }
    }`;
    expect((await officer.gql(MOVE, { id, on: '1989-12-31' })).data.markResidentMovedOut.userErrors[0]).toMatchObject({ field: ['movedOutOn'], code: 'DATE_BEFORE_BIRTH' });
    expect((await officer.gql(MOVE, { id, on: '2999-01-01' })).data.markResidentMovedOut.userErrors[0]).toMatchObject({ field: ['movedOutOn'], code: 'DATE_IN_FUTURE' });
    expect((await officer.gql(MOVE, { id, on: '2024-04-01', to: '141004' })).data.markResidentMovedOut.userErrors[0]).toMatchObject({
      field: ['destinationMunicipalityCode'], code: 'INVALID_CHECK_DIGIT',
    });
    const moved = await officer.gql(MOVE, { id, on: '2024-04-01', to: '141003' });
    expect(moved.data.markResidentMovedOut).toEqual({ resident: { status: 'MOVED_OUT', movedOutOn: '2024-04-01', movedToMunicipalityCode: '141003' }, userErrors: [] });
    // A destination given empty is refused, not read as unknown, which would erase the one recorded.
    for (const to of ['', ' ']) {
      expect((await officer.gql(MOVE, { id, on: '2024-04-01', to })).data.markResidentMovedOut).toEqual({ resident: null, userErrors: [
        { field: ['destinationMunicipalityCode'], code: 'INVALID_FORMAT', message: 'must be 6 digits' },
      ] });
    }
    expect((await t.db.query('SELECT moved_to_municipality_code FROM resident WHERE id = $1', [id]))[0].moved_to_municipality_code).toBe('141003');

    // The dates keep their order afterwards: birth, then move out, then death.
    expect((await officer.gql(UPDATE, { id, input: { birthDate: '2024-06-01' } })).data.updateResident.userErrors).toEqual([
      { field: ['input', 'birthDate'], code: 'INVALID_DATE', message: 'must not be after the recorded move out (2024-04-01)' },
    ]);
    const DECEASED = 'mutation($id: ID!, $on: String!) { markResidentDeceased(id: $id, deceasedOn: $on) { resident { status } userErrors { field code message } } }';
    expect((await officer.gql(DECEASED, { id, on: '2024-03-31' })).data.markResidentDeceased).toEqual({ resident: null, userErrors: [
      { field: ['deceasedOn'], code: 'INVALID_DATE', message: 'must not be before the recorded move out (2024-04-01)' },
    ] });
    expect((await officer.gql(DECEASED, { id, on: '2024-04-01' })).data.markResidentDeceased.resident).toEqual({ status: 'DECEASED' });
  });

  it('refuses the resident\'s own municipality as where they moved to, for a designated city also its wards', async () => {
    const MOVE = `mutation($id: ID!, $to: String) {
      markResidentMovedOut(id: $id, movedOutOn: "2024-06-01", destinationMunicipalityCode: $to) { resident { status movedToMunicipalityCode } userErrors { field code message } }
    }`;
    const own = { resident: null, userErrors: [{ field: ['destinationMunicipalityCode'], code: 'INVALID_STATE', message: 'is the resident\'s own municipality (or one of its wards): a move within it is no move out' }] };
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    expect((await officer.gql(MOVE, { id, to: code })).data.markResidentMovedOut).toEqual(own);
    // 仙台市 (041009) is one tenant; 青葉区 (041017) is one of its wards, 名取市 (042072) the next city. Its
    // resident is written in the database: a data key made here for a real municipality would be
    // wrapped under this app's master key, which the apps of other test files do not share.
    const sendai = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: '041009' });
    const [resident] = await t.db.query(
      `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
         family_name_kana, given_name_kana, birth_date, sex)
       VALUES ('041009', gen_random_uuid(), $1, '\\x00', $2, 1, '山田', '太郎', 'ヤマダ', 'タロウ', '1980-01-01', 'MALE') RETURNING id`,
      [residentInput().addresseeNumber, randomBytes(32)],
    );
    for (const to of ['041009', '041017']) expect((await sendai.gql(MOVE, { id: resident.id, to })).data.markResidentMovedOut).toEqual(own);
    expect((await sendai.gql(MOVE, { id: resident.id, to: '042072' })).data.markResidentMovedOut).toEqual({
      resident: { status: 'MOVED_OUT', movedToMunicipalityCode: '042072' }, userErrors: [],
    });
  });

  it('takes a ward of another designated city as where they moved to, recording the city, the municipality they move to', async () => {
    const MOVE = `mutation($id: ID!, $to: String) {
      markResidentMovedOut(id: $id, movedOutOn: "2024-06-01", destinationMunicipalityCode: $to) { resident { status movedToMunicipalityCode } userErrors { field code message } }
    }`;
    const { officer } = await t.tenant();
    // 横浜市鶴見区 (141011), the code a move-out notice prints, is a ward of 横浜市 (141003), one tenant; 浜松市中央区 (221384) a ward newer than the list.
    for (const [to, city] of [['141011', '141003'], ['221384', '221309']]) {
      const { id } = await registerResident(officer);
      expect((await officer.gql(MOVE, { id, to })).data.markResidentMovedOut).toEqual({ resident: { status: 'MOVED_OUT', movedToMunicipalityCode: city }, userErrors: [] });
      expect((await t.db.query('SELECT moved_to_municipality_code FROM resident WHERE id = $1', [id]))[0].moved_to_municipality_code).toBe(city);
    }
  });

  it('asks to try again while tickets are being issued, so that none issued meanwhile stays open or names a resident gone', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const other = await registerResident(officer);
    const DECEASED = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2025-01-02") { resident { status } userErrors { field code message } } }';
    // An issuance (or an import) of the municipality holds its registry lock until it commits.
    const issuing = t.db.createQueryRunner();
    await issuing.connect();
    await issuing.startTransaction();
    try {
      await lockRegistry(issuing, code);
      expect((await officer.gql(DECEASED, { id })).data.markResidentDeceased).toEqual({ resident: null, userErrors: [
        { field: ['id'], code: 'INVALID_STATE', message: 'tickets of this municipality are being issued or imported right now: try again in a minute' },
      ] });
      const MOVE = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2025-01-01") { userErrors { code } } }';
      expect((await officer.gql(MOVE, { id })).data.markResidentMovedOut.userErrors).toEqual([{ code: 'INVALID_STATE' }]);
      expect((await officer.gql(DELETE, { id: other.id })).data.deleteResident).toEqual({ deletedResidentId: null, userErrors: [
        { field: ['id'], code: 'INVALID_STATE', message: 'tickets of this municipality are being issued or imported right now: try again in a minute' },
      ] });
    } finally {
      await issuing.rollbackTransaction();
      await issuing.release();
    }
    expect((await officer.gql(DECEASED, { id })).data.markResidentDeceased).toEqual({ resident: { status: 'DECEASED' }, userErrors: [] });
    expect((await officer.gql(DELETE, { id: other.id })).data.deleteResident).toEqual({ deletedResidentId: other.id, userErrors: [] });
  });

  it('shows in a later mutation of the same document what an earlier one changed, not what it had loaded', async () => {
    const { code, officer } = await t.tenant();
    const { residentId } = await residentWithTicket(officer);
    const recordId = await insertDose(t, code, residentId, { vaccinatedOn: '2024-05-01' });
    const held = 'resident { tickets { voidReason } vaccinations(includeHistory: true) { status } }';
    const result = await officer.gql(`mutation($id: ID!, $record: ID!) {
      first: updateResident(id: $id, input: { familyName: "佐藤" }) { ${held} }
      entered: deleteVaccinationRecord(id: $record, reason: "entered twice") { userErrors { code } }
      moved: markResidentMovedOut(id: $id, movedOutOn: "2024-06-01") { ${held} userErrors { code } }
    }`, { id: residentId, record: recordId });
    expect(result.data).toEqual({
      first: { resident: { tickets: [{ voidReason: null }], vaccinations: [{ status: 'COMPLETED' }] } },
      entered: { userErrors: [] },
      moved: { resident: { tickets: [{ voidReason: 'moved out' }], vaccinations: [{ status: 'ENTERED_IN_ERROR' }] }, userErrors: [] },
    });
  });

  it('marks a resident deceased', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const result = await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2025-01-02") { resident { status deceasedOn } userErrors { code } } }', { id });
    expect(result.data.markResidentDeceased).toEqual({ resident: { status: 'DECEASED', deceasedOn: '2025-01-02' }, userErrors: [] });
  });

  it('keeps a resident\'s dates around its recorded doses: born before the first, moved out or deceased after the last', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer, { birthDate: '1990-01-01' });
    await insertDose(t, code, id, { doseNumber: 1, vaccinatedOn: '2021-06-01' });
    await insertDose(t, code, id, { doseNumber: 2, vaccinatedOn: '2021-07-01' });
    const UPDATE = 'mutation($id: ID!, $input: UpdateResidentInput!) { updateResident(id: $id, input: $input) { userErrors { field code message } } }';
    expect((await officer.gql(UPDATE, { id, input: { birthDate: '2021-06-02' } })).data.updateResident.userErrors).toEqual([
      { field: ['input', 'birthDate'], code: 'DATE_AFTER_NEXT_DOSE', message: 'must not be after the first recorded dose (2021-06-01)' },
    ]);
    expect((await officer.gql(UPDATE, { id, input: { birthDate: '2021-06-01' } })).data.updateResident.userErrors).toEqual([]);
    const after = { field: expect.any(Array), code: 'DATE_BEFORE_PREVIOUS_DOSE', message: 'must not be before the last recorded dose (2021-07-01)' };
    const moved = await officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2021-06-30") { userErrors { field code message } } }', { id });
    expect(moved.data.markResidentMovedOut.userErrors).toEqual([{ ...after, field: ['movedOutOn'] }]);
    const died = await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2021-06-30") { userErrors { field code message } } }', { id });
    expect(died.data.markResidentDeceased.userErrors).toEqual([{ ...after, field: ['deceasedOn'] }]);
    const [row] = await t.db.query('SELECT status, birth_date::text FROM resident WHERE id = $1', [id]);
    expect(row).toEqual({ status: 'ACTIVE', birth_date: '2021-06-01' });
    expect((await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2021-07-01") { userErrors { code } } }', { id })).data.markResidentDeceased.userErrors).toEqual([]);
  });

  it('counts a name in characters, as the database does: 𠮷 is one', async () => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer, { familyName: '𠮷'.repeat(50), givenName: '𠮷'.repeat(30) });
    expect((await t.db.query('SELECT family_name, given_name FROM resident WHERE id = $1', [id]))[0]).toEqual({ family_name: '𠮷'.repeat(50), given_name: '𠮷'.repeat(30) });
    expect((await officer.gql(UPDATE, { id, input: { familyName: '𠮷'.repeat(40) } })).data.updateResident.userErrors).toEqual([]);
    expect((await officer.gql(UPDATE, { id, input: { familyName: '𠮷'.repeat(51) } })).data.updateResident.userErrors).toEqual([
      { field: ['input', 'familyName'], code: 'INVALID_FORMAT', message: 'must be at most 50 characters' },
    ]);
  });

  it('refuses a name holding invisible formatting characters, which would differ from the same name typed, and keeps variation selectors', async () => {
    const { code, officer } = await t.tenant();
    const invisible = 'must not contain invisible formatting characters (zero-width spaces, direction marks), which come along with pasted text';
    // A zero-width space alone, a direction override that would show 子花 for 花子, a zero-width joiner inside.
    const registered = await officer.gql(REGISTER, { input: residentInput({ familyName: '\u200b', givenName: '花\u202e子' }) });
    expect(registered.data.registerResident).toEqual({ resident: null, userErrors: [
      { field: ['input', 'familyName'], code: 'INVALID_FORMAT', message: invisible },
      { field: ['input', 'givenName'], code: 'INVALID_FORMAT', message: invisible },
    ] });
    expect(await t.db.query('SELECT 1 FROM resident WHERE municipality_code = $1', [code])).toEqual([]);
    // 葛 with an ideographic variation selector (葛󠄀) is a name as the registry writes it.
    const { id } = await registerResident(officer, { familyName: '葛\u{E0100}西' });
    expect((await officer.gql(UPDATE, { id, input: { familyName: '山\u200d田' } })).data.updateResident.userErrors).toEqual([
      { field: ['input', 'familyName'], code: 'INVALID_FORMAT', message: invisible },
    ]);
    expect((await t.db.query('SELECT family_name FROM resident WHERE id = $1', [id]))[0].family_name).toBe('葛\u{E0100}西');
  });

  it('keeps a birth date before the issue of every open ticket, as ticket issuance does', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer, { birthDate: '1990-01-01' });
    const ISSUE = 'mutation($input: IssueTicketsInput!) { issueTickets(input: $input) { tickets { ticketNumber } userErrors { field code } } }';
    const issued = await officer.gql(ISSUE, { input: { series: '1-2', issuedOn: '2022-01-01', tickets: [{ residentId: id, ticketNumber: '1000000001' }] } });
    expect(issued.data.issueTickets.userErrors).toEqual([]);
    expect((await officer.gql(UPDATE, { id, input: { birthDate: '2023-05-05' } })).data.updateResident.userErrors).toEqual([
      { field: ['input', 'birthDate'], code: 'INVALID_DATE', message: 'must not be after the issue date of ticket 1000000001 (2022-01-01)' },
    ]);
    expect((await t.db.query('SELECT birth_date::text FROM resident WHERE id = $1', [id]))[0].birth_date).toBe('1990-01-01');
    // Born on the day of issue is what issuance allows too.
    expect((await officer.gql(UPDATE, { id, input: { birthDate: '2022-01-01' } })).data.updateResident.userErrors).toEqual([]);
    // A voided ticket no longer stands in the way.
    await t.db.query('UPDATE ticket SET voided_on = $3, void_reason = $4 WHERE municipality_code = $1 AND resident_id = $2', [code, id, '2022-02-01', 'lost']);
    expect((await officer.gql(UPDATE, { id, input: { birthDate: '2023-05-05' } })).data.updateResident.userErrors).toEqual([]);
  });

  it('refuses an update that gives no field, and changes nothing when every value given is already stored', async () => {
    const { code, officer } = await t.tenant();
    const { id, input } = await registerResident(officer);
    const stamp = async () => (await t.db.query('SELECT updated_at FROM resident WHERE id = $1', [id]))[0].updated_at.toISOString();
    const logged = async () => (await t.db.query(
      `SELECT operation FROM audit_event WHERE municipality_code = $1 AND $2 = ANY(target_ids) AND operation <> 'resident.register' ORDER BY id`, [code, id],
    )).map((e: { operation: string }) => e.operation);
    const before = await stamp();
    for (const empty of [{}, { familyName: null, birthDate: null }]) {
      expect((await officer.gql(UPDATE, { id, input: empty })).data.updateResident).toEqual({
        resident: null, userErrors: [{ field: ['input'], code: 'REQUIRED', message: 'give at least one field to change' }],
      });
    }
    // The stored values again, however typed: answered as stored, with no write, no new updatedAt, and only the read logged.
    const same = await officer.gql(UPDATE, { id, input: { familyName: ' 山田 ', birthDate: '１９８０-０４-０１', sex: 'FEMALE', myNumber: input.myNumber, addresseeNumber: input.addresseeNumber } });
    expect(same.data.updateResident).toEqual({ resident: { id, familyName: '山田', birthDate: '1980-04-01' }, userErrors: [] });
    expect(await stamp()).toBe(before);
    expect(await logged()).toEqual(['resident.read']);
    // One value that differs is a change like any other.
    expect((await officer.gql(UPDATE, { id, input: { familyName: '山田', givenName: '太郎' } })).data.updateResident.userErrors).toEqual([]);
    expect(await stamp()).not.toBe(before);
    expect(await logged()).toEqual(['resident.read', 'resident.update']);
  });

  it('pages and filters in SQL, in addressee-number order', async () => {
    const { officer } = await t.tenant();
    for (const [addressee, kana, birthDate] of [['003', 'タナカ', '1950-01-01'], ['001', 'タカハシ', '1960-01-01'], ['002', 'スズキ', '1950-01-01']]) {
      await registerResident(officer, { addresseeNumber: addressee, familyNameKana: kana, birthDate });
    }
    const PAGE = `query($first: Int, $after: String, $filter: ResidentFilter) {
      residents(first: $first, after: $after, filter: $filter) { nodes { addresseeNumber } pageInfo { hasNextPage endCursor } }
    }`;
    const first = await officer.gql(PAGE, { first: 2 });
    expect(first.data.residents.nodes.map((n: any) => n.addresseeNumber)).toEqual(['001', '002']);
    expect(first.data.residents.pageInfo.hasNextPage).toBe(true);
    const second = await officer.gql(PAGE, { first: 2, after: first.data.residents.pageInfo.endCursor });
    expect(second.data.residents).toEqual({ nodes: [{ addresseeNumber: '003' }], pageInfo: { hasNextPage: false, endCursor: expect.any(String) } });

    const kana = await officer.gql(PAGE, { filter: { kanaPrefix: 'タ' } });
    expect(kana.data.residents.nodes.map((n: any) => n.addresseeNumber)).toEqual(['001', '003']);
    const born = await officer.gql(PAGE, { filter: { birthDate: '1950-01-01' } });
    expect(born.data.residents.nodes.map((n: any) => n.addresseeNumber)).toEqual(['002', '003']);
    expect(codes(await officer.gql(PAGE, { first: 1000 }))).toEqual(['BAD_USER_INPUT']);
    expect(codes(await officer.gql(PAGE, { after: 'not-a-cursor' }))).toEqual(['BAD_USER_INPUT']);
    // Another municipality's cursor is none this list handed out: neither its start nor its end.
    const other = await t.tenant();
    await registerResident(other.officer, { addresseeNumber: '000' });
    const theirs = (await other.officer.gql(PAGE, { first: 1 })).data.residents.pageInfo.endCursor;
    expect(codes(await officer.gql(PAGE, { after: theirs }))).toEqual(['BAD_USER_INPUT']);
    // A filter or cursor given empty is refused, naming it, never read as none (which would answer every resident).
    for (const [filter, field] of [[{ addresseeNumber: '' }, 'addresseeNumber'], [{ birthDate: '' }, 'birthDate'], [{ kanaPrefix: '  ' }, 'kanaPrefix'], [{ kanaPrefix: '' }, 'kanaPrefix'], [{ kanaPrefix: ' ・ ' }, 'kanaPrefix']] as const) {
      const refused = await officer.gql(PAGE, { filter });
      expect(refused.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: ['filter', field] });
    }
    expect(codes(await officer.gql(PAGE, { after: '' }))).toEqual(['BAD_USER_INPUT']);
    // A kana term longer than any name is refused with its reason, not searched for; one as long as a name is searched.
    const long = await officer.gql(PAGE, { filter: { kanaPrefix: 'ア'.repeat(101) } });
    expect(long.errors!.map((e) => [e.message, e.extensions])).toEqual([[
      'filter.kanaPrefix: must be at most 100 characters: a family and a given name in kana hold no more',
      { code: 'BAD_USER_INPUT', field: ['filter', 'kanaPrefix'], reason: 'INVALID_FORMAT' },
    ]]);
    expect(codes(await officer.gql(PAGE, { filter: { kanaPrefix: 'ア'.repeat(100) } }))).toEqual([]);
    // A date that is none is refused with its reason, as every date argument is.
    for (const birthDate of ['1950-02-30', '1950/01/01', 'yesterday', '']) {
      const refused = await officer.gql(PAGE, { filter: { birthDate } });
      expect(refused.data).toBeNull();
      expect(refused.errors!.map((e) => [e.message, e.extensions])).toEqual([[
        'filter.birthDate: must be a real date written YYYY-MM-DD',
        { code: 'BAD_USER_INPUT', field: ['filter', 'birthDate'], reason: 'INVALID_DATE' },
      ]]);
    }
  });

  it('keeps kana typed half-width as the CSV import does, and finds names by kana however it is typed', async () => {
    const { officer } = await t.tenant();
    const sato = await registerResident(officer, { addresseeNumber: '001', familyNameKana: 'ｻﾄｳ', givenNameKana: 'ﾊﾅｺ' });
    const gotou = await registerResident(officer, { addresseeNumber: '002', familyNameKana: 'ゴトウ' });
    const kanaOf = async (id: string) => (await t.db.query('SELECT family_name_kana, given_name_kana FROM resident WHERE id = $1', [id]))[0];
    expect(await kanaOf(sato.id)).toEqual({ family_name_kana: 'サトウ', given_name_kana: 'ハナコ' });
    const updated = await officer.gql(UPDATE, { id: gotou.id, input: { familyNameKana: 'ｺﾞﾄｳ', givenNameKana: ' ﾀﾛｳ ' } });
    expect(updated.data.updateResident.userErrors).toEqual([]);
    expect(await kanaOf(gotou.id)).toEqual({ family_name_kana: 'ゴトウ', given_name_kana: 'タロウ' });
    // Hiragana is refused as the import refuses it: a name is kept in katakana, and converting it would hide the wrong column sent.
    expect((await officer.gql(REGISTER, { input: residentInput({ familyNameKana: 'さとう' }) })).data.registerResident.userErrors)
      .toEqual([{ field: ['input', 'familyNameKana'], code: 'INVALID_FORMAT', message: 'must be written in katakana' }]);
    expect((await officer.gql(UPDATE, { id: gotou.id, input: { givenNameKana: 'たろう' } })).data.updateResident.userErrors)
      .toEqual([{ field: ['input', 'givenNameKana'], code: 'INVALID_FORMAT', message: 'must be written in katakana' }]);

    const SEARCH = 'query($filter: ResidentFilter) { residents(filter: $filter) { nodes { addresseeNumber } } }';
    const found = async (filter: Record<string, string>) => (await officer.gql(SEARCH, { filter })).data.residents.nodes.map((n: any) => n.addresseeNumber);
    // The same search typed in full-width or half-width katakana, in hiragana (before conversion), across family and given name.
    // Family and given name typed apart (a half- or full-width space) are searched run together, as they are matched.
    for (const kanaPrefix of ['サトウ', 'ｻﾄｳ', 'さとう', 'サトウハ', 'さとうﾊ', ' ｻﾄｳ ', 'サトウ ハ', 'サトウ\u3000ハナコ', 'ｻﾄｳ ﾊﾅ']) expect(await found({ kanaPrefix })).toEqual(['001']);
    for (const kanaPrefix of ['ゴ', 'ｺﾞ', 'ご']) expect(await found({ kanaPrefix })).toEqual(['002']);
    expect(await found({ kanaPrefix: 'スズキ' })).toEqual([]);
    // A name kept with a space in it (a middle name) is found past the space, however the term is spaced.
    await registerResident(officer, { addresseeNumber: '003', familyNameKana: 'スミス', givenNameKana: 'ジョン\u3000ポール' });
    for (const kanaPrefix of ['スミスジョンポ', 'スミス ジョン ポール', 'すみすじょん　ぽ']) expect(await found({ kanaPrefix })).toEqual(['003']);
    // A foreign resident's name as registries write it, with a middle dot between its parts, is kept as entered and found
    // past the dot; a term typed with one (half-width too) or with a double hyphen (＝, ゠) finds names kept with or without it.
    const brown = await registerResident(officer, { addresseeNumber: '004', familyNameKana: 'ブラウン', givenNameKana: 'メアリー・アン' });
    await registerResident(officer, { addresseeNumber: '005', familyNameKana: 'ホワイト', givenNameKana: 'ジョンポール' });
    expect(await kanaOf(brown.id)).toEqual({ family_name_kana: 'ブラウン', given_name_kana: 'メアリー・アン' });
    for (const kanaPrefix of ['ブラウンメアリーアン', 'ブラウン メアリー ア', 'ブラウン・メアリー・ア', 'ﾌﾞﾗｳﾝ ﾒｱﾘｰ･ｱﾝ', 'ぶらうん　めありー＝あん', 'ブラウンメアリー゠ア']) {
      expect(await found({ kanaPrefix })).toEqual(['004']);
    }
    for (const kanaPrefix of ['ホワイト・ジョン・ポール', 'ホワイト＝ジョン', 'ﾎﾜｲﾄ･ｼﾞｮﾝ']) expect(await found({ kanaPrefix })).toEqual(['005']);
    expect(await found({ kanaPrefix: 'スミス・ジョン・ポ' })).toEqual(['003']);
    // Text that cannot be kana would match nobody: refused, naming the filter, rather than an empty list.
    for (const kanaPrefix of ['佐藤', 'sato', 'サ%']) {
      const refused = await officer.gql(SEARCH, { filter: { kanaPrefix } });
      expect(refused.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['filter', 'kanaPrefix'], reason: 'INVALID_FORMAT' });
    }
    const addressee = await officer.gql(SEARCH, { filter: { addresseeNumber: 'A 001/2' } });
    expect(addressee.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['filter', 'addresseeNumber'], reason: 'INVALID_FORMAT' });
    expect(await found({ addresseeNumber: '００１' })).toEqual(['001']);
  });

  it('loads a page of residents with their municipality in a constant number of statements', async () => {
    const { officer } = await t.tenant();
    const PAGE = '{ residents(first: 100) { nodes { id municipality { name } } } }';
    await registerResident(officer);
    const before = t.queries.count;
    await officer.gql(PAGE);
    const forOne = t.queries.count - before;
    for (let i = 0; i < 20; i++) await registerResident(officer);
    const start = t.queries.count;
    const result = await officer.gql(PAGE);
    expect(result.data.residents.nodes).toHaveLength(21);
    expect(t.queries.count - start).toBe(forOne);
  });

  it('reads My Number for a page of residents in a constant number of statements, on a server that has not opened the key yet too', async () => {
    const { code, officer } = await t.tenant();
    const PAGE = '{ residents(first: 100) { nodes { id myNumber } } }';
    const { masterKey, tokenSecret } = t.app.services.config;
    // Each server opens a municipality's data key on its first read: a page must not look it up once per resident.
    const coldPage = async () => {
      const fresh = await TestApp.start({ masterKey, tokenSecret });
      try {
        const there = fresh.sessionFor(officer.token, Channel.LGWAN, { id: officer.accountId, loginId: officer.loginId }, code);
        const start = fresh.queries.count;
        const result = await there.gql(PAGE);
        expect(result.errors).toBeUndefined();
        return { residents: result.data.residents.nodes.length, statements: fresh.queries.count - start };
      } finally {
        await fresh.stop();
      }
    };
    await registerResident(officer);
    const forOne = await coldPage();
    for (let i = 0; i < 20; i++) await registerResident(officer);
    const forMany = await coldPage();
    expect([forOne.residents, forMany.residents]).toEqual([1, 21]);
    expect(forMany.statements).toBe(forOne.statements);
  });
});

describe('clearing a move out or a death (転出取消, a mark entered in error)', () => {
  const CLEAR = `mutation($id: ID!, $reason: String!) {
    clearResidentStatus(id: $id, reason: $reason) {
      resident { id status movedOutOn movedToMunicipalityCode deceasedOn statusClearedReason tickets { ticketNumber voidedOn voidReason } }
      userErrors { field code message }
    }
  }`;
  const MOVE = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-04-01", destinationMunicipalityCode: "141003") { userErrors { code } } }';
  const DIE = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-06-01") { userErrors { code } } }';
  const EVENTS = 'query($id: String!) { auditEvents(filter: { targetId: $id }) { nodes { operation targetIds outcome actorId } } }';
  const marks = { 'moved out': [MOVE], deceased: [DIE] };

  it.each(Object.entries(marks))('sets a resident marked %s back to ACTIVE, keeps the reason, logs it, and leaves the voided ticket void', async (_name, mutations) => {
    const { officer } = await t.tenant();
    const { residentId, ticketNumber } = await residentWithTicket(officer);
    for (const mark of mutations) expect(Object.values((await officer.gql(mark, { id: residentId })).data)).toEqual([{ userErrors: [] }]);
    const voidReason = mutations[0] === MOVE ? 'moved out' : 'deceased';
    const cleared = await officer.gql(CLEAR, { id: residentId, reason: '  転出取消: 届出の取下げ  ' });
    expect(cleared.data.clearResidentStatus).toEqual({
      resident: {
        id: residentId, status: 'ACTIVE', movedOutOn: null, movedToMunicipalityCode: null, deceasedOn: null, statusClearedReason: '転出取消: 届出の取下げ',
        tickets: [{ ticketNumber, voidedOn: expect.any(String), voidReason }],
      },
      userErrors: [],
    });
    expect((await officer.gql(GET, { id: residentId })).data.resident.status).toBe('ACTIVE');
    const events = (await officer.gql(EVENTS, { id: residentId })).data.auditEvents.nodes;
    expect(events.filter((e: { operation: string }) => e.operation === 'resident.clearStatus')).toEqual([
      { operation: 'resident.clearStatus', targetIds: [residentId], outcome: 'SUCCESS', actorId: officer.accountId },
    ]);
  });

  it('clears a death back to the move out recorded before it, and that move out on a second call', async () => {
    const { officer } = await t.tenant();
    const { residentId } = await residentWithTicket(officer);
    for (const mark of [MOVE, DIE]) expect(Object.values((await officer.gql(mark, { id: residentId })).data)).toEqual([{ userErrors: [] }]);
    const first = await officer.gql(CLEAR, { id: residentId, reason: '死亡の誤記' });
    expect(first.data.clearResidentStatus).toMatchObject({
      resident: { status: 'MOVED_OUT', movedOutOn: '2024-04-01', movedToMunicipalityCode: '141003', deceasedOn: null, statusClearedReason: '死亡の誤記' },
      userErrors: [],
    });
    const second = await officer.gql(CLEAR, { id: residentId, reason: '転出取消' });
    expect(second.data.clearResidentStatus).toMatchObject({
      resident: { status: 'ACTIVE', movedOutOn: null, movedToMunicipalityCode: null, deceasedOn: null, statusClearedReason: '転出取消' },
      userErrors: [],
    });
  });

  it('refuses to mark a resident again, which would overwrite the recorded date and destination: a correction clears the mark first', async () => {
    const { officer } = await t.tenant();
    const { residentId: id } = await residentWithTicket(officer);
    const AGAIN = `mutation($id: ID!) {
      moved: markResidentMovedOut(id: $id, movedOutOn: "2024-05-01") { resident { id } userErrors { field code message } }
    }`;
    const DIE_AGAIN = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-07-01") { resident { id } userErrors { field code message } } }';
    const stored = async () => (await t.db.query(
      'SELECT status, moved_out_on::text, moved_to_municipality_code, deceased_on::text FROM resident WHERE id = $1', [id],
    ))[0];
    const marks = async () => (await officer.gql(EVENTS, { id })).data.auditEvents.nodes
      .map((e: { operation: string }) => e.operation).filter((operation: string) => operation.startsWith('resident.mark'));

    expect((await officer.gql(MOVE, { id })).data.markResidentMovedOut.userErrors).toEqual([]);
    expect((await officer.gql(AGAIN, { id })).data.moved).toEqual({ resident: null, userErrors: [{
      field: ['id'], code: 'INVALID_STATE',
      message: 'resident is already recorded as moved out (2024-04-01): to record another date or destination, clear the move with clearResidentStatus first',
    }] });
    expect(await stored()).toEqual({ status: 'MOVED_OUT', moved_out_on: '2024-04-01', moved_to_municipality_code: '141003', deceased_on: null });

    expect((await officer.gql(DIE, { id })).data.markResidentDeceased.userErrors).toEqual([]);
    expect((await officer.gql(DIE_AGAIN, { id })).data.markResidentDeceased).toEqual({ resident: null, userErrors: [{
      field: ['id'], code: 'INVALID_STATE',
      message: 'resident is already recorded as deceased (2024-06-01): to record another date, clear the death with clearResidentStatus first',
    }] });
    expect(await stored()).toEqual({ status: 'DECEASED', moved_out_on: '2024-04-01', moved_to_municipality_code: '141003', deceased_on: '2024-06-01' });
    expect((await marks()).sort()).toEqual(['resident.markDeceased', 'resident.markMovedOut']);

    // The way to correct a mark: clear it, giving the reason, and mark again.
    expect((await officer.gql(CLEAR, { id, reason: '死亡日の誤記' })).data.clearResidentStatus.userErrors).toEqual([]);
    expect((await officer.gql(DIE_AGAIN, { id })).data.markResidentDeceased).toEqual({ resident: { id }, userErrors: [] });
    expect(await stored()).toEqual({ status: 'DECEASED', moved_out_on: '2024-04-01', moved_to_municipality_code: '141003', deceased_on: '2024-07-01' });
  });

  it('refuses a resident who is active, and a reason empty, too long or not text, naming the field', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    expect((await officer.gql(CLEAR, { id, reason: 'wrong resident' })).data.clearResidentStatus).toEqual({ resident: null, userErrors: [
      { field: ['id'], code: 'INVALID_STATE', message: 'resident is already active: there is no move out or death to clear' },
    ] });
    await officer.gql(DIE, { id });
    for (const [reason, error] of [
      [' ', { field: ['reason'], code: 'REQUIRED', message: 'must not be empty' }],
      ['𠮷'.repeat(501), { field: ['reason'], code: 'INVALID_FORMAT', message: 'must be at most 500 characters' }],
      ['wrong\u0007resident', { field: ['reason'], code: 'INVALID_FORMAT', message: 'must not contain control characters other than tabs and line breaks' }],
    ] as const) {
      expect((await officer.gql(CLEAR, { id, reason })).data.clearResidentStatus).toEqual({ resident: null, userErrors: [error] });
    }
    expect((await officer.gql(GET, { id })).data.resident.status).toBe('DECEASED');
    expect(await t.db.query(`SELECT 1 FROM audit_event WHERE municipality_code = $1 AND operation = 'resident.clearStatus'`, [code])).toEqual([]);
    // A reason is counted in characters, as the database counts them: 𠮷 is one.
    expect((await officer.gql(CLEAR, { id, reason: '𠮷'.repeat(500) })).data.clearResidentStatus.resident.statusClearedReason).toBe('𠮷'.repeat(500));
  });

  it('answers another municipality\'s officer as it answers an id nobody has, and changes nothing', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(b.officer);
    await b.officer.gql(MOVE, { id });
    const theirs = await a.officer.gql(CLEAR, { id, reason: 'wrong resident' });
    const nobody = await a.officer.gql(CLEAR, { id: 'ffffffff-ffff-4fff-bfff-ffffffffffff', reason: 'wrong resident' });
    expect(theirs.data.clearResidentStatus).toEqual({ resident: null, userErrors: [{ field: ['id'], code: 'NOT_FOUND', message: 'not found or no access' }] });
    expect(JSON.stringify(theirs)).toBe(JSON.stringify(nobody));
    expect((await b.officer.gql(GET, { id })).data.resident.status).toBe('MOVED_OUT');
  });

  it('is refused to a tablet, and is the officer\'s on the internet channel as the marks are', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    await officer.gql(MOVE, { id });
    const site = await tablet(t, code);
    const refused = await site.gql(CLEAR, { id, reason: 'wrong resident' });
    expect(codes(refused)).toEqual(['FORBIDDEN']);
    expect((await officer.gql(GET, { id })).data.resident.status).toBe('MOVED_OUT');
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    expect((await internet.gql(CLEAR, { id, reason: 'wrong resident' })).data.clearResidentStatus.resident.status).toBe('ACTIVE');
  });

  it('lets the officer issue a new ticket, which a tablet uses and an integrator answers VALID; the voided one stays void', async () => {
    const { code, officer } = await t.tenant();
    const old = await residentWithTicket(officer, { birthDate: '1970-07-07' });
    await officer.gql(MOVE, { id: old.residentId });
    expect((await officer.gql(CLEAR, { id: old.residentId, reason: '転出取消' })).data.clearResidentStatus.userErrors).toEqual([]);
    const ticketNumber = freshTicketNumber();
    const issued = await officer.gql(ISSUE, { input: { series: '1-2', tickets: [{ residentId: old.residentId, ticketNumber }] } });
    expect(issued.data.issueTickets.userErrors).toEqual([]);

    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    const integrator = await t.session(Role.INTEGRATOR, Channel.INTERNET);
    const CONTRACT = 'mutation($a: ID!, $m: String!) { createIntegratorContract(integratorAccountId: $a, municipalityCode: $m) { userErrors { code } } }';
    expect((await operator.gql(CONTRACT, { a: integrator.accountId, m: code })).data.createIntegratorContract.userErrors).toEqual([]);
    const CHECK = 'query($m: String!, $n: String!) { ticketEligibility(municipalityCode: $m, ticketNumber: $n, birthDate: "1970-07-07") { status nextDoseNumber } }';
    expect((await integrator.gql(CHECK, { m: code, n: ticketNumber })).data.ticketEligibility).toEqual({ status: 'VALID', nextDoseNumber: 1 });
    expect((await integrator.gql(CHECK, { m: code, n: old.ticketNumber })).data.ticketEligibility).toEqual({ status: 'VOID', nextDoseNumber: null });

    const site = await tablet(t, code);
    expect((await site.gql(SCAN, { ticket: { municipalityCode: code, ticketNumber: old.ticketNumber } })).data.scanTicket.status).toBe('VOID');
    expect((await site.gql(SCAN, { ticket: { municipalityCode: code, ticketNumber } })).data.scanTicket).toMatchObject({ status: 'VALID', nextDoseNumber: 1 });
    const registered = await site.gql(REGISTER_DOSE, { input: doseInput(code, ticketNumber) });
    expect(registered.data.registerDose).toMatchObject({ receipt: { status: 'RECORDED', doseNumber: 1 }, userErrors: [] });
    expect((await officer.gql(RESIDENT_DOSES, { id: old.residentId })).data.resident.vaccinations).toEqual([expect.objectContaining({ doseNumber: 1, status: 'COMPLETED' })]);
  });
});

describe('tenant isolation', () => {
  it('municipality A cannot read, change or delete a resident of B, and cannot tell it exists', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id } = await registerResident(b.officer);
    const missing = '00000000-0000-4000-8000-000000000000';

    expect((await a.officer.gql(GET, { id })).data.resident).toBeNull();
    for (const [query, vars] of [
      [UPDATE, { input: { familyName: '乗っ取り' } }],
      [DELETE, {}],
    ] as const) {
      const theirs = await a.officer.gql(query, { id, ...vars });
      const nobodys = await a.officer.gql(query, { id: missing, ...vars });
      expect(JSON.stringify(theirs).replace(id, 'ID')).toBe(JSON.stringify(nobodys).replace(missing, 'ID'));
      expect(JSON.stringify(theirs)).toContain('not found or no access');
    }
    // A holds no resident: its list is empty, whatever the other tenants in this database hold.
    const list = await a.officer.gql('{ residents(first: 100) { nodes { id } } }');
    expect(list.data.residents.nodes).toEqual([]);
    // B's resident is untouched.
    expect((await b.officer.gql(GET, { id })).data.resident.familyName).toBe('山田');
  });

  it('a My Number look-up searches only the own municipality', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const { id, input } = await registerResident(b.officer);
    const LOOKUP = 'query($n: String!) { residentByMyNumber(myNumber: $n) { id } }';
    expect((await b.officer.gql(LOOKUP, { n: input.myNumber })).data.residentByMyNumber).toEqual({ id });
    expect((await a.officer.gql(LOOKUP, { n: input.myNumber })).data.residentByMyNumber).toBeNull();
    const bad = await a.officer.gql(LOOKUP, { n: '123456789019' });
    expect(bad.errors?.[0]).toMatchObject({ message: 'myNumber: check digit does not match (mistyped number?)', extensions: { code: 'BAD_USER_INPUT', field: ['myNumber'] } });
  });

  it.each([Role.NATIONAL, Role.PREFECTURE])('a %s officer gets no resident row by any query', async (role) => {
    const { officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const gov = await t.session(role, Channel.LGWAN, role === Role.PREFECTURE ? { prefectureCode: '13' } : {});
    for (const query of ['{ residents { nodes { id } } }', `{ resident(id: "${id}") { id } }`, '{ residentByMyNumber(myNumber: "123456789018") { id } }']) {
      const result = await gov.gql(query);
      expect(codes(result)).toEqual(['FORBIDDEN']);
      expect(JSON.stringify(result)).not.toContain(id);
    }
  });
});

describe('My Number protection', () => {
  it('is stored encrypted with a keyed hash, and the audit log holds no personal data', async () => {
    const { code, officer } = await t.tenant();
    const { id, input } = await registerResident(officer, { myNumber: '123456789018' });
    const [row] = await t.db.query('SELECT my_number_cipher, my_number_hmac FROM resident WHERE municipality_code = $1 AND id = $2', [code, id]);
    expect(row.my_number_cipher.toString('latin1')).not.toContain('123456789018');
    expect(row.my_number_hmac).toHaveLength(32);
    expect(row.my_number_hmac.equals(createHash('sha256').update('123456789018').digest())).toBe(false);
    // Another municipality holds the same number under its own key: neither column matches.
    const other = await t.tenant();
    const twin = await registerResident(other.officer, { myNumber: '123456789018' });
    const [theirs] = await t.db.query('SELECT my_number_cipher, my_number_hmac FROM resident WHERE municipality_code = $1 AND id = $2', [other.code, twin.id]);
    expect([theirs.my_number_hmac.equals(row.my_number_hmac), theirs.my_number_cipher.equals(row.my_number_cipher)]).toEqual([false, false]);
    await officer.gql('query($id: ID!) { resident(id: $id) { myNumber } }', { id });
    const events = await t.db.query(
      `SELECT operation, target_ids, row_to_json(audit_event)::text AS raw FROM audit_event
       WHERE municipality_code = $1 AND operation LIKE 'resident.%' ORDER BY id`,
      [code],
    );
    expect(events.map((e: any) => e.operation)).toEqual(['resident.register', 'resident.read', 'resident.myNumber.read']);
    for (const e of events) {
      expect(e.target_ids).toEqual([id]);
      for (const value of [input.myNumber, input.familyName, input.familyNameKana, input.birthDate]) expect(e.raw).not.toContain(value);
    }
  });

  it('does not decrypt a ciphertext copied into another municipality\'s row', async () => {
    const a = await t.tenant();
    const b = await t.tenant();
    const mine = await registerResident(a.officer);
    const theirs = await registerResident(b.officer);
    await t.db.query(
      `UPDATE resident SET my_number_cipher = (SELECT my_number_cipher FROM resident WHERE municipality_code = $3 AND id = $4)
       WHERE municipality_code = $1 AND id = $2`,
      [a.code, mine.id, b.code, theirs.id],
    );
    const read = await a.officer.gql('query($id: ID!) { resident(id: $id) { myNumber } }', { id: mine.id });
    expect(read.data).toEqual({ resident: { myNumber: null } });
    expect(JSON.stringify(read)).not.toContain(String(theirs.input.myNumber));
    // A fault: the client learns nothing of it, the server's log names the row.
    expect(read.errors!.map((e) => [e.message, e.extensions?.code])).toEqual([['Internal server error', 'INTERNAL_SERVER_ERROR']]);
    expect(t.log.at('error').filter((e) => e.municipalityCode === a.code)).toEqual([expect.objectContaining({
      msg: 'request failed', operation: 'query resident', err: expect.objectContaining({
        message: `My Number of resident ${mine.id} (${a.code}) does not open under key version 1: altered or copied ciphertext`,
      }),
    })]);
  });

  it('is refused to the same officer on the internet channel', async () => {
    const { code, officer } = await t.tenant();
    const { id, input } = await registerResident(officer);
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    const plain = await internet.gql('query($id: ID!) { resident(id: $id) { familyName } }', { id });
    expect(plain.data.resident.familyName).toBe('山田');
    const withNumber = await internet.gql('query($id: ID!) { resident(id: $id) { familyName myNumber } }', { id });
    expect(codes(withNumber)).toEqual(['FORBIDDEN']);
    expect(JSON.stringify(withNumber)).not.toContain(String(input.myNumber));
    expect(codes(await internet.gql('query($n: String!) { residentByMyNumber(myNumber: $n) { id } }', { n: input.myNumber }))).toEqual(['FORBIDDEN']);
  });

  it('is withheld alone from a page asked on the internet channel, which gets the rest of every resident, and no read of it is logged', async () => {
    const { code, officer } = await t.tenant();
    const first = await registerResident(officer, { addresseeNumber: 'A1', familyName: '山田' });
    const second = await registerResident(officer, { addresseeNumber: 'A2', familyName: '佐藤' });
    const PAGE = '{ residents { nodes { id familyName myNumber } } }';
    const numberReads = (actorId: string) => t.db.query(
      `SELECT target_ids FROM audit_event WHERE municipality_code = $1 AND operation = 'resident.myNumber.read' AND actor_id = $2`, [code, actorId]);
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    const page = await internet.gql(PAGE);
    expect(page.data.residents.nodes).toEqual([
      { id: first.id, familyName: '山田', myNumber: null },
      { id: second.id, familyName: '佐藤', myNumber: null },
    ]);
    expect(page.errors?.map((e) => [e.extensions?.code, e.path])).toEqual([
      ['FORBIDDEN', ['residents', 'nodes', 0, 'myNumber']],
      ['FORBIDDEN', ['residents', 'nodes', 1, 'myNumber']],
    ]);
    for (const { input } of [first, second]) expect(JSON.stringify(page)).not.toContain(String(input.myNumber));
    expect(await numberReads(internet.accountId)).toEqual([]);
    // The same page over LG-WAN carries the numbers, and its read is logged naming both residents.
    const lgwan = await officer.gql(PAGE);
    expect(lgwan).toEqual({ data: { residents: { nodes: [
      { id: first.id, familyName: '山田', myNumber: first.input.myNumber },
      { id: second.id, familyName: '佐藤', myNumber: second.input.myNumber },
    ] } } });
    expect(await numberReads(officer.accountId)).toEqual([{ target_ids: [first.id, second.id] }]);
  });

  it('is not entered on the internet channel, nor is it told whose a number is', async () => {
    const { code, officer } = await t.tenant();
    const { id } = await registerResident(officer);
    const other = await registerResident(officer);
    const internet = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code });
    // Registering a resident needs My Number.
    const registered = await internet.gql(REGISTER, { input: residentInput() });
    expect(codes(registered)).toEqual(['FORBIDDEN']);
    // The officer is told that the channel is why, as LG-WAN would let the same account.
    expect(registered.errors![0].message).toMatch(/^Not authorised on the internet channel: My Number.* is reached over LG-WAN only$/);
    // Another resident's number is refused exactly like a fresh one: no DUPLICATE that would say it is held.
    const held = await internet.gql(UPDATE, { id, input: { myNumber: other.input.myNumber } });
    const fresh = await internet.gql(UPDATE, { id, input: { myNumber: residentInput().myNumber } });
    expect(codes(held)).toEqual(['FORBIDDEN']);
    expect(held.errors?.map((e) => e.message)).toEqual(fresh.errors?.map((e) => e.message));
    // Refused before any check of the number: a bad check digit is not even named.
    const badDigit = await internet.gql(UPDATE, { id, input: { myNumber: '123456789012' } });
    expect(codes(badDigit)).toEqual(['FORBIDDEN']);
    expect(badDigit.errors![0].message).toBe(registered.errors![0].message);
    const lookup = await internet.gql('query($n: String!) { residentByMyNumber(myNumber: $n) { id } }', { n: '123456789012' });
    expect(lookup.errors!.map((e) => [e.extensions?.code, e.message])).toEqual([['FORBIDDEN', registered.errors![0].message]]);
    // The rest of the resident is still the internet officer's to correct.
    const renamed = await internet.gql(UPDATE, { id, input: { familyName: '山本' } });
    expect(renamed.data.updateResident).toMatchObject({ resident: { id, familyName: '山本' }, userErrors: [] });
    const [row] = await t.db.query('SELECT count(*)::int AS n FROM resident WHERE municipality_code = $1', [code]);
    expect(row.n).toBe(2);
  });

  describe('a vaccination-site tablet never resolves it', () => {
    const paths = {
      direct: 'query($id: ID!) { resident(id: $id) { myNumber } }',
      nested: '{ residents { nodes { municipality { code } myNumber } } }',
      alias: 'query($id: ID!) { r: resident(id: $id) { number: myNumber } }',
      fragment: 'query($id: ID!) { resident(id: $id) { ...F } } fragment F on Resident { myNumber }',
      inlineFragment: 'query($id: ID!) { resident(id: $id) { ... on Resident { myNumber } } }',
      lookup: 'query { residentByMyNumber(myNumber: "123456789018") { id } }',
    };
    it.each(Object.entries(paths))('%s', async (_name, query) => {
      const { code, officer } = await t.tenant();
      const { id, input } = await registerResident(officer, { myNumber: '123456789018' });
      const tablet = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: code });
      const result = await tablet.gql(query, query.includes('$id') ? { id } : undefined);
      expect(codes(result)).toContain('FORBIDDEN');
      // A tablet is refused over any channel: it is not sent to LG-WAN.
      expect(result.errors!.map((e) => e.message)).toContain('Not authorised');
      expect(JSON.stringify(result)).not.toContain('LG-WAN');
      expect(JSON.stringify(result)).not.toContain(String(input.myNumber));
      expect(JSON.stringify(result)).not.toContain('stack');
    });
  });
});
