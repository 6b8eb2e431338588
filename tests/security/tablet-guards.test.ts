import { Channel, Role } from '../../src/schema/enums';
import { RESUME, SUSPEND } from '../helpers/operations';
import { codes, TestApp } from '../helpers/test-app';
import { doseInput, freshTicketNumber, REGISTER_DOSE, residentWithTicket, SCAN, tablet } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());


describe('emergency stop of tablet registration', () => {
  it('refuses registrations into a suspended municipality with FUNCTION_SUSPENDED and writes nothing, then resumes', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    const site = await tablet(t, siteCode);
    const { residentId, ticketNumber } = await residentWithTicket(home.officer);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    await operator.gql(SUSPEND, { f: 'TABLET_REGISTRATION', m: home.code, r: 'records under review' });

    const refused = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    expect(codes(refused)).toEqual(['FUNCTION_SUSPENDED']);
    expect(refused.errors?.[0].message).toMatch(/suspended/);
    const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [home.code, residentId]);
    expect(count).toBe(0);

    await operator.gql(RESUME, { f: 'TABLET_REGISTRATION', m: home.code });
    const accepted = await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) });
    expect(accepted.data.registerDose.receipt.status).toBe('RECORDED');
  });

  it('answers a retry of a registration made before the stop with its first receipt, and refuses a new one', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const { residentId, ticketNumber } = await residentWithTicket(home.officer);
    const input = doseInput(home.code, ticketNumber);
    const first = await site.gql(REGISTER_DOSE, { input });
    expect(first.data.registerDose.receipt.status).toBe('RECORDED');
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    await operator.gql(SUSPEND, { f: 'TABLET_REGISTRATION', m: home.code, r: 'records under review' });
    try {
      // The answer to the first was lost: the retry tells the site that the dose is recorded.
      const retry = await site.gql(REGISTER_DOSE, { input });
      expect(retry.errors).toBeUndefined();
      expect(retry.data.registerDose.receipt).toEqual(first.data.registerDose.receipt);
      expect(codes(await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber, { doseNumber: 2, vaccinatedOn: '2024-06-01' }) }))).toEqual(['FUNCTION_SUSPENDED']);
      const [{ count }] = await t.db.query('SELECT count(*)::int AS count FROM vaccination_record WHERE municipality_code = $1 AND resident_id = $2', [home.code, residentId]);
      expect(count).toBe(1);
    } finally {
      await operator.gql(RESUME, { f: 'TABLET_REGISTRATION', m: home.code });
    }
  });

  it('a stop for the site\'s own municipality stops its tablets everywhere', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    const site = await tablet(t, siteCode);
    const { ticketNumber } = await residentWithTicket(home.officer);
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    await operator.gql(SUSPEND, { f: 'TABLET_REGISTRATION', m: siteCode, r: 'stolen tablet' });
    try {
      expect(codes(await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) }))).toEqual(['FUNCTION_SUSPENDED']);
    } finally {
      await operator.gql(RESUME, { f: 'TABLET_REGISTRATION', m: siteCode });
    }
  });
});

