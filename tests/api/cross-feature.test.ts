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
