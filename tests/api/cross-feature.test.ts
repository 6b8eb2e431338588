import { Channel, Role } from '../../src/schema/enums';
import { RESUME, SUSPEND } from '../helpers/operations';
import { codes, TestApp } from '../helpers/test-app';
import { baseUrl, importFile, registryCsv, registryRow, upload } from '../helpers/registry-csv';
import { doseInput, freshTicketNumber, REGISTER_DOSE, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());


describe('a dose given before the resident list arrives', () => {
  it('is kept pending by the site and matched when the municipality imports the ticket', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const ticketNumber = freshTicketNumber();
    const pending = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    expect(pending.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');

    const job = await importFile(t, home.officer, registryCsv([registryRow({ ticket: ticketNumber, series: '1-2' })]));
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1 });

    const receipt = await site.gql('query($id: ID!) { doseReceipt(id: $id) { status } }', { id: pending.data.registerDose.receipt.id });
    expect(receipt.data.doseReceipt.status).toBe('RECORDED');
    const [record] = await t.db.query(
      `SELECT v.dose_number, v.site_municipality_code FROM vaccination_record v JOIN ticket k ON k.municipality_code = v.municipality_code AND k.id = v.ticket_id
       WHERE v.municipality_code = $1 AND k.ticket_number = $2`,
      [home.code, ticketNumber],
    );
    expect(record).toEqual({ dose_number: 1, site_municipality_code: site.municipalityCode });
  });

  it('matches several doses of one resident in one import, each against those before it, and keeps a dose that breaks a rule with its problem', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const [holder, unborn] = [freshTicketNumber(), freshTicketNumber()];
    for (const [ticketNumber, doseNumber, vaccinatedOn] of [[holder, 1, '2024-05-01'], [holder, 2, '2024-06-01'], [holder, 3, '2024-11-01'], [unborn, 1, '2024-05-01']] as const) {
      const filed = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber, vaccinatedOn }) });
      expect(filed.data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    }
    const job = await importFile(t, home.officer, registryCsv([registryRow({ ticket: holder, series: '1-2' }), registryRow({ ticket: unborn, series: '1-2', birth: '2024-06-01' })]));
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 2 });
    const records = await t.db.query(
      `SELECT k.ticket_number, v.dose_number, v.vaccinated_on::text, v.source FROM vaccination_record v
       JOIN ticket k ON k.municipality_code = v.municipality_code AND k.id = v.ticket_id AND k.resident_id = v.resident_id
       WHERE v.municipality_code = $1 ORDER BY v.dose_number`,
      [home.code],
    );
    expect(records).toEqual([
      { ticket_number: holder, dose_number: 1, vaccinated_on: '2024-05-01', source: 'TABLET' },
      { ticket_number: holder, dose_number: 2, vaccinated_on: '2024-06-01', source: 'TABLET' },
    ]);
    const waiting = (await home.officer.gql('{ pendingDoses { ticketNumber doseNumber matchProblem } }')).data.pendingDoses;
    expect(waiting.sort((a: any, b: any) => a.doseNumber - b.doseNumber)).toEqual([
      { ticketNumber: unborn, doseNumber: 1, matchProblem: 'DATE_BEFORE_BIRTH: the vaccination date 2024-05-01 must not be before the birth date' },
      { ticketNumber: holder, doseNumber: 3, matchProblem: 'DOSE_NOT_IN_SERIES: dose 3 is not covered by this ticket (series 1-2)' },
    ]);
  });
});

describe('emergency stop of imports and exports', () => {
  it('answers 503 FUNCTION_SUSPENDED while stopped, and works again once resumed', async () => {
    const home = await t.tenant();
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    await operator.gql(SUSPEND, { f: 'IMPORT', m: home.code, r: 'registry vendor incident' });
    await operator.gql(SUSPEND, { f: 'EXPORT', m: home.code, r: 'registry vendor incident' });
    try {
      const refused = await upload(t, home.officer, registryCsv([registryRow()]));
      expect(refused.status).toBe(503);
      expect(JSON.stringify(refused.body)).toContain('FUNCTION_SUSPENDED');
      const download = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${home.officer.token}` } });
      expect(download.status).toBe(503);
      const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM resident WHERE municipality_code = $1', [home.code]);
      expect(count).toBe(0);
    } finally {
      await operator.gql(RESUME, { f: 'IMPORT', m: home.code });
      await operator.gql(RESUME, { f: 'EXPORT', m: home.code });
    }
    expect((await importFile(t, home.officer, registryCsv([registryRow()]))).status).toBe('SUCCEEDED');
    const download = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${home.officer.token}` } });
    expect(download.status).toBe(200);
    await download.text();
    expect(codes(await operator.gql('{ functionSuspensions { id } }'))).toEqual([]);
  });
});