describe('unusual tablet access', () => {
  it('raises an alert when one tablet scans many unknown tickets', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    for (let i = 0; i < 30; i++) {
      const result = await site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber: freshTicketNumber() } });
      expect(result.data.scanTicket.status).toBe('NOT_REGISTERED');
    }
    const [alert] = await t.db.query(`SELECT kind, detail FROM security_alert WHERE actor_id = $1`, [site.accountId]);
    expect(alert).toEqual({ kind: 'UNKNOWN_TICKET_SCANS', detail: '30 unknown tickets scanned within 15 min' });
  });

  it('raises an alert when one tablet scans registered tickets far faster than a desk vaccinates', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const { ticketNumber } = await residentWithTicket(home.officer);
    for (let round = 0; round < 15; round++) {
      const answers = await Promise.all(Array.from({ length: 10 }, () => site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber } })));
      for (const a of answers) expect(a.data.scanTicket.status).toBe('VALID');
    }
    const alerts = await t.db.query(`SELECT kind, detail FROM security_alert WHERE actor_id = $1`, [site.accountId]);
    expect(alerts).toEqual([{ kind: 'TICKET_SCAN_SWEEP', detail: '150 registered tickets scanned within 15 min' }]);
  });

  it('counts a refused registration as the scan it answers, so that failing registrations sweep no tickets unseen', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const { ticketNumber } = await residentWithTicket(home.officer, { series: '1-2' });
    // A dose digit of 2 read for dose 1: a misread on a registered ticket and on an unknown one alike.
    const misread = (number: string) => doseInput(home.code, number, { ticket: { ocrLine: `12${home.code}${number}` } });
    for (const number of [ticketNumber, freshTicketNumber()]) {
      const refused = await site.gql(REGISTER_DOSE, { input: misread(number) });
      expect(refused.data.registerDose.userErrors).toEqual([{ field: ['input', 'doseNumber'], code: 'DOSE_DIGIT_MISMATCH', message: 'dose 1 does not match the ticket\'s dose digit (2): misread?' }]);
    }
    // A municipality code that names no municipality is a misread, no ticket: not counted as one.
    const nowhere = await site.gql(REGISTER_DOSE, { input: doseInput('479993', freshTicketNumber()) });
    expect(nowhere.data.registerDose.userErrors.map((e: any) => e.code)).toEqual(['UNKNOWN_MUNICIPALITY']);
    // A dose recorded is no sweep: it is not counted on top of the scan before it.
    expect((await site.gql(REGISTER_DOSE, { input: doseInput(home.code, ticketNumber) })).data.registerDose.receipt.status).toBe('RECORDED');
    const windows = await t.db.query(`SELECT key, cardinality(events) AS events FROM detection_window WHERE key LIKE '%' || $1 ORDER BY key`, [site.accountId]);
    expect(windows).toEqual([{ key: `scan:${site.accountId}`, events: 1 }, { key: `unknown-scan:${site.accountId}`, events: 1 }]);
  });

  it('counts a dose filed pending registration as the unknown-ticket scan it answers, and its retries not again', async () => {
    const home = await t.tenant();
    const site = await tablet(t, await t.createMunicipality());
    const first = doseInput(home.code, freshTicketNumber());
    const receipt = (await site.gql(REGISTER_DOSE, { input: first })).data.registerDose.receipt;
    expect(receipt.status).toBe('PENDING_REGISTRATION');
    expect((await site.gql(REGISTER_DOSE, { input: first })).data.registerDose.receipt).toEqual(receipt);
    for (let i = 1; i < 30; i++) {
      expect((await site.gql(REGISTER_DOSE, { input: doseInput(home.code, freshTicketNumber()) })).data.registerDose.receipt.status).toBe('PENDING_REGISTRATION');
    }
    const windows = await t.db.query(`SELECT key, cardinality(events) AS events FROM detection_window WHERE key LIKE '%' || $1 ORDER BY key`, [site.accountId]);
    expect(windows).toEqual([{ key: `unknown-scan:${site.accountId}`, events: 30 }]);
    const alerts = await t.db.query(`SELECT kind, detail FROM security_alert WHERE actor_id = $1`, [site.accountId]);
    expect(alerts).toEqual([{ kind: 'UNKNOWN_TICKET_SCANS', detail: '30 unknown tickets scanned within 15 min' }]);
  });

  it('counts a scan refused for its dose digit on a registered ticket, and logs it under the ticket\'s municipality', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    const site = await tablet(t, siteCode);
    const { ticketId, ticketNumber } = await residentWithTicket(home.officer, { series: '1-2' });
    // A dose digit outside the series: refused on a registered ticket, while an unknown number is NOT_REGISTERED.
    const refused = await site.gql(SCAN, { ticket: { ocrLine: `19${home.code}${ticketNumber}` } });
    expect(refused.errors?.[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['ticket', 'ocrLine'], reason: 'DOSE_DIGIT_MISMATCH' });
    expect((await site.gql(SCAN, { ticket: { ocrLine: `19${home.code}${freshTicketNumber()}` } })).data.scanTicket.status).toBe('NOT_REGISTERED');
    const windows = await t.db.query(`SELECT key, cardinality(events) AS events FROM detection_window WHERE key LIKE '%' || $1 ORDER BY key`, [site.accountId]);
    expect(windows).toEqual([{ key: `scan:${site.accountId}`, events: 1 }, { key: `unknown-scan:${site.accountId}`, events: 1 }]);
    const misreads = await t.db.query(`SELECT municipality_code, target_ids FROM audit_event WHERE actor_id = $1 AND operation = 'ticket.scan.misread'`, [site.accountId]);
    expect(misreads).toEqual([{ municipality_code: home.code, target_ids: [ticketId] }]);
  });

  it('counts unknown scans sent at once by more tablets than the server has connections, and answers them all', async () => {
    const home = await t.tenant();
    const siteCode = await t.createMunicipality();
    // Each request holds one of the app's ten connections while the scan is counted.
    const sites = await Promise.all(Array.from({ length: 12 }, () => tablet(t, siteCode)));
    const scans = sites.flatMap((site) => [0, 1].map(() => site.gql(SCAN, { ticket: { municipalityCode: home.code, ticketNumber: freshTicketNumber() } })));
    const answers = await Promise.all(scans);
    expect(new Set(answers.map((a) => a.data?.scanTicket.status))).toEqual(new Set(['NOT_REGISTERED']));
    const [{ events }] = await t.db.query(
      `SELECT sum(cardinality(events))::int AS events FROM detection_window WHERE key = ANY ($1)`, [sites.map((s) => `unknown-scan:${s.accountId}`)],
    );
    expect(events).toBe(24);
  });
});
