import { Channel, Role } from '../../src/schema/enums';
import { registerResident, TestApp } from '../helpers/test-app';
import { doseInput, freshTicketNumber, pagedPendingDoses, REGISTER_DOSE, tablet } from '../helpers/vaccination';

/**
 * A database whose sessions write dates otherwise than PostgreSQL's default (ALTER DATABASE … SET
 * datestyle, as a site's DBA may have it, or the role the server logs in as): what the API answers
 * and the cursors it hands out are the same. Against a database of its own, so that the setting
 * reaches no other test.
 */
let t: TestApp;

beforeAll(async () => {
  // Day first, and a zone whose abbreviation (IST) PostgreSQL reads back as Israel's.
  const name = `date_style_${process.pid}`;
  t = await TestApp.startOnOwnDatabase(name, [`ALTER DATABASE ${name} SET datestyle = 'SQL, DMY'`, `ALTER DATABASE ${name} SET timezone = 'Asia/Kolkata'`]);
}, 120_000);

afterAll(() => t?.stop());

it('answers dates and times as ISO 8601, whatever the database\'s datestyle', async () => {
  const home = await t.tenant();
  const { id } = await registerResident(home.officer, { birthDate: '1980-04-01' });
  const read = (await home.officer.gql('query($id: ID!) { resident(id: $id) { birthDate createdAt } }', { id })).data.resident;
  expect(read).toEqual({ birthDate: '1980-04-01', createdAt: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/) });
  expect(Math.abs(Date.parse(read.createdAt) - Date.now())).toBeLessThan(60_000);
  const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
  const accounts = (await operator.gql('{ accounts(first: 100) { nodes { id createdAt } } }')).data.accounts.nodes;
  expect(accounts.find((a: { id: string }) => a.id === operator.accountId).createdAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
});

it('pages through pending doses, oldest first, whatever the database\'s datestyle', async () => {
  const home = await t.tenant();
  const site = await tablet(t, await t.createMunicipality());
  const numbers = Array.from({ length: 5 }, () => freshTicketNumber());
  for (const n of numbers) expect((await site.gql(REGISTER_DOSE, { input: doseInput(home.code, n) })).data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
  const order = (await t.db.query('SELECT ticket_number FROM pending_dose WHERE municipality_code = $1 ORDER BY created_at, id', [home.code])).map((r: any) => r.ticket_number);
  expect(await pagedPendingDoses(home.officer)).toEqual(order);
});
